"""Choosing K: fit candidate palette sizes on one colour histogram, score them, pick one.

The histogram is built once per image (or once for a whole set, ``shared``); every
candidate K is fitted on it with the same options ``quantize``/``compress`` use. For an
image, each fit is also remapped as ``quantize`` remaps it (``run_margin`` included), so
the MSE, PSNR and PNG size reported for a K are exactly those of ``compress`` at that K
(without ``dither``). For a shared set, which has no pixel layout, the MSE is that of
nearest-colour remapping (``run_margin=0``). The silhouettes take each colour's nearest
palette entry as its cluster, as Spark's predictions do. Methods:

``silhouette`` (default)
    The K with the highest mean silhouette; ties go to the smaller K.

    - ``distance="squared"``: every pixel, squared Euclidean distance in RGBA space,
      defined exactly as Spark MLlib's ``ClusteringEvaluator`` (its default
      ``distanceMeasure="squaredEuclidean"``, each pixel a row): for a pixel in cluster
      A, ``a`` is the mean squared distance to the *other* pixels of A, ``b`` the lowest
      mean squared distance to the pixels of another cluster, ``s = (b - a) / max(a, b)``,
      and a pixel alone in its cluster scores 0. Computed in C++ from per-cluster counts,
      sums and sums of squared norms: O(unique colours x K), not O(pixels^2).
    - ``distance="euclidean"``: the classic silhouette scikit-learn's
      ``silhouette_score`` computes, on ``sample`` pixels drawn without replacement
      (seeded by the quantize seed); the same sample serves every K.

``elbow``
    The knee of the MSE curve by the Kneedle rule: with K and MSE each scaled to [0, 1]
    over the candidates, the knee is the K where the curve lies farthest below the
    straight line from its first to its last point, i.e. the largest
    ``(1 - k_norm) - mse_norm``; ties go to the smaller K.

``quality``
    The smallest K whose PSNR reaches ``min_psnr``, without fitting every candidate. PSNR
    is evaluated at the first candidate, then at candidates roughly doubling K until the
    target is met, then by bisection between the last K that missed and the first that
    met. The answer meets the target and the candidate just below it misses it; it is the
    smallest K meeting the target among all K evaluated, and therefore the smallest of
    all candidates whenever PSNR rises with K (as it does on photos). If even the last
    candidate misses, it is returned with ``target_met`` False.
"""

from __future__ import annotations

import io
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from . import _core
from .api import Quantized, _from_core, psnr_from_mse
from .errors import InvalidOptionError, QuantcliError
from .images import DEFAULT_MAX_PIXELS, read_image
from .options import K_MAX, K_MIN, QuantizeOptions, _require_int
from .palette import HistogramMerger, image_histogram
from .targets import write_atomic

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
        See the module documentation.
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
            _require_int("bytes_level", self.bytes_level, 0, 9)
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


def choose_k(
    pixels: np.ndarray,
    options: ChooseKOptions | None = None,
    *,
    quantize: QuantizeOptions | None = None,
    name: str = "<array>",
    **option_values: Any,
) -> ChooseKResult:
    """Recommend a palette size K for an image.

    Parameters
    ----------
    pixels : ndarray of shape (h, w, 3) or (h, w, 4), dtype uint8, C-contiguous
        RGB or RGBA pixels.
    options : ChooseKOptions, optional
        Or pass its fields as keywords (``method="elbow", ks=(2, 4, 8)``).
    quantize : QuantizeOptions, optional
        The fit options (seed, max_iter, tol, init) every candidate uses; its ``k`` is
        ignored. The Euclidean-silhouette sample is drawn with its seed.
    name : str
        How the result names the input.

    Returns
    -------
    ChooseKResult
    """
    options = _options(options, option_values)
    quantize = quantize or QuantizeOptions()
    return _choose_prepared(_core.PreparedImage(pixels, quantize), pixels.shape, options, quantize, name)


def _choose_prepared(
    image: _core.PreparedImage,
    shape: tuple[int, ...],
    options: ChooseKOptions,
    quantize: QuantizeOptions,
    name: str,
) -> ChooseKResult:
    """choose_k on an image whose histogram and pixel map were built once, for every K."""
    level = -1 if options.bytes_level is None else options.bytes_level

    def scan(ks: Sequence[int], sample: int) -> _core.ScanScores:
        return image.scan(list(ks), quantize, sample, level)

    h, w, channels = shape
    return _choose(scan, h * w, image.unique_colors, channels, options, name)


def choose_k_file(
    path: str | os.PathLike[str],
    options: ChooseKOptions | None = None,
    *,
    quantize: QuantizeOptions | None = None,
    **option_values: Any,
) -> ChooseKResult:
    """Recommend K for an image file (any format :func:`quantcli.read_image` reads).

    Raises
    ------
    ImageReadError
    """
    options = _options(options, option_values)
    start = time.perf_counter()
    pixels = read_image(path)
    return _timed(choose_k(pixels, options, quantize=quantize, name=str(path)), start)


def choose_k_shared(
    paths: Iterable[str | os.PathLike[str]],
    options: ChooseKOptions | None = None,
    *,
    quantize: QuantizeOptions | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    **option_values: Any,
) -> tuple[ChooseKResult | None, list[ChooseKError]]:
    """One K for a set of images, chosen on the sum of their histograms.

    Files that cannot be read are left out and reported. MSE and PSNR are over every
    pixel of the set, with 4 channels if any image has alpha, else 3, for nearest-colour
    remapping; no PNG size is given.

    Returns
    -------
    (ChooseKResult or None, list of ChooseKError)
        The result is None when no file could be read.
    """
    options = _options(options, option_values)
    start = time.perf_counter()
    merger = HistogramMerger()
    errors: list[ChooseKError] = []
    channels = 0
    for path in paths:
        t0 = time.perf_counter()
        try:
            pixels = read_image(path, max_pixels=max_pixels)
        except QuantcliError as exc:
            errors.append(ChooseKError(str(path), str(exc), time.perf_counter() - t0))
            continue
        merger.add(image_histogram(pixels))
        channels = max(channels, pixels.shape[2])
    merged = merger.result()
    if merged is None:
        return None, errors
    images = merger.images
    name = f"shared ({images} image{'s' if images != 1 else ''})"
    result = choose_k_histogram(merged.colors, merged.counts, options, quantize=quantize, channels=channels, name=name)
    return _timed(replace(result, images=images), start), errors


def choose_k_histogram(
    colors: np.ndarray,
    counts: np.ndarray,
    options: ChooseKOptions | None = None,
    *,
    quantize: QuantizeOptions | None = None,
    channels: int = 3,
    name: str = "<histogram>",
) -> ChooseKResult:
    """Recommend K from a colour histogram (as :func:`quantcli._core.histogram` returns it).

    Parameters
    ----------
    colors : ndarray of shape (n, 4), dtype uint8
        Distinct RGBA colours, sorted as quantcli returns them.
    counts : ndarray of shape (n,), dtype uint64
        Pixels of each colour.
    channels : {3, 4}
        Channels per pixel for MSE and PSNR: 3 for RGB images, 4 with alpha.
    """
    options = options or ChooseKOptions()
    quantize = quantize or QuantizeOptions()
    if channels not in (3, 4):
        raise InvalidOptionError(f"channels must be 3 or 4, got {channels!r}")

    def scan(ks: Sequence[int], sample: int) -> _core.ScanScores:
        return _core.choose_k_scan(colors, counts, list(ks), quantize, sample)

    return _choose(scan, int(counts.sum()), len(colors), channels, options, name)


def _choose(
    scan: Callable[[Sequence[int], int], _core.ScanScores],
    pixels: int,
    unique_colors: int,
    channels: int,
    options: ChooseKOptions,
    name: str,
) -> ChooseKResult:
    """Score the candidates with ``scan(ks, sample_size)`` and apply the method's rule."""
    start = time.perf_counter()
    use_sample = options.distance == "euclidean" and options.method != "quality"

    palettes: dict[int, np.ndarray] = {}  # the fit of every K scored

    def scores_of(ks: Sequence[int], sample: bool) -> list[KScore]:
        raw = scan(ks, options.sample if sample else 0)
        palettes.update(zip(ks, raw.palettes, strict=True))
        return [_score(raw, i, pixels, channels, sample) for i in range(len(ks))]

    target_met: bool | None = None
    if options.method == "quality":
        evaluated: dict[int, KScore] = {}

        def meets(k: int) -> bool:
            evaluated[k] = scores_of([k], sample=False)[0]
            return evaluated[k].psnr >= options.min_psnr

        best, target_met = search_smallest(options.candidates, meets)
        scores = [evaluated[k] for k in sorted(evaluated)]
    else:
        scores = scores_of(options.candidates, sample=use_sample)
        ks = [s.k for s in scores]
        if options.method == "elbow":
            best = knee_point(ks, [s.mse for s in scores])
        else:
            best = best_silhouette(ks, [s.silhouette_euclidean if use_sample else s.silhouette for s in scores])
    return ChooseKResult(
        path=name,
        k=best,
        method=options.method,
        distance=options.distance,
        scores=tuple(scores),
        pixels=pixels,
        unique_colors=unique_colors,
        min_psnr=options.min_psnr if options.method == "quality" else None,
        target_met=target_met,
        seconds=time.perf_counter() - start,
        sample=min(options.sample, pixels) if use_sample else None,
        palette=palettes[best],
    )


def best_silhouette(ks: Sequence[int], values: Sequence[float | None]) -> int:
    """The K with the highest silhouette, the smaller K among equals; NaN is skipped.

    When every value is NaN (a one-colour image) the first K is returned.
    """
    best, best_value = ks[0], -math.inf
    for k, v in zip(ks, values, strict=True):
        if v is not None and not math.isnan(v) and v > best_value:
            best, best_value = k, v
    return best


def knee_point(ks: Sequence[int], values: Sequence[float]) -> int:
    """Kneedle's knee of a decreasing, convex curve such as MSE against K.

    Both axes are scaled to [0, 1] (K from the first to the last candidate, the values
    from their minimum to their maximum); the knee is the K that maximises
    ``(1 - k_scaled) - value_scaled``, the gap below the line from the curve's first to
    its last point. Ties go to the smaller K; a flat curve or a single K gives the first.
    """
    x = np.asarray(ks, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    if len(x) < 3 or x[-1] == x[0]:
        return int(ks[0])
    span = float(y.max() - y.min())
    if span == 0.0:
        return int(ks[0])
    gap = (1.0 - (x - x[0]) / (x[-1] - x[0])) - (y - y.min()) / span
    return int(ks[int(np.argmax(gap))])


def search_smallest(candidates: Sequence[int], meets: Callable[[int], bool]) -> tuple[int, bool]:
    """The smallest candidate for which ``meets`` holds, assuming it holds upwards.

    Evaluates the first candidate, then candidates roughly doubling K until one meets the
    goal, then bisects between the last miss and the first hit. Returns ``(K, True)``
    where K meets the goal and the candidate just below it does not (or K is the first
    candidate); no smaller K evaluated met it. Returns ``(last candidate, False)`` when
    none evaluated did. ``candidates`` must be increasing and non-empty.
    """
    lo, i = -1, 0  # lo: index of the largest candidate known to miss
    while not meets(candidates[i]):
        lo = i
        if i == len(candidates) - 1:
            return candidates[i], False
        doubled = 2 * candidates[i]
        i = next(
            (j for j in range(i + 1, len(candidates)) if candidates[j] >= doubled),
            len(candidates) - 1,
        )
    hi = i
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if meets(candidates[mid]):
            hi = mid
        else:
            lo = mid
    return candidates[hi], True


def quantize_chosen(
    pixels: np.ndarray, options: ChooseKOptions, quantize: QuantizeOptions, name: str = "<array>"
) -> tuple[ChooseKResult, Quantized]:
    """Choose K for an image and quantize it at that K (``-k auto``).

    The image's histogram and pixel map are built once for every K tried, and the chosen
    K's fit is remapped, not fitted again: the image is the one ``quantize`` at that K
    gives, bit for bit.
    """
    image = _core.PreparedImage(pixels, quantize)
    result = _choose_prepared(image, pixels.shape, options, quantize, name)
    chosen = replace(quantize, k=result.k)
    quantized = replace(
        _from_core(image.remap_fit(result.palette, chosen)), iterations=result.score(result.k).iterations
    )
    return result, quantized


def choose_k_inputs(
    inputs: Sequence[str],
    options: ChooseKOptions,
    *,
    quantize: QuantizeOptions | None = None,
    recursive: bool = False,
    shared: bool = False,
    stdin: bytes | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> Iterator[ChooseKResult | ChooseKError]:
    """choose-k on the local engine: an outcome per image found in ``inputs`` (files,
    folders, globs), in input order, or one for the whole set with ``shared``; or one
    for ``stdin`` (the bytes of one image) when given."""
    from .planner import expand_inputs

    if stdin is not None:
        yield _one(stdin, "<stdin>", options, quantize, max_pixels)
        return
    found = list(expand_inputs(inputs, recursive=recursive))
    failed = [ChooseKError(f.display, f.error) for f in found if f.error is not None]
    sources = [f.source for f in found if f.error is None]
    if shared:
        yield from failed
        result, errors = choose_k_shared(sources, options, quantize=quantize, max_pixels=max_pixels)
        yield from errors
        if result is not None:
            yield result
        return
    for f in found:
        if f.error is not None:
            yield ChooseKError(f.display, f.error)
        else:
            yield _one(f.source, f.display, options, quantize, max_pixels)


def _one(source: str | bytes, name: str, options: ChooseKOptions, quantize: QuantizeOptions | None, max_pixels):
    start = time.perf_counter()
    try:
        pixels = read_image(source, name=name, max_pixels=max_pixels)
        return _timed(choose_k(pixels, options, quantize=quantize, name=name), start)
    except QuantcliError as exc:
        return ChooseKError(name, str(exc), time.perf_counter() - start)
    except MemoryError:
        return ChooseKError(name, f"{name}: out of memory", time.perf_counter() - start)


PLOT_FORMATS = ("png", "svg", "pdf")


def plot_format(path: str | os.PathLike[str]) -> str:
    """The plot's file format from its suffix (png, svg or pdf); InvalidOptionError otherwise."""
    suffix = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    if suffix not in PLOT_FORMATS:
        raise InvalidOptionError(f"--plot {path}: the name must end in .png, .svg or .pdf")
    return suffix


def plot_results(results: Sequence[ChooseKResult], path: str | os.PathLike[str], *, force: bool = False) -> None:
    """Write a PNG of each result's curve with its chosen K marked.

    The curve is the silhouette against K (method ``silhouette``), the MSE (``elbow``) or
    the PSNR with the target as a dashed line (``quality``), in the format the suffix
    names (:func:`plot_format`). Needs matplotlib (the ``plot`` extra). The file is
    written atomically and an existing file is replaced only with ``force``.

    Raises
    ------
    InvalidOptionError
        matplotlib is not installed, or the suffix is not png, svg or pdf.
    OutputExistsError
        ``path`` exists and ``force`` is false.
    """
    fmt = plot_format(path)
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise InvalidOptionError("--plot needs matplotlib: pip install 'quantcli[plot]'") from None
    if not results:
        return
    method, distance = results[0].method, results[0].distance
    fig = Figure(figsize=(7.5, 4.5), dpi=120, layout="constrained")
    ax = fig.add_subplot()
    for r in results:
        ks = [s.k for s in r.scores]
        if method == "elbow":
            ys = [s.mse for s in r.scores]
        elif method == "quality":
            ys = [s.psnr if math.isfinite(s.psnr) else np.nan for s in r.scores]
        else:
            ys = [
                np.nan if v is None else v
                for v in (s.silhouette_euclidean if distance == "euclidean" else s.silhouette for s in r.scores)
            ]
        (line,) = ax.plot(ks, ys, marker="o", markersize=3, linewidth=1.5, label=f"{_short(r.path)}: K={r.k}")
        chosen = ks.index(r.k)
        ax.plot(
            [r.k],
            [ys[chosen]],
            marker="*",
            markersize=16,
            color=line.get_color(),
            markeredgecolor="black",
            linestyle="none",
        )
        ax.axvline(r.k, color=line.get_color(), linestyle=":", linewidth=1)
    if method == "quality":
        ax.axhline(results[0].min_psnr, color="grey", linestyle="--", linewidth=1, label="target PSNR")
        ax.set_ylabel("PSNR (dB)")
        title = f"Smallest K with PSNR >= {results[0].min_psnr:g} dB"
    elif method == "elbow":
        ax.set_ylabel("MSE per channel")
        title = "MSE against K, knee by Kneedle"
    else:
        ax.set_ylabel("mean silhouette")
        title = (
            "Silhouette (Euclidean, pixel sample)"
            if distance == "euclidean"
            else "Silhouette (squared Euclidean, all pixels)"
        )
    ax.set_xlabel("K (palette size)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="best")
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt)
    write_atomic(path, buffer.getvalue(), force=force)


def _short(path: str, width: int = 40) -> str:
    return path if len(path) <= width else "..." + path[-(width - 3) :]


def _options(options: ChooseKOptions | None, values: dict[str, Any]) -> ChooseKOptions:
    if options is not None and values:
        raise TypeError("pass either options or option keywords, not both")
    return options if options is not None else ChooseKOptions(**values)


def _timed(result: ChooseKResult, start: float) -> ChooseKResult:
    return replace(result, seconds=time.perf_counter() - start)


def _score(raw: _core.ScanScores, i: int, pixels: int, channels: int, sample: bool) -> KScore:
    mse = float(raw.sse[i]) / (pixels * channels)
    png_bytes = int(raw.png_bytes[i])
    return KScore(
        k=int(raw.k[i]),
        colors=int(raw.colors[i]),
        mse=mse,
        psnr=psnr_from_mse(mse),
        silhouette=float(raw.silhouette[i]),
        silhouette_euclidean=float(raw.silhouette_euclidean[i]) if sample else None,
        png_bytes=png_bytes if png_bytes >= 0 else None,
        iterations=int(raw.iterations[i]),
    )


def _json_float(value: float | None, digits: int) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, digits)


__all__ = [
    "DISTANCES",
    "METHODS",
    "ChooseKError",
    "ChooseKOptions",
    "ChooseKResult",
    "KScore",
    "best_silhouette",
    "choose_k",
    "choose_k_file",
    "choose_k_histogram",
    "choose_k_inputs",
    "choose_k_shared",
    "knee_point",
    "plot_results",
    "quantize_chosen",
    "search_smallest",
]
