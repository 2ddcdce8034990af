"""One image of the service through the per-file pipeline: its result row, its PNG, the
palette read back from the PNG, its choose-k curve and a preview for browsers."""

from __future__ import annotations

import dataclasses
import io
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..options import QuantizeOptions
from ..pipeline import CompressResult, Settings, run_job
from ..planner import Job as PipelineJob
from .storage import StorageError, StoreTarget, is_storage_failure, storage_error

log = logging.getLogger("quantcli.serve")

#: K values of the choose-k curve on the result page (the image's own K is added).
CURVE_KS = (2, 4, 8, 16, 32, 64, 128, 256)


@dataclass(frozen=True)
class Compressed:
    """An image's result: the pipeline's row, its PNG, and the palette with pixel counts."""

    result: CompressResult
    png: bytes | None
    palette: list[dict[str, Any]] | None
    #: The output could not be stored (the row's error says so without a path): 503.
    storage: StorageError | None = None

    @property
    def ok(self) -> bool:
        return self.result.status == "written"


def compress_data(data: bytes, name: str, settings: Settings, *, target: Any = None, output: str | None = None):
    """Run encoded image bytes through the pipeline; write the PNG to ``output`` on
    ``target`` when given. Never raises for bad input: the result row says why."""
    job = PipelineJob(source=name, display=name, output=output, target=output, name=name)
    outcome = run_job(job, settings, read=lambda: data, target=target)
    result = outcome.result
    if result.status == "error":
        storage = target.failure if isinstance(target, StoreTarget) else None
        return Compressed(public_error(result, name), None, None, storage)
    png = outcome.payload
    return Compressed(result, png, palette_counts(png) if png else None)


def png_name(name: str) -> str:
    """The file name a download of an image's PNG gets: its name with ``.png`` for its extension."""
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    return f"{stem}.png"


def public_error(result: CompressResult, name: str) -> CompressResult:
    """The result with a reason fit for the client: the pipeline's one line without the
    file's name; the text of an internal error, and the path of an output that could not
    be written (a Spark task's), are logged, not shown."""
    message = result.error or "failed"
    reason = message[len(name) + 2 :] if message.startswith(name + ": ") else message
    if reason.startswith("internal error"):
        log.error("compressing %s: %s", name, reason)
        reason = "internal error"
    elif is_storage_failure(reason):
        log.error("compressing %s: %s", name, reason)
        reason = str(storage_error(Exception(reason)))
    return dataclasses.replace(result, error=reason)


def palette_counts(png: bytes) -> list[dict[str, Any]]:
    """The palette of a PNG that quantcli wrote, dominant colour first: ``rgb`` (three
    0-255 values), ``alpha`` and ``count`` (pixels), read back from the file itself."""
    from PIL import Image as PILImage

    from ..palette import read_palette

    colours = read_palette(png)
    with PILImage.open(io.BytesIO(png)) as image:
        labels = np.asarray(image)
    counts = np.bincount(labels.ravel(), minlength=len(colours))[: len(colours)]
    order = np.argsort(-counts, kind="stable")
    return [
        {
            "rgb": [int(v) for v in colours[i, :3]],
            "alpha": int(colours[i, 3]) if colours.shape[1] == 4 else 255,
            "count": int(counts[i]),
        }
        for i in order
        if counts[i] > 0
    ]


def curve_of(pixels: np.ndarray, k: int, threads: int = 0) -> dict[str, Any]:
    """The choose-k curve of an image: silhouette and PSNR at :data:`CURVE_KS` and ``k``,
    each K fitted as ``compress`` fits it."""
    from ..choosek import ChooseKOptions, choose_k

    ks = tuple(sorted({*CURVE_KS, k}))
    result = choose_k(pixels, ChooseKOptions(ks=ks, bytes_level=None), quantize=QuantizeOptions(threads=threads))
    return {"k": k, "scores": [s.to_json() for s in result.scores]}


def preview_png(pixels: np.ndarray) -> bytes:
    """A lossless PNG of decoded pixels, for sources a browser cannot show (TIFF, PPM...)."""
    from PIL import Image as PILImage

    out = io.BytesIO()
    PILImage.fromarray(pixels).save(out, "PNG", compress_level=1)
    return out.getvalue()
