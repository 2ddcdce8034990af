"""Benchmark: the --speed curve. For each quantcli preset and some pngquant 3 --speed levels,
one folder of real photographs and artwork at K=256: wall time and CPU time (user + sys of
the child processes), total bytes, mean SSIMULACRA2 and PSNR.

quantcli runs as one ``quantcli compress FOLDER`` call (all cores), pngquant 3 as one call
per file, as a script over a folder runs it. Images come from ``bench_quality.py``'s corpus
(``shared/CORPUS.md``). Writes ``bench/results/speed.md`` and ``speed.png``::

    python bench/bench_speed.py --images 8 --megapixels 1
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from bench_quality import WORK, decode, machine, prepare_corpus, psnr, ssimulacra2_score, versions

RESULTS = Path(__file__).resolve().parent / "results"
PNGQUANT_SPEEDS = (1, 4, 11)  # pngquant's slowest, its default, its fastest


def cpu_of_children() -> float:
    usage = os.times()
    return usage.children_user + usage.children_system


def run_timed(commands: list[list[str]]) -> tuple[float, float]:
    """(wall, CPU) seconds of running ``commands`` one after another."""
    wall, cpu = time.perf_counter(), cpu_of_children()
    for cmd in commands:
        subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - wall, cpu_of_children() - cpu


def score(images, folder: Path) -> tuple[int, float, float]:
    """(total bytes, mean SSIMULACRA2, mean PSNR) of ``folder/NAME.png`` against the sources."""
    total, scores, psnrs = 0, [], []
    for im in images:
        out = folder / f"{im.name}.png"
        total += out.stat().st_size
        pixels = decode(out)
        scores.append(ssimulacra2_score(im.pixels, pixels))
        psnrs.append(psnr(im.pixels, pixels))
    return total, float(np.mean(scores)), float(np.mean(psnrs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--megapixels", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=RESULTS / "speed.md")
    args = parser.parse_args()
    images = prepare_corpus(args.images, args.megapixels)
    work = WORK.parent / "speed"
    shutil.rmtree(work, ignore_errors=True)
    sources = [str(im.path) for im in images]
    quantcli = shutil.which("quantcli") or sys.exit("quantcli is not installed")
    pngquant = shutil.which("pngquant") or sys.exit("pip install pngquant-cli")
    rows = []
    for speed in range(1, 8):
        folder = work / f"quantcli-{speed}"
        cmd = [quantcli, "compress", *sources, "-k", "256", "--speed", str(speed), "--out-dir", str(folder), "-q"]
        wall, cpu = run_timed([cmd])
        rows.append((f"quantcli --speed {speed}", wall, cpu, *score(images, folder)))
    for speed in PNGQUANT_SPEEDS:
        folder = work / f"pngquant-{speed}"
        folder.mkdir(parents=True)
        cmds = [
            [pngquant, "256", "--speed", str(speed), "--force", "--output", str(folder / f"{im.name}.png"), str(im.path)]
            for im in images
        ]
        wall, cpu = run_timed(cmds)
        rows.append((f"pngquant 3 --speed {speed}", wall, cpu, *score(images, folder)))
    reference = next(r for r in rows if r[0] == "pngquant 3 --speed 4")
    default = next(r for r in rows if r[0] == "quantcli --speed 3")
    lines = [
        "# The --speed curve at K=256",
        "",
        f"Command: `python bench/bench_speed.py --images {args.images} --megapixels {args.megapixels:g}`; "
        f"{len(images)} images of about {args.megapixels:g} MP; one run.",
        "",
        f"- Machine: {machine()}",
        f"- {versions()}",
        "- quantcli: one `quantcli compress` call for the folder (all cores); pngquant 3: one call per file.",
        "- CPU: user + sys of the child processes. Wall and CPU times vary with the machine's load; the "
        "ratios are within this run.",
        "",
        "| tool | wall s | wall vs pngquant 3 | CPU s | CPU vs pngquant 3 | CPU vs quantcli default | bytes | "
        "bytes vs pngquant 3 | SSIMULACRA2 | PSNR |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, wall, cpu, size, s2, db in rows:
        lines.append(
            f"| {name} | {wall:.2f} | {wall / reference[1]:.2f}x | {cpu:.2f} | {cpu / reference[2]:.2f}x | "
            f"{cpu / default[2]:.2f}x | {size:,} | {size / reference[3]:.3f}x | {s2:.2f} | {db:.2f} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    plot(rows, args.out.with_suffix(".png"))
    print("\n".join(lines))


def plot(rows, path: Path) -> None:
    """SSIMULACRA2 against CPU seconds, one curve per tool."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    for tool, marker in (("quantcli", "o"), ("pngquant", "s")):
        points = [(cpu, s2, name.split()[-1]) for name, _, cpu, _, s2, _ in rows if name.startswith(tool)]
        ax.plot([p[0] for p in points], [p[1] for p in points], marker=marker, label=tool)
        for cpu, s2, label in points:
            ax.annotate(label, (cpu, s2), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel("CPU seconds for the folder (user + sys)")
    ax.set_ylabel("mean SSIMULACRA2")
    ax.set_title("--speed presets at K=256 (labels: the speed)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
