"""Start-up cost of one small call: quantcli against pngquant on a 64x64 icon.

Shell loops and CI smoke tests pay a command's start-up on every file. This times whole
processes, alternating the commands run by run, and reports each one's median wall time
over ``--runs`` runs (after one warm-up each), plus where quantcli's import time goes
(``python -X importtime``, the modules over 2 ms). Besides the short form on a plain PNG
(the target), it times the same call through Typer and a JPEG through Pillow and NumPy.

    python bench/bench_startup.py --runs 20          # writes bench/results/startup.md

Needs pngquant 3 on PATH (``pip install pngquant-cli``); without it only quantcli is timed.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

RESULTS = Path(__file__).parent / "results" / "startup.md"


def make_icon(path: Path) -> None:
    """A 64x64 RGBA icon: a soft disc on transparency (many colours, alpha edges)."""
    y, x = np.mgrid[0:64, 0:64]
    r = np.hypot(x - 31.5, y - 31.5)
    rgba = np.stack([x * 4, y * 4, 255 - (x + y) * 2, np.clip((30 - r) * 60, 0, 255)], -1)
    Image.fromarray(rgba.astype(np.uint8), "RGBA").save(path)


def time_runs(commands: dict[str, list[str]], runs: int) -> dict[str, list[float]]:
    """Wall seconds per run of each command, alternating them so drift hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for argv in commands.values():  # warm-up: page cache, .pyc files
        subprocess.run(argv, check=True, capture_output=True)
    for _ in range(runs):
        for name, argv in commands.items():
            start = time.perf_counter()
            subprocess.run(argv, check=True, capture_output=True)
            times[name].append(time.perf_counter() - start)
    return times


def import_profile(quantcli: str, icon: Path, out: Path) -> list[tuple[float, str]]:
    """(self ms, module) for modules that take over 2 ms to import in a compress call."""
    script = Path(quantcli).read_text().splitlines()[0]
    python = script[2:].strip() if script.startswith("#!") else sys.executable
    proc = subprocess.run(
        [python, "-X", "importtime", "-m", "quantcli", "compress", str(icon), "-k", "16", "-o", str(out), "-f"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            own, _, name = line[len("import time:") :].split("|")
            if own.strip().isdigit() and int(own) > 2000:
                rows.append((int(own) / 1000, name.rstrip()))
    return sorted(rows, reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    quantcli = shutil.which("quantcli")
    if quantcli is None:
        sys.exit("quantcli is not on PATH: install the project first")
    pngquant = shutil.which("pngquant")
    with tempfile.TemporaryDirectory() as tmp:
        icon, out = Path(tmp) / "icon.png", Path(tmp) / "out.png"
        make_icon(icon)
        photo = Path(tmp) / "icon.jpg"
        Image.open(icon).convert("RGB").save(photo, quality=90)
        small = [str(icon), "-k", "16", "-o", str(out), "-f"]
        commands = {
            # The short form (quantcli.cli.fast) on a plain PNG: no Typer, NumPy or Pillow.
            "quantcli compress icon.png -k 16 -o out.png -f": [quantcli, "compress", *small],
            # The same call through Typer (any option outside the short forms)...
            "quantcli compress icon.png -k 16 -o out.png -f --level 10": [
                quantcli,
                "compress",
                *small,
                "--level",
                "10",
            ],
            # ... and through Pillow and NumPy (a JPEG, or a PNG that needs them).
            "quantcli compress icon.jpg -k 16 -o out.png -f": [
                quantcli,
                "compress",
                str(photo),
                "-k",
                "16",
                "-o",
                str(out),
                "-f",
            ],
            "quantcli --version": [quantcli, "--version"],
            "python -c pass (the interpreter alone)": [sys.executable, "-c", "pass"],
        }
        if pngquant:
            commands["pngquant 16 icon.png"] = [pngquant, "16", "--force", "--output", str(out), str(icon)]
        load_before = os.getloadavg()[0]
        times = time_runs(commands, args.runs)
        load_after = os.getloadavg()[0]
        profile = import_profile(quantcli, icon, out)
    version = subprocess.run([pngquant, "--version"], capture_output=True, text=True).stdout.strip() if pngquant else ""
    lines = [
        "# Start-up: one small call",
        "",
        f"`python bench/bench_startup.py --runs {args.runs}` on {platform.machine()} with {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {load_before:.2f} before and {load_after:.2f} after "
        f"(a shared machine: compare the ratios, measured in one run). pngquant {version or 'not installed'}.",
        "",
        "| command | median ms | min ms | max ms |",
        "|---|---:|---:|---:|",
    ]
    for name, values in times.items():
        ms = [v * 1000 for v in values]
        lines.append(f"| `{name}` | {statistics.median(ms):.1f} | {min(ms):.1f} | {max(ms):.1f} |")
    target = statistics.median(times["quantcli compress icon.png -k 16 -o out.png -f"]) * 1000
    lines += [
        "",
        f"Target: the compress call's median at most 80 ms: {'PASS' if target <= 80 else 'FAIL'} ({target:.1f} ms).",
        "",
        "Where the compress call's import time goes (self time over 2 ms, one run):",
        "",
        "| module | ms |",
        "|---|---:|",
        *(f"| `{name.strip()}` | {ms:.1f} |" for ms, name in profile[:20]),
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
