"""``similar``: the images of an inspect table nearest to a query image.

Two distances, both vectorised over the whole index (no per-row Python):

- **palette**: the kernel distance between weighted palettes (the square root of the
  maximum mean discrepancy, a quadratic-form histogram distance as colour retrieval
  systems have long used). Each image is its dominant colours in Oklab, weighted by share
  times opacity (transparent entries count for nothing). With the Gaussian kernel
  ``k(a, b) = exp(-|a - b|**2 / (2 * 0.1**2))`` on Oklab (where ~0.02 is a just-noticeable
  difference and red to orange is ~0.1),
  ``d(P, Q)**2 = sum p p' k + sum q q' k - 2 sum p q k``. It is 0 for equal palettes,
  grows with both colour differences and share differences (unlike nearest-colour
  matching, which ignores shares), and needs no optimisation per pair (unlike the earth
  mover's distance).
- **features**: the Euclidean distance between standardised feature vectors (brightness,
  edge score, colourfulness, mean R, G, B, blurriness), each feature centred and scaled
  by its mean and standard deviation over the index.

The index is an ``inspect`` table: JSON lines, or Parquet (a file or a folder of part
files, as ``--out-dir`` and the Spark engine write it), loaded by
:func:`quantcli.similar_index.load_index`. Rows with an error are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import InvalidOptionError

FEATURES = ("brightness", "edge_score", "colorfulness", "mean_r", "mean_g", "mean_b", "blurriness")
KERNEL_SIGMA = 0.1  # Oklab units


@dataclass
class Palettes:
    """Weighted palettes, padded to one length.

    ``colors``: (3, n, m) float64 Oklab, one plane per coordinate (contiguous for the
    distance arithmetic); ``weights``: (n, m) float64, each row summing to 1 (padding weighs
    0); ``self_terms``: (n,) the kernel sum of each palette with itself.
    """

    colors: np.ndarray
    weights: np.ndarray
    self_terms: np.ndarray

    @classmethod
    def build(cls, rgb: np.ndarray, weights: np.ndarray) -> Palettes:
        """From (n, m, 3) sRGB 0..255 and (n, m) weights (any scale; normalised here)."""
        colors = np.stack(oklab_planes(rgb))
        totals = weights.sum(axis=1, keepdims=True)
        weights = np.divide(weights, totals, out=np.zeros_like(weights), where=totals > 0)
        self_terms = np.empty(len(weights))
        for block in _blocks(len(weights)):
            kernel = _gaussian(_squared_distances(colors[:, block], colors[:, block]))
            self_terms[block] = np.einsum("nm,nm->n", np.einsum("nmj,nj->nm", kernel, weights[block]), weights[block])
        return cls(colors, weights, self_terms)

    def __len__(self) -> int:
        return len(self.weights)

    def row(self, i: int) -> Palettes:
        s = slice(i, i + 1)
        return Palettes(self.colors[:, s].copy(), self.weights[s], self.self_terms[s])


@dataclass
class Index:
    """An inspect table loaded for search: paths, palettes and raw feature vectors."""

    paths: list[str]
    palettes: Palettes
    features: np.ndarray  # (n, len(FEATURES)) float64
    k: int  # the most dominant colours a row has
    _positions: dict[str, int] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.paths)

    def position(self, path: str) -> int | None:
        """The first row of ``path``, if the index holds it."""
        if self._positions is None:
            self._positions = {p: i for i, p in reversed(list(enumerate(self.paths)))}
        return self._positions.get(path)

    def scale(self) -> np.ndarray:
        """Per-feature standard deviation over the index (1 where constant): the
        standardisation's scale (its centring cancels in a difference)."""
        std = self.features.std(axis=0)
        return np.where(std > 0, std, 1.0)


# sRGB 0..255 to linear light, per 8-bit value (palette colours are whole numbers).
_LINEAR = np.where(
    np.arange(256) / 255.0 <= 0.04045, np.arange(256) / 255.0 / 12.92, ((np.arange(256) / 255.0 + 0.055) / 1.055) ** 2.4
)
_LMS = np.array(
    [
        [0.4122214708, 0.2119034982, 0.0883024619],
        [0.5363325363, 0.6806995451, 0.2817188376],
        [0.0514459929, 0.1073969566, 0.6299787005],
    ]
)
_LAB = np.array(
    [
        [0.2104542553, 1.9779984951, 0.0259040371],
        [0.7936177850, -2.4285922050, 0.7827717662],
        [-0.0040720468, 0.4505937099, -0.8086757660],
    ]
)


def oklab(rgb: np.ndarray) -> np.ndarray:
    """sRGB colours, whole numbers 0..255 of any shape (..., 3), to Oklab (L 0..1), float64
    (Ottosson's matrices)."""
    return np.stack(oklab_planes(rgb), axis=-1)


def oklab_planes(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`oklab` as three planes (L, a, b), each of the shape of ``rgb[..., 0]``: the
    3x3 products written out, which is several times quicker than a matrix product here."""
    index = np.clip(np.rint(rgb), 0, 255).astype(np.intp)
    linear = [_LINEAR[index[..., c]] for c in range(3)]

    def mix(values: list[np.ndarray], matrix: np.ndarray, j: int) -> np.ndarray:
        return values[0] * matrix[0, j] + values[1] * matrix[1, j] + values[2] * matrix[2, j]

    lms = [np.cbrt(mix(linear, _LMS, j)) for j in range(3)]
    return mix(lms, _LAB, 0), mix(lms, _LAB, 1), mix(lms, _LAB, 2)


# Palettes per block of the vectorised arithmetic: a block's (rows, m, j) temporaries stay
# in the CPU's cache (8 x 8 colours: 2 MB), several times faster than one pass over all rows.
_BLOCK = 4096


def _blocks(n: int) -> list[slice]:
    return [slice(start, min(start + _BLOCK, n)) for start in range(0, n, _BLOCK)]


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared distances between the colours of (3, n, m) and (3, n or 1, j) planes: (n, m, j).

    Coordinate by coordinate, so that every step is one pass over the (n, m, j) result
    (a matrix product would be three-wide, where BLAS only adds overhead)."""
    total = None
    for ai, bi in zip(a, b, strict=True):
        diff = ai[:, :, None] - bi[:, None, :]
        diff *= diff
        if total is None:
            total = diff
        else:
            total += diff
    return total


def _gaussian(d2: np.ndarray) -> np.ndarray:
    """The kernel of squared distances, in place: ``exp(-d2 / (2 sigma^2))``."""
    np.maximum(d2, 0.0, out=d2)
    d2 *= -0.5 / KERNEL_SIGMA**2
    return np.exp(d2, out=d2)


def palette_distances(index: Palettes, query: Palettes) -> np.ndarray:
    """Kernel distance from a one-row ``query`` to every palette of ``index``: (n,)."""
    cross = np.empty(len(index))
    for block in _blocks(len(index)):
        kernel = _gaussian(_squared_distances(index.colors[:, block], query.colors))
        cross[block] = np.einsum("nm,nm->n", np.einsum("nmj,j->nm", kernel, query.weights[0]), index.weights[block])
    return np.sqrt(np.maximum(index.self_terms + query.self_terms[0] - 2 * cross, 0.0))


def feature_distances(features: np.ndarray, query: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Euclidean distance between feature vectors standardised by ``std``: (n,)."""
    diff = (features - query) / std
    return np.sqrt(np.einsum("nf,nf->n", diff, diff))


def nearest(distances: np.ndarray, n: int) -> np.ndarray:
    """The positions of the ``n`` smallest distances, nearest first, ties in index order
    (what a stable sort of every distance gives), without sorting them all."""
    n = min(n, len(distances))
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    kth = np.partition(distances, n - 1)[n - 1]
    below = np.flatnonzero(distances < kth)
    tied = np.flatnonzero(distances == kth)[: n - len(below)]
    chosen = np.concatenate([below, tied])
    return chosen[np.lexsort((chosen, distances[chosen]))]


# ---------------------------------------------------------------------------------------
# Queries.


def query_of(row: dict[str, Any]) -> tuple[Palettes, np.ndarray]:
    """The palette and feature vector of one inspect row (an image not in the index)."""
    dominant = row["dominant"]
    rgb = np.asarray([[d["rgb"] for d in dominant]], dtype=np.float64).reshape(1, -1, 3)
    weights = np.asarray([[d["share"] * d["alpha"] / 255.0 for d in dominant]], dtype=np.float64)
    return Palettes.build(rgb, weights), np.asarray(feature_vector(row), dtype=np.float64)


def feature_vector(row: dict[str, Any]) -> list[Any]:
    """A row's features in the order of :data:`FEATURES`."""
    return [row["brightness"], row["edge_score"], row["colorfulness"], *row["mean_rgb"], row["blurriness"]]


@dataclass(frozen=True)
class Match:
    """One result: an indexed image and its distance to the query."""

    path: str
    distance: float

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "distance": round(self.distance, 6)}


def search(index: Index, palette: Palettes, vector: np.ndarray, *, by: str = "palette", n: int = 10) -> list[Match]:
    """The ``n`` indexed images nearest to a query (its palette and feature vector)."""
    if by == "palette":
        distances = palette_distances(index.palettes, palette)
    elif by == "features":
        distances = feature_distances(index.features, vector, index.scale())
    else:
        raise InvalidOptionError(f"--by must be palette or features, got {by!r}")
    return [Match(index.paths[i], float(distances[i])) for i in nearest(distances, n)]


def query(index: Index, source: str, options: Any = None) -> tuple[Palettes, np.ndarray] | str:
    """A query image's palette and features: its index row when the index holds ``source``
    (by path), else computed as inspect computes them; an error message when it fails."""
    at = index.position(source)
    if at is not None:
        return index.palettes.row(at), index.features[at]
    from .inspection import InspectOptions, inspect_file

    row = inspect_file(source, options=options or InspectOptions(k=min(max(index.k, 2), 256)))
    if row["error"] is not None:
        return row["error"]
    return query_of(row)


def similar(
    queries: Sequence[str], index: Index, *, by: str = "palette", n: int = 10, options: Any = None
) -> Iterable[tuple[str, list[Match] | str]]:
    """Per query path: its matches, nearest first, or an error message."""
    for source in queries:
        found = query(index, source, options)
        if isinstance(found, str):
            yield source, found
        else:
            yield source, search(index, *found, by=by, n=n)
