"""``compress --report``: the pictures, each self-contained: thumbnails as data URIs, the
output's palette read back from its PNG and drawn as a bar, the choose-k curve as SVG."""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

THUMBNAIL_SIZE = 160  # pixels, the longer side


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
