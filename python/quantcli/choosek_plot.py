"""choose-k --plot: each result's curve with its chosen K marked, drawn by matplotlib."""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .choosek_types import ChooseKResult
from .errors import InvalidOptionError
from .targets import write_atomic

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
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        raise InvalidOptionError("--plot needs matplotlib: pip install 'quantcli[plot]'") from None
    if not results:
        return
    method, distance = results[0].method, results[0].distance
    fig = Figure(figsize=(7.5, 4.5), dpi=120, layout="constrained")
    ax = fig.add_subplot()
    for r in results:
        ks = [s.k for s in r.scores]
        ys = _curve(r, method, distance)
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
    title = _label_axes(ax, results[0], method, distance)
    ax.set_xlabel("K (palette size)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # K is a whole number
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="best")
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt)
    write_atomic(path, buffer.getvalue(), force=force)


def _curve(result: ChooseKResult, method: str, distance: str) -> list[float]:
    """The plotted value of each K evaluated: MSE, PSNR or silhouette (NaN where undefined)."""
    if method == "elbow":
        return [s.mse for s in result.scores]
    if method == "quality":
        return [s.psnr if math.isfinite(s.psnr) else np.nan for s in result.scores]
    return [
        np.nan if v is None else v
        for v in (s.silhouette_euclidean if distance == "euclidean" else s.silhouette for s in result.scores)
    ]


def _label_axes(ax: Any, first: ChooseKResult, method: str, distance: str) -> str:
    """Label the y axis (and draw the PSNR target) for the method; the plot's title."""
    if method == "quality":
        ax.axhline(first.min_psnr, color="grey", linestyle="--", linewidth=1, label="target PSNR")
        ax.set_ylabel("PSNR (dB)")
        return f"Smallest K with PSNR >= {first.min_psnr:g} dB"
    if method == "elbow":
        ax.set_ylabel("MSE per channel")
        return "MSE against K, knee by Kneedle"
    ax.set_ylabel("mean silhouette")
    if distance == "euclidean":
        return "Silhouette (Euclidean, pixel sample)"
    return "Silhouette (squared Euclidean, all pixels)"


def _short(path: str, width: int = 40) -> str:
    return path if len(path) <= width else "..." + path[-(width - 3) :]
