"""Benchmark: quantcli against pngquant, Pillow and scikit-learn KMeans on real photographs.

For every image of a ~2-megapixel corpus and every K, each tool writes a palette PNG; the
benchmark times each call, then decodes every output independently (Pillow, converted to
RGB) and compares it with the original pixels. It writes a markdown table per K to
``<out>/compress.md``, the raw rows to ``<out>/compress.csv``, and prints PASS/FAIL lines
for the project's targets at K=256.

Images run one at a time and tools one after another, so the times are per-image
latencies, not throughput. Each tool runs as its users would run it: quantcli uses its own
threads on all cores for one image, Pillow one thread, pngquant and scikit-learn OpenMP
across all cores unless ``OMP_NUM_THREADS`` says otherwise.

Run from the repository root, with quantcli importable (installed, or the built ``_core``
copied into ``python/quantcli/``)::

    python bench/bench_compress.py                   # 12 images, K=16 and K=256, all tools
    python bench/bench_compress.py --images 4 --ks 256 --tools quantcli,pngquant
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import math
import os
import platform
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from machine import cpu_model
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
CORPUS_DIR = BENCH / "data" / "corpus-2mp"
WORK_DIR = BENCH / "work" / "compress"
MATE_PHOTOS = Path("/usr/share/backgrounds/mate/nature")
# scikit-image samples that are colour photographs, in the order they join the corpus.
SKIMAGE_PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png")
TARGET_PIXELS = 2_000_000
SKLEARN_SAMPLE = 20_000
SEED = 0

TOOLS = ("quantcli", "quantcli-cli", "pngquant", "pillow", "sklearn")
TOOL_LABELS = {
    "quantcli": "quantcli (in-process `compress_file`)",
    "quantcli-cli": "quantcli (CLI subprocess)",
    "pngquant": "pngquant --nofs --speed 3",
    "pillow": "Pillow quantize (median cut, no dither)",
    "sklearn": f"scikit-learn KMeans ({SKLEARN_SAMPLE:,}-pixel sample)",
}
REFERENCE_TOOL = "pngquant"


# ---------------------------------------------------------------------------------------
# Corpus


@dataclass(frozen=True)
class CorpusImage:
    """One benchmark image: a ~2 MP RGB PNG made from a photograph."""

    name: str
    source: Path
    path: Path


def photo_sources() -> list[tuple[str, Path]]:
    """Every photograph we know of, as (corpus name, source path), in the fixed corpus order.

    The mate-backgrounds ``nature`` folder holds the package's photographs (the other
    folders hold illustrations and gradients). Two of them come for each scikit-image
    sample, so a small corpus still mixes both sources.
    """
    mate = [(f"mate-{p.stem}", p) for p in sorted(MATE_PHOTOS.glob("*.jpg"))]
    skimage_dir = _skimage_data_dir()
    samples = []
    if skimage_dir is not None:
        samples = [(f"skimage-{Path(n).stem}", skimage_dir / n) for n in SKIMAGE_PHOTOS if (skimage_dir / n).is_file()]
    order: list[tuple[str, Path]] = []
    while mate or samples:
        for _ in range(2):
            if mate:
                order.append(mate.pop(0))
        if samples:
            order.append(samples.pop(0))
    return order


def _skimage_data_dir() -> Path | None:
    try:
        import skimage
    except ImportError:
        return None
    return Path(skimage.__file__).parent / "data"


def prepare_corpus(count: int) -> list[CorpusImage]:
    """Make (or reuse) the first ``count`` corpus images in ``bench/data/corpus-2mp``.

    Each photograph is resized with Pillow's LANCZOS filter, keeping its aspect ratio, to
    about 2 megapixels - down for the large photos, up for the small scikit-image
    samples, so that every image costs the same number of pixels - and saved as an RGB
    PNG. Existing files are kept.
    """
    sources = photo_sources()
    if not sources:
        sys.exit("no photographs found: apt-get install mate-backgrounds, pip install scikit-image")
    if count > len(sources):
        print(f"only {len(sources)} photographs available; using all of them")
    CORPUS_DIR.mkdir(parents=True, exist_ok=True)
    images = []
    for name, source in sources[:count]:
        path = CORPUS_DIR / f"{name}.png"
        if not path.exists():
            with Image.open(source) as im:
                rgb = im.convert("RGB")
            scale = math.sqrt(TARGET_PIXELS / (rgb.width * rgb.height))
            size = (round(rgb.width * scale), round(rgb.height * scale))
            tmp = path.with_suffix(".tmp.png")
            rgb.resize(size, Image.Resampling.LANCZOS).save(tmp)
            tmp.replace(path)
            print(f"  corpus: {path.relative_to(REPO)} {size[0]}x{size[1]} from {source}")
        images.append(CorpusImage(name, source, path))
    return images


# ---------------------------------------------------------------------------------------
# Tools: each writes ``dst`` from ``src`` at palette size ``k``; the caller times the call.


def run_quantcli(src: Path, dst: Path, k: int) -> float | None:
    import quantcli

    return quantcli.compress_file(src, dst, k=k, force=True).psnr


def run_quantcli_cli(src: Path, dst: Path, k: int) -> None:
    cmd = [
        sys.executable,
        "-m",
        "quantcli",
        "compress",
        str(src),
        "-o",
        str(dst),
        "-k",
        str(k),
        "--force",
        "--quiet",
    ]
    subprocess.run(cmd, check=True, capture_output=True, env=_child_env())


def run_pngquant(src: Path, dst: Path, k: int) -> None:
    cmd = ["pngquant", "--nofs", "--speed", "3", str(k), "--force", "--output", str(dst), str(src)]
    subprocess.run(cmd, check=True, capture_output=True)


def run_pillow(src: Path, dst: Path, k: int) -> None:
    with Image.open(src) as im:
        quantized = im.quantize(k, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    quantized.save(dst, optimize=False)


def run_sklearn(src: Path, dst: Path, k: int) -> None:
    """scikit-learn's colour-quantization example, with a bigger sample and a PNG at the end.

    The example fits ``KMeans(n_clusters, n_init="auto", random_state=0)`` on
    ``shuffle(pixels, random_state=0, n_samples=1_000)`` of float pixels in 0..1, then
    predicts every pixel. We do the same on 20,000 pixels (1,000 is too few for K=256);
    ``n_init="auto"`` means one k-means++ run. Centres are rounded to 8 bits for the palette.
    """
    from sklearn.cluster import KMeans
    from sklearn.utils import shuffle

    with Image.open(src) as im:
        rgb = np.asarray(im.convert("RGB"))
    h, w, _ = rgb.shape
    pixels = rgb.reshape(-1, 3).astype(np.float64) / 255.0
    sample = shuffle(pixels, random_state=SEED, n_samples=min(SKLEARN_SAMPLE, len(pixels)))
    with warnings.catch_warnings():
        # Smooth images can have fewer distinct sampled colours than K; that is fine.
        warnings.simplefilter("ignore")
        kmeans = KMeans(n_clusters=k, n_init="auto", random_state=SEED).fit(sample)
    labels = kmeans.predict(pixels).astype(np.uint8).reshape(h, w)
    palette = np.clip(np.rint(kmeans.cluster_centers_ * 255.0), 0, 255).astype(np.uint8)
    out = Image.fromarray(labels)  # mode "L"; putpalette makes it "P"
    out.putpalette(palette.ravel().tolist())
    out.save(dst, optimize=False)


RUNNERS: dict[str, Callable[[Path, Path, int], float | None]] = {
    "quantcli": run_quantcli,
    "quantcli-cli": run_quantcli_cli,
    "pngquant": run_pngquant,
    "pillow": run_pillow,
    "sklearn": run_sklearn,
}


def _child_env() -> dict[str, str]:
    """The environment for ``python -m quantcli``: this process's, plus our quantcli's folder."""
    import quantcli

    env = dict(os.environ)
    package_parent = str(Path(quantcli.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH")) if p)
    return env


def _import_quantcli() -> None:
    """Import quantcli, falling back to the source tree's ``python/`` folder."""
    try:
        import quantcli
    except ImportError:
        sys.path.insert(0, str(REPO / "python"))
        try:
            import quantcli  # noqa: F401
        except ImportError as exc:
            sys.exit(f"cannot import quantcli ({exc}); build it and copy _core*.so into python/quantcli/")


# ---------------------------------------------------------------------------------------
# Measuring


@dataclass
class Row:
    """One tool on one image at one K."""

    image: str
    width: int
    height: int
    k: int
    tool: str
    seconds: float = math.nan
    bytes_out: int = 0
    psnr: float = math.nan
    colors: int = 0
    cpu_seconds: float = math.nan  # CPU time (user + sys, all threads) of the kept run
    tool_psnr: float = math.nan  # what the tool says about itself, where it says
    error: str = ""
    times: list[float] = field(default_factory=list)


def load_rgb(path: Path) -> np.ndarray:
    """Decode a PNG with Pillow and convert to 8-bit RGB: ndarray (h, w, 3), dtype uint8."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def psnr(reference: np.ndarray, other: np.ndarray) -> float:
    """PSNR in dB over all pixels and channels of two uint8 images of the same shape."""
    diff = reference.astype(np.int32) - other.astype(np.int32)
    mse = float(np.mean(diff * diff))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def count_colors(rgb: np.ndarray) -> int:
    """Distinct RGB colours in an (h, w, 3) uint8 image."""
    packed = (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) | rgb[..., 2]
    return int(np.unique(packed).size)


def measure_image(tools: list[str], image: CorpusImage, original: np.ndarray, k: int, repeat: int) -> list[Row]:
    """Run every tool ``repeat`` times on one image, then check each tool's output.

    The repeats go round the tools (A B C, A B C, ...) rather than A A A, B B B, so that a
    burst of other work on the machine falls on several tools instead of all on one.
    """
    h, w, _ = original.shape
    rows = {tool: Row(image.name, w, h, k, tool) for tool in tools}
    cpu_times: dict[str, list[float]] = {tool: [] for tool in tools}
    outputs = {tool: WORK_DIR / tool / f"k{k}" / f"{image.name}.png" for tool in tools}
    for dst in outputs.values():
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.unlink(missing_ok=True)
    for _ in range(repeat):
        for tool in tools:
            row = rows[tool]
            if row.error:
                continue
            try:
                cpu_start = _cpu_seconds()
                start = time.perf_counter()
                reported = RUNNERS[tool](image.path, outputs[tool], k)
                row.times.append(time.perf_counter() - start)
                cpu_times[tool].append(_cpu_seconds() - cpu_start)
            except subprocess.CalledProcessError as exc:
                stderr = exc.stderr.decode(errors="replace").strip()[:200]
                row.error = f"exit {exc.returncode}: {stderr}"
            except Exception as exc:
                row.error = f"{type(exc).__name__}: {exc}"
            else:
                if reported is not None:
                    row.tool_psnr = reported
    for tool in tools:
        _check_output(rows[tool], cpu_times[tool], outputs[tool], original, k)
    return list(rows.values())


def _check_output(row: Row, cpu_times: list[float], dst: Path, original: np.ndarray, k: int) -> None:
    """Fill in a row's time, size, PSNR and colour count from its runs and its output file."""
    if row.error:
        return
    # Best of the runs: other work on the machine only ever adds time.
    best = min(range(len(row.times)), key=row.times.__getitem__)
    row.seconds, row.cpu_seconds = row.times[best], cpu_times[best]
    row.bytes_out = dst.stat().st_size
    decoded = load_rgb(dst)
    if decoded.shape != original.shape:
        row.error = f"output shape {decoded.shape} != input {original.shape}"
        return
    row.psnr = psnr(original, decoded)
    row.colors = count_colors(decoded)
    if row.colors > k:
        row.error = f"{row.colors} colours > K={k}"


def _cpu_seconds() -> float:
    """User + system CPU time of this process (all threads) and its finished children."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def warm_up(tools: list[str]) -> None:
    """Run every tool once on a small crop so one-time costs (imports, lazy loading, the
    OpenMP thread pool) stay out of the first image's time."""
    src = WORK_DIR / "warmup.png"
    src.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(src)
    for tool in tools:
        RUNNERS[tool](src, WORK_DIR / f"warmup-{tool}.png", 16)


# ---------------------------------------------------------------------------------------
# Reporting


@dataclass(frozen=True)
class Summary:
    """One tool's rows at one K, summarised."""

    tool: str
    images: int
    median_seconds: float
    median_cpu_seconds: float
    mean_psnr: float
    total_bytes: int
    max_colors: int
    errors: int


def summarise(rows: list[Row], tool: str, k: int) -> Summary | None:
    mine = [r for r in rows if r.tool == tool and r.k == k]
    if not mine:
        return None
    ok = [r for r in mine if not r.error]
    return Summary(
        tool=tool,
        images=len(ok),
        median_seconds=statistics.median(r.seconds for r in ok) if ok else math.nan,
        median_cpu_seconds=statistics.median(r.cpu_seconds for r in ok) if ok else math.nan,
        mean_psnr=statistics.fmean(r.psnr for r in ok) if ok else math.nan,
        total_bytes=sum(r.bytes_out for r in ok),
        max_colors=max((r.colors for r in mine), default=0),
        errors=len(mine) - len(ok),
    )


def markdown_table(summaries: list[Summary], k: int, input_bytes: int) -> str:
    ref = next((s for s in summaries if s.tool == REFERENCE_TOOL), None)
    lines = [
        f"### K = {k}",
        "",
        "| tool | median s / image | median CPU s / image | mean PSNR (dB) | total bytes "
        "| bytes vs pngquant | speed vs pngquant | max colours | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summaries:
        size_ratio = speed = "n/a"
        if ref is not None and ref.total_bytes and ref.images == s.images:
            size_ratio = f"{s.total_bytes / ref.total_bytes:.3f}x"
        if ref is not None and s.median_seconds > 0:
            speed = f"{ref.median_seconds / s.median_seconds:.2f}x"
        lines.append(
            f"| {TOOL_LABELS[s.tool]} | {s.median_seconds:.3f} | {s.median_cpu_seconds:.3f} "
            f"| {s.mean_psnr:.2f} "
            f"| {s.total_bytes:,} | {size_ratio} | {speed} | {s.max_colors} | {s.errors} |"
        )
    lines += ["", f"Input: the corpus PNGs, {input_bytes:,} bytes in all."]
    return "\n".join(lines)


def target_lines(by_tool: dict[str, Summary], k: int) -> list[str]:
    """The project's three targets, checked at palette size ``k``."""
    q, p, s = by_tool.get("quantcli"), by_tool.get("pngquant"), by_tool.get("sklearn")

    def line(ok: bool | None, text: str) -> str:
        return f"{'SKIP' if ok is None else 'PASS' if ok else 'FAIL'}: {text}"

    out = []
    if q and p:
        limit = p.median_seconds / 5
        out.append(
            line(
                q.median_seconds <= limit,
                f"K={k} quantcli median time {q.median_seconds:.3f} s <= pngquant/5 = "
                f"{limit:.3f} s (quantcli is {q.median_seconds / p.median_seconds:.2f}x "
                "pngquant's time)",
            )
        )
    else:
        out.append(line(None, f"K={k} speed target needs quantcli and pngquant"))
    if q and s:
        out.append(
            line(
                q.mean_psnr >= s.mean_psnr,
                f"K={k} quantcli mean PSNR {q.mean_psnr:.2f} dB >= scikit-learn {s.mean_psnr:.2f} dB",
            )
        )
    else:
        out.append(line(None, f"K={k} quality target needs quantcli and sklearn"))
    if q and p:
        out.append(
            line(
                q.total_bytes <= 0.9 * p.total_bytes,
                f"K={k} quantcli total bytes {q.total_bytes:,} <= 0.9 x pngquant "
                f"{p.total_bytes:,} = {0.9 * p.total_bytes:,.0f} "
                f"(ratio {q.total_bytes / p.total_bytes:.3f})",
            )
        )
    else:
        out.append(line(None, f"K={k} size target needs quantcli and pngquant"))
    if q and q.errors:
        out.append(line(False, f"K={k} quantcli failed on {q.errors} image(s)"))
    return out


def busy_warning(load_before: float, load_after: float) -> list[str]:
    """A warning paragraph when other work shared the CPUs during the run, else nothing."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if max(load_before, load_after) <= (cores or 1):
        return []
    return [
        f"**Warning: the machine was busy** (load average up to "
        f"{max(load_before, load_after):.1f} on {cores} cores; this benchmark alone keeps at "
        f"most {cores} busy). "
        "Wall-clock times are inflated and noisy; multi-threaded tools (pngquant, scikit-learn) "
        "suffer most, since their OpenMP threads wait on each other. Sizes, PSNR and colour "
        "counts do not depend on load.",
        "",
    ]


def machine_description(tools: list[str]) -> list[str]:
    """Markdown bullets naming the machine and every tool's version."""
    cpu = cpu_model("unknown")
    ram = "unknown"
    with contextlib.suppress(OSError):
        for text in Path("/proc/meminfo").read_text().splitlines():
            if text.startswith("MemTotal"):
                ram = f"{int(text.split()[1]) / 1024**2:.1f} GiB"
    os_name = platform.platform()
    with contextlib.suppress(OSError):
        for text in Path("/etc/os-release").read_text().splitlines():
            if text.startswith("PRETTY_NAME="):
                os_name = f"{text.split('=', 1)[1].strip(chr(34))} (kernel {platform.release()})"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()

    import PIL
    import quantcli

    lines = [
        f"- CPU: {cpu}, {cores} cores usable (os.cpu_count() = {os.cpu_count()})",
        f"- RAM: {ram}",
        f"- OS: {os_name}",
        f"- Python {platform.python_version()}, NumPy {np.__version__}, Pillow {PIL.__version__}",
        f"- quantcli {quantcli.__version__}, git {_git_commit()}, core `{Path(quantcli._core.__file__).name}`",
    ]
    if "pngquant" in tools:
        version = subprocess.run(["pngquant", "--version"], capture_output=True, text=True).stdout.strip()
        lines.append(f"- pngquant {version} ({shutil.which('pngquant')})")
    if "sklearn" in tools:
        import sklearn

        lines.append(f"- scikit-learn {sklearn.__version__}")
    lines.append(f"- OMP_NUM_THREADS: {os.environ.get('OMP_NUM_THREADS', 'unset')}")
    return lines


def _git_commit() -> str:
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "-C",
                str(REPO),
                "status",
                "--porcelain",
                "--",
                "cpp",
                "python",
                "CMakeLists.txt",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + (" (cpp/ or python/ modified)" if dirty.strip() else "")


def write_csv(rows: list[Row], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            [
                "image",
                "width",
                "height",
                "k",
                "tool",
                "seconds",
                "cpu_seconds",
                "bytes",
                "psnr_db",
                "colors",
                "tool_reported_psnr_db",
                "all_times",
                "error",
            ]
        )
        for r in rows:
            writer.writerow(
                [
                    r.image,
                    r.width,
                    r.height,
                    r.k,
                    r.tool,
                    f"{r.seconds:.6f}",
                    f"{r.cpu_seconds:.6f}",
                    r.bytes_out,
                    f"{r.psnr:.4f}",
                    r.colors,
                    "" if math.isnan(r.tool_psnr) else f"{r.tool_psnr:.4f}",
                    " ".join(f"{t:.6f}" for t in r.times),
                    r.error,
                ]
            )


# ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark quantcli against pngquant, Pillow and scikit-learn KMeans on ~2 MP "
        "photographs: time per image, PSNR of the decoded output, and PNG size.",
        epilog="Writes OUT/compress.md and OUT/compress.csv; outputs go to bench/work/compress/, "
        "the corpus to bench/data/corpus-2mp/ (both gitignored).",
    )
    parser.add_argument(
        "--images",
        type=int,
        default=12,
        metavar="N",
        help="number of corpus images, taken in a fixed order (default: 12)",
    )
    parser.add_argument(
        "--ks",
        default="16,256",
        metavar="K,K",
        help="palette sizes, comma-separated (default: 16,256)",
    )
    parser.add_argument(
        "--tools",
        default=",".join(TOOLS),
        metavar="LIST",
        help=f"comma-separated subset of {','.join(TOOLS)} (default: all)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="R",
        help="runs per tool and image; the fastest counts (default: 1)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=BENCH / "results",
        metavar="DIR",
        help="folder for compress.md and compress.csv (default: bench/results)",
    )
    args = parser.parse_args(argv)
    args.ks = [int(k) for k in args.ks.split(",") if k.strip()]
    args.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = sorted(set(args.tools) - set(TOOLS))
    if unknown:
        parser.error(f"unknown tool(s) {', '.join(unknown)}; choose from {', '.join(TOOLS)}")
    if any(not 2 <= k <= 256 for k in args.ks):
        parser.error("every K must be from 2 to 256")
    if args.images < 1 or args.repeat < 1:
        parser.error("--images and --repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _import_quantcli()
    if "pngquant" in args.tools and shutil.which("pngquant") is None:
        sys.exit("pngquant not found: apt-get install pngquant (or drop it from --tools)")
    command = "python bench/bench_compress.py" + "".join(f" {shlex.quote(a)}" for a in sys.argv[1:])

    print(f"preparing corpus in {CORPUS_DIR.relative_to(REPO)}")
    images = prepare_corpus(args.images)
    print(f"warming up {', '.join(args.tools)}")
    warm_up(args.tools)

    rows: list[Row] = []
    load_before = os.getloadavg()
    started = time.perf_counter()
    for k in args.ks:
        for i, image in enumerate(images, 1):
            original = load_rgb(image.path)
            image_rows = measure_image(args.tools, image, original, k, args.repeat)
            rows += image_rows
            for row in image_rows:
                status = (
                    f"ERROR {row.error}"
                    if row.error
                    else (f"{row.seconds:7.3f} s  {row.psnr:6.2f} dB  {row.bytes_out:>9,} B  {row.colors:>3} colours")
                )
                print(
                    f"K={k:<3} [{i:>2}/{len(images)}] {image.name:<24} {row.tool:<13} {status}",
                    flush=True,
                )

    elapsed, load_after = time.perf_counter() - started, os.getloadavg()
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(rows, args.out / "compress.csv")
    input_bytes = sum(im.path.stat().st_size for im in images)
    sections, checks = [], []
    for k in args.ks:
        summaries = [s for t in args.tools if (s := summarise(rows, t, k)) is not None]
        sections.append(markdown_table(summaries, k, input_bytes))
        lines = target_lines({s.tool: s for s in summaries}, k)
        checks += lines if k == 256 else [f"{ln} (informational; the targets are at K=256)" for ln in lines]
    if 256 not in args.ks:
        checks.insert(0, "SKIP: the targets are defined at K=256, which this run did not include")

    sizes = sorted({(r.width, r.height) for r in rows})
    report = [
        "# Compression benchmark",
        "",
        f"Command: `{command}` (from the repository root; took {elapsed:.0f} s after the corpus "
        f"was ready; 1-minute load average {load_before[0]:.2f} before, {load_after[0]:.2f} after)",
        "",
        *machine_description(args.tools),
        "",
        *busy_warning(load_before[0], load_after[0]),
        f"Corpus: {len(images)} photographs ({', '.join(im.name for im in images)}), each resized "
        f"with Pillow LANCZOS to about {TARGET_PIXELS / 1e6:.0f} megapixels, keeping the aspect "
        "ratio (large photos scaled down, the small scikit-image samples scaled up), saved as "
        f"RGB PNG; sizes from {sizes[0][0]}x{sizes[0][1]} to {sizes[-1][0]}x{sizes[-1][1]}.",
        "",
        "Method: images one at a time, tools one after another, each timed around its whole call "
        "(decode, quantize, encode, write; subprocess tools include process start-up), after one "
        f"untimed warm-up run per tool on a 64x64 image; {args.repeat} timed run(s) per tool and "
        "image, taken in turns across the tools, the fastest kept (with its CPU time: user + "
        "system, all threads, children included). Every output PNG is decoded with Pillow, "
        "converted to RGB and "
        "compared with the original pixels: PSNR over all pixels and channels, then the mean of "
        'the per-image PSNRs in dB. "Speed vs pngquant" is pngquant\'s median time over the '
        "tool's (above 1 is faster); \"bytes vs pngquant\" is total output bytes over pngquant's. "
        "quantcli runs one image on all usable cores (its own threads), Pillow on one thread; "
        "pngquant (libimagequant) and scikit-learn use OpenMP on every usable core.",
        "",
        "Tools: quantcli `compress_file(src, dst, k=K, force=True)`, default options (median-cut "
        "init, k-means stopping at 0.2% improvement, run margin 4, no dither, zlib level 6, "
        "row filters chosen from a sample); the CLI row runs "
        "`python -m quantcli compress SRC -o DST -k K --force --quiet`; "
        "`pngquant --nofs --speed 3 K --force --output DST SRC`; "
        "Pillow `Image.open(src).quantize(K, method=MEDIANCUT, dither=NONE)` saved with "
        "`optimize=False`; scikit-learn's colour-quantization example (`KMeans(n_clusters=K, "
        'n_init="auto", random_state=0)`, i.e. one k-means++ run, fit on '
        f"`shuffle(pixels, random_state=0, n_samples={SKLEARN_SAMPLE})` instead of the example's "
        "1,000, then `predict` on every pixel), palette PNG written by Pillow.",
        "",
        *sections,
        "",
        "## Targets",
        "",
        "```",
        *checks,
        "```",
        "",
        "Raw rows: `compress.csv` (one per image, K and tool).",
        "",
    ]
    (args.out / "compress.md").write_text("\n".join(report))
    print()
    print("\n\n".join(sections))
    print()
    print("\n".join(checks))
    print(f"\nwrote {args.out / 'compress.md'} and {args.out / 'compress.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
