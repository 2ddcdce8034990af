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
ImageFormat = Literal["png", "webp"]
# The codecs an output is written in: palette PNG, or lossless WebP of the same pixels.
FORMATS: tuple[str, ...] = ("png", "webp")
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
# --speed presets, pngquant's scale (1: smallest files, slowest): each sets the PNG level,
# the k-means stopping rule and the most histogram entries the palette is fitted to (an
# image with more colours is counted on a coarser grid, see cpp/histogram.hpp; 0: always
# exact). Measured in bench/results/speed.md. Options given explicitly win over the preset.
SPEED_MIN, SPEED_MAX = 1, 7
DEFAULT_SPEED = 3
SPEED_PRESETS: dict[int, dict[str, int | float]] = {
    1: {"level": 12, "max_iter": 100, "tol": 5e-4, "max_colors": 0},
    2: {"level": 11, "max_iter": 50, "tol": 2e-3, "max_colors": 0},
    3: {"level": DEFAULT_LEVEL, "max_iter": DEFAULT_MAX_ITER, "tol": DEFAULT_TOL, "max_colors": 1 << 20},
    4: {"level": 10, "max_iter": 20, "tol": 5e-3, "max_colors": 1 << 17},
    5: {"level": 6, "max_iter": 10, "tol": 1e-2, "max_colors": 1 << 16},
    6: {"level": 3, "max_iter": 5, "tol": 2e-2, "max_colors": 1 << 15},
    7: {"level": 1, "max_iter": 3, "tol": 5e-2, "max_colors": 1 << 14},
}
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
    max_iter : int or None
        Most k-means updates; 0 keeps the initial palette. None: the ``speed`` preset's.
    tol : float or None
        k-means stops once an iteration lowers the squared error by less than this fraction
        (0: only when nothing changes or after ``max_iter``). None: the ``speed`` preset's.
    init : {"median-cut", "kmeans++"}
        How the initial palette is chosen.
    level : int or None
        PNG compression effort, from 0 to 12: 0 to 9 are zlib's levels; 10 to 12 use
        libdeflate's near-optimal parser, 8 to 10% smaller on quantized photos and
        several times slower. Both deflate pieces of the image on several threads.
        None: the ``speed`` preset's (10 at the default speed).
    threads : int
        Threads for one image, 0 for all cores. Never changes the result.
    run_margin : float
        Near-tie margin in squared units of the perceptual space (255 spans black to
        white): a pixel may take its left or upper neighbour's palette colour instead of
        its nearest one when that costs at most this much more squared error. Longer runs
        deflate smaller (4% at K=256 on photos for 0.5 SSIMULACRA2 points with a margin of
        1). 0 gives every pixel its nearest colour. Ignored when dithering and when the
        image has at most ``k`` colours (always lossless).
    speed : int
        1 (smallest files, slowest) to 7 (fastest), as pngquant's ``--speed``: sets
        ``level``, ``max_iter`` and ``tol`` where they are None, and :attr:`max_colors`
        (``SPEED_PRESETS``). The default, 3, is the benchmark's quality and bytes. For
        WebP it also sets libwebp's effort (``quantcli.webp.WEBP_EFFORT``).
    format : {"png", "webp"}
        The output's codec: a palette PNG (at ``level``), or lossless WebP of exactly the
        same pixels (``quantcli.webp``).
    """

    k: int = DEFAULT_K
    seed: int = 0
    dither: Dither = "auto"
    max_iter: int = None  # type: ignore[assignment]  # None: from speed (an int once made)
    tol: float = None  # type: ignore[assignment]
    init: InitMethod = "median-cut"
    level: int = None  # type: ignore[assignment]
    threads: int = 0
    run_margin: float = DEFAULT_RUN_MARGIN
    speed: int = DEFAULT_SPEED
    format: ImageFormat = "png"

    def __post_init__(self) -> None:
        _require_int("speed", self.speed, SPEED_MIN, SPEED_MAX)
        preset = SPEED_PRESETS[self.speed]
        for name in ("level", "max_iter", "tol"):
            if getattr(self, name) is None:
                object.__setattr__(self, name, preset[name])
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
        if self.format not in FORMATS:
            raise InvalidOptionError(f"format must be one of {', '.join(FORMATS)}, got {self.format!r}")
        if self.init not in INIT_METHODS:
            raise InvalidOptionError(f"init must be one of {', '.join(INIT_METHODS)}, got {self.init!r}")

    @property
    def max_colors(self) -> int:
        """Most histogram entries the palette is fitted to (0: the exact colours), by ``speed``."""
        return int(SPEED_PRESETS[self.speed]["max_colors"])

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
