"""Benchmark: the Spark engine against the local engine, MLlib KMeans, and a shared palette.

Four parts, in one run, written to ``bench/results/spark.md`` (a part run alone replaces
only its own section):

1. ``compress`` on a folder of real photos (``/usr/share/backgrounds/mate``): the local
   engine on N threads vs ``--engine spark --master local[N]``. The SparkSession is
   started first and its start is reported apart (excluded from the engine's time, as
   the issue asks); the Spark engine runs twice, the first run paying for the Python
   workers' start.
2. Per image, on a few photos resized to 640x480: MLlib's way (one row per pixel,
   ``VectorAssembler``, ``KMeans(k)``, predict) vs quantcli's ``compress_pixels``;
   seconds and PSNR of the 8-bit result.
3. One shared palette for ~2000 thumbnails cut from the photos: local and Spark
   (``--palette shared``: two reads of the data), and MLlib KMeans on every pixel of the
   collection (one read per iteration), with the passes each design makes.
4. Small files: 1k, 5k and 20k thumbnails, local engine vs Spark (listing, planning job
   and compress job; the JVM start excluded), outputs compared byte for byte.

Run from the repository root with quantcli importable and the spark extra installed::

    python bench/bench_spark.py                  # everything, K=64, local[2]
    python bench/bench_spark.py --parts 4 --small 1000,5000,20000

Images are copied or cut into ``bench/work/spark/`` (ignored by git).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from machine import cpu_model, ram_gib
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "bench" / "work" / "spark"
RESULTS = REPO / "bench" / "results" / "spark.md"
PHOTOS = Path("/usr/share/backgrounds/mate")

sys.path.insert(0, str(REPO / "python"))
from quantcli import local_engine  # noqa: E402
from quantcli.api import compress_pixels  # noqa: E402
from quantcli.images import read_image  # noqa: E402
from quantcli.options import QuantizeOptions  # noqa: E402
from quantcli.palette import collection_histogram  # noqa: E402
from quantcli.pipeline import Settings  # noqa: E402
from quantcli.planner import Naming  # noqa: E402
from quantcli.request import CompressRequest  # noqa: E402
from quantcli.spark import driver  # noqa: E402
from quantcli.spark.session import DEFAULT_CONF, get_session  # noqa: E402


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def machine() -> str:
    cpu = cpu_model(platform.processor())
    mem = ram_gib()
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
    import pyspark

    return (
        f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM; Python {platform.python_version()}, "
        f"PySpark {pyspark.__version__}, {java}"
    )


def local_compress(src: Path, out: Path, options: QuantizeOptions, workers: int, palette=None):
    """The local engine as the CLI runs it: plan, (pass 1,) run; (seconds, results)."""
    settings = Settings(options=options)
    naming = Naming(suffix=".png", out_dir=str(out))
    start = time.perf_counter()
    planned = list(local_engine.plan([str(src)], naming, recursive=True))
    if palette == "shared":
        settings = replace(settings, palette=local_engine.shared_palette(planned, settings, workers=workers))
    results = list(local_engine.run(planned, settings, workers=workers))
    return time.perf_counter() - start, results


def spark_compress(spark, src: Path, out: Path, options: QuantizeOptions, palette=None):
    """The Spark engine as the CLI runs it, on a running session; (seconds, results)."""
    start = time.perf_counter()
    fit = ("k", "seed", "dither", "max_iter", "tol", "level", "threads", "run_margin", "speed")
    request = CompressRequest(**{name: getattr(options, name) for name in fit}, palette=palette or "per-image")
    _, rows = driver.compress(
        request,
        [str(src)],
        Naming(suffix=".png", out_dir=str(out)),
        recursive=True,
        spark=spark,
    )
    results = list(rows)
    return time.perf_counter() - start, results


def same_tree(a: Path, b: Path) -> bool:
    fa = {p.relative_to(a): p.read_bytes() for p in a.rglob("*.png") if "_quantcli" not in p.parts}
    fb = {p.relative_to(b): p.read_bytes() for p in b.rglob("*.png") if "_quantcli" not in p.parts}
    return fa == fb and len(fa) > 0


def part1(spark, args, lines: list[str]) -> None:
    photos = WORK / "photos"
    if not photos.exists():
        shutil.copytree(PHOTOS, photos)
    files = sorted(p for p in photos.rglob("*") if p.is_file())
    size = sum(p.stat().st_size for p in files) / 1e6
    options = QuantizeOptions(k=args.k)
    out = WORK / "out"
    shutil.rmtree(out, ignore_errors=True)
    t_local, r_local = local_compress(photos, out / "local", options, args.cores)
    t_spark1, r1 = spark_compress(spark, photos, out / "spark1", options)
    t_spark2, _ = spark_compress(spark, photos, out / "spark2", options)
    ok = same_tree(out / "local", out / "spark1") and same_tree(out / "local", out / "spark2")
    written = sum(r.status == "written" for r in r1)
    lines += [
        f"## 1. `compress` on {len(files)} photos ({size:.1f} MB, {PHOTOS}), K={args.k}",
        "",
        "| engine | seconds | vs local |",
        "| --- | ---: | ---: |",
        f"| local engine, `--jobs {args.cores}` | {t_local:.1f} | 1.00x |",
        f"| `--engine spark --master local[{args.cores}]`, first run (Python workers start) "
        f"| {t_spark1:.1f} | {t_spark1 / t_local:.2f}x |",
        f"| `--engine spark --master local[{args.cores}]`, second run | {t_spark2:.1f} | {t_spark2 / t_local:.2f}x |",
        "",
        f"Spark engine outputs byte-identical to the local engine's: **{ok}** ({written} files). "
        f"Slowest single image (local): {max(r.seconds for r in r_local):.1f} s.",
        "",
    ]
    print("\n".join(lines[-12:]), flush=True)


def thumbnails_640(count: int) -> list[np.ndarray]:
    out = []
    for path in sorted((PHOTOS / "nature").glob("*.jpg"))[:count]:
        with Image.open(path) as im:
            out.append(np.asarray(im.convert("RGB").resize((640, 480), Image.LANCZOS)))
    return out


def mllib_quantize(spark, img: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, int]:
    """MLlib's way: a DataFrame of pixel rows, VectorAssembler, KMeans(k), predict."""
    import pandas as pd
    from pyspark.ml.clustering import KMeans
    from pyspark.ml.feature import VectorAssembler

    px = img.reshape(-1, 3).astype(np.float64)
    frame = spark.createDataFrame(pd.DataFrame({"r": px[:, 0], "g": px[:, 1], "b": px[:, 2]}))
    features = VectorAssembler(inputCols=["r", "g", "b"], outputCol="features").transform(frame)
    features = features.select("features").cache()
    model = KMeans(k=k, seed=seed, featuresCol="features").fit(features)
    labels = np.asarray(model.transform(features).select("prediction").toPandas()["prediction"], dtype=np.int64)
    features.unpersist()
    centres = np.clip(np.rint(np.asarray(model.clusterCenters())), 0, 255).astype(np.uint8)
    return centres[labels].reshape(img.shape), model.summary.numIter


def part2(spark, args, lines: list[str]) -> None:
    images = thumbnails_640(args.mllib_images)
    options = QuantizeOptions(k=args.k)
    rows = []
    for i, img in enumerate(images):
        start = time.perf_counter()
        got, iters = mllib_quantize(spark, img, args.k)
        t_ml = time.perf_counter() - start
        start = time.perf_counter()
        _, q = compress_pixels(np.ascontiguousarray(img), options)
        t_q = time.perf_counter() - start
        # Without run-preferring remap (which trades ~0.05 dB for smaller files).
        _, q0 = compress_pixels(np.ascontiguousarray(img), replace(options, run_margin=0))
        rows.append((i, t_ml, psnr(img, got), iters, t_q, psnr(img, q.to_image()), psnr(img, q0.to_image())))
        print(rows[-1], flush=True)
    lines += [
        f"## 2. One 640x480 image at a time, K={args.k}: MLlib KMeans on pixel rows vs quantcli",
        "",
        "| image | MLlib s | MLlib PSNR | MLlib iterations | quantcli s | quantcli PSNR "
        "| quantcli PSNR, `--run-margin 0` | speed-up |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for i, t_ml, p_ml, iters, t_q, p_q, p_q0 in rows:
        lines.append(
            f"| {i} | {t_ml:.2f} | {p_ml:.2f} | {iters} | {t_q:.4f} | {p_q:.2f} | {p_q0:.2f} | {t_ml / t_q:.0f}x |"
        )
    med_ml = statistics.median(r[1] for r in rows)
    med_q = statistics.median(r[4] for r in rows)
    lines += [
        "",
        f"Median: MLlib {med_ml:.2f} s, quantcli {med_q:.4f} s per image: "
        f"**{med_ml / med_q:.0f}x**; "
        f"mean PSNR MLlib {statistics.mean(r[2] for r in rows):.2f} dB, quantcli "
        f"{statistics.mean(r[5] for r in rows):.2f} dB "
        f"({statistics.mean(r[6] for r in rows):.2f} dB with `--run-margin 0`). "
        "MLlib time covers the DataFrame of "
        "pixels, `fit` (k-means|| init, default maxIter=20) and predicting every pixel; "
        "quantcli time is `compress_pixels` (quantize and PNG encode).",
        "",
    ]
    print("\n".join(lines[-12:]), flush=True)


def _tile_pool(size: tuple[int, int]) -> list[Image.Image]:
    """16 tiles of each photo, scaled down: every photo is decoded once."""
    tiles = []
    for path in sorted(p for p in PHOTOS.rglob("*") if p.suffix.lower() in (".jpg", ".png")):
        with Image.open(path) as im:
            im = im.convert("RGB")
            w, h = im.size
            for y in range(4):
                for x in range(4):
                    box = (x * w // 4, y * h // 4, (x + 1) * w // 4, (y + 1) * h // 4)
                    tiles.append(im.crop(box).resize(size, Image.BILINEAR))
    return tiles


def cut_thumbnails(count: int, size: tuple[int, int] = (96, 72)) -> Path:
    """``count`` distinct PNG thumbnails in 20 folders: tiles of the photos, then turned,
    mirrored and tinted on later rounds so that no two are the same."""
    thumbs = WORK / f"thumbs-{count}"
    if thumbs.exists() and len(list(thumbs.rglob("*.png"))) == count:
        return thumbs
    shutil.rmtree(thumbs, ignore_errors=True)
    pool = _tile_pool(size)
    for n in range(count):
        tile = pool[n % len(pool)]
        variant = n // len(pool)
        if variant:
            tile = tile.rotate(90 * (variant % 4), expand=True)
            if variant % 8 >= 4:
                tile = tile.transpose(Image.FLIP_LEFT_RIGHT)
            if variant >= 8:
                tile = Image.eval(tile, lambda v, shift=variant // 8: min(255, v + shift))
        folder = thumbs / f"d{n % 20:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        tile.save(folder / f"t{n:05d}.png")
    return thumbs


def mllib_collection(spark, thumbs: Path, k: int, max_iter: int, limit: int) -> tuple[float, int, float, int]:
    """MLlib KMeans on every pixel of ``limit`` thumbnails: (seconds, iterations, cost, pixels)."""
    from pyspark.ml.clustering import KMeans
    from pyspark.ml.feature import VectorAssembler

    def decode(batches):
        import pandas as pd

        for batch in batches:
            px = [read_image(bytes(c))[:, :, :3].reshape(-1, 3) for c in batch["content"]]
            allpx = np.concatenate(px).astype(np.float64) if px else np.zeros((0, 3))
            yield pd.DataFrame({"r": allpx[:, 0], "g": allpx[:, 1], "b": allpx[:, 2]})

    names = sorted(thumbs.rglob("*.png"))[:limit]
    start = time.perf_counter()
    frame = spark.read.format("binaryFile").load([str(p) for p in names])
    pixels = frame.select("content").mapInPandas(decode, "r double, g double, b double")
    features = VectorAssembler(inputCols=["r", "g", "b"], outputCol="features").transform(pixels)
    model = KMeans(k=k, seed=0, maxIter=max_iter, featuresCol="features").fit(features)
    n = model.summary.trainingCost, model.summary.numIter
    count = int(sum(model.summary.clusterSizes))
    return time.perf_counter() - start, n[1], n[0], count


def part3(spark, args, lines: list[str]) -> None:
    thumbs = cut_thumbnails(args.thumbs)
    options = QuantizeOptions(k=args.k)
    out = WORK / "out-shared"
    shutil.rmtree(out, ignore_errors=True)
    t_local, r_local = local_compress(thumbs, out / "local", options, args.cores, palette="shared")
    t_spark1, _ = spark_compress(spark, thumbs, out / "spark1", options, palette="shared")
    t_spark, _ = spark_compress(spark, thumbs, out / "spark", options, palette="shared")
    ok = same_tree(out / "local", out / "spark") and same_tree(out / "local", out / "spark1")
    hist = collection_histogram(sorted(thumbs.rglob("*.png")), workers=args.cores)
    from quantcli import _core

    _, _, fit_iters = _core.fit_palette(hist.colors, hist.counts, QuantizeOptions(k=args.k))
    psnr_local = statistics.mean(r.psnr for r in r_local if r.psnr)
    n_pixels = int(hist.counts.sum())
    lines += [
        f"## 3. One shared palette for {len(r_local)} thumbnails (96x72 tiles of the photos), K={args.k}",
        "",
        f"{n_pixels / 1e6:.1f} M pixels, {len(hist.colors) / 1e6:.2f} M distinct colours.",
        "",
        "| design | seconds | passes over the images | k-means iterations | mean PSNR |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| local engine `--palette shared` (`--jobs {args.cores}`) | {t_local:.1f} | 2 "
        f"| {fit_iters} (on the merged histogram, in memory) | {psnr_local:.2f} |",
        f"| `--engine spark --palette shared`, local[{args.cores}], first run (workers start) "
        f"| {t_spark1:.1f} | 2 | {fit_iters} (on the driver) | {psnr_local:.2f} |",
        f"| `--engine spark --palette shared`, local[{args.cores}], second run | {t_spark:.1f} | 2 "
        f"| {fit_iters} (on the driver) | {psnr_local:.2f} |",
    ]
    if args.mllib_iters:
        limit = args.mllib_thumbs
        t_ml, iters, cost, count = mllib_collection(spark, thumbs, args.k, args.mllib_iters, limit)
        ml_psnr = 10 * np.log10(255.0**2 / (cost / (3 * count)))
        lines.append(
            f"| MLlib KMeans on the pixel rows of only {limit} of the thumbnails "
            f"({count / 1e6:.1f} M rows, maxIter={args.mllib_iters}): palette only, no PNGs "
            f"| {t_ml:.1f} | 1 to decode (MLlib caches the rows), then {iters} over the rows "
            f"+ k-means\\|\\| init | {iters} | {ml_psnr:.2f} (training cost, float centres) |"
        )
    lines += [
        "",
        f"Spark and local shared-palette outputs byte-identical: **{ok}**. The MapReduce "
        "design (mapper assigns pixels, combiner sums, reducer averages) reads the images once "
        "per iteration; the histogram design reads them twice in all (pass 1 histograms, "
        "pass 2 remap + encode), whatever the number of iterations.",
        "",
    ]
    print("\n".join(lines[-12:]), flush=True)


def part4(spark, args, lines: list[str]) -> None:
    """Small files: the fixed costs of the Spark engine against the local engine."""
    options = QuantizeOptions(k=args.k)
    # The session's first job starts the Python workers and warms the JVM: timed apart.
    warm = cut_thumbnails(200)
    shutil.rmtree(WORK / "out-warm", ignore_errors=True)
    t_cold, _ = spark_compress(spark, warm, WORK / "out-warm", options)
    t_warm, _ = spark_compress(spark, warm, WORK / "out-warm2", options)
    shutil.rmtree(WORK / "out-warm", ignore_errors=True)
    shutil.rmtree(WORK / "out-warm2", ignore_errors=True)
    rows = []
    for count in (int(n) for n in args.small.split(",")):
        thumbs = cut_thumbnails(count)
        out = WORK / f"out-small-{count}"
        shutil.rmtree(out, ignore_errors=True)
        t_local, r_local = local_compress(thumbs, out / "local", options, args.cores)
        t_spark, r_spark = spark_compress(spark, thumbs, out / "spark", options)
        ok = same_tree(out / "local", out / "spark") and len(r_spark) == len(r_local) == count
        size = sum(p.stat().st_size for p in thumbs.rglob("*.png")) / 1e6
        rows.append((count, size, t_local, t_spark, ok))
        print(rows[-1], flush=True)
        shutil.rmtree(out, ignore_errors=True)
    lines += [
        f"## 4. Many small files: 96x72 thumbnails cut from the photos, K={args.k}",
        "",
        f"Local engine `--jobs {args.cores}` vs `--engine spark --master local[{args.cores}]` on a running "
        "session (the JVM start is excluded; the listing, the planning job and the compress job are in). "
        f"Before them, the session's first compress (200 thumbnails, which starts the Python workers and "
        f"warms the JVM) took {t_cold:.1f} s, and the same again {t_warm:.1f} s: a one-off cost of about "
        f"{t_cold - t_warm:.0f} s per application, not counted below.",
        "",
        "| thumbnails | MB | local s | Spark s | Spark / local | byte-identical |",
        "| ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    lines += [f"| {n:,} | {mb:.1f} | {tl:.1f} | {ts:.1f} | {ts / tl:.2f}x | {ok} |" for n, mb, tl, ts, ok in rows]
    lines.append("")
    print("\n".join(lines[-8:]), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=64)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--parts", default="1,2,3,4")
    parser.add_argument("--mllib-images", type=int, default=3)
    parser.add_argument("--thumbs", type=int, default=2000)
    parser.add_argument("--mllib-iters", type=int, default=10, help="0 skips MLlib in part 3")
    parser.add_argument("--mllib-thumbs", type=int, default=200, help="thumbnails MLlib clusters")
    parser.add_argument("--small", default="1000,5000,20000", help="part 4: thumbnail counts")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    spark, _ = get_session(f"local[{args.cores}]", {"spark.ui.enabled": "false"})
    jvm = time.perf_counter() - start
    header = [
        "# Spark engine benchmark",
        "",
        "Each part says the machine and the load it ran on (a part can be run again alone).",
        "",
    ]
    sections = _sections(RESULTS.read_text()) if RESULTS.exists() else {}
    sections[0] = "\n".join(header) + "\n"
    parts = {int(p) for p in args.parts.split(",")}
    for number, run in ((1, part1), (2, part2), (3, part3), (4, part4)):
        if number in parts:
            section: list[str] = []
            run(spark, args, section)
            load = Path("/proc/loadavg").read_text().split()[:3]
            section[1:1] = [
                "",
                f"Run: `python bench/bench_spark.py {' '.join(sys.argv[1:])}` on {machine()}; load average "
                f"at the end (1, 5, 15 min): {', '.join(load)}. SparkSession start (JVM, excluded): {jvm:.1f} s. "
                "Spark settings as quantcli sets them: "
                + ", ".join(f"`{k}={v}`" for k, v in DEFAULT_CONF.items())
                + ".",
            ]
            sections[number] = "\n".join(section) + "\n"
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            RESULTS.write_text("\n".join(sections[n].rstrip("\n") + "\n" for n in sorted(sections)))
    spark.stop()
    print(f"wrote {RESULTS}")


def _sections(text: str) -> dict[int, str]:
    """The results file by part: 0 for the header, N for the section headed ``## N.``."""
    sections: dict[int, list[str]] = {0: []}
    current = 0
    for line in text.splitlines():
        if line.startswith("## ") and line[3:4].isdigit():
            current = int(line[3 : line.index(".")])
            sections[current] = []
        sections[current].append(line)
    return {n: "\n".join(lines) + "\n" for n, lines in sections.items()}


if __name__ == "__main__":
    main()
