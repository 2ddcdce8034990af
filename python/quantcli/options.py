"""One options object, validated in one place, that every stage receives."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Literal

from .errors import InvalidOptionError

InitMethod = Literal["median-cut", "kmeans++"]
INIT_METHODS: tuple[str, ...] = ("median-cut", "kmeans++")
DitherMode = Literal["auto", "on", "off"]
DITHER_MODES: tuple[str, ...] = ("auto", "on", "off")
Dither = DitherMode | bool | float

K_MIN, K_MAX = 2, 256
DEFAULT_K = 256
DEFAULT_MAX_ITER = 50
DEFAULT_TOL = 2e-3
DEFAULT_LEVEL = 10
MAX_LEVEL = 12
# `-k auto`'s default --quality target (CLI and web service): a mean SSIMULACRA2 of 79 at
# 0.72x pngquant 3's bytes on the benchmark corpus.
AUTO_QUALITY = (0, 80)
DEFAULT_RUN_MARGIN = 1.0
# Images with more pixels are refused before decoding (--max-pixels; quantcli.images says why).
DEFAULT_MAX_PIXELS = 100_000_000
# The strength "auto" stands for: the best SSIMULACRA2 per byte measured on the benchmark
# corpus (bench/results/quality.md).
AUTO_DITHER_LEVEL = 1.0


@dataclass(frozen=True)
class QuantizeOptions:
    """How to quantize and encode one image.

    Parameters
    ----------
    k : int
        Largest palette size, from 2 to 256.
    seed : int
        Seed for any random choice (``init="kmeans++"``), from 0 to 2**64 - 1.
    dither : {"auto", "on", "off"}, bool or float
        Error diffusion when remapping pixels, only where it helps: in smooth areas, less
        near edges and in noise, with clamped errors. A number from 0 to 1 is its strength;
        "on" (or True) is 1, "off" (or False) is 0, and "auto" the strength that gave the
        best quality per byte on the benchmark corpus (``AUTO_DITHER_LEVEL``). Images with
        at most ``k`` colours are never dithered.
    max_iter : int
        Most k-means updates; 0 keeps the initial palette.
    tol : float
        k-means stops once an iteration lowers the squared error by less than this fraction
        (0: only when nothing changes or after ``max_iter``).
    init : {"median-cut", "kmeans++"}
        How the initial palette is chosen.
    level : int
        PNG compression effort, from 0 to 12: 0 to 9 are zlib's levels; 10 to 12 use
        libdeflate's near-optimal parser, 8 to 10% smaller on quantized photos and
        several times slower. Both deflate pieces of the image on several threads.
    threads : int
        Threads for one image, 0 for all cores. Never changes the result.
    run_margin : float
        Near-tie margin in squared units of the perceptual space (255 spans black to
        white): a pixel may take its left or upper neighbour's palette colour instead of
        its nearest one when that costs at most this much more squared error. Longer runs
        deflate smaller (4% at K=256 on photos for 0.5 SSIMULACRA2 points with a margin of
        1). 0 gives every pixel its nearest colour. Ignored when dithering and when the
        image has at most ``k`` colours (always lossless).
    """

    k: int = DEFAULT_K
    seed: int = 0
    dither: Dither = "auto"
    max_iter: int = DEFAULT_MAX_ITER
    tol: float = DEFAULT_TOL
    init: InitMethod = "median-cut"
    level: int = DEFAULT_LEVEL
    threads: int = 0
    run_margin: float = DEFAULT_RUN_MARGIN

    def __post_init__(self) -> None:
        _require_int("k", self.k, K_MIN, K_MAX)
        _require_int("seed", self.seed, 0, 2**64 - 1)
        _require_int("max_iter", self.max_iter, 0, 1_000_000)
        _require_int("level", self.level, 0, MAX_LEVEL)
        _require_int("threads", self.threads, 0, 1024)
        if isinstance(self.dither, str):
            if self.dither not in DITHER_MODES:
                raise InvalidOptionError(
                    f"dither must be one of {', '.join(DITHER_MODES)} or 0 to 1, got {self.dither!r}"
                )
        elif not isinstance(self.dither, (bool, int, float)) or not 0 <= self.dither <= 1:
            raise InvalidOptionError(f"dither must be one of {', '.join(DITHER_MODES)} or 0 to 1, got {self.dither!r}")
        if isinstance(self.tol, bool) or not isinstance(self.tol, (int, float)) or not self.tol >= 0:
            raise InvalidOptionError(f"tol must be a number >= 0, got {self.tol!r}")
        if (
            isinstance(self.run_margin, bool)
            or not isinstance(self.run_margin, (int, float))
            or not (0 <= self.run_margin <= 1e6)
        ):
            raise InvalidOptionError(f"run_margin must be a number from 0 to 1e6, got {self.run_margin!r}")
        if self.init not in INIT_METHODS:
            raise InvalidOptionError(f"init must be one of {', '.join(INIT_METHODS)}, got {self.init!r}")

    @property
    def dither_level(self) -> float:
        """The dithering strength from 0 (none) to 1 that ``dither`` stands for."""
        return dither_level(self.dither)


def dither_level(dither: Dither) -> float:
    """0 to 1 for a validated ``dither`` value (see :class:`QuantizeOptions`)."""
    if isinstance(dither, str):
        return {"auto": AUTO_DITHER_LEVEL, "on": 1.0, "off": 0.0}[dither]
    return float(dither)


def _require_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidOptionError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise InvalidOptionError(f"{name} must be from {low} to {high}, got {value}")
