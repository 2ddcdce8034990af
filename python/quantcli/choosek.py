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

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from . import _core
from .api import Quantized, _from_core, psnr_from_mse
from .choosek_rules import best_silhouette, knee_point, search_smallest
from .choosek_types import ChooseKError, ChooseKOptions, ChooseKResult, KScore
from .errors import InvalidOptionError
from .images import DEFAULT_MAX_PIXELS, read_image
from .options import QuantizeOptions
from .palette import HistogramMerger, image_histogram
from .per_file import guarded


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
        pixels = guarded(
            str(path),
            lambda path=path: read_image(path, max_pixels=max_pixels),
            lambda message, _code, seconds, path=path: errors.append(ChooseKError(str(path), message, seconds)),
        )
        if pixels is None:
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
    return choose_k_input(name, lambda: read_image(source, name=name, max_pixels=max_pixels), options, quantize)


def choose_k_input(
    name: str, load: Callable[[], np.ndarray], options: ChooseKOptions, quantize: QuantizeOptions | None
) -> ChooseKResult | ChooseKError:
    """choose-k on one input of a batch, on either engine: the result for the pixels
    ``load()`` decodes, or the input's error row (:func:`quantcli.per_file.guarded`);
    the seconds count the decoding."""
    start = time.perf_counter()
    return guarded(
        name,
        lambda: _timed(choose_k(load(), options, quantize=quantize, name=name), start),
        lambda message, _code, seconds: ChooseKError(name, message, seconds),
    )


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


__all__ = [
    "ChooseKError",
    "ChooseKOptions",
    "ChooseKResult",
    "KScore",
    "choose_k",
    "choose_k_file",
    "choose_k_histogram",
    "choose_k_input",
    "choose_k_inputs",
    "choose_k_shared",
    "quantize_chosen",
]
