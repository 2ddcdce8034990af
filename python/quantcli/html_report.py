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

import base64
import html
import io
import math
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import numpy as np

from .inspection import InspectOptions, inspect_job
from .planner import Job

THUMBNAIL_SIZE = 160  # pixels, the longer side
EMBED_LIMIT = 400  # images with embedded thumbnails; links to the files after that
PALETTE_TOP = 6  # colours listed with their counts under the palette bar


@dataclass
class _Entry:
    """Everything the report shows for one file."""

    result: Any  # CompressResult
    row: dict[str, Any] | None = None  # the inspect row (None for an error row)
    before: str | None = None  # image URL (data URI or relative link)
    after: str | None = None
    palette_bar: str | None = None  # data URI of a PNG strip
    palette_top: list[tuple[tuple[int, ...], int]] = field(default_factory=list)
    palette_size: int = 0
    curve: str | None = None  # inline SVG
    note: str | None = None  # why something is missing


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

    def one(numbered: tuple[int, Any]) -> _Entry:
        i, result = numbered
        return _entry(result, options, settings, embed=i < embed_limit, report_dir=report_dir)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        entries = list(pool.map(one, enumerate(rows)))
    from .targets import write_atomic

    write_atomic(path, render(entries, title=title, options=options).encode("utf-8"), force=True)


def _entry(result: Any, options: InspectOptions, settings: Any, *, embed: bool, report_dir: str) -> _Entry:
    entry = _Entry(result)
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


def _visuals(entry: _Entry, output: str | None, settings: Any, *, embed: bool, report_dir: str) -> None:
    from .images import read_image

    source = entry.result.path
    by_choose = settings is not None and getattr(settings, "choose", None) is not None and settings.palette is None
    by_quality = settings is not None and getattr(settings, "quality", None) is not None and bool(entry.result.k)
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


# ---------------------------------------------------------------------------------------
# Pictures.


def thumbnail(pixels: np.ndarray, size: int = THUMBNAIL_SIZE) -> str:
    """A data URI of the image shrunk to ``size`` pixels on its longer side (WebP, or PNG
    where Pillow has no WebP)."""
    from PIL import Image, features

    image = Image.fromarray(pixels)
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    if features.check("webp"):
        image.save(buffer, format="WEBP", quality=80, method=4)
        kind = "image/webp"
    else:
        image.save(buffer, format="PNG", optimize=True)
        kind = "image/png"
    return f"data:{kind};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def png_palette(path: str) -> tuple[np.ndarray | None, np.ndarray]:
    """The palette of a palette PNG (n, 3|4) uint8 and its pixel counts (n,), or
    (None, empty) for any other image."""
    from PIL import Image

    with Image.open(path) as image:
        if image.mode != "P":
            return None, np.zeros(0, np.int64)
        indices = np.asarray(image)
        rgb = np.asarray(image.getpalette() or [], dtype=np.uint8).reshape(-1, 3)
        transparency = image.info.get("transparency")
    counts = np.bincount(indices.ravel(), minlength=len(rgb))[: len(rgb)]
    if isinstance(transparency, bytes):
        alpha = np.full(len(rgb), 255, np.uint8)
        alpha[: len(transparency)] = np.frombuffer(transparency, np.uint8)[: len(rgb)]
        return np.concatenate([rgb, alpha[:, None]], axis=1), counts
    return rgb, counts


def palette_bar(palette: np.ndarray, counts: np.ndarray, width: int = 200, height: int = 14) -> str:
    """A PNG strip (data URI) with each colour as wide as its share, largest first,
    encoded by quantcli itself."""
    from .api import encode_png

    order = [i for i in np.argsort(-counts, kind="stable") if counts[i] > 0]
    shares = counts[order] / counts[order].sum()
    edges = np.rint(np.cumsum(shares) * width).astype(int)
    labels = np.zeros(width, np.uint8)
    start = 0
    for slot, end in enumerate(edges):
        labels[start:end] = slot
        start = end
    used = np.ascontiguousarray(palette[order])
    png = encode_png(np.ascontiguousarray(np.repeat(labels[None, :], height, axis=0)), used)
    return f"data:image/png;base64,{base64.b64encode(png).decode('ascii')}"


def choose_k_svg(result: Any, width: int = 180, height: int = 64) -> str:
    """The choose-k curve as inline SVG: PSNR per K (blue), the silhouette (orange) when K
    was chosen by it, the chosen K as a vertical line."""
    scores = sorted(result.scores, key=lambda s: s.k)
    ks = [s.k for s in scores]
    if len(ks) < 2:
        return ""
    lo, hi = math.log2(ks[0]), math.log2(ks[-1])

    def x(k: int) -> float:
        return 4 + (width - 8) * (math.log2(k) - lo) / ((hi - lo) or 1)

    def line(values: Sequence[float], colour: str) -> str:
        finite = [(k, v) for k, v in zip(ks, values, strict=True) if v is not None and math.isfinite(v)]
        if len(finite) < 2:
            return ""
        vmin = min(v for _, v in finite)
        vmax = max(v for _, v in finite)
        span = (vmax - vmin) or 1.0
        points = " ".join(f"{x(k):.1f},{height - 14 - (height - 28) * (v - vmin) / span:.1f}" for k, v in finite)
        return f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}"/>'

    psnr = line([s.psnr for s in scores], "#1f77b4")
    silhouette = line([s.silhouette for s in scores], "#ff7f0e") if result.method == "silhouette" else ""
    chosen = x(result.k)
    label = f"K={result.k} ({html.escape(result.method)})"
    anchor = "end" if chosen > 0.65 * width else "start" if chosen < 0.35 * width else "middle"
    return (
        f'<svg class="curve" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">'
        f"<title>choose-k: PSNR (blue){' and silhouette (orange)' if silhouette else ''} per K, "
        f"K {ks[0]} to {ks[-1]} on a log scale; chosen {label}</title>"
        f'<line x1="{chosen:.1f}" x2="{chosen:.1f}" y1="11" y2="{height - 12}" stroke="#888" stroke-dasharray="2,2"/>'
        f"{psnr}{silhouette}"
        f'<text x="2" y="{height - 2}" font-size="9">K {ks[0]}</text>'
        f'<text x="{width - 2}" y="{height - 2}" font-size="9" text-anchor="end">{ks[-1]}</text>'
        f'<text x="{chosen:.1f}" y="9" font-size="9" text-anchor="{anchor}">{label}</text></svg>'
    )


def _link(path: str, report_dir: str) -> str:
    """A URL to a local file, relative to the report's folder."""
    relative = os.path.relpath(os.path.abspath(path), report_dir)
    return quote(relative.replace(os.sep, "/"))


# ---------------------------------------------------------------------------------------
# The page.

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.4em;margin:0 0 .4em}
.summary{display:flex;flex-wrap:wrap;gap:.6em 2em;margin:0 0 1em;padding:.8em 1em;background:#fff;border:1px solid #ddd}
.summary div b{display:block;font-size:1.3em}
table{border-collapse:collapse;background:#fff;width:100%}
th,td{border-bottom:1px solid #e4e4e4;padding:4px 8px;text-align:right;vertical-align:middle}
th{position:sticky;top:0;background:#eee;cursor:pointer;user-select:none;white-space:nowrap}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
td.path,th.path,th.pics{text-align:left}td.path{min-width:9em;max-width:15em;overflow-wrap:anywhere}
td.path small{color:#666}td.pics{white-space:nowrap;text-align:left}
.pics img{width:auto;height:auto;max-width:128px;max-height:128px;margin-right:4px;vertical-align:middle;
background:repeating-conic-gradient(#8c8c8c 0 25%,#a6a6a6 0 50%) 0 0/12px 12px}
.bar{display:block;width:200px;height:14px;image-rendering:pixelated;border:1px solid #ccc}
.sw{display:inline-block;width:10px;height:10px;border:1px solid #999;margin-right:2px;vertical-align:-1px}
.chip{display:inline-block;white-space:nowrap;margin-right:8px}
.palette{text-align:left;font-size:12px;min-width:200px;max-width:230px}
.error{color:#b00020;text-align:left}.note{color:#8a6d00;font-size:12px;text-align:left}
caption{caption-side:bottom;text-align:left;color:#555;font-size:12px;padding-top:.6em}
"""

_SCRIPT = """
document.querySelectorAll('table.sortable th').forEach(function(th, col){
  th.addEventListener('click', function(){
    var table = th.closest('table'), body = table.tBodies[0];
    var up = th.getAttribute('aria-sort') !== 'ascending';
    table.querySelectorAll('th').forEach(function(h){ h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', up ? 'ascending' : 'descending');
    var rows = Array.prototype.slice.call(body.rows);
    function key(row){ var c = row.cells[col]; var v = c.getAttribute('data-v');
      return v === null ? c.textContent : (v === '' ? null : parseFloat(v)); }
    rows.sort(function(a, b){
      var x = key(a), y = key(b);
      if (x === null) return 1; if (y === null) return -1;
      var d = (typeof x === 'number' && typeof y === 'number') ? x - y : String(x).localeCompare(String(y));
      return up ? d : -d;
    });
    rows.forEach(function(r){ body.appendChild(r); });
  });
});
"""


def render(
    entries: Sequence[_Entry], *, title: str = "quantcli compress report", options: InspectOptions | None = None
) -> str:
    """The report page for prepared entries (see :func:`write_report`)."""
    from . import __version__

    curves = any(e.curve for e in entries)
    perceptual = any(e.row is not None and e.row.get("ssimulacra2") is not None for e in entries)
    head = [
        ("#", "n"),
        ("before / after", "pics"),
        ("image", "path"),
        ("status", None),
        ("K", "n"),
        ("bytes in", "n"),
        ("bytes out", "n"),
        ("ratio", "n"),
        ("PSNR dB", "n"),
        ("SSIM", "n"),
        ("SSIMULACRA2", "n"),
        ("WQS", "n"),
        ("palette", None),
    ]
    if not perceptual:
        head.remove(("SSIMULACRA2", "n"))
    if curves:
        head.append(("choose-k", None))
    cells = "".join(f'<th scope="col"{_class(kind)}>{html.escape(name)}</th>' for name, kind in head)
    body = "\n".join(_row_html(i, e, curves, perceptual) for i, e in enumerate(entries, 1))
    weights = (options or InspectOptions()).weights
    caption = (
        "ratio: bytes in / bytes out. PSNR over every channel sample; SSIM: mean over channels, Gaussian window "
        "(sigma 1.5), as scikit-image's structural_similarity; "
        + ("SSIMULACRA2 on dark and light grey for alpha, the lower kept; " if perceptual else "")
        + f"WQS = {weights.psnr:g} PSNR + {weights.ssim:g} SSIM + {weights.ratio:g} ratio "
        f"- {weights.blurriness:g} blurriness of the output. Click a column to sort."
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width"><meta name="generator" content="quantcli {__version__}">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>\n"
        f"<h1>{html.escape(title)}</h1>\n{_summary(entries, perceptual)}\n"
        f'<table class="sortable"><caption>{html.escape(caption)}</caption><thead><tr>{cells}</tr></thead>'
        f"<tbody>\n{body}\n</tbody></table>\n<script>{_SCRIPT}</script></body></html>\n"
    )


def _class(kind: str | None) -> str:
    return f' class="{kind}"' if kind in ("path", "pics") else ""


def _summary(entries: Sequence[_Entry], perceptual: bool) -> str:
    from .cli.report import size_text

    counts = {"written": 0, "skipped": 0, "error": 0}
    bytes_in = bytes_out = 0
    for e in entries:
        counts[e.result.status] = counts.get(e.result.status, 0) + 1
        if e.result.bytes_in is not None and e.result.bytes_out is not None:
            bytes_in += e.result.bytes_in
            bytes_out += e.result.bytes_out
    compared = [e.row for e in entries if e.row is not None and e.row["error"] is None and e.row["output"] is not None]

    def mean(name: str) -> float | None:
        values = [r[name] for r in compared if r[name] is not None]
        return sum(values) / len(values) if values else None

    saved = f"{size_text(bytes_in)} &rarr; {size_text(bytes_out)}"
    share = f"{100.0 * bytes_out / bytes_in:.1f}% of the input" if bytes_in else ""
    items = [
        (
            "files",
            f"{len(entries)}",
            f"{counts['written']} written, {counts['skipped']} skipped, {counts['error']} failed",
        ),
        ("bytes", saved, share),
        ("mean PSNR", _fmt(mean("psnr"), ".2f", " dB"), f"over {len(compared)} outputs (lossless ones left out)"),
        ("mean SSIM", _fmt(mean("ssim"), ".4f"), ""),
        ("mean SSIMULACRA2", _fmt(mean("ssimulacra2"), ".1f"), "90 visually lossless, 70 high, 50 medium"),
        ("mean WQS", _fmt(mean("wqs"), ".2f"), ""),
    ]
    if not perceptual:
        del items[4]
    return (
        '<div class="summary">'
        + "".join(f"<div>{html.escape(k)}<b>{v}</b><small>{html.escape(s)}</small></div>" for k, v, s in items)
        + "</div>"
    )


def _fmt(value: float | None, spec: str, unit: str = "") -> str:
    return "&ndash;" if value is None else html.escape(format(value, spec) + unit)


def _num(value: float | int | None, spec: str, missing: str = "&ndash;") -> str:
    if value is None:
        return f'<td data-v="">{missing}</td>'
    return f'<td data-v="{value}">{html.escape(format(value, spec))}</td>'


def _row_html(i: int, e: _Entry, curves: bool, perceptual: bool) -> str:
    r, row = e.result, e.row or {}
    pics = "".join(
        f'<img src="{html.escape(src, quote=True)}" alt="{alt}" loading="lazy">'
        for src, alt in ((e.before, "before"), (e.after, "after"))
        if src is not None
    )
    folder, name = os.path.split(r.path)
    path = f"<b>{html.escape(name)}</b>" + (f"<br><small>{html.escape(folder)}/</small>" if folder else "")
    if r.output:
        path += f"<br><small>&rarr; {html.escape(r.output)}</small>"
    status = html.escape(r.status)
    ratio = r.bytes_in / r.bytes_out if r.bytes_in and r.bytes_out else None
    psnr = row.get("psnr")
    lossless = row.get("output") is not None and psnr is None and row.get("ssim") == 1
    cells = [
        f'<td data-v="{i}">{i}</td>',
        f'<td class="pics">{pics}</td>',
        f'<td class="path">{path}</td>',
        f'<td style="text-align:left">{status}</td>',
        _num(r.k, "d"),
        _num(r.bytes_in, ",d"),
        _num(r.bytes_out, ",d"),
        _num(ratio, ".2f"),
        '<td data-v="1000">lossless</td>' if lossless else _num(psnr, ".2f"),
        _num(row.get("ssim"), ".4f"),
    ]
    if perceptual:
        cells.append(_num(row.get("ssimulacra2"), ".1f"))
    cells.append(_num(row.get("wqs"), ".2f"))
    if r.status == "error":
        cells[3] = f'<td class="error">{html.escape(r.error or "error")}</td>'
    note = f'<td class="note">{html.escape(e.note)}</td>' if e.note else None
    cells.append(note or f'<td class="palette">{_palette_html(e)}</td>')
    if curves:
        cells.append(f"<td>{e.curve or ''}</td>")
    return "<tr>" + "".join(cells) + "</tr>"


def _palette_html(e: _Entry) -> str:
    if e.palette_bar is None:
        return ""
    swatches = "".join(
        f'<span class="chip" title="rgb({c[0]}, {c[1]}, {c[2]}){"" if len(c) < 4 else f" alpha {c[3]}"}: {n:,} px">'
        f'<span class="sw" style="background:rgb({c[0]},{c[1]},{c[2]})"></span>{n:,}</span>'
        for c, n in e.palette_top
    )
    return (
        f'<img class="bar" src="{e.palette_bar}" alt="palette: {e.palette_size} colours by share">'
        f"{e.palette_size} colours, the largest (pixels): {swatches}"
    )
