"""Peak memory of one image through quantcli's compress path, as bytes per pixel.

Each case runs in a fresh process under ``/usr/bin/time -f %M`` (peak resident set size):
``compress_file`` on the image (decode, convert, quantize, encode, write), and the same
call on a 64x64 image of the same kind as the baseline (interpreter, NumPy, Pillow, the
core and its threads). ``(peak - baseline) / pixels`` is the figure the docs quote; it
includes the encoded input file held in memory. ``read_image`` alone is measured too.

    python bench/peak_memory.py                          # the installed quantcli
    python bench/peak_memory.py --before /old/python     # and another checkout's, beside it

Writes ``bench/results/peak_memory.md`` (``--out`` to change). Needs Debian's
mate-backgrounds for the photographs (see /work/shared/CORPUS.md); images are made in
``bench/work/peak_memory/``.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work" / "peak_memory"
PHOTO = Path("/usr/share/backgrounds/mate/abstract/Elephants_5640x3172.jpg")

# Run in the child: drop the editable-install finder so --code's checkout is imported.
PRELUDE = """
import sys
code = {code!r}
if code:
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in type(f).__module__]
    sys.path.insert(0, code)
import quantcli
"""
COMPRESS = PRELUDE + "quantcli.compress_file({src!r}, {dst!r}, k={k}, force=True)\n"
READ = PRELUDE + "from quantcli.images import read_image\nread_image({src!r})\n"


def make_images() -> list[tuple[str, Path, Path]]:
    """(label, image, 64x64 baseline image of the same kind)."""
    WORK.mkdir(parents=True, exist_ok=True)
    photo = Image.open(PHOTO).convert("RGB")
    cases = []

    def save(name: str, image: Image.Image, fmt: str) -> Path:
        path = WORK / name
        if not path.exists():
            image.save(path, format=fmt, **({"quality": 92} if fmt == "JPEG" else {"compress_level": 1}))
        return path

    small = photo.resize((64, 64))
    cases.append(("JPEG RGB", PHOTO, save("small.jpg", small, "JPEG")))
    cases.append(("PNG RGB", save("photo-rgb.png", photo, "PNG"), save("small-rgb.png", small, "PNG")))
    alpha = Image.fromarray(np.tile(np.linspace(0, 255, photo.width).astype(np.uint8), (photo.height, 1)))
    rgba = photo.copy()
    rgba.putalpha(alpha)
    small_rgba = small.copy()
    small_rgba.putalpha(Image.fromarray(np.tile(np.linspace(0, 255, 64).astype(np.uint8), (64, 1))))
    cases.append(("PNG RGBA", save("photo-rgba.png", rgba, "PNG"), save("small-rgba.png", small_rgba, "PNG")))
    return cases


def peak_kib(code: str) -> int:
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%M", sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return int(proc.stderr.strip().splitlines()[-1])


def measure(template: str, code: str, k: int, repeat: int) -> list[tuple[str, str, int, int, int, float]]:
    rows = []
    for label, image, baseline in make_images():
        with Image.open(image) as im:
            width, height = im.size
        runs = {}
        for which, src in (("image", image), ("baseline", baseline)):
            child = template.format(code=code, src=str(src), dst=str(WORK / "out.png"), k=k)
            runs[which] = min(peak_kib(child) for _ in range(repeat))
        per_pixel = (runs["image"] - runs["baseline"]) * 1024 / (width * height)
        rows.append((label, f"{width}x{height}", image.stat().st_size, runs["baseline"], runs["image"], per_pixel))
        print(f"{label}: {per_pixel:.2f} bytes/pixel", file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", default="", help="a checkout's python/ folder to import quantcli from")
    parser.add_argument("--before", default="", help="another checkout's python/ folder, measured beside it")
    parser.add_argument("--k", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=2, help="runs per case; the lowest peak is kept")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "peak_memory.md")
    args = parser.parse_args()
    command = "python bench/peak_memory.py" + "".join(
        f" --{name} {value}" for name, value in (("code", args.code), ("before", args.before)) if value
    )
    lines = [
        "# Peak memory per image",
        "",
        f"Command: `{command}`",
        "",
        f"- Machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        f"- Python {platform.python_version()}, NumPy {np.__version__}, Pillow {Image.__version__}",
        "- Figure: peak RSS (`/usr/bin/time -f %M`) of a fresh process minus that of the same call on a",
        f"  64x64 image of the same kind, over the pixel count; lowest of {args.repeat} runs.",
        f"- Photo: {PHOTO.name} (progressive JPEG), also saved as RGB PNG and as RGBA PNG with a",
        "  horizontal alpha ramp (so nearly every pixel is a distinct RGBA colour).",
    ]
    versions = [("this checkout", args.code)] + ([("before", args.before)] if args.before else [])
    for title, template in (("read_image", READ), (f"compress_file(k={args.k})", COMPRESS)):
        for version, code in versions:
            rows = measure(template, code, args.k, args.repeat)
            lines += [
                "",
                f"## {title}, {version}",
                "",
                "| image | size | file bytes | baseline KiB | peak KiB | bytes / pixel |",
                "|---|---|---:|---:|---:|---:|",
            ]
            lines += [f"| {r[0]} | {r[1]} | {r[2]:,} | {r[3]:,} | {r[4]:,} | {r[5]:.2f} |" for r in rows]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(args.out, file=sys.stderr)


if __name__ == "__main__":
    main()
