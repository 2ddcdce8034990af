"""Pillow in, Pillow out: quantize a ``PIL.Image.Image`` and save palette images as our PNG or WebP.

:func:`quantize_image` runs the same quantizer as :func:`quantcli.compress_pixels` (the same
palette and indices for the same pixels and options) and returns a P-mode image;
:func:`save` writes any P-mode image with quantcli's encoder. Pillow is imported only when
these are called.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from .errors import InvalidOptionError
from .options import DEFAULT_K, Dither, QuantizeOptions

if TYPE_CHECKING:
    from PIL import Image as PILImage

#: The formats :func:`save` writes, by file suffix.
FORMATS = {".png": "png", ".webp": "webp"}

# Pillow modes of 16-bit grey samples, scaled to 8 bits as read_image scales them.
_GREY16_MODES = ("I;16", "I;16B", "I;16L", "I;16N")


def image_pixels(image: PILImage.Image) -> np.ndarray:
    """The pixels of a Pillow image as 8-bit RGB or RGBA, by :mod:`quantcli.images`' rule.

    Grey becomes RGB; palette, grey and RGB images with a ``transparency`` entry become
    RGBA; an embedded ICC profile other than sRGB is converted to sRGB; an alpha channel
    that is 255 everywhere is dropped. 16-bit grey (``I;16``) is scaled as
    ``round(v * 255 / 65535)``; 32-bit ``I`` and ``F`` images are converted by Pillow
    (clipped to 0..255, Pillow's rule for its own images). EXIF orientation is not
    applied: the pixels are taken as they are (``PIL.ImageOps.exif_transpose`` first for
    a camera photo).

    Returns
    -------
    ndarray of shape (h, w, 3) or (h, w, 4), dtype uint8, C-contiguous
    """
    from .colour import apply_profile_pil, scale16, to_rgb8

    if image.width == 0 or image.height == 0:
        raise InvalidOptionError(f"image has no pixels ({image.width}x{image.height})")
    image.load()
    mode = image.mode
    if mode in _GREY16_MODES:
        return to_rgb8(scale16(np.asarray(image)))
    converted = apply_profile_pil(image)
    mode = converted.mode
    if mode == "1":
        converted, mode = converted.convert("L"), "L"
    if mode in ("P", "L", "RGB") and "transparency" in converted.info:
        converted = converted.convert("RGBA")
    elif mode == "P":
        converted = converted.convert("RGBA" if converted.palette.mode == "RGBA" else "RGB")
    elif mode in ("LA", "PA", "La", "RGBa", "RGBX"):
        converted = converted.convert("RGBA" if mode != "RGBX" else "RGB")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        converted = converted.convert("RGB")
    elif mode in ("I", "F"):
        converted = converted.convert("L")
    elif mode not in ("L", "RGB", "RGBA"):
        raise InvalidOptionError(f"image mode {mode} is not supported")
    return to_rgb8(np.asarray(converted))


def quantize_image(
    image: PILImage.Image,
    k: int = DEFAULT_K,
    *,
    quality: tuple[float, float] | float | str | None = None,
    dither: Dither = "auto",
    **option_values: Any,
) -> PILImage.Image:
    """Quantize a Pillow image to at most ``k`` colours: a P-mode image.

    Parameters
    ----------
    image : PIL.Image.Image
        Any mode Pillow holds; its pixels are read by :func:`image_pixels`' rule.
    k : int
        Largest palette size, 2 to 256.
    quality : (min, max), number, "MIN-MAX" or None
        Take the fewest colours, up to ``k``, whose palette reaches max on the 0-100 scale
        of :mod:`quantcli.quality`; a number ``q`` means (0, q).
    dither : {"auto", "on", "off"}, bool or float
        See :class:`QuantizeOptions`.
    **option_values
        Other fields of :class:`QuantizeOptions` (``seed``, ``speed``, ``run_margin``, ...).

    Returns
    -------
    PIL.Image.Image
        Mode "P", the size of ``image``. Its palette and indices are those of
        :func:`quantcli.compress_pixels` for the same pixels and options; a palette with
        alpha below 255 is in ``info["transparency"]`` (one alpha byte per entry), which
        Pillow writes to PNG and applies in ``convert("RGBA")``.

    Raises
    ------
    InvalidOptionError
        An option out of range, or an unsupported mode.
    QualityTooLowError
        ``k`` colours stay below the minimum quality.
    """
    from PIL import Image

    from .api import _quantize

    options = QuantizeOptions(k=k, dither=dither, **option_values)
    pixels = image_pixels(image)
    if quality is not None:
        from .quality import choose_k_for_quality

        chosen, _ = choose_k_for_quality(pixels, options, _quality_pair(quality))
        options = replace(options, k=chosen)
    q = _quantize(pixels, options)
    height, width = q.labels.shape
    out = Image.frombuffer("P", (width, height), np.ascontiguousarray(q.labels), "raw", "P", 0, 1).copy()
    out.putpalette(np.ascontiguousarray(q.palette[:, :3]).tobytes(), "RGB")
    if q.palette.shape[1] == 4 and bool((q.palette[:, 3] < 255).any()):
        out.info["transparency"] = q.palette[:, 3].tobytes()
    return out


def save(
    image: PILImage.Image,
    fp: str | os.PathLike[str] | IO[bytes],
    format: str | None = None,
    *,
    level: int | None = None,
    speed: int = QuantizeOptions.speed,
    threads: int = QuantizeOptions.threads,
) -> None:
    """Write a P-mode image as our PNG or lossless WebP (the palette entries it uses, alpha included).

    Parameters
    ----------
    image : PIL.Image.Image
        Mode "P" (as :func:`quantize_image` returns); its transparency, as bytes per
        entry, one transparent index, or an RGBA palette, is kept.
    fp : path or binary file object
        A path is written atomically, replacing any file there (as Pillow's ``save``
        does); a file object is written to at its position.
    format : {"png", "webp"} or None
        None: from the path's suffix (``.png``, ``.webp``); "png" for a file object.
        WebP is lossless (``quantcli.webp``): the same pixels.
    level, speed, threads
        Effort, as in :class:`QuantizeOptions` (``level`` None: the ``speed`` preset's).

    Raises
    ------
    InvalidOptionError
        Not a P-mode image, an index with no palette entry, an unknown format or suffix,
        or an effort out of range.
    OutputWriteError
        The path could not be written.
    """
    codec = _format_for(fp, format)
    options = QuantizeOptions(level=level, speed=speed, threads=threads, format=codec)  # type: ignore[arg-type]
    labels, palette = palette_image(image)
    from .api import Quantized, encode_quantized

    counts = np.zeros(len(palette), np.uint64)
    data = encode_quantized(Quantized(palette, labels, counts, 0.0, 0, len(palette)), options)
    if isinstance(fp, (str, os.PathLike)):
        from .targets import write_atomic

        write_atomic(fp, data, force=True)
    else:
        fp.write(data)


def palette_image(image: PILImage.Image) -> tuple[np.ndarray, np.ndarray]:
    """A P-mode image as (labels, palette) with only the entries its pixels use.

    Returns
    -------
    labels : ndarray of shape (h, w), dtype uint8
    palette : ndarray of shape (n, 3) or (n, 4), dtype uint8
        RGBA when the image has transparency.
    """
    if image.mode != "P":
        raise InvalidOptionError(
            f"save writes palette images (mode P), got mode {image.mode}: quantcli.quantize_image(image) makes one"
        )
    if image.width == 0 or image.height == 0:
        raise InvalidOptionError(f"image has no pixels ({image.width}x{image.height})")
    rgba = image.palette is not None and image.palette.mode == "RGBA"
    entries = np.array(image.getpalette("RGBA" if rgba else "RGB") or [], dtype=np.uint8)
    palette = entries.reshape(-1, 4 if rgba else 3)
    transparency = image.info.get("transparency")
    if transparency is not None and not rgba:
        alpha = np.full(len(palette), 255, np.uint8)
        if isinstance(transparency, (bytes, bytearray)):
            given = np.frombuffer(bytes(transparency), np.uint8)[: len(palette)]
            alpha[: len(given)] = given
        elif isinstance(transparency, int) and 0 <= transparency < len(palette):
            alpha[transparency] = 0
        palette = np.concatenate([palette, alpha[:, None]], axis=1)
    labels = np.asarray(image, dtype=np.uint8)
    used = np.bincount(labels.ravel(), minlength=256)
    top = int(np.flatnonzero(used)[-1])
    if top >= len(palette):
        raise InvalidOptionError(f"image uses palette index {top} but its palette has {len(palette)} colours")
    if palette.shape[1] == 4 and bool((palette[:, 3] == 255).all()):
        palette = palette[:, :3]
    keep = np.flatnonzero(used[: len(palette)])
    if len(keep) < len(palette):  # unused entries would be written to PLTE
        index = np.zeros(256, np.uint8)
        index[keep] = np.arange(len(keep), dtype=np.uint8)
        labels, palette = index[labels], palette[keep]
    return np.ascontiguousarray(labels), np.ascontiguousarray(palette)


def _quality_pair(quality: tuple[float, float] | float | str) -> tuple[float, float]:
    from .quality import check_quality, parse_quality

    if isinstance(quality, str):
        return parse_quality(quality)
    if isinstance(quality, (int, float)) and not isinstance(quality, bool):
        return check_quality((0, quality))
    return check_quality(quality)  # type: ignore[arg-type]


def _format_for(fp: object, format: str | None) -> str:
    if format is not None:
        codec = str(format).lower()
        if codec not in FORMATS.values():
            raise InvalidOptionError(
                f"format must be one of {', '.join(sorted(set(FORMATS.values())))}, got {format!r}"
            )
        return codec
    if not isinstance(fp, (str, os.PathLike)):
        return "png"
    suffix = os.path.splitext(os.fspath(fp))[1].lower()
    if suffix not in FORMATS:
        raise InvalidOptionError(
            f"{os.fspath(fp)}: cannot tell the format from the suffix {suffix or '(none)'!r}; "
            f"name it {' or '.join(FORMATS)}, or give format="
        )
    return FORMATS[suffix]
