"""``inspect``: one row of features, dominant colours and quality scores per image.

:func:`inspect_job` is the one per-image function: the local engine
(:func:`quantcli.inspect_local.run`), the Spark engine (:mod:`quantcli.spark.inspect`),
``similar`` (for its query images) and the HTML report all call it, so every front end
writes the same row for the same file. Tables are :mod:`quantcli.inspect_table`.
The row's fields, and their Spark and Arrow types, are :data:`ROW_FIELDS`; a failure of
any kind is a row with ``error`` set and nothing else known.

Features are computed on the pixels :func:`quantcli.images.read_image` returns (the one
conversion rule) by :mod:`quantcli.metrics`; the dominant colours are the K-colour
palette of :func:`quantcli.api.quantize`, as compress fits it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import metrics
from .errors import ImageReadError, InvalidOptionError
from .images import DEFAULT_MAX_PIXELS
from .metrics import Weights
from .options import QuantizeOptions
from .planner import Job

DEFAULT_K = 8

DOMINANT_TYPE = "struct<rgb:array<int>,alpha:int,count:bigint,share:double>"
#: The fields of a row, in order, with their Spark SQL types: JSON lines and Parquet (local
#: or Spark) use exactly these names.
ROW_FIELDS: tuple[tuple[str, str], ...] = (
    ("path", "string"),
    ("width", "int"),
    ("height", "int"),
    ("mode", "string"),
    ("bytes", "bigint"),
    ("brightness", "double"),
    ("edge_score", "double"),
    ("colorfulness", "double"),
    ("mean_rgb", "array<double>"),
    ("laplacian_var", "double"),
    ("blurriness", "double"),
    ("dominant", f"array<{DOMINANT_TYPE}>"),
    ("output", "string"),
    ("output_bytes", "bigint"),
    ("psnr", "double"),
    ("ssim", "double"),
    ("ssimulacra2", "double"),
    ("compression_ratio", "double"),
    ("output_blurriness", "double"),
    ("wqs", "double"),
    ("error", "string"),
)
ROW_NAMES = tuple(name for name, _ in ROW_FIELDS)
SPARK_SCHEMA = ", ".join(f"{name} {kind}" for name, kind in ROW_FIELDS)


@dataclass(frozen=True)
class InspectOptions:
    """How ``inspect`` describes and scores each image.

    Parameters
    ----------
    k : int
        Dominant colours: the size of the palette fitted (2 to 256; default 8).
    weights : Weights
        The weights of the weighted quality score (``--against`` only).
    ssimulacra2 : bool
        Also compute SSIMULACRA2 with ``--against`` (the ``ssimulacra2`` package, when
        installed; null otherwise). Off by default: it costs ~15 times the rest of a row.
    threads : int
        Threads for one image's palette fit, 0 for all cores. Never changes a row.
    max_pixels : int or None
        Refuse larger images (see :func:`quantcli.images.read_image`).
    """

    k: int = DEFAULT_K
    weights: Weights = field(default_factory=Weights)
    ssimulacra2: bool = False
    threads: int = 0
    max_pixels: int | None = DEFAULT_MAX_PIXELS

    def __post_init__(self) -> None:
        QuantizeOptions(k=self.k, threads=self.threads)  # the one place K and threads are checked
        if not isinstance(self.weights, Weights):
            raise InvalidOptionError(f"weights must be a Weights, got {self.weights!r}")

    @property
    def quantize(self) -> QuantizeOptions:
        """The palette fit of the dominant colours: compress's defaults at K=k."""
        return QuantizeOptions(k=self.k, threads=self.threads)


@dataclass(frozen=True)
class DominantColor:
    """One palette entry: its colour, how many pixels it holds and their share (0..1)."""

    rgb: tuple[int, int, int]
    alpha: int
    count: int
    share: float

    def to_json(self) -> dict[str, Any]:
        return {"rgb": list(self.rgb), "alpha": self.alpha, "count": self.count, "share": round(self.share, 6)}


@dataclass(frozen=True)
class Features:
    """What ``inspect`` says about one image (see :mod:`quantcli.metrics` for definitions)."""

    width: int
    height: int
    mode: str  # "RGB" or "RGBA", after the conversion rule
    brightness: float  # mean BT.601 luma, 0..255
    edge_score: float  # mean Sobel magnitude, 0..1
    colorfulness: float
    mean_rgb: tuple[float, float, float]
    laplacian_var: float
    blurriness: float  # 100 / (100 + laplacian_var), 0..1
    dominant: tuple[DominantColor, ...]  # largest first

    def to_json(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "height": self.height,
            "mode": self.mode,
            "brightness": round(self.brightness, 4),
            "edge_score": round(self.edge_score, 6),
            "colorfulness": round(self.colorfulness, 4),
            "mean_rgb": [round(v, 4) for v in self.mean_rgb],
            "laplacian_var": round(self.laplacian_var, 4),
            "blurriness": round(self.blurriness, 6),
            "dominant": [d.to_json() for d in self.dominant],
        }


@dataclass(frozen=True)
class Quality:
    """How an output compares with its input."""

    psnr: float  # dB; inf when the pixels are equal
    ssim: float | None  # None below 11x11 pixels
    ssimulacra2: float | None  # None when not computed
    compression_ratio: float  # input bytes / output bytes
    output_blurriness: float
    wqs: float

    def to_json(self) -> dict[str, Any]:
        return {
            "psnr": None if math.isinf(self.psnr) else round(self.psnr, 4),
            "ssim": None if self.ssim is None else round(self.ssim, 6),
            "ssimulacra2": None if self.ssimulacra2 is None else round(self.ssimulacra2, 4),
            "compression_ratio": round(self.compression_ratio, 6),
            "output_blurriness": round(self.output_blurriness, 6),
            "wqs": round(self.wqs, 4),
        }


def image_features(pixels: np.ndarray, options: InspectOptions | None = None) -> Features:
    """The features and dominant colours of decoded pixels.

    Parameters
    ----------
    pixels : ndarray of shape (h, w, 3) or (h, w, 4), dtype uint8, C-contiguous
        As :func:`quantcli.images.read_image` returns them.
    """
    from .api import _quantize

    options = options or InspectOptions()
    h, w, channels = pixels.shape
    planes = metrics.planes_over_grey(pixels)
    y = metrics.luma(planes)
    lap = metrics.laplacian_variance(y)
    q = _quantize(pixels, options.quantize)
    return Features(
        width=w,
        height=h,
        mode="RGBA" if channels == 4 else "RGB",
        brightness=float(y.mean(dtype=np.float64)),
        edge_score=metrics.edge_score(y),
        colorfulness=metrics.colorfulness(planes),
        mean_rgb=metrics.mean_rgb(planes),
        laplacian_var=lap,
        blurriness=metrics.blurriness(lap),
        dominant=dominant_colors(q.palette, q.counts),
    )


def dominant_colors(palette: np.ndarray, counts: np.ndarray) -> tuple[DominantColor, ...]:
    """Palette entries with their pixel counts and shares, largest first (ties in palette
    order), entries holding no pixel left out."""
    total = int(counts.sum())
    order = np.argsort(-counts.astype(np.int64), kind="stable")
    return tuple(
        DominantColor(
            rgb=(int(palette[i, 0]), int(palette[i, 1]), int(palette[i, 2])),
            alpha=int(palette[i, 3]) if palette.shape[1] == 4 else 255,
            count=int(counts[i]),
            share=int(counts[i]) / total,
        )
        for i in order
        if counts[i] > 0
    )


def compare(
    reference: np.ndarray,
    distorted: np.ndarray,
    *,
    bytes_in: int,
    bytes_out: int,
    options: InspectOptions | None = None,
) -> Quality:
    """PSNR, SSIM, SSIMULACRA2, compression ratio, the output's blurriness and WQS.

    Parameters
    ----------
    reference, distorted : ndarray of shape (h, w, 3|4), dtype uint8
        The input's and the output's pixels, one size; an RGB image is compared with an
        RGBA one as opaque RGBA.
    bytes_in, bytes_out : int
        The files' sizes (the ratio is ``bytes_in / bytes_out``).
    """
    options = options or InspectOptions()
    if reference.shape[2] != distorted.shape[2]:
        reference, distorted = metrics.as_rgba(reference), metrics.as_rgba(distorted)
    reference, distorted = metrics.invisible_zeroed(reference), metrics.invisible_zeroed(distorted)
    ssim = metrics.ssim(reference, distorted) if min(reference.shape[:2]) >= metrics.SSIM_WINDOW else None
    psnr = metrics.psnr(reference, distorted)
    out_blur = metrics.blurriness(metrics.laplacian_variance(metrics.luma(metrics.planes_over_grey(distorted))))
    ratio = bytes_in / bytes_out if bytes_out else math.inf
    s2 = metrics.ssimulacra2(reference, distorted) if options.ssimulacra2 else None
    score = metrics.wqs(psnr, 0.0 if ssim is None else ssim, ratio, out_blur, options.weights)
    return Quality(psnr, ssim, s2, ratio, out_blur, score)


def empty_row(path: str, error: str | None = None, output: str | None = None) -> dict[str, Any]:
    """A row with nothing known but its path (and output), and ``error`` when it failed."""
    row: dict[str, Any] = dict.fromkeys(ROW_NAMES)
    row.update(path=path, output=output, error=error)
    return row


def inspect_job(
    job: Job,
    options: InspectOptions,
    *,
    read: Callable[[], bytes] | None = None,
    read_output: Callable[[], bytes] | None = None,
) -> dict[str, Any]:
    """The row of one input; never raises for a bad input or output.

    Parameters
    ----------
    job
        The input (``source``, named ``display``) and, when ``target`` is set, the output it
        is compared with (read from ``target``, named ``output``).
    read, read_output
        Return the input's and the output's bytes (default: the local files).
    """
    from .per_file import guarded

    return guarded(
        job.display,
        lambda: _inspect(job, options, read, read_output),
        lambda message, _code, _seconds: empty_row(job.display, message, job.output),
    )


def _inspect(
    job: Job, options: InspectOptions, read: Callable[[], bytes] | None, read_output: Callable[[], bytes] | None
) -> dict[str, Any]:
    from .images import read_image

    if job.error is not None:
        return empty_row(job.display, job.error, job.output)
    from .per_file import read_input

    data = read_input(job.display, job.source, read)
    pixels = read_image(data, name=job.display, max_pixels=options.max_pixels)
    row = empty_row(job.display, None, job.output)
    row["bytes"] = len(data)
    row.update(image_features(pixels, options).to_json())
    if job.target is None:
        return row
    name = job.output or job.target
    out_data = read_input(name, job.target, read_output)
    out_pixels = read_image(out_data, name=name, max_pixels=options.max_pixels)
    if out_pixels.shape[:2] != pixels.shape[:2]:
        h, w = pixels.shape[:2]
        oh, ow = out_pixels.shape[:2]
        raise ImageReadError(f"{name}: {ow}x{oh} pixels, but its input {job.display} has {w}x{h}")
    quality = compare(pixels, out_pixels, bytes_in=len(data), bytes_out=len(out_data), options=options)
    row["output_bytes"] = len(out_data)
    row.update(quality.to_json())
    return row


def inspect_file(
    path: str | os.PathLike[str], against: str | os.PathLike[str] | None = None, options: InspectOptions | None = None
) -> dict[str, Any]:
    """The row of one image file, compared with ``against`` (its compressed output) if given.

    Returns the row (see :data:`ROW_FIELDS`); a file that cannot be read gives a row with
    ``error`` set.
    """
    name = str(path)
    out = None if against is None else str(against)
    return inspect_job(Job(name, name, out, out, os.path.basename(name)), options or InspectOptions())
