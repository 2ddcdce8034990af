"""``compress --report``: the HTML page itself (summary, sortable table, its style and
script) from the entries :func:`quantcli.html_report.write_report` prepared."""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .inspection import InspectOptions


@dataclass
class Entry:
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
    entries: Sequence[Entry], *, title: str = "quantcli compress report", options: InspectOptions | None = None
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


def _summary(entries: Sequence[Entry], perceptual: bool) -> str:
    from .units import format_percent, format_size

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

    saved = f"{format_size(bytes_in, tenths=True)} &rarr; {format_size(bytes_out, tenths=True)}"
    share = f"{format_percent(bytes_out / bytes_in)} of the input" if bytes_in else ""
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


def _row_html(i: int, e: Entry, curves: bool, perceptual: bool) -> str:
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


def _palette_html(e: Entry) -> str:
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
