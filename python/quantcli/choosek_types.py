"""Choosing K: the options (checked once here) and the per-K scores and results it returns."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .errors import InvalidOptionError
from .options import K_MAX, K_MIN, MAX_LEVEL, _require_int

Method = Literal["silhouette", "elbow", "quality"]
Distance = Literal["squared", "euclidean"]
METHODS: tuple[str, ...] = ("silhouette", "elbow", "quality")
DISTANCES: tuple[str, ...] = ("squared", "euclidean")

DEFAULT_K_MAX = 64  # silhouette and elbow
QUALITY_K_MAX = 256
DEFAULT_SAMPLE = 10_000
DEFAULT_MIN_PSNR = 35.0


@dataclass(frozen=True)
class ChooseKOptions:
    """How to choose K.

    Parameters
    ----------
    method : {"silhouette", "elbow", "quality"}
        See :mod:`quantcli.choosek`.
    k_min, k_max : int
        Candidates are every K from ``k_min`` to ``k_max`` (2 to 256). ``k_max`` defaults
        to 64, or 256 for ``quality``.
    ks : sequence of int, optional
        Explicit candidates instead of a range (sorted, duplicates dropped).
    distance : {"squared", "euclidean"}
        Silhouette distance: squared over all pixels (Spark's definition) or Euclidean
        over a pixel sample (scikit-learn's).
    sample : int
        Pixels in the Euclidean-silhouette sample, at least 2.
    min_psnr : float
        PSNR target in dB for ``quality``.
    bytes_level : int or None
        zlib level (0 to 9) at which each candidate fit of an image is encoded to report
        its PNG size; ``compress``'s level (6 by default) gives exactly the bytes it
        writes, 1 (the default) is quicker and somewhat larger. None skips encoding.

    The fits and remaps themselves (seed, max_iter, tol, init, run_margin, threads) follow a
    :class:`quantcli.QuantizeOptions`, as in ``compress``.
    """

    method: Method = "silhouette"
    k_min: int = K_MIN
    k_max: int | None = None
    ks: tuple[int, ...] | None = None
    distance: Distance = "squared"
    sample: int = DEFAULT_SAMPLE
    min_psnr: float = DEFAULT_MIN_PSNR
    bytes_level: int | None = 1

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise InvalidOptionError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.distance not in DISTANCES:
            raise InvalidOptionError(f"distance must be one of {', '.join(DISTANCES)}, got {self.distance!r}")
        _require_int("k_min", self.k_min, K_MIN, K_MAX)
        if self.k_max is not None:
            _require_int("k_max", self.k_max, K_MIN, K_MAX)
            if self.k_max < self.k_min:
                raise InvalidOptionError(f"k_max ({self.k_max}) must be at least k_min ({self.k_min})")
        if self.ks is not None:
            ks = tuple(self.ks)
            if not ks:
                raise InvalidOptionError("ks must hold at least one K")
            for k in ks:
                _require_int("every K in ks", k, K_MIN, K_MAX)
            object.__setattr__(self, "ks", tuple(sorted(set(ks))))
        _require_int("sample", self.sample, 2, 2**62)
        if self.bytes_level is not None:
            _require_int("bytes_level", self.bytes_level, 0, MAX_LEVEL)
        if (
            isinstance(self.min_psnr, bool)
            or not isinstance(self.min_psnr, (int, float))
            or not math.isfinite(self.min_psnr)
        ):
            raise InvalidOptionError(f"min_psnr must be a finite number of dB, got {self.min_psnr!r}")

    @property
    def candidates(self) -> tuple[int, ...]:
        """The candidate K values, increasing."""
        if self.ks is not None:
            return self.ks
        top = self.k_max if self.k_max is not None else QUALITY_K_MAX if self.method == "quality" else DEFAULT_K_MAX
        return tuple(range(self.k_min, max(top, self.k_min) + 1))


@dataclass(frozen=True)
class KScore:
    """How one candidate K did.

    ``colors`` is below ``k`` only when the input has fewer distinct colours (then the
    result is lossless). ``mse`` is per channel sample in 8-bit units, as
    :attr:`quantcli.Quantized.mse` of ``quantize`` at this K (nearest-colour remapping for
    shared sets); ``psnr`` is ``inf`` when lossless. ``silhouette`` is
    the squared-Euclidean silhouette of all pixels; ``silhouette_euclidean`` the
    Euclidean one of the sample, or None when not asked for; either is NaN when the fit
    has a single cluster. ``png_bytes`` is the size of the fit encoded as a PNG at
    ``ChooseKOptions.bytes_level`` (None when not encoded, as for shared sets).
    """

    k: int
    colors: int
    mse: float
    psnr: float
    silhouette: float
    silhouette_euclidean: float | None
    png_bytes: int | None
    iterations: int

    def to_json(self) -> dict[str, Any]:
        """The score as a JSON-ready dict (NaN and infinity become null)."""
        return {
            "k": self.k,
            "colors": self.colors,
            "mse": _json_float(self.mse, 6),
            "psnr": _json_float(self.psnr, 4),
            "silhouette": _json_float(self.silhouette, 9),
            "silhouette_euclidean": _json_float(self.silhouette_euclidean, 9),
            "png_bytes": self.png_bytes,
            "iterations": self.iterations,
        }


@dataclass(frozen=True)
class ChooseKResult:
    """The recommended K for one image (or one shared set) and every K evaluated.

    ``scores`` is sorted by K and holds every candidate for ``silhouette`` and ``elbow``,
    and the K values the search evaluated for ``quality``. ``target_met`` is None unless
    the method is ``quality``. ``palette`` is the palette fitted at the chosen K, shape
    (n, 3) or (n, 4) with the input's channels (4 for a histogram), dtype uint8: the one
    ``quantize`` at that K gives.
    """

    path: str
    k: int
    method: Method
    distance: Distance
    scores: tuple[KScore, ...]
    pixels: int
    unique_colors: int
    images: int = 1
    min_psnr: float | None = None
    target_met: bool | None = None
    seconds: float = 0.0
    sample: int | None = None
    palette: np.ndarray | None = field(default=None, compare=False, repr=False)

    def score(self, k: int) -> KScore:
        """The score of candidate ``k`` (KeyError if it was not evaluated)."""
        for s in self.scores:
            if s.k == k:
                return s
        raise KeyError(k)

    def to_json(self) -> dict[str, Any]:
        """The result as one JSON object (the CLI's ``--json`` line)."""
        return {
            "path": self.path,
            "k": self.k,
            "method": self.method,
            "distance": self.distance,
            "min_psnr": self.min_psnr,
            "target_met": self.target_met,
            "images": self.images,
            "pixels": self.pixels,
            "unique_colors": self.unique_colors,
            "sample": self.sample,
            "scores": [s.to_json() for s in self.scores],
            "seconds": round(self.seconds, 6),
            "status": "ok",
            "error": None,
        }


@dataclass(frozen=True)
class ChooseKError:
    """An input that could not be scored; ``error`` names the file and the reason."""

    path: str
    error: str
    seconds: float = 0.0
    status: Literal["error"] = field(default="error", init=False)

    def to_json(self) -> dict[str, Any]:
        """The failure as one JSON object, with the same keys as a result's."""
        return {
            "path": self.path,
            "k": None,
            "status": "error",
            "error": self.error,
            "seconds": round(self.seconds, 6),
        }


def _json_float(value: float | None, digits: int) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, digits)
