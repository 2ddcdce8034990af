"""``compress --report``: one self-contained HTML file for a batch, openable offline.

It has a summary (files, bytes before and after, mean quality), then a sortable table
with a row per file: before and after thumbnails side by side, bytes, ratio, PSNR, SSIM,
SSIMULACRA2 (when installed), WQS, the output's palette as a bar (each colour as wide as
its share of the pixels) with its largest colours and their pixel counts, and with
``-k auto`` the choose-k curve (PSNR per K, and the silhouette when K was chosen by it)
with the chosen K marked.

The quality columns are the row of :func:`quantcli.inspection.inspect_job` for the input
and its output, exactly what ``inspect --against`` prints. Thumbnails are WebP (PNG
without WebP support) embedded as data URIs, a few kB each; past ``embed_limit`` images
the report links to the files instead (relative to the report, so keep them together).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import numpy as np

from .inspection import InspectOptions, inspect_job
from .planner import Job
from .report_page import Entry, render
from .report_pictures import choose_k_svg, palette_bar, png_palette, thumbnail

EMBED_LIMIT = 400  # images with embedded thumbnails; links to the files after that
PALETTE_TOP = 6  # colours listed with their counts under the palette bar


def write_report(
    results: Iterable[Any],
    path: str | os.PathLike[str],
    *,
    settings: Any = None,
    options: InspectOptions | None = None,
    workers: int | None = None,
    embed_limit: int = EMBED_LIMIT,
    title: str = "quantcli compress report",
) -> None:
    """Write the HTML report of a batch.

    Parameters
    ----------
    results : iterable of CompressResult
        The batch's rows (``compress``'s results, any status); ``path`` and ``output``
        are read as local files, relative to the current folder.
    path
        The HTML file to write (atomically; an existing file is replaced).
    settings : quantcli.pipeline.Settings, optional
        How the batch was compressed; with ``-k auto`` (``settings.quality`` or
        ``settings.choose``) the report draws each image's choose-k curve (PSNR per K, the
        chosen K marked), which fits the image again at a few K.
    options : InspectOptions, optional
        How the quality columns are computed (WQS weights, SSIMULACRA2 on or off).
    workers : int, optional
        Images processed in parallel (default: every core).
    embed_limit : int
        Embed thumbnails for this many images; link to the files for the rest.
    """
    rows = list(results)
    options = options or InspectOptions()
    workers = workers or os.cpu_count() or 1
    if options.threads == 0 and workers > 1:  # the cores shared out between images, as inspect does
        from dataclasses import replace

        options = replace(options, threads=max(1, (os.cpu_count() or 1) // workers))
    report_dir = os.path.dirname(os.path.abspath(os.fspath(path)))

    def one(numbered: tuple[int, Any]) -> Entry:
        i, result = numbered
        return _entry(result, options, settings, embed=i < embed_limit, report_dir=report_dir)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        entries = list(pool.map(one, enumerate(rows)))
    from .targets import write_atomic

    write_atomic(path, render(entries, title=title, options=options).encode("utf-8"), force=True)


def _entry(result: Any, options: InspectOptions, settings: Any, *, embed: bool, report_dir: str) -> Entry:
    entry = Entry(result)
    if result.status == "error":
        return entry
    output = result.output if result.output is not None and os.path.isfile(result.output) else None
    job = Job(result.path, result.path, output, output, os.path.basename(result.path))
    entry.row = inspect_job(job, options)
    if entry.row["error"] is not None:
        entry.note = entry.row["error"]
        return entry
    try:
        _visuals(entry, output, settings, embed=embed, report_dir=report_dir)
    except Exception as exc:  # a picture that cannot be drawn must not lose the row
        entry.note = f"{result.path}: no thumbnail ({type(exc).__name__}: {exc})"
    return entry


def _visuals(entry: Entry, output: str | None, settings: Any, *, embed: bool, report_dir: str) -> None:
    from .images import read_image

    source = entry.result.path
    by_choose = settings is not None and settings.k_per_image and settings.choose is not None
    by_quality = settings is not None and settings.k_per_image and settings.quality is not None and bool(entry.result.k)
    curve = by_choose or by_quality
    pixels = read_image(source) if embed or curve else None
    entry.before = thumbnail(pixels) if pixels is not None and embed else _link(source, report_dir)
    if output is not None:
        if embed:
            entry.after = thumbnail(read_image(output))
        else:
            entry.after = _link(output, report_dir)
        palette, counts = png_palette(output)
        if palette is not None:
            order = np.argsort(-counts, kind="stable")
            entry.palette_size = int((counts > 0).sum())
            entry.palette_top = [(tuple(int(v) for v in palette[i]), int(counts[i])) for i in order[:PALETTE_TOP]]
            entry.palette_bar = palette_bar(palette, counts)
    if by_choose:
        from .choosek import choose_k

        result = choose_k(pixels, settings.choose, quantize=settings.options, name=source)
        entry.curve = choose_k_svg(result)
    elif by_quality:  # K chosen by the quality target: PSNR per K, the chosen K marked
        from dataclasses import replace

        from .choosek import ChooseKOptions, choose_k

        ks = tuple(sorted({2, 4, 8, 16, 32, 64, 128, 256, entry.result.k}))
        options = ChooseKOptions(method="elbow", ks=ks, bytes_level=None)
        result = choose_k(pixels, options, quantize=settings.options, name=source)
        entry.curve = choose_k_svg(replace(result, k=entry.result.k, method="quality"))


def _link(path: str, report_dir: str) -> str:
    """A URL to a local file, relative to the report's folder."""
    relative = os.path.relpath(os.path.abspath(path), report_dir)
    return quote(relative.replace(os.sep, "/"))
