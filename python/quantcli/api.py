"""The Python API: quantize arrays, encode PNGs, compress files. The CLI and the Spark
engine call these functions; no algorithm lives anywhere else in Python."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from . import _core
from .errors import ImageReadError, InvalidOptionError, OutputExistsError
from .images import output_exists, read_image, write_atomic
from .options import Dither, QuantizeOptions, dither_level

Status = Literal["written", "skipped", "error"]


@dataclass(frozen=True)
class Quantized:
    """A quantized image.

    Attributes
    ----------
    palette : ndarray of shape (n, 3) or (n, 4), dtype uint8
        The colours, n <= k; RGBA when the input was RGBA.
    labels : ndarray of shape (h, w), dtype uint8
        Palette index of every pixel.
    counts : ndarray of shape (n,), dtype uint64
        Pixels per palette entry.
    inertia : float
        Sum over pixels and channels of the squared error of ``palette[labels]``.
    iterations : int
        k-means updates performed (0 when the image had at most k colours).
    unique_colors : int
        Distinct colours in the input.
    """

    palette: np.ndarray
    labels: np.ndarray
    counts: np.ndarray
    inertia: float
    iterations: int
    unique_colors: int

    @property
    def mse(self) -> float:
        """Mean squared error per channel sample, in 8-bit units."""
        return self.inertia / (self.labels.size * self.palette.shape[1])

    @property
    def psnr(self) -> float:
        """Peak signal-to-noise ratio in dB; ``inf`` when the result is lossless."""
        return psnr_from_mse(self.mse)

    def to_image(self) -> np.ndarray:
        """The quantized pixels, ``palette[labels]``, shape (h, w, 3|4), dtype uint8."""
        return self.palette[self.labels]


@dataclass(frozen=True)
class CompressResult:
    """What happened to one input file.

    ``status`` is "written", "skipped" (``skip_if_larger`` kept the original) or "error"
    (``error`` says why). Sizes are in bytes; ``psnr`` is None when lossless or unknown.
    """

    path: str
    output: str | None
    k: int | None  # None only for an error row of ``-k auto``
    colors: int | None = None
    bytes_in: int | None = None
    bytes_out: int | None = None
    psnr: float | None = None
    seconds: float = 0.0
    status: Status = "written"
    error: str | None = None

    @property
    def ratio(self) -> float | None:
        """Output size over input size."""
        if self.bytes_in and self.bytes_out is not None:
            return self.bytes_out / self.bytes_in
        return None

    def to_json(self) -> dict[str, Any]:
        """The result as one JSON object (the CLI's ``--json`` line)."""
        ratio = self.ratio
        return {
            "path": self.path,
            "output": self.output,
            "k": self.k,
            "colors": self.colors,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "ratio": None if ratio is None else round(ratio, 6),
            "psnr": None if self.psnr is None else round(self.psnr, 4),
            "seconds": round(self.seconds, 6),
            "status": self.status,
            "error": self.error,
        }


def psnr_from_mse(mse: float) -> float:
    """PSNR in dB for 8-bit samples: ``10 * log10(255**2 / mse)``; ``inf`` for mse 0."""
    return math.inf if mse <= 0 else 10.0 * math.log10(255.0**2 / mse)


def quantize(
    pixels: np.ndarray,
    k: int,
    *,
    seed: int = 0,
    dither: Dither = QuantizeOptions.dither,
    max_iter: int = QuantizeOptions.max_iter,
    tol: float = QuantizeOptions.tol,
    init: str = QuantizeOptions.init,
    threads: int = 0,
    run_margin: float = QuantizeOptions.run_margin,
) -> Quantized:
    """Reduce an image to at most ``k`` colours with weighted k-means.

    Parameters
    ----------
    pixels : ndarray of shape (h, w, 3) or (h, w, 4), dtype uint8, C-contiguous
        RGB or RGBA pixels. Fully transparent pixels share one palette entry.
    k : int
        Palette size, 2 to 256. An image with at most ``k`` colours keeps exactly its
        own colours; otherwise the palette has exactly ``k`` entries.
    seed, dither, max_iter, tol, init, threads, run_margin
        See :class:`QuantizeOptions`.

    Returns
    -------
    Quantized

    Raises
    ------
    ValueError
        Bad shape, dtype or contiguity, or an option out of range.
    """
    options = QuantizeOptions(
        k=k, seed=seed, dither=dither, max_iter=max_iter, tol=tol, init=init, threads=threads, run_margin=run_margin
    )
    return _quantize(pixels, options)


def _quantize(pixels: np.ndarray, options: QuantizeOptions) -> Quantized:
    out = _core.quantize(
        pixels,
        options.k,
        seed=options.seed,
        max_iter=options.max_iter,
        tol=options.tol,
        dither=options.dither_level,
        init=options.init,
        threads=options.threads,
        run_margin=options.run_margin,
    )
    return Quantized(
        palette=out["palette"],
        labels=out["labels"],
        counts=out["counts"],
        inertia=out["sse"],
        iterations=out["iterations"],
        unique_colors=out["unique_colors"],
    )


def encode_png(labels: np.ndarray, palette: np.ndarray, *, level: int = QuantizeOptions.level) -> bytes:
    """Encode a palette image as PNG bytes (colour type 3, bit depth 1, 2, 4 or 8).

    Parameters
    ----------
    labels : ndarray of shape (h, w), dtype uint8, C-contiguous
        Palette index of every pixel, each below ``len(palette)``.
    palette : ndarray of shape (n, 3) or (n, 4), dtype uint8
        1 to 256 colours; alpha below 255 is written to a tRNS chunk.
    level : int
        Compression effort, 0 to 12 (see :class:`QuantizeOptions`).

    Returns
    -------
    bytes
        A PNG that decodes to ``palette[labels]``. Palette entries may be reordered.
    """
    return _core.encode_png(labels, palette, level)


def remap(
    pixels: np.ndarray,
    palette: np.ndarray,
    *,
    dither: Dither = QuantizeOptions.dither,
    threads: int = QuantizeOptions.threads,
    run_margin: float = QuantizeOptions.run_margin,
) -> Quantized:
    """Map an image onto a palette chosen elsewhere (a shared palette, or one from a file).

    Parameters
    ----------
    pixels : ndarray of shape (h, w, 3) or (h, w, 4), dtype uint8, C-contiguous
        RGB or RGBA pixels.
    palette : ndarray of shape (n, 3) or (n, 4), dtype uint8
        1 to 256 colours; every pixel gets the nearest one in the perceptual space
        (Oklab with alpha premultiplied, see ``cpp/perceptual.hpp``).
    dither, threads, run_margin
        See :class:`QuantizeOptions`.

    Returns
    -------
    Quantized
        Its palette is ``palette`` as given, every entry kept, used or not.

    Raises
    ------
    InvalidOptionError
        ``palette`` is not 1 to 256 uint8 RGB or RGBA colours.
    """
    palette = np.asarray(palette)
    if palette.dtype != np.uint8 or palette.ndim != 2 or palette.shape[1] not in (3, 4):
        raise InvalidOptionError(f"palette must be (n, 3|4) uint8 colours, got {palette.dtype} {palette.shape}")
    if not 1 <= len(palette) <= 256:
        raise InvalidOptionError(f"palette must have 1 to 256 colours, got {len(palette)}")
    probe = QuantizeOptions(dither=dither, threads=threads, run_margin=run_margin)  # validates them
    # dtype=: an unpickled array (a Spark broadcast) has an equal but not identical dtype
    # object, which the binding's dtype check refuses.
    out = _core.remap(
        pixels,
        np.ascontiguousarray(palette, dtype=np.uint8),
        dither_level(probe.dither),
        threads=threads,
        run_margin=run_margin,
    )
    return Quantized(
        palette=out["palette"],
        labels=out["labels"],
        counts=out["counts"],
        inertia=out["sse"],
        iterations=0,
        unique_colors=out["unique_colors"],
    )


def compress_pixels(
    pixels: np.ndarray, options: QuantizeOptions, palette: np.ndarray | None = None
) -> tuple[bytes, Quantized]:
    """Quantize 8-bit RGB(A) pixels and encode them: (PNG bytes, the quantized image).

    With ``palette`` the pixels are remapped onto it (see :func:`remap`) instead of
    getting a palette of their own; ``options.k`` is then not used.
    """
    if palette is None:
        q = _quantize(pixels, options)
    else:
        q = remap(pixels, palette, dither=options.dither, threads=options.threads, run_margin=options.run_margin)
    return encode_png(q.labels, q.palette, level=options.level), q


def compress_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    force: bool = False,
    skip_if_larger: bool = False,
    options: QuantizeOptions | None = None,
    pick_k: Callable[[np.ndarray, QuantizeOptions], int] | None = None,
    palette: np.ndarray | None = None,
    **option_values: Any,
) -> CompressResult:
    """Compress one image file to a palette PNG.

    Parameters
    ----------
    src : path
        Any image imageio can read (PNG, JPEG, GIF, BMP, TIFF, WebP, ...).
    dst : path
        Where to write the PNG, atomically (a temporary file, then a rename).
    force : bool
        Replace ``dst`` if it exists.
    skip_if_larger : bool
        Write nothing when the PNG would not be smaller than ``src``; the result's status
        is then "skipped".
    options : QuantizeOptions, optional
        Or pass its fields as keywords (``k=16, dither=True``).
    pick_k : callable, optional
        ``pick_k(pixels, options)`` chooses K from the decoded pixels, replacing
        ``options.k`` (see :func:`quantcli.choosek.k_chooser`); the result's ``k`` is the
        K chosen.
    palette : ndarray of shape (n, 3) or (n, 4), dtype uint8, optional
        Remap onto this palette (shared by a collection) instead of fitting one.

    Returns
    -------
    CompressResult

    Raises
    ------
    ImageReadError, OutputExistsError, OutputWriteError, InvalidOptionError
    """
    start = time.perf_counter()
    if options is None:
        options = QuantizeOptions(**option_values)
    elif option_values:
        raise TypeError("pass either options or option keywords, not both")
    src_path, dst_path = Path(src), Path(dst)
    if not force and output_exists(dst_path):
        # Fail before the expensive work; write_atomic checks again at the end.
        raise OutputExistsError(f"{dst_path}: exists (use --force to overwrite)")
    try:
        bytes_in = src_path.stat().st_size
    except FileNotFoundError:
        raise ImageReadError(f"{src_path}: no such file") from None
    except OSError as exc:
        raise ImageReadError(f"{src_path}: {exc.strerror or exc}") from None
    pixels = read_image(src_path)
    if pick_k is not None:
        options = replace(options, k=pick_k(pixels, options))
    png, q = compress_pixels(pixels, options, palette)
    common = dict(path=str(src_path), k=options.k, colors=len(q.palette), bytes_in=bytes_in, psnr=_finite(q.psnr))
    if skip_if_larger and len(png) >= bytes_in:
        # The original is kept, so what the user ends up with is the input's size.
        return CompressResult(
            output=None, bytes_out=bytes_in, status="skipped", seconds=time.perf_counter() - start, **common
        )
    write_atomic(dst_path, png, force=force)
    return CompressResult(output=str(dst_path), bytes_out=len(png), seconds=time.perf_counter() - start, **common)


def compress_bytes(
    data: bytes,
    options: QuantizeOptions,
    name: str = "<stdin>",
    pick_k: Callable[[np.ndarray, QuantizeOptions], int] | None = None,
    palette: np.ndarray | None = None,
) -> tuple[bytes, CompressResult]:
    """Compress an encoded image held in memory: (PNG bytes, its result row).

    ``pick_k``, when given, chooses K from the decoded pixels, as in :func:`compress_file`;
    ``palette``, when given, is used as in :func:`compress_pixels`.
    """
    start = time.perf_counter()
    pixels = read_image(data, name=name)
    if pick_k is not None:
        options = replace(options, k=pick_k(pixels, options))
    png, q = compress_pixels(pixels, options, palette)
    return png, CompressResult(
        path=name,
        output=None,
        k=options.k,
        colors=len(q.palette),
        bytes_in=len(data),
        bytes_out=len(png),
        psnr=_finite(q.psnr),
        seconds=time.perf_counter() - start,
    )


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
