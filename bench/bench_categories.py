"""Benchmark: quantcli against pngquant 3 per kind of image, on the broad corpus's two halves (issue 19).

For every image of ``bench/corpus.py``'s corpus and every K, each tool writes a PNG at its
defaults: quantcli (in-process, :func:`quantcli.compress_bytes` on the file's bytes: the path the
CLI takes), pngquant 3 (the ``pngquant-cli`` wheel, a subprocess per file), pngquant 3 followed
by oxipng ``-o2`` (pyoxipng) and Pillow's ``quantize``. Every output is decoded with Pillow and
scored against its source with SSIMULACRA2 and PSNR (``scores.py``: RGBA composited on a dark
and a light grey, the lower score kept). The ``--quality 0-Q`` sweep runs pngquant at each Q
of ``--sweep`` and quantcli along ``--quantcli-sweep``, at K=256, and asks how many bytes
quantcli needs to reach pngquant's mean SSIMULACRA2 in each category.

The tables are per half (tuning, checking), per K and per category; the PASS/FAIL lines check
issue 19's targets on the checking half. Tune on the tuning half only.

Reference tools' results (bytes, scores) are cached per image, tool, setting and tool version in
``bench/work/categories/cache.json``, and every score per (source, decoded output) pair, so a run
for a quantcli candidate only runs quantcli (and scores only outputs it has not seen)::

    python bench/corpus.py                                       # make the corpus once (~1 min)
    python bench/bench_categories.py --jobs 2                    # everything, both halves
    python bench/bench_categories.py --half tuning --limit 5 --no-sweep --k 64 \\
        --quantcli-options '{"dither": 0.7}' --name tune-dither07    # a candidate, quickly
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import corpus
import numpy as np
from machine import header_lines
from PIL import Image
from scores import PSNR_CAP, Scorer, decode_rgba

BENCH = Path(__file__).resolve().parent
WORK = BENCH / "work" / "categories"
CACHE = WORK / "cache.json"
KS = (256, 64, 16)
TOOLS = ("quantcli", "pngquant", "pngquant+oxipng", "pillow")
TOOL_NAMES = {
    "quantcli": "quantcli",
    "pngquant": "pngquant 3",
    "pngquant+oxipng": "pngquant 3 + oxipng -o2",
    "pillow": "Pillow quantize",
}
# pngquant's --quality 0-Q points the target is stated at, and quantcli's curve around them.
SWEEP = (60, 80, 90)
QUANTCLI_SWEEP = (40, 50, 60, 70, 80, 85, 90, 95, 100)
# Issue 19's targets on the checking half: bytes ratio to pngquant 3 at each K, the sweep's ratio,
# the largest single-image ratio at K=256.
BYTES_TARGET = {256: 0.85, 64: 0.85, 16: 0.90}
SWEEP_TARGET = 0.85
WORST_TARGET = 1.05
ALL = "all"


@dataclass
class Row:
    """One output: image, setting (``k256`` or ``q80``: K=256 with ``--quality 0-80``), tool and measures."""

    image: str  # category/name
    category: str
    half: str
    setting: str
    tool: str
    bytes: int | None = None
    ssimulacra2: float | None = None
    psnr: float | None = None
    seconds: float = 0.0
    error: str | None = None


# ---------------------------------------------------------------------------------------
# Tools: each returns the PNG it writes for one source file.


def run_quantcli(src: Path, k: int, options: dict, quality: int | None = None) -> bytes:
    import quantcli

    opts = quantcli.QuantizeOptions(**{"k": k, **options})
    png, _ = quantcli.compress_bytes(
        src.read_bytes(), opts, src.name, quality=None if quality is None else (0, quality)
    )
    return png


def run_pngquant(src: Path, k: int, quality: int | None = None) -> bytes:
    exe = shutil.which("pngquant") or "pngquant"
    cmd = [exe, str(k), "--force", "--output", "-", str(src)]
    if quality is not None:
        cmd[2:2] = ["--quality", f"0-{quality}"]
    done = subprocess.run(cmd, capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} exited {done.returncode}: {done.stderr.decode(errors='replace')[:200]}")
    return done.stdout


def run_oxipng(png: bytes) -> bytes:
    import oxipng

    return oxipng.optimize_from_memory(png, level=2)


def run_pillow(src: Path, k: int) -> bytes:
    import io

    with Image.open(src) as im:
        # Pillow's defaults: median cut with Floyd-Steinberg for RGB (grey is given as RGB), fast
        # octree for RGBA (the only default method that keeps alpha).
        mode = "RGBA" if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info else "RGB"
        out = im.convert(mode).quantize(k)
    buf = io.BytesIO()
    out.save(buf, format="PNG")
    return buf.getvalue()


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    import quantcli

    def pkg(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "?"

    pq = subprocess.run([shutil.which("pngquant") or "pngquant", "--version"], capture_output=True, text=True)
    commit = subprocess.run(["git", "-C", str(BENCH), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return {
        "quantcli": f"{quantcli.__version__} ({commit.stdout.strip() or '?'})",
        "pngquant": pq.stdout.strip() or "?",
        "pyoxipng": pkg("pyoxipng"),
        "Pillow": Image.__version__,
        "ssimulacra2": pkg("ssimulacra2"),
    }


# ---------------------------------------------------------------------------------------
# Measuring one image (in a worker process)


@dataclass(frozen=True)
class Plan:
    """What to run on every image."""

    ks: tuple[int, ...]
    tools: tuple[str, ...]
    sweep: tuple[int, ...]
    quantcli_sweep: tuple[int, ...]
    quantcli_options: dict
    versions: dict


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:24]


def _pixels_key(pixels: np.ndarray) -> str:
    return _sha(repr(pixels.shape).encode() + pixels.tobytes())


def measure(args: tuple[corpus.CorpusImage, Plan, dict, dict]) -> tuple[list[Row], dict, dict]:
    """Every row of one image: (rows, new reference-tool cache entries, new score cache entries)."""
    image, plan, tool_cache, score_cache = args
    src = image.file()
    data = src.read_bytes()
    src_key = _sha(data)
    scorer: Scorer | None = None
    new_tools: dict[str, dict] = {}
    new_scores: dict[str, list[float]] = {}
    rows: list[Row] = []

    def score(png: bytes) -> tuple[float, float]:
        nonlocal scorer
        pixels = decode_rgba(png)
        key = f"{src_key}|{_pixels_key(pixels)}"
        if key in score_cache:
            return tuple(score_cache[key])  # type: ignore[return-value]
        if key not in new_scores:
            if scorer is None:
                scorer = Scorer(decode_rgba(data))
            new_scores[key] = list(scorer.score(pixels))
        return tuple(new_scores[key])  # type: ignore[return-value]

    def row(setting: str, tool: str, make, cache_key: str | None) -> bytes | None:
        """Run ``make`` (or take the cached result), score its output, append the row."""
        cached = tool_cache.get(cache_key) if cache_key else None
        if cached is not None:
            rows.append(Row(image.key, image.category, image.half, setting, tool, **cached))
            return None
        start = time.perf_counter()
        try:
            png = make()
        except Exception as exc:  # one failed tool is one error row, not a failed run
            rows.append(Row(image.key, image.category, image.half, setting, tool, error=f"{type(exc).__name__}: {exc}"))
            return None
        seconds = time.perf_counter() - start
        s2, p = score(png)
        r = Row(image.key, image.category, image.half, setting, tool, len(png), s2, p, seconds)
        rows.append(r)
        if cache_key:
            new_tools[cache_key] = {"bytes": r.bytes, "ssimulacra2": s2, "psnr": p, "seconds": seconds}
        return png

    def ref_key(tool: str, setting: str) -> str:
        v = plan.versions
        version = {"pngquant": v["pngquant"], "pillow": v["Pillow"]}.get(tool, f"{v['pngquant']}+{v['pyoxipng']}")
        return f"{tool}|{setting}|{version}|{v['ssimulacra2']}|{src_key}"

    qopts = plan.quantcli_options
    for k in plan.ks:
        setting = f"k{k}"
        if "quantcli" in plan.tools:
            row(setting, "quantcli", lambda k=k: run_quantcli(src, k, qopts), None)
        pq_png: bytes | None = None
        if "pngquant" in plan.tools or "pngquant+oxipng" in plan.tools:
            # pngquant's PNG is needed for oxipng even when pngquant's own row is cached.
            pq_key = ref_key("pngquant", setting)
            ox_key = ref_key("pngquant+oxipng", setting)
            if "pngquant" in plan.tools:
                pq_png = row(setting, "pngquant", lambda k=k: run_pngquant(src, k), pq_key)
            if "pngquant+oxipng" in plan.tools:
                row(
                    setting,
                    "pngquant+oxipng",
                    lambda k=k, png=pq_png: run_oxipng(png if png is not None else run_pngquant(src, k)),
                    ox_key,
                )
        if "pillow" in plan.tools:
            row(setting, "pillow", lambda k=k: run_pillow(src, k), ref_key("pillow", setting))
    for q in plan.sweep:
        row(f"q{q}", "pngquant", lambda q=q: run_pngquant(src, 256, q), ref_key("pngquant", f"q{q}"))
    if plan.sweep:
        for q in plan.quantcli_sweep:
            row(f"q{q}", "quantcli", lambda q=q: run_quantcli(src, 256, qopts, q), None)
    return rows, new_tools, new_scores


# ---------------------------------------------------------------------------------------
# The cache


def load_cache(path: Path) -> dict:
    try:
        cache = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"tools": {}, "scores": {}}
    return {"tools": cache.get("tools", {}), "scores": cache.get("scores", {})}


def save_cache(path: Path, cache: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(cache))
    tmp.replace(path)


def run(images: list[corpus.CorpusImage], plan: Plan, jobs: int, cache_path: Path | None) -> list[Row]:
    """Measure every image (``jobs`` processes), the cache read before and written as results arrive."""
    cache = load_cache(cache_path) if cache_path else {"tools": {}, "scores": {}}
    # Largest first, so the last image to finish is a small one.
    order = sorted(images, key=lambda im: -im.width * im.height)
    tasks = [(im, plan, _subset(cache["tools"], im), cache["scores"]) for im in order]
    rows: list[Row] = []
    last_save = time.monotonic()
    start = time.monotonic()
    if jobs > 1:
        # One thread per tool per process: the processes are the parallelism.
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        pool = get_context("fork").Pool(jobs)
        results: Iterable = pool.imap_unordered(measure, tasks)
    else:
        pool = None
        results = map(measure, tasks)
    try:
        for done, (image_rows, new_tools, new_scores) in enumerate(results, 1):
            rows += image_rows
            cache["tools"].update(new_tools)
            cache["scores"].update(new_scores)
            name = image_rows[0].image if image_rows else "?"
            print(f"[{done}/{len(tasks)} {time.monotonic() - start:.0f}s] {name}", flush=True)
            if cache_path and time.monotonic() - last_save > 30:
                save_cache(cache_path, cache)
                last_save = time.monotonic()
    finally:
        if pool is not None:
            pool.close()
            pool.join()
        if cache_path:
            save_cache(cache_path, cache)
    return rows


def _subset(tools: dict, image: corpus.CorpusImage) -> dict:
    """The cache entries a worker may need for one image (keys end with the source's hash)."""
    key = _sha(image.file().read_bytes())
    return {k: v for k, v in tools.items() if k.endswith(key)}


# ---------------------------------------------------------------------------------------
# Report


@dataclass
class Summary:
    images: int
    ssimulacra2: float
    psnr: float
    bytes: int


def summarize(rows: list[Row]) -> Summary:
    ok = [r for r in rows if r.bytes is not None]
    if not ok:
        return Summary(0, math.nan, math.nan, 0)
    return Summary(
        len(ok),
        float(np.mean([r.ssimulacra2 for r in ok])),
        float(np.mean([min(r.psnr, PSNR_CAP) for r in ok])),
        sum(r.bytes for r in ok),
    )


def index(rows: list[Row]) -> dict[tuple[str, str, str], Row]:
    return {(r.image, r.setting, r.tool): r for r in rows}


def select(rows: list[Row], half: str, category: str, setting: str, tool: str) -> list[Row]:
    return [
        r
        for r in rows
        if r.half == half and (category == ALL or r.category == category) and r.setting == setting and r.tool == tool
    ]


def paired(rows: list[Row], half: str, category: str, setting: str, tool: str, ref: str) -> tuple[list[Row], list[Row]]:
    """The rows of ``tool`` and ``ref`` on the images where both wrote an output, in the same order."""
    by_ref = {r.image: r for r in select(rows, half, category, setting, ref) if r.bytes is not None}
    mine = [r for r in select(rows, half, category, setting, tool) if r.bytes is not None and r.image in by_ref]
    return mine, [by_ref[r.image] for r in mine]


def worst(rows: list[Row], half: str, category: str, setting: str) -> tuple[float, str]:
    """The largest single-image ratio of quantcli's bytes to pngquant 3's, and that image."""
    mine, ref = paired(rows, half, category, setting, "quantcli", "pngquant")
    if not mine:
        return math.nan, "-"
    ratio, name = max((m.bytes / r.bytes, m.image) for m, r in zip(mine, ref, strict=True))
    return ratio, name


def ratio(rows: list[Row], half: str, category: str, setting: str, tool: str, ref: str = "pngquant") -> float:
    mine, theirs = paired(rows, half, category, setting, tool, ref)
    total = sum(r.bytes for r in theirs)
    return sum(r.bytes for r in mine) / total if total else math.nan


def k_table(rows: list[Row], half: str, k: int, categories: list[str]) -> list[str]:
    setting = f"k{k}"
    tools = sorted({r.tool for r in rows if r.setting == setting}, key=TOOLS.index)
    score_cols = [t for t in tools if t != "pngquant+oxipng"]  # oxipng is lossless: pngquant's scores
    short = {"quantcli": "quantcli", "pngquant": "pngquant", "pngquant+oxipng": "pq+oxipng", "pillow": "Pillow"}
    head = ["category", "images"]
    head += [f"S2 {short[t]}" for t in score_cols] + [f"PSNR {short[t]}" for t in score_cols]
    head += [f"bytes {short[t]}" for t in tools if t in ("quantcli", "pngquant")]
    pairs = (("quantcli", "pngquant"), ("quantcli", "pngquant+oxipng"), ("pngquant+oxipng", "pngquant"))
    ratios = [(t, ref) for t, ref in (*pairs, ("pillow", "pngquant")) if t in tools and ref in tools]
    head += [f"{short[t]} / {short[ref]}" for t, ref in ratios]
    both = "quantcli" in tools and "pngquant" in tools
    if both:
        head.append("worst image, quantcli / pngquant")
    lines = [f"#### {half} half, K = {k}", "", "| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for category in categories:
        sums = {t: summarize(select(rows, half, category, setting, t)) for t in tools}
        n = max((s.images for s in sums.values()), default=0)
        if not n:
            continue
        cells = [f"**{category}**" if category == ALL else category, str(n)]
        cells += [f"{sums[t].ssimulacra2:.2f}" for t in score_cols]
        cells += [f"{sums[t].psnr:.2f}" for t in score_cols]
        cells += [f"{sums[t].bytes:,}" for t in tools if t in ("quantcli", "pngquant")]
        cells += [f"{ratio(rows, half, category, setting, t, ref):.3f}x" for t, ref in ratios]
        if both:
            w, name = worst(rows, half, category, setting)
            cells.append(f"{w:.2f}x {name.split('/', 1)[-1]}")
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def curve(rows: list[Row], half: str, category: str, qs: tuple[int, ...]) -> list[tuple[float, int]]:
    """quantcli's --quality curve in a category: (mean SSIMULACRA2, total bytes) per Q, sorted by score."""
    points = []
    for q in qs:
        s = summarize(select(rows, half, category, f"q{q}", "quantcli"))
        if s.images:
            points.append((s.ssimulacra2, s.bytes))
    return sorted(points)


def bytes_at(points: list[tuple[float, int]], target: float) -> float:
    """quantcli's total bytes to reach a mean SSIMULACRA2 along its curve (inf beyond its best score).

    A point's bytes are first lowered to the fewest bytes of any point scoring at least as much
    (a higher Q that happens to write fewer bytes is the better choice), then interpolated
    linearly in the score. Below the curve's lowest score, its fewest bytes (an upper bound).
    """
    if not points:
        return math.nan
    scores = [s for s, _ in points]
    if target > scores[-1]:
        return math.inf
    envelope = [float(min(b for _, b in points[i:])) for i in range(len(points))]
    if target <= scores[0]:
        return envelope[0]
    return float(np.interp(target, scores, envelope))


def sweep_rows(rows: list[Row], half: str, category: str, sweep: tuple[int, ...], qs: tuple[int, ...]):
    """Per Q: (pngquant mean SSIMULACRA2, pngquant bytes, quantcli bytes at that score, ratio)."""
    points = curve(rows, half, category, qs)
    out = []
    for q in sweep:
        pq = summarize(select(rows, half, category, f"q{q}", "pngquant"))
        if not pq.images:
            continue
        need = bytes_at(points, pq.ssimulacra2)
        out.append((q, pq.ssimulacra2, pq.bytes, need, need / pq.bytes if pq.bytes else math.nan))
    return out


def sweep_table(rows: list[Row], half: str, categories: list[str], sweep, qs) -> list[str]:
    lines = [
        f"#### {half} half, `--quality 0-Q` at K=256",
        "",
        "| category | Q | pngquant 3 SSIMULACRA2 | pngquant 3 bytes | quantcli bytes at that score | ratio |"
        " quantcli curve (SSIMULACRA2: bytes) |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for category in categories:
        points = curve(rows, half, category, qs)
        shown = ", ".join(f"{s:.1f}: {b:,}" for s, b in points)
        for i, (q, s, b, need, r) in enumerate(sweep_rows(rows, half, category, sweep, qs)):
            name = f"**{category}**" if category == ALL else category
            lines.append(f"| {name} | {q} | {s:.2f} | {b:,} | {need:,.0f} | {r:.3f}x | {shown if i == 0 else ''} |")
    return [*lines, ""]


def verdicts(rows: list[Row], ks: tuple[int, ...], categories: list[str], sweep, qs) -> list[str]:
    """PASS/FAIL lines for issue 19's targets on the checking half, each over every category and overall."""
    half = "checking"
    lines = []

    def verdict(title: str, failures: list[str], checked: int) -> None:
        if not checked:
            return
        status = "PASS" if not failures else "FAIL"
        lines.append(f"- {status}: {title}" + (f" (misses: {'; '.join(failures)})" if failures else ""))

    for k in ks:
        setting = f"k{k}"
        if not select(rows, half, ALL, setting, "quantcli") or not select(rows, half, ALL, setting, "pngquant"):
            continue
        bad_score, bad_bytes, checked = [], [], 0
        for category in categories:
            mine, ref = paired(rows, half, category, setting, "quantcli", "pngquant")
            if not mine:
                continue
            checked += 1
            q, p = summarize(mine), summarize(ref)
            if q.ssimulacra2 < p.ssimulacra2:
                bad_score.append(f"{category} {q.ssimulacra2:.2f} < {p.ssimulacra2:.2f}")
            r = q.bytes / p.bytes
            if r > BYTES_TARGET.get(k, 0.85):
                bad_bytes.append(f"{category} {r:.3f}x")
        verdict(f"K={k}: quantcli mean SSIMULACRA2 >= pngquant 3's", bad_score, checked)
        verdict(f"K={k}: quantcli total bytes <= {BYTES_TARGET.get(k, 0.85):.2f}x pngquant 3's", bad_bytes, checked)
        if k == 256:
            mine, ref = paired(rows, half, ALL, setting, "quantcli", "pngquant")
            over = sorted(
                (
                    (m.bytes / r.bytes, m.image)
                    for m, r in zip(mine, ref, strict=True)
                    if m.bytes > WORST_TARGET * r.bytes
                ),
                reverse=True,
            )
            verdict(
                f"K=256: no single image above {WORST_TARGET:.2f}x pngquant 3's bytes",
                [f"{name} {x:.2f}x" for x, name in over[:12]]
                + ([f"and {len(over) - 12} more"] if len(over) > 12 else []),
                len(mine),
            )
    if sweep:
        bad, checked = [], 0
        for category in categories:
            for q, _, _, _, r in sweep_rows(rows, half, category, sweep, qs):
                checked += 1
                if not r <= SWEEP_TARGET:
                    bad.append(f"{category} Q={q} {r:.3f}x")
        verdict(
            f"--quality 0-Q (Q = {', '.join(map(str, sweep))}): quantcli bytes at pngquant 3's SSIMULACRA2 "
            f"<= {SWEEP_TARGET:.2f}x",
            bad,
            checked,
        )
    return lines


def worst_list(rows: list[Row], half: str, k: int, count: int = 10) -> list[str]:
    """The images with the largest quantcli / pngquant 3 byte ratio and the largest SSIMULACRA2 deficit."""
    mine, ref = paired(rows, half, ALL, f"k{k}", "quantcli", "pngquant")
    if not mine:
        return []
    pairs = list(zip(mine, ref, strict=True))
    by_bytes = sorted(pairs, key=lambda p: -p[0].bytes / p[1].bytes)[:count]
    by_score = sorted(pairs, key=lambda p: p[0].ssimulacra2 - p[1].ssimulacra2)[:count]
    fmt = "{} ({:.2f}x bytes, SSIMULACRA2 {:.1f} vs {:.1f})"
    return [
        f"- K={k}, largest byte ratio: "
        + "; ".join(fmt.format(m.image, m.bytes / r.bytes, m.ssimulacra2, r.ssimulacra2) for m, r in by_bytes),
        f"- K={k}, largest SSIMULACRA2 deficit: "
        + "; ".join(fmt.format(m.image, m.bytes / r.bytes, m.ssimulacra2, r.ssimulacra2) for m, r in by_score),
    ]


def report(rows: list[Row], args, plan: Plan, images: list[corpus.CorpusImage], seconds: float) -> list[str]:
    present = [c for c in corpus.CATEGORIES if any(im.category == c for im in images)]
    categories = [*present, ALL]
    halves = [h for h in corpus.HALVES if any(im.half == h for im in images)]
    v = plan.versions
    options = json.dumps(plan.quantcli_options) if plan.quantcli_options else "defaults"
    lines = [
        "# quantcli against pngquant 3, per kind of image (issue 19)",
        "",
        f"Command: `{shlex.join(['python', 'bench/bench_categories.py', *sys.argv[1:]])}`",
        "",
        *header_lines(", ".join(f"{k} {x}" for k, x in v.items()), shared=True),
        f"- quantcli options: {options}; every other tool at its defaults; {args.jobs} processes; "
        f"{seconds / 60:.1f} min",
        "",
        "Corpus (`bench/corpus.py`; images per category and half, tuning / checking split by source):",
        "",
        *corpus.counts(images),
        "",
        "S2: SSIMULACRA2 (higher is better: 90 visually lossless, 70 high, 50 medium) and PSNR (dB; a lossless "
        f"image counts as {PSNR_CAP:g}) are means over the images; RGBA is composited on grey 26 and 230 "
        "and the lower score kept. Bytes are whole PNG files, summed; the ratios are to pngquant 3 at its "
        "defaults on the same images (pq+oxipng: pngquant 3 then oxipng -o2, pngquant's pixels and scores). "
        "The sweep: pngquant 3 `--quality 0-Q` at each Q, and the bytes quantcli's own `--quality` curve "
        "(its Q in " + ", ".join(map(str, plan.quantcli_sweep)) + ") needs for pngquant's mean score in the "
        "category, interpolated.",
        "",
    ]
    for half in halves:
        lines += [f"### {half.capitalize()} half", ""]
        for k in args.k:
            lines += k_table(rows, half, k, categories)
        if plan.sweep:
            lines += sweep_table(rows, half, categories, plan.sweep, plan.quantcli_sweep)
    if "checking" in halves:
        lines += [
            "### Targets (issue 19), checking half",
            "",
            *verdicts(rows, tuple(args.k), categories, plan.sweep, plan.quantcli_sweep),
            "",
        ]
    for half in halves:
        notes = [line for k in args.k for line in worst_list(rows, half, k)]
        if notes:
            lines += [f"### Worst images, {half} half", "", *notes, ""]
    errors = [r for r in rows if r.error]
    if errors:
        lines += ["### Errors", "", *[f"- {r.image} {r.setting} {r.tool}: {r.error}" for r in errors], ""]
    return lines


# ---------------------------------------------------------------------------------------


def parse_options(text: str) -> dict:
    """``--quantcli-options``: a JSON object, or ``name=value,name=value`` (values read as JSON when they parse)."""
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        value = json.loads(text)
        if not isinstance(value, dict):
            raise ValueError("--quantcli-options must be a JSON object")
        return value
    options = {}
    for item in text.split(","):
        name, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"--quantcli-options: {item!r} is not name=value")
        try:
            options[name.strip()] = json.loads(raw)
        except ValueError:
            options[name.strip()] = raw.strip()
    return options


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--half", choices=("tuning", "checking", "both"), default="both")
    parser.add_argument("--categories", default=",".join(corpus.CATEGORIES), help="comma-separated")
    parser.add_argument("--k", type=_ints, default=KS, help="palette sizes, comma-separated (default 256,64,16)")
    parser.add_argument("--limit", type=int, default=0, help="at most N images per category and half (0: all)")
    parser.add_argument("--jobs", type=int, default=1, help="processes (keep at most 2 on the shared machine)")
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma-separated, of: " + ", ".join(TOOLS))
    parser.add_argument("--quantcli-options", default="", help='QuantizeOptions fields: JSON or "dither=0.5,level=9"')
    parser.add_argument("--sweep", type=_ints, default=SWEEP, help="pngquant's --quality 0-Q points")
    parser.add_argument("--quantcli-sweep", type=_ints, default=QUANTCLI_SWEEP, help="quantcli's --quality curve")
    parser.add_argument("--no-sweep", action="store_true", help="skip the --quality sweep")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the reference tools' cache")
    parser.add_argument("--name", default="categories", help="results file stem")
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    args = parser.parse_args()

    tools = tuple(t for t in args.tools.split(",") if t)
    if set(tools) - set(TOOLS):
        parser.error(f"unknown tools: {', '.join(sorted(set(tools) - set(TOOLS)))}")
    categories = tuple(c for c in args.categories.split(",") if c)
    if set(categories) - set(corpus.CATEGORIES):
        parser.error(f"unknown categories: {', '.join(sorted(set(categories) - set(corpus.CATEGORIES)))}")
    try:
        qopts = parse_options(args.quantcli_options)
        import quantcli

        quantcli.QuantizeOptions(**qopts)  # refuse a bad candidate before the run
    except Exception as exc:
        parser.error(f"--quantcli-options: {exc}")
    halves = corpus.HALVES if args.half == "both" else (args.half,)
    images = corpus.load(categories=categories, halves=halves)
    if args.limit:
        kept: list[corpus.CorpusImage] = []
        for c in categories:
            for h in halves:
                kept += [im for im in images if im.category == c and im.half == h][: args.limit]
        images = kept
    sweep = () if args.no_sweep else args.sweep
    plan = Plan(tuple(args.k), tools, sweep, args.quantcli_sweep, qopts, versions())
    print(f"{len(images)} images ({', '.join(halves)}), K = {args.k}, tools: {', '.join(tools)}", flush=True)
    start = time.monotonic()
    rows = run(images, plan, max(1, args.jobs), None if args.no_cache else CACHE)
    lines = report(rows, args, plan, images, time.monotonic() - start)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.md").write_text("\n".join(lines))
    with (args.out / f"{args.name}.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(asdict(rows[0]).keys()) if rows else ["image"])
        writer.writeheader()
        for r in sorted(rows, key=lambda r: (r.image, r.setting, r.tool)):
            d = asdict(r)
            for key in ("ssimulacra2", "psnr", "seconds"):
                if isinstance(d[key], float):
                    d[key] = f"{d[key]:.4f}"
            writer.writerow(d)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
