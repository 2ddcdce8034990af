"""One palette for a whole collection, or one read from a PNG; used by both engines.

A shared palette is made in two passes over the images. Pass 1 counts the exact colours
of every image (:func:`image_histogram`, in C++) and adds the counts up
(:class:`HistogramMerger`, a tree reduction). Weighted k-means then runs once on that
one histogram (:func:`fit_shared_palette`). Pass 2 remaps and encodes every image with
the palette (``compress_*(..., palette=...)`` in :mod:`quantcli.api`).

Adding counts is exact and the merged histogram is sorted by colour, so the palette
does not depend on the order of the images, the number of threads, or how Spark split
the work: the local and the Spark engine fit the same palette.
"""

from __future__ import annotations

import io
import os
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from . import _core
from .errors import ImageReadError, InvalidOptionError
from .images import read_image
from .options import QuantizeOptions

PER_IMAGE, SHARED = "per-image", "shared"


@dataclass(frozen=True)
class ColorHistogram:
    """Exact colours and their pixel counts, as the C++ core builds and merges them.

    Attributes
    ----------
    colors : ndarray of shape (n, 4), dtype uint8
        RGBA colours, unique, sorted by their packed key; every fully transparent
        pixel is the one colour (0, 0, 0, 0).
    counts : ndarray of shape (n,), dtype uint64
        Pixels of each colour.
    """

    colors: np.ndarray
    counts: np.ndarray

    def merge(self, other: ColorHistogram) -> ColorHistogram:
        """The histogram of both pixel sets: counts added colour by colour."""
        colors, counts = _core.merge_histograms(self.colors, self.counts, other.colors, other.counts)
        return ColorHistogram(colors, counts)

    def to_bytes(self) -> tuple[bytes, bytes]:
        """(colors, counts) as raw bytes, to ship between processes (Spark rows)."""
        return self.colors.tobytes(), self.counts.tobytes()

    @classmethod
    def from_bytes(cls, colors: bytes, counts: bytes) -> ColorHistogram:
        """The inverse of :meth:`to_bytes`."""
        return cls(
            np.frombuffer(colors, dtype=np.uint8).reshape(-1, 4).copy(),
            np.frombuffer(counts, dtype=np.uint64).copy(),
        )


def image_histogram(pixels: np.ndarray) -> ColorHistogram:
    """The exact colour histogram of an (h, w, 3|4) uint8 image."""
    colors, counts = _core.histogram(pixels)
    return ColorHistogram(colors, counts)


class HistogramMerger:
    """Adds histograms one at a time with a streaming tree reduction.

    Like a binary counter, it keeps at most one partial sum per level, so n histograms
    cost O(total colours x log n) and O(log n) partial sums in memory, where merging
    each into one running total would cost O(n x its size).
    """

    def __init__(self) -> None:
        self._stack: list[tuple[int, ColorHistogram]] = []
        self.images = 0

    def add(self, hist: ColorHistogram) -> None:
        """Add one histogram (of an image, or of a partition of images)."""
        self.images += 1
        level = 0
        while self._stack and self._stack[-1][0] == level:
            hist = self._stack.pop()[1].merge(hist)
            level += 1
        self._stack.append((level, hist))

    def result(self) -> ColorHistogram | None:
        """The sum of everything added; None when nothing was."""
        total: ColorHistogram | None = None
        for _, hist in reversed(self._stack):
            total = hist if total is None else total.merge(hist)
        return total


def merge_histograms(hists: Iterable[ColorHistogram | None]) -> ColorHistogram | None:
    """The sum of all histograms (None entries are left out); None when there are none."""
    merger = HistogramMerger()
    for hist in hists:
        if hist is not None:
            merger.add(hist)
    return merger.result()


def fit_shared_palette(hist: ColorHistogram | None, options: QuantizeOptions) -> np.ndarray:
    """Weighted k-means, once, on a collection's histogram.

    Returns
    -------
    ndarray of shape (n, 3) or (n, 4), dtype uint8
        ``n <= options.k`` colours; RGB when every colour is opaque. Empty, shape (0, 3),
        when ``hist`` is None (no image could be read), so that remapping onto it fails
        with a clear error.
    """
    if hist is None or len(hist.colors) == 0:
        return np.zeros((0, 3), dtype=np.uint8)
    palette, _, _ = _core.fit_palette(hist.colors, hist.counts, options)
    return _opaque_as_rgb(palette)


def shared_palette(
    sources: Iterable[str | os.PathLike[str]],
    options: QuantizeOptions,
    *,
    workers: int,
    read: Callable[[str | os.PathLike[str]], np.ndarray] = read_image,
) -> np.ndarray:
    """Pass 1 of ``--palette shared`` on one machine: every readable image's colours
    (:func:`collection_histogram`), one fit (:func:`fit_shared_palette`)."""
    return fit_shared_palette(collection_histogram(sources, workers=workers, read=read), options)


def collection_histogram(
    sources: Iterable[str | os.PathLike[str]],
    *,
    workers: int,
    read: Callable[[str | os.PathLike[str]], np.ndarray] = read_image,
) -> ColorHistogram | None:
    """Pass 1 of the local engine: the histogram of every readable image, merged.

    Files that cannot be read are left out here; pass 2 reports them. ``workers``
    threads decode and count in parallel (the C++ histogram releases the GIL); the result
    is the same for any number of workers.
    """

    def one(source: str | os.PathLike[str]) -> ColorHistogram | None:
        from .per_file import guarded

        return guarded(str(source), lambda: image_histogram(read(source)), lambda *_: None)

    merger = HistogramMerger()
    if workers <= 1:
        for source in sources:
            hist = one(source)
            if hist is not None:
                merger.add(hist)
        return merger.result()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="quantcli-hist") as pool:
        window: deque[Future[ColorHistogram | None]] = deque()
        for source in sources:
            window.append(pool.submit(one, source))
            while len(window) >= 4 * workers or (window and window[0].done()):
                hist = window.popleft().result()
                if hist is not None:
                    merger.add(hist)
        while window:
            hist = window.popleft().result()
            if hist is not None:
                merger.add(hist)
    return merger.result()


def read_palette(source: str | os.PathLike[str] | bytes, name: str | None = None) -> np.ndarray:
    """The palette of an image file, as pngquant's ``--map`` takes it.

    A palette image (PNG colour type 3, GIF, ...) gives its palette entries in order,
    with their tRNS alpha. Any other image gives its distinct colours, at most 256.

    Returns
    -------
    ndarray of shape (n, 3) or (n, 4), dtype uint8
        RGB when every entry is opaque.

    Raises
    ------
    ImageReadError
        The file cannot be read as an image.
    InvalidOptionError
        The image has more than 256 colours.
    """
    from PIL import Image, UnidentifiedImageError

    label = name or (str(source) if not isinstance(source, bytes) else "<bytes>")
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
            if image.mode == "P":
                rgb = np.asarray(image.getpalette("RGB") or [], dtype=np.uint8).reshape(-1, 3)
                return _opaque_as_rgb(_with_alpha(rgb, image.info.get("transparency")))
    except FileNotFoundError:
        raise ImageReadError(f"{label}: no such file") from None
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise ImageReadError(f"{label}: not a readable image ({exc})") from None
    hist = image_histogram(read_image(source, name=label))
    if len(hist.colors) > 256:
        raise InvalidOptionError(
            f"{label}: has {len(hist.colors)} colours; a palette file needs at most 256 "
            "(use a palette PNG, such as any output of quantcli)"
        )
    return _opaque_as_rgb(hist.colors)


def _with_alpha(rgb: np.ndarray, transparency: object) -> np.ndarray:
    alpha = np.full(len(rgb), 255, dtype=np.uint8)
    if isinstance(transparency, bytes):
        n = min(len(transparency), len(rgb))
        alpha[:n] = np.frombuffer(transparency[:n], dtype=np.uint8)
    elif isinstance(transparency, int) and 0 <= transparency < len(rgb):
        alpha[transparency] = 0
    return np.concatenate([rgb, alpha[:, None]], axis=1)


def _opaque_as_rgb(palette: np.ndarray) -> np.ndarray:
    palette = np.ascontiguousarray(palette, dtype=np.uint8)
    if palette.shape[1] == 4 and bool((palette[:, 3] == 255).all()):
        palette = np.ascontiguousarray(palette[:, :3])
    return palette
