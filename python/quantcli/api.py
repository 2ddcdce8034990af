"""The Python API on arrays: quantize, remap and encode. The per-file pipeline
(:mod:`quantcli.pipeline`) and every front end call these functions; no algorithm lives
anywhere else in Python."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _core
from .errors import InvalidOptionError
from .options import DEFAULT_LEVEL, MAX_LEVEL, Dither, QuantizeOptions, _require_int
from .psnr import psnr_from_mse


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
    channels : int
        Samples per pixel of the input (3 or 4), over which :attr:`mse` averages; 0 for
        the palette's. An RGB image remapped onto an RGBA palette (a shared palette) is
        averaged over its three channels, as when it is quantized alone (the alpha error of
        a translucent entry, if one is used, counts in the sum).
    """

    palette: np.ndarray
    labels: np.ndarray
    counts: np.ndarray
    inertia: float
    iterations: int
    unique_colors: int
    channels: int = 0

    @property
    def mse(self) -> float:
        """Mean squared error per channel sample of the input, in 8-bit units."""
        return self.inertia / (self.labels.size * (self.channels or self.palette.shape[1]))

    @property
    def psnr(self) -> float:
        """Peak signal-to-noise ratio in dB; ``inf`` when the result is lossless."""
        return psnr_from_mse(self.mse)

    def to_image(self) -> np.ndarray:
        """The quantized pixels, ``palette[labels]``, shape (h, w, 3|4), dtype uint8."""
        return self.palette[self.labels]


def quantize(
    pixels: np.ndarray,
    k: int,
    *,
    seed: int = QuantizeOptions.seed,
    dither: Dither = QuantizeOptions.dither,
    max_iter: int = QuantizeOptions.max_iter,
    tol: float = QuantizeOptions.tol,
    init: str = QuantizeOptions.init,
    threads: int = QuantizeOptions.threads,
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
    return _from_core(_core.quantize(pixels, options))


def _from_core(out: _core.QuantizeResult, channels: int = 0) -> Quantized:
    return Quantized(
        palette=out.palette,
        labels=out.labels,
        counts=out.counts,
        inertia=out.sse,
        iterations=out.iterations,
        unique_colors=out.unique_colors,
        channels=channels,
    )


def encode_png(
    labels: np.ndarray,
    palette: np.ndarray,
    *,
    level: int = DEFAULT_LEVEL,
    threads: int = QuantizeOptions.threads,
) -> bytes:
    """Encode a palette image as PNG bytes (colour type 3, bit depth 1, 2, 4 or 8).

    Parameters
    ----------
    labels : ndarray of shape (h, w), dtype uint8, C-contiguous
        Palette index of every pixel, each below ``len(palette)``.
    palette : ndarray of shape (n, 3) or (n, 4), dtype uint8
        1 to 256 colours; alpha below 255 is written to a tRNS chunk.
    level : int
        Compression effort, 0 to 12 (see :class:`QuantizeOptions`).
    threads : int
        Threads for the deflate, 0 for all cores. Never changes the bytes.

    Returns
    -------
    bytes
        A PNG that decodes to ``palette[labels]``. Palette entries may be reordered.

    Raises
    ------
    ValueError
        Bad shape, dtype or contiguity, a label not below ``len(palette)``, or a level
        out of range (:class:`InvalidOptionError`).
    """
    _require_int("level", level, 0, MAX_LEVEL)
    _require_int("threads", threads, 0, 1024)
    return _core.encode_png(labels, palette, level, threads)


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
    options = QuantizeOptions(dither=dither, threads=threads, run_margin=run_margin)
    # dtype=: an unpickled array (a shared palette shipped to a Spark task in its settings)
    # has an equal but not identical dtype object, which the binding's dtype check refuses.
    out = _core.remap(pixels, np.ascontiguousarray(palette, dtype=np.uint8), options)
    return _from_core(out, channels=pixels.shape[2])


def encode_quantized(q: Quantized, options: QuantizeOptions) -> bytes:
    """``q`` encoded as ``options.format`` asks: PNG at ``options.level``, deflated on
    ``options.threads``, or lossless WebP at ``options.speed``'s effort."""
    if options.format == "webp":
        from .webp import encode_webp

        return encode_webp(q.labels, q.palette, speed=options.speed)
    return encode_png(q.labels, q.palette, level=options.level, threads=options.threads)


def compress_pixels(
    pixels: np.ndarray,
    options: QuantizeOptions,
    palette: np.ndarray | None = None,
) -> tuple[bytes, Quantized]:
    """Quantize 8-bit RGB(A) pixels and encode them: (PNG bytes, or WebP with
    ``options.format="webp"``, and the quantized image).

    With ``palette`` the pixels are remapped onto it (see :func:`remap`) instead of
    getting a palette of their own; ``options.k`` is then not used.
    """
    if palette is not None:
        q = remap(pixels, palette, dither=options.dither, threads=options.threads, run_margin=options.run_margin)
    else:
        q = _quantize(pixels, options)
    return encode_quantized(q, options), q
