"""A perceptual quality target, as pngquant's ``--quality MIN-MAX``: the fewest colours that reach MAX.

Quality is on a 0-100 scale meant to read like SSIMULACRA2 (90: visually lossless, 70: high,
50: medium). It is computed from the palette's error, not from the written pixels: the mean
squared distance, in the perceptual space (Oklab scaled by 255, alpha premultiplied; see
``cpp/perceptual.hpp``), from every pixel to its nearest palette entry, without dithering.
:func:`quality_from_error` maps that error to the scale with a curve fitted against the
SSIMULACRA2 of quantcli's default output (dithered) on the benchmark corpus
(``bench/results/quality.md`` checks it again on every run).

K is found by bisection on the palette size. It returns the smallest K that reaches MAX
when quality grows with K, which it does up to rare dips of a fraction of a point (the tests
check the choice against an exhaustive scan on small images); where it dips, the K returned
still reaches MAX while K - 1 does not. Each step fits one palette; the chosen K is then quantized with the
caller's options (dithering included) and encoded.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from . import _core
from .api import Quantized, _quantize, encode_quantized
from .errors import InvalidOptionError, QuantcliError
from .options import QuantizeOptions

# quality = 100 - QUALITY_SCALE * mse ** QUALITY_POWER, clamped to 0..100, with mse the
# mean squared perceptual error per pixel (see the module docstring). Fitted by least
# squares to SSIMULACRA2 of quantcli's default output on the 8 quick-corpus images of
# bench_quality.py at 1 MP, K = 4 to 256 (36 points scoring above 30): correlation 0.93,
# mean absolute deviation 4.8 points, RMS 6.9. The power came out 0.502: quality falls
# with the RMS error.
QUALITY_SCALE = 11.2
QUALITY_POWER = 0.5
# Any error at least this large has quality 0 (an infinite bound would not cross into C++).
_MAX_ERROR = 1e30


class QualityTooLowError(QuantcliError):
    """Even the largest palette allowed cannot reach the minimum quality: exit code 99, as pngquant's."""

    exit_code = 99


def quality_from_error(mse: float) -> float:
    """The 0-100 quality of a mean squared perceptual error per pixel (0: lossless, 100)."""
    if mse <= 0:
        return 100.0
    return min(100.0, max(0.0, 100.0 - QUALITY_SCALE * mse**QUALITY_POWER))


def parse_quality(text: str) -> tuple[int, int]:
    """``"MIN-MAX"`` or ``"MAX"`` (MIN 0) as (min, max), each from 0 to 100 with MIN <= MAX."""
    parts = text.split("-")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise InvalidOptionError(f"quality must be MIN-MAX or MAX with integers 0 to 100, got {text!r}") from None
    if len(values) == 1:
        values = [0, values[0]]
    if len(values) != 2:
        raise InvalidOptionError(f"quality must be MIN-MAX or MAX with integers 0 to 100, got {text!r}")
    if not all(0 <= v <= 100 for v in values):  # the message echoes the value as given
        raise InvalidOptionError(f"quality values must be numbers from 0 to 100, got {text!r}")
    return check_quality((values[0], values[1]))


def check_quality(quality: tuple[float, float]) -> tuple[int, int] | tuple[float, float]:
    """Validate a (min, max) pair: numbers from 0 to 100 with min <= max."""
    try:
        low, high = quality
    except (TypeError, ValueError):
        raise InvalidOptionError(f"quality must be a (min, max) pair, got {quality!r}") from None
    for v in (low, high):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 100:
            raise InvalidOptionError(f"quality values must be numbers from 0 to 100, got {quality!r}")
    if low > high:
        raise InvalidOptionError(f"quality minimum {low} is above its maximum {high}")
    return low, high


def palette_quality(pixels: np.ndarray, k: int, options: QuantizeOptions) -> float:
    """The quality of the palette ``options`` fit at ``k`` colours: undithered nearest-colour error, mapped."""
    raw = _core.quantize(pixels, replace(options, k=k, dither="off", run_margin=0.0))
    return quality_from_error(raw.perceptual_sse / (pixels.shape[0] * pixels.shape[1]))


def error_for_quality(quality: float) -> float:
    """The largest mean squared perceptual error whose quality is at least ``quality`` (inf for 0).

    Exact to the last bit: ``quality_from_error(e) >= quality`` if and only if ``e <= error_for_quality(quality)``.
    """
    if quality <= 0:
        return math.inf
    # The closed-form inverse rounds; bisect on floats around it down to adjacent values.
    reaches, misses = 0.0, 2.0 * ((100.0 - quality) / QUALITY_SCALE) ** (1.0 / QUALITY_POWER) + 1.0
    while quality_from_error(misses) >= quality:
        misses *= 2.0
    while True:
        middle = (reaches + misses) / 2.0
        if middle in (reaches, misses):
            return reaches
        if quality_from_error(middle) >= quality:
            reaches = middle
        else:
            misses = middle


def choose_k_for_quality(
    pixels: np.ndarray, options: QuantizeOptions, quality: tuple[float, float]
) -> tuple[int, float]:
    """The fewest colours, up to ``options.k``, whose palette reaches ``quality``'s max: (k, its quality).

    Without reaching max, ``options.k`` if it reaches min. One histogram serves every fit
    (the bisection runs in the core), so this costs about log2(options.k) palette fits.

    Raises
    ------
    QualityTooLowError
        ``options.k`` colours stay below min.
    """
    low, high = check_quality(quality)
    k, mse, mse_top = _core.smallest_k_for_error(pixels, min(error_for_quality(high), _MAX_ERROR), options)
    reached = quality_from_error(mse)
    if reached < high and quality_from_error(mse_top) < low:
        raise QualityTooLowError(
            f"quality {quality_from_error(mse_top):.1f} with {options.k} colours is below the minimum {low}"
        )
    return k, reached


def quantize_to_quality(
    pixels: np.ndarray, options: QuantizeOptions, quality: tuple[float, float]
) -> tuple[Quantized, float]:
    """Quantize with the fewest colours that reach ``quality`` (see :func:`choose_k_for_quality`).

    Returns the quantized image (with ``options``' dithering) and the palette's quality.
    """
    k, reached = choose_k_for_quality(pixels, options, quality)
    return _quantize(pixels, replace(options, k=k)), reached


def compress_to_quality(
    pixels: np.ndarray, options: QuantizeOptions, quality: tuple[float, float]
) -> tuple[bytes, Quantized]:
    """:func:`quantize_to_quality`, encoded: (PNG bytes, the quantized image).

    Raises :class:`QualityTooLowError` (nothing encoded) when ``options.k`` colours stay below min.
    """
    q, _ = quantize_to_quality(pixels, options, quality)
    return encode_quantized(q, options), q


__all__ = [
    "QUALITY_POWER",
    "QUALITY_SCALE",
    "QualityTooLowError",
    "check_quality",
    "choose_k_for_quality",
    "compress_to_quality",
    "error_for_quality",
    "palette_quality",
    "parse_quality",
    "quality_from_error",
    "quantize_to_quality",
]
