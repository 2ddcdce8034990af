"""Choosing K: the rules that pick one K from the scores (see :mod:`quantcli.choosek`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np


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
