"""Benchmark: --format webp against quantcli's own PNG, with pngquant 3 + oxipng for reference.

For every image of a corpus of real photographs, artwork and RGBA icons (``shared/CORPUS.md``)
and every K, quantcli quantizes once per codec (``compress_pixels``, in-process, all cores,
timed from the decoded pixels to the encoded bytes) and pngquant 3 + oxipng -o2 writes its
PNG. Every WebP is decoded by Pillow and by libwebp's ``dwebp`` and compared with the PNG
written with the same options: the pixels must be identical (alpha included). The table per
K and category and the PASS/FAIL lines of issue 20's targets go to bench/results/webp.md.

Run from the repository root with quantcli and the ``bench`` extra installed::

    apt-get install -y mate-backgrounds oxygen-icon-theme webp
    python bench/bench_webp.py                  # K=256 and 64
    python bench/bench_webp.py --ks 256 --photos 4 --icons 10   # a quick check
"""

from __future__ import annotations

import argparse
import io
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import quantcli
from machine import cpu_model
from PIL import Image
from quantcli.webp import WEBP_EFFORT

REPO = Path(__file__).resolve().parent.parent
MATE = Path("/usr/share/backgrounds/mate")
ICONS = Path("/usr/share/icons/oxygen/base")
PHOTOS = (
    "nature/Storm.jpg",
    "nature/Dune.jpg",
    "nature/LadyBird.jpg",
    "nature/Aqua.jpg",
    "nature/GreenMeadow.jpg",
    "nature/Blinds.jpg",
    "nature/Garden.jpg",
    "nature/Wood.jpg",
)
ARTWORK = (
    "abstract/Flow.png",
    "abstract/Waves.png",
    "abstract/Silk.png",
    "abstract/Spring.png",
    "desktop/Ubuntu-Mate-Warm-no-logo.png",
    "desktop/Stripes.png",
)


def corpus(photos: int, icons: int, megapixels: float) -> list[tuple[str, str, np.ndarray]]:
    """(category, name, pixels): photos and artwork scaled to about ``megapixels``, icons as they are."""
    items = []
    for category, names in (("photo", PHOTOS[:photos]), ("artwork", ARTWORK)):
        for name in names:
            path = MATE / name
            if not path.exists():
                continue
            image = Image.open(path).convert("RGB")
            scale = (megapixels * 1e6 / (image.width * image.height)) ** 0.5
            if scale < 1:
                image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
            items.append((category, name, quantcli.to_rgb8(np.asarray(image))))
    # Icons: a fixed spread of sizes and names (every n-th file of each size, sorted).
    files = []
    for size in ("256x256", "128x128", "48x48"):
        found = sorted((ICONS / size).glob("*/*.png"))
        step = max(1, len(found) // max(1, icons // 3))
        files += found[::step][: icons // 3]
    for path in files:
        image = Image.open(path)
        image = image.convert("RGBA" if "A" in image.mode or "transparency" in image.info else "RGB")
        items.append(("icon", str(path.relative_to(ICONS)), quantcli.to_rgb8(np.asarray(image))))
    return items


def timed(pixels: np.ndarray, options: quantcli.QuantizeOptions, repeat: int) -> tuple[bytes, float]:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        data, _ = quantcli.compress_pixels(pixels, options)
        best = min(best, time.perf_counter() - start)
    return data, best


def pngquant_oxipng(pixels: np.ndarray, k: int, work: Path) -> int | None:
    if shutil.which("pngquant") is None:
        return None
    import oxipng

    src, dst = work / "src.png", work / "pq.png"
    Image.fromarray(pixels).save(src, compress_level=1)
    subprocess.run(["pngquant", str(k), "--force", "--output", str(dst), str(src)], check=True, capture_output=True)
    oxipng.optimize(dst, dst, level=2)
    return dst.stat().st_size


def identical(png: bytes, webp: bytes, work: Path) -> tuple[bool, bool]:
    """(Pillow's decode equals the PNG's, dwebp's decode equals it)."""
    expected = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
    by_pillow = np.array_equal(np.asarray(Image.open(io.BytesIO(webp)).convert("RGBA")), expected)
    (work / "a.webp").write_bytes(webp)
    subprocess.run(["dwebp", "-quiet", "-pam", str(work / "a.webp"), "-o", str(work / "a.pam")], check=True)
    header, body = (work / "a.pam").read_bytes().split(b"ENDHDR\n", 1)
    fields = dict(line.split(b" ", 1) for line in header.splitlines()[1:])
    shape = (int(fields[b"HEIGHT"]), int(fields[b"WIDTH"]), int(fields[b"DEPTH"]))
    decoded = np.frombuffer(body, np.uint8).reshape(shape)
    by_dwebp = np.array_equal(decoded, expected[:, :, : shape[2]]) and (
        shape[2] == 4 or (expected[:, :, 3] == 255).all()
    )
    return by_pillow, by_dwebp


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", type=int, nargs="+", default=[256, 64])
    parser.add_argument("--photos", type=int, default=len(PHOTOS))
    parser.add_argument("--icons", type=int, default=45)
    parser.add_argument("--megapixels", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=2, help="timing: the best of N runs")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "webp.md")
    args = parser.parse_args()
    if shutil.which("dwebp") is None:
        sys.exit("needs dwebp: apt-get install -y webp")
    items = corpus(args.photos, args.icons, args.megapixels)
    lines = [
        "# --format webp against quantcli's PNG",
        "",
        f"Command: `python bench/bench_webp.py {' '.join(sys.argv[1:])}`".rstrip() + "",
        "",
        f"- Machine: {platform.machine()}, {cpu_model()}, Python {platform.python_version()}, "
        f"Pillow {Image.__version__} (libwebp {_libwebp()})",
        f"- Corpus: {sum(c == 'photo' for c, _, _ in items)} photos and "
        f"{sum(c == 'artwork' for c, _, _ in items)} artworks of mate-backgrounds at about {args.megapixels} MP, "
        f"{sum(c == 'icon' for c, _, _ in items)} RGBA icons of oxygen-icon-theme (256, 128 and 48 px)",
        "- quantcli at its defaults (--speed 3: PNG level 10, WebP method and quality "
        f"{WEBP_EFFORT[3]}); seconds: `compress_pixels` from decoded pixels to bytes, all cores, "
        f"best of {args.repeat}; pngquant 3 + oxipng -o2 for reference (bytes only).",
        "- Identity: every WebP decoded by Pillow and by dwebp equals the PNG of the same options, alpha included.",
        "",
    ]
    verdicts = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for k in args.ks:
            totals: dict[str, list[float]] = {}
            mismatches = []
            for category, name, pixels in items:
                png, png_s = timed(pixels, quantcli.QuantizeOptions(k=k), args.repeat)
                webp, webp_s = timed(pixels, quantcli.QuantizeOptions(k=k, format="webp"), args.repeat)
                pq = pngquant_oxipng(pixels, k, work)
                if not all(identical(png, webp, work)):
                    mismatches.append(name)
                for key in (category, "all"):
                    row = totals.setdefault(key, [0, 0, 0, 0, 0, 0, 0])
                    row[0] += 1
                    row[1] += len(png)
                    row[2] += len(webp)
                    row[3] += 0
                    row[4] += pq or 0
                    row[5] += png_s
                    row[6] += webp_s
            lines += [
                f"## K={k}",
                "",
                "| images | n | quantcli PNG bytes | WebP bytes | vs PNG "
                "| pngquant 3 + oxipng | vs PNG | PNG s | WebP s | time vs PNG |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            ]
            for key in ("photo", "artwork", "icon", "all"):
                if key not in totals:
                    continue
                n, p, w, _, q, ps, ws = totals[key]
                lines.append(
                    f"| {key} | {n} | {p:,} | {w:,} | {w / p:.3f}x | {q:,} | {q / p:.3f}x "
                    f"| {ps:.2f} | {ws:.2f} | {ws / ps:.2f}x |"
                )
            _, p, w, _, _, ps, ws = totals["all"]
            verdicts += [
                _verdict(w <= 0.80 * p, f"K={k}: WebP bytes {w / p:.3f}x quantcli's PNG <= 0.80x"),
                _verdict(ws <= 1.3 * ps, f"K={k}: WebP time {ws / ps:.2f}x the PNG path's <= 1.3x"),
                _verdict(not mismatches, f"K={k}: every WebP decodes to the PNG's pixels (Pillow and dwebp)")
                + (f" (differ: {', '.join(mismatches)})" if mismatches else ""),
            ]
            lines.append("")
    lines += ["## Targets", "", *[f"- {v}" for v in verdicts], ""]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


def _verdict(ok: bool, text: str) -> str:
    return f"{'PASS' if ok else 'FAIL'}: {text}"


def _libwebp() -> str:
    from PIL import features

    return features.version("webp") or "?"


if __name__ == "__main__":
    raise SystemExit(main())
