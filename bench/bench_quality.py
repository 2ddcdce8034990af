"""Benchmark: perceptual quality per byte, quantcli against pngquant 3, pngquant + oxipng and Pillow.

For every image of a corpus of real photographs and artwork (``shared/CORPUS.md``), each tool
writes a palette PNG at K colours. Every output is decoded with Pillow and scored against its
source with SSIMULACRA2 (the ``ssimulacra2`` package; RGBA is composited on a dark and on a
light grey and the lower score is kept) and PSNR. The benchmark writes one table per K, the
rate-distortion sweep (``--quality`` of both quantcli and pngquant at K=256) as a table and a
plot (mean SSIMULACRA2 against total bytes), a CSV of every row, and PASS/FAIL lines for the
targets of issue 7.

Timing: each tool runs as its users run it, one image at a time. pngquant is a subprocess per
file (as a script over a folder calls it); quantcli is timed in-process (``compress_pixels``
on decoded pixels plus the PNG write) with all cores and with one thread, and the folder
runs as one ``quantcli compress`` call when ``--cli`` is given.

Run from the repository root with quantcli and the ``bench`` extra installed::

    pip install -e ".[bench]"
    apt-get install -y mate-backgrounds
    python bench/bench_quality.py                      # 24 images, K=256, 64, 16, quality sweep
    python bench/bench_quality.py --images 8 --megapixels 1 --ks 256 --no-sweep   # a quick check
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from machine import cpu_model
from PIL import Image
from scores import Reference, composite, decode, psnr, ssimulacra2_score  # noqa: F401 (re-exported)

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
WORK = BENCH / "work" / "quality"
MATE = Path("/usr/share/backgrounds/mate")
# A mix of photographs (skies, foliage, macro), smooth artwork and gradients: the kind of
# images where banding and dither noise show. The first eight are the quick subset.
MATE_IMAGES = (
    "nature/Storm.jpg",
    "nature/Dune.jpg",
    "abstract/Flow.png",
    "nature/LadyBird.jpg",
    "desktop/Ubuntu-Mate-Warm-no-logo.png",
    "nature/Aqua.jpg",
    "abstract/Waves.png",
    "nature/GreenMeadow.jpg",
    "nature/Blinds.jpg",
    "nature/FreshFlower.jpg",
    "nature/Garden.jpg",
    "nature/RainDrops.jpg",
    "nature/TwoWings.jpg",
    "nature/Wood.jpg",
    "nature/YellowFlower.jpg",
    "abstract/Silk.png",
    "abstract/Spring.png",
    "abstract/Elephants.jpg",
    "desktop/GreenTraditional.jpg",
    "desktop/Ubuntu-Mate-Cold-no-logo.png",
)
SKIMAGE_IMAGES = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png")
QUICK = 8
# pngquant's --quality sweep at K=256 (0-Q) and quantcli's (the same numbers: both are 0-100 scales).
SWEEP = (40, 60, 70, 80, 85, 90, 95, 100)


@dataclass(frozen=True)
class CorpusImage:
    name: str
    path: Path  # an RGB PNG of about --megapixels
    pixels: np.ndarray  # (h, w, 3) uint8


def sources() -> list[tuple[str, Path]]:
    """Every corpus source as (name, path), photographs and artwork interleaved with the samples."""
    mate = [(f"mate-{Path(p).stem}", MATE / p) for p in MATE_IMAGES if (MATE / p).is_file()]
    try:
        import skimage

        data = Path(skimage.__file__).parent / "data"
        samples = [(f"skimage-{Path(n).stem}", data / n) for n in SKIMAGE_IMAGES if (data / n).is_file()]
    except ImportError:
        samples = []
    # Two samples among the quick subset, the rest at the end.
    return mate[:6] + samples[:2] + mate[6:] + samples[2:]


def prepare_corpus(count: int, megapixels: float) -> list[CorpusImage]:
    """Resize (LANCZOS, aspect kept) the first ``count`` sources to about ``megapixels`` each, as RGB PNGs."""
    folder = WORK / f"corpus-{megapixels:g}mp"
    folder.mkdir(parents=True, exist_ok=True)
    found = sources()
    if not found:
        sys.exit("no corpus: apt-get install -y mate-backgrounds; pip install scikit-image")
    images = []
    for name, source in found[:count]:
        path = folder / f"{name}.png"
        if not path.exists():
            with Image.open(source) as im:
                rgb = im.convert("RGB")
            scale = math.sqrt(megapixels * 1e6 / (rgb.width * rgb.height))
            rgb.resize((round(rgb.width * scale), round(rgb.height * scale)), Image.Resampling.LANCZOS).save(path)
        with Image.open(path) as im:
            images.append(CorpusImage(name, path, np.ascontiguousarray(np.asarray(im.convert("RGB")))))
    return images


# ---------------------------------------------------------------------------------------
# Scores


# Reference, composite, ssimulacra2_score, psnr and decode live in scores.py (shared with
# bench_categories.py); they are imported above and stay importable from here.


# ---------------------------------------------------------------------------------------
# Tools: each writes `dst` for one image at palette size k. A tool returns False when it
# wrote nothing on purpose (pngquant's --quality below its minimum).


def quantcli_tool(**fields) -> Callable[[CorpusImage, Path, int], bool]:
    def run(image: CorpusImage, dst: Path, k: int) -> bool:
        import quantcli

        options = quantcli.QuantizeOptions(**{"k": k, **fields})
        png, _ = quantcli.compress_pixels(image.pixels, options)
        dst.write_bytes(png)
        return True

    return run


def quantcli_quality(quality: tuple[int, int]) -> Callable[[CorpusImage, Path, int], bool]:
    def run(image: CorpusImage, dst: Path, k: int) -> bool:
        import quantcli
        from quantcli.quality import QualityTooLowError, compress_to_quality

        try:
            png, _ = compress_to_quality(image.pixels, quantcli.QuantizeOptions(k=k), quality)
        except QualityTooLowError:
            return False
        dst.write_bytes(png)
        return True

    return run


def pngquant_tool(*args: str) -> Callable[[CorpusImage, Path, int], bool]:
    def run(image: CorpusImage, dst: Path, k: int) -> bool:
        cmd = ["pngquant", *args, str(k), "--force", "--output", str(dst), str(image.path)]
        rc = subprocess.run(cmd, capture_output=True, check=False).returncode
        if rc == 99:  # --quality: the minimum cannot be reached
            return False
        if rc != 0:
            raise RuntimeError(f"{shlex.join(cmd)} exited {rc}")
        return True

    return run


def pngquant_oxipng(image: CorpusImage, dst: Path, k: int) -> bool:
    import oxipng

    pngquant_tool()(image, dst, k)
    oxipng.optimize(dst, dst, level=2)
    return True


def pillow_tool(image: CorpusImage, dst: Path, k: int) -> bool:
    # Pillow's defaults for RGB: median cut with Floyd-Steinberg dithering.
    Image.fromarray(image.pixels).quantize(k).save(dst)
    return True


TOOLS: dict[str, tuple[str, Callable[[CorpusImage, Path, int], bool]]] = {
    "quantcli": ("quantcli default", quantcli_tool()),
    "quantcli-nodither": ("quantcli dither=off", quantcli_tool(dither="off")),
    "pngquant": ("pngquant 3 default", pngquant_tool()),
    "pngquant-nofs": ("pngquant 3 --nofs", pngquant_tool("--nofs")),
    "pngquant+oxipng": ("pngquant 3 + oxipng -o2", pngquant_oxipng),
    "pillow": ("Pillow quantize (median cut, FS dither)", pillow_tool),
}


@dataclass
class Row:
    image: str
    k: int
    tool: str
    bytes: int | None  # None: nothing written (quality minimum not met)
    ssimulacra2: float | None
    psnr: float | None
    seconds: float


def run_tool(tool: str, run, images: list[CorpusImage], refs: dict[str, Reference], k: int, out: Path) -> list[Row]:
    rows = []
    for image in images:
        dst = out / f"{image.name}-k{k}-{tool}.png"
        start = time.perf_counter()
        wrote = run(image, dst, k)
        seconds = time.perf_counter() - start
        if not wrote:
            rows.append(Row(image.name, k, tool, None, None, None, seconds))
            continue
        got = decode(dst)
        rows.append(
            Row(image.name, k, tool, dst.stat().st_size, refs[image.name].score(got), psnr(image.pixels, got), seconds)
        )
    return rows


# ---------------------------------------------------------------------------------------
# Report


def summary(rows: list[Row]) -> tuple[float, int, float, float, int]:
    """(mean SSIMULACRA2, total bytes, mean PSNR, seconds, images written) of one tool's rows."""
    done = [r for r in rows if r.bytes is not None]
    if not done:
        return math.nan, 0, math.nan, sum(r.seconds for r in rows), 0
    return (
        float(np.mean([r.ssimulacra2 for r in done])),
        sum(r.bytes for r in done),
        float(np.mean([r.psnr for r in done if math.isfinite(r.psnr)] or [math.inf])),
        sum(r.seconds for r in rows),
        len(done),
    )


def k_table(k: int, by_tool: dict[str, list[Row]]) -> list[str]:
    ref_bytes = summary(by_tool["pngquant"])[1] if "pngquant" in by_tool else None
    lines = [
        f"### K = {k}",
        "",
        "| tool | mean SSIMULACRA2 | min | total bytes | vs pngquant 3 | mean PSNR dB | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for tool, rows in by_tool.items():
        score, total, mean_psnr, seconds, _ = summary(rows)
        low = min(r.ssimulacra2 for r in rows if r.ssimulacra2 is not None)
        ratio = f"{total / ref_bytes:.3f}x" if ref_bytes else "-"
        lines.append(
            f"| {TOOLS.get(tool, (tool,))[0]} | {score:.2f} | {low:.1f} | {total:,} | {ratio} | {mean_psnr:.2f} "
            f"| {seconds:.2f} |"
        )
    return [*lines, ""]


def targets(results: dict[int, dict[str, list[Row]]]) -> list[str]:
    lines = []
    for k in (256, 64):
        tools = results.get(k, {})
        if "quantcli" not in tools or "pngquant" not in tools:
            continue
        q, p = summary(tools["quantcli"]), summary(tools["pngquant"])
        lines.append(_verdict(q[0] >= p[0], f"K={k}: quantcli SSIMULACRA2 {q[0]:.2f} >= pngquant 3 {p[0]:.2f}"))
        lines.append(_verdict(q[1] <= 0.85 * p[1], f"K={k}: quantcli bytes {q[1] / p[1]:.3f}x pngquant 3 <= 0.85x"))
        if k == 256 and "pngquant+oxipng" in tools:
            o = summary(tools["pngquant+oxipng"])
            lines.append(
                _verdict(q[1] <= 0.9 * o[1], f"K=256: quantcli bytes {q[1] / o[1]:.3f}x pngquant+oxipng <= 0.9x")
            )
    return lines


def _verdict(ok: bool, text: str) -> str:
    return f"- {'PASS' if ok else 'FAIL'}: {text}"


def sweep_curves(images, refs, out: Path, sweep: list[int]) -> dict[str, list[tuple[int, float, int, int]]]:
    """Per tool, (quality max, mean SSIMULACRA2, total bytes, images written) along the sweep at K=256."""
    curves: dict[str, list[tuple[int, float, int, int]]] = {"quantcli": [], "pngquant": []}
    for q in sweep:
        for tool, run in (("quantcli", quantcli_quality((0, q))), ("pngquant", pngquant_tool("--quality", f"0-{q}"))):
            rows = run_tool(f"{tool}-q{q}", run, images, refs, 256, out)
            score, total, _, _, written = summary(rows)
            curves[tool].append((q, score, total, written))
            print(f"  sweep {tool} --quality 0-{q}: SSIMULACRA2 {score:.2f}, {total:,} bytes")
    return curves


def left_of(curves) -> tuple[bool, list[str]]:
    """Is quantcli's curve left of pngquant's: at every quantcli point, fewer bytes than pngquant's curve
    interpolated at the same mean SSIMULACRA2 (points outside pngquant's range are compared with its ends)?"""
    p = sorted((s, b) for _, s, b, _ in curves["pngquant"])
    ok, notes = True, []
    for q, s, b, _ in curves["quantcli"]:
        pb = float(np.interp(s, [x for x, _ in p], [y for _, y in p]))
        if s > p[-1][0]:
            pb = math.inf if b > p[-1][1] else pb
        notes.append(f"quality {q}: quantcli {b:,} bytes at {s:.2f}; pngquant at that score ~{pb:,.0f} bytes")
        ok &= b <= pb
    return ok, notes


def plot(curves, by_k: dict[int, dict[str, list[Row]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=80)
    for tool, points in curves.items():
        pts = [(b / 1e6, s) for _, s, b, w in points if w]
        ax.plot(*zip(*pts, strict=True), marker="o", label=f"{tool} --quality 0-Q (K=256)")
    for k, tools in by_k.items():
        for tool, marker in (("quantcli", "*"), ("pngquant", "s"), ("pngquant+oxipng", "^")):
            if tool in tools:
                s, b, *_ = summary(tools[tool])
                ax.scatter([b / 1e6], [s], marker=marker, s=60, label=f"{tool} K={k}")
    ax.set_xlabel("total bytes (MB)")
    ax.set_ylabel("mean SSIMULACRA2")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)


def machine() -> str:
    cpu = cpu_model()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    return f"{cpu}, {os.cpu_count()} cores, load average {load:.2f}, Python {platform.python_version()}"


def versions() -> str:
    import quantcli

    out = subprocess.run(["pngquant", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    try:
        from importlib.metadata import version

        ox = version("pyoxipng")
    except Exception:
        ox = "?"
    return f"quantcli {quantcli.__version__}, pngquant {out}, pyoxipng {ox}, Pillow {Image.__version__}"


def timing(images: list[CorpusImage], out: Path, cli: bool) -> list[str]:
    """Wall time for the folder at K=256: pngquant one call per file, quantcli in-process and as the CLI."""
    import quantcli

    lines = []

    def clock(fn) -> float:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    folder = out / "timing"
    folder.mkdir(exist_ok=True)
    pq = clock(lambda: [pngquant_tool()(im, folder / f"{im.name}-pq.png", 256) for im in images])
    lines.append(f"- pngquant 3 default, one call per file: {pq:.2f} s")

    def in_process(threads: int) -> None:
        for im in images:
            with Image.open(im.path) as src:
                pixels = np.ascontiguousarray(np.asarray(src.convert("RGB")))
            png, _ = quantcli.compress_pixels(pixels, quantcli.QuantizeOptions(k=256, threads=threads))
            (folder / f"{im.name}-q.png").write_bytes(png)

    for threads in (0, 1):
        t = clock(lambda threads=threads: in_process(threads))
        label = "all cores" if threads == 0 else "one thread"
        lines.append(f"- quantcli in-process (decode, quantize, encode, write), {label}: {t:.2f} s = {t / pq:.2f}x")
    if cli:
        exe = shutil.which("quantcli") or "quantcli"
        src = [str(im.path) for im in images]
        for jobs in ("", "1"):
            cmd = [exe, "compress", *src, "--out-dir", str(folder / "cli"), "--force", "--quiet", "-k", "256"]
            if jobs:
                cmd += ["--jobs", jobs]
            t = clock(lambda cmd=cmd: subprocess.run(cmd, check=True, capture_output=True))
            lines.append(f"- `quantcli compress` folder{' --jobs 1' if jobs else ''}: {t:.2f} s = {t / pq:.2f}x")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=len(MATE_IMAGES) + len(SKIMAGE_IMAGES))
    parser.add_argument("--quick", action="store_true", help=f"the first {QUICK} images only")
    parser.add_argument("--megapixels", type=float, default=2.0)
    parser.add_argument("--ks", default="256,64,16")
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--no-sweep", action="store_true", help="skip the --quality sweep")
    parser.add_argument("--sweep", default=",".join(map(str, SWEEP)), help="the Q of the --quality 0-Q sweep")
    parser.add_argument("--cli", action="store_true", help="also time `quantcli compress` on the folder")
    parser.add_argument("--name", default="quality", help="results file stem in bench/results/")
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    args = parser.parse_args()

    count = QUICK if args.quick else args.images
    images = prepare_corpus(count, args.megapixels)
    print(f"{len(images)} images, {args.megapixels:g} MP; scoring references...")
    refs = {im.name: Reference(im.pixels) for im in images}
    work = WORK / "out"
    work.mkdir(parents=True, exist_ok=True)
    ks = [int(k) for k in args.ks.split(",")]
    tools = args.tools.split(",")
    results: dict[int, dict[str, list[Row]]] = {}
    for k in ks:
        results[k] = {}
        for tool in tools:
            results[k][tool] = run_tool(tool, TOOLS[tool][1], images, refs, k, work)
            s, b, p, t, _ = summary(results[k][tool])
            print(f"K={k} {tool}: SSIMULACRA2 {s:.2f}, {b:,} bytes, PSNR {p:.2f}, {t:.1f} s")

    command = shlex.join(["python", "bench/bench_quality.py", *sys.argv[1:]])
    lines = [
        "# Quality per byte: quantcli against pngquant 3 (issue 7)",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine()}  ",
        f"Versions: {versions()}  ",
        f"Corpus: {len(images)} images of about {args.megapixels:g} MP: " + ", ".join(im.name for im in images) + ".  ",
        "SSIMULACRA2 from the `ssimulacra2` package (higher is better: 90 visually lossless, 70 high, 50 medium); "
        "sizes are whole PNG files; seconds are each tool's total over the corpus (pngquant: a subprocess per "
        "file), noisy on this shared machine.",
        "",
    ]
    for k in ks:
        lines += k_table(k, results[k])
    csv_rows = [r for tools_rows in results.values() for rows in tools_rows.values() for r in rows]
    curves = None
    if not args.no_sweep:
        curves = sweep_curves(images, refs, work, [int(q) for q in args.sweep.split(",")])
        lines += [
            "### `--quality 0-Q` sweep at K=256",
            "",
            "| Q | quantcli SSIMULACRA2 | quantcli bytes | pngquant SSIMULACRA2 | pngquant bytes |",
            "|---:|---:|---:|---:|---:|",
        ]
        for (q, s1, b1, _), (_, s2, b2, _) in zip(curves["quantcli"], curves["pngquant"], strict=True):
            lines.append(f"| {q} | {s1:.2f} | {b1:,} | {s2:.2f} | {b2:,} |")
        ok, notes = left_of(curves)
        lines += ["", _verdict(ok, "quantcli's --quality curve lies left of pngquant's"), *[f"  - {n}" for n in notes]]
        plot_path = args.out / f"{args.name}.png"
        plot(curves, results, plot_path)
        lines += ["", f"![rate-distortion]({plot_path.name})", ""]
    lines += ["### Targets (issue 7)", "", *targets(results), ""]
    if 256 in ks:
        lines += ["### Wall time, folder at K=256", "", *timing(images, work, args.cli), ""]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.md").write_text("\n".join(lines))
    with (args.out / f"{args.name}.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["image", "k", "tool", "bytes", "ssimulacra2", "psnr", "seconds"])
        for r in csv_rows:
            writer.writerow([r.image, r.k, r.tool, r.bytes, _round(r.ssimulacra2), _round(r.psnr), f"{r.seconds:.4f}"])
    print("\n".join(lines))


def _round(v: float | None) -> str:
    return "" if v is None else f"{v:.4f}"


if __name__ == "__main__":
    main()
