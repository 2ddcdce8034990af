"""The choose-k curve as an SVG image: PSNR and silhouette against K, the image's K marked.

Drawn on the server from numbers only (no user text goes into it), so the page needs no
chart library and no script to show it.
"""

from __future__ import annotations

import math
from typing import Any

WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 56, 20, 44
PSNR_COLOUR, SILHOUETTE_COLOUR, MARK_COLOUR = "#1f6feb", "#d9480f", "#2b8a3e"


def curve_svg(curve: dict[str, Any]) -> str:
    """An SVG document of ``curve`` (``{"k": chosen K, "scores": [KScore.to_json()...]}``)."""
    scores = [s for s in curve.get("scores", []) if s.get("k")]
    chosen = int(curve.get("k") or 0)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    ks = [int(s["k"]) for s in scores] or [2, 256]
    lo, hi = math.log2(min(ks)), math.log2(max(max(ks), min(ks) + 1))

    def x(k: float) -> float:
        return LEFT + (math.log2(k) - lo) / (hi - lo) * plot_w

    psnrs = [s["psnr"] for s in scores if s.get("psnr") is not None]
    p_lo = math.floor(min(psnrs) / 5) * 5 if psnrs else 0
    p_hi = math.ceil(max(psnrs) / 5) * 5 if psnrs else 50
    p_hi = max(p_hi, p_lo + 5)

    def y_psnr(v: float) -> float:
        return TOP + (1 - (v - p_lo) / (p_hi - p_lo)) * plot_h

    def y_sil(v: float) -> float:  # silhouette from -1 to 1, drawn over 0..1 where it lives
        return TOP + (1 - max(0.0, min(1.0, v))) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>',
    ]
    for k in sorted({2, 4, 8, 16, 32, 64, 128, 256} & set(range(min(ks), max(ks) + 1))):
        parts.append(f'<line x1="{x(k):.1f}" y1="{TOP}" x2="{x(k):.1f}" y2="{TOP + plot_h}" stroke="#eee"/>')
        parts.append(f'<text x="{x(k):.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">{k}</text>')
    parts.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle">K (palette size)</text>')
    for i in range(6):
        value = p_lo + (p_hi - p_lo) * i / 5
        parts.append(f'<text x="{LEFT - 6}" y="{y_psnr(value) + 4:.1f}" text-anchor="end" fill="{PSNR_COLOUR}">')
        parts.append(f"{value:.0f}</text>")
        sil = i / 5
        parts.append(f'<text x="{LEFT + plot_w + 6}" y="{y_sil(sil) + 4:.1f}" fill="{SILHOUETTE_COLOUR}">')
        parts.append(f"{sil:.1f}</text>")
    parts.append(f'<text x="14" y="{TOP + plot_h / 2:.1f}" fill="{PSNR_COLOUR}" text-anchor="middle" ')
    parts.append(f'transform="rotate(-90 14 {TOP + plot_h / 2:.1f})">PSNR (dB)</text>')
    right = WIDTH - 10
    parts.append(f'<text x="{right}" y="{TOP + plot_h / 2:.1f}" fill="{SILHOUETTE_COLOUR}" text-anchor="middle" ')
    parts.append(f'transform="rotate(90 {right} {TOP + plot_h / 2:.1f})">silhouette</text>')
    if chosen:
        parts.append(
            f'<line class="chosen" x1="{x(chosen):.1f}" y1="{TOP}" x2="{x(chosen):.1f}" y2="{TOP + plot_h}" '
            f'stroke="{MARK_COLOUR}" stroke-width="2" stroke-dasharray="5 3"/>'
        )
        parts.append(
            f'<text x="{x(chosen) + 4:.1f}" y="{TOP + 14}" fill="{MARK_COLOUR}" font-weight="bold">K = {chosen}</text>'
        )
    for key, colour, y in (("psnr", PSNR_COLOUR, y_psnr), ("silhouette", SILHOUETTE_COLOUR, y_sil)):
        points = [(x(int(s["k"])), y(float(s[key]))) for s in scores if s.get(key) is not None]
        if len(points) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            parts.append(f'<polyline class="{key}" points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for px, py in points:
            parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}"/>')
    parts.append("</svg>")
    return "".join(parts)
