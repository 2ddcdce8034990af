"""Benchmark: choosing K with quantcli against scikit-learn and Spark MLlib on real photos.

For every 640x480 photo (mate-backgrounds' ``nature/`` folder, resized with Pillow LANCZOS
and cached in ``bench/data/choosek-640/``), each tool scores K = 2..12 by silhouette and
recommends the K with the highest score:

- ``quantcli``: ``quantcli.choose_k`` (every K fitted on one histogram, squared-Euclidean
  silhouette over all pixels, in C++), in-process, all cores; median of ``--repeat`` runs.
- ``sklearn``: per K, ``KMeans(n_clusters=K, n_init="auto", random_state=0)`` fitted on all
  pixels, then ``silhouette_score(..., sample_size=10000, random_state=0)`` (Euclidean),
  as the usual scikit-learn tutorial does; one run.
- ``spark`` (``--spark``, slow): the MLlib tutorial loop on pixel rows, Spark ``local[2]``:
  per K, ``KMeans(k=K, seed=1)`` then ``ClusteringEvaluator()`` (squared Euclidean, the
  default). Only on the first ``--spark-images`` images (default 1). The session start-up
  is timed apart. The evaluator is also run on quantcli's own labels, to show that
  quantcli's squared silhouette is the evaluator's number.

Writes ``bench/results/choosek.md`` (or ``--out``) with the machine, the times and the
recommended K per image and tool, and PASS/FAIL lines for the targets: quantcli at most 1 s
for K = 2..12 on a 640x480 photo, and the same recommended K as the MLlib evaluator's
squared silhouette.

Run from the repository root with quantcli importable::

    PYTHONPATH=$PWD/python python bench/bench_choosek.py              # 6 photos, quantcli + sklearn
    PYTHONPATH=$PWD/python python bench/bench_choosek.py --spark      # + Spark on the first photo
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from machine import header_lines
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "bench" / "data" / "choosek-640"
RESULTS = REPO / "bench" / "results" / "choosek.md"
PHOTOS = Path("/usr/share/backgrounds/mate/nature")
SIZE = (640, 480)
KS = tuple(range(2, 13))
SAMPLE = 10_000
TARGET_SECONDS = 1.0


@dataclass
class Row:
    """One tool on one image."""

    seconds: float
    k: int
    scores: dict[int, float] = field(default_factory=dict)
    cpu_seconds: float | None = None
    note: str = ""


def corpus(n: int) -> list[Path]:
    """The first ``n`` photos as 640x480 RGB PNGs, made once."""
    DATA.mkdir(parents=True, exist_ok=True)
    out = []
    for src in sorted(PHOTOS.glob("*.jpg"))[:n]:
        dst = DATA / (src.stem + ".png")
        if not dst.exists():
            with Image.open(src) as im:
                im.convert("RGB").resize(SIZE, Image.LANCZOS).save(dst)
        out.append(dst)
    if not out:
        sys.exit(f"no photos in {PHOTOS} (apt-get install mate-backgrounds)")
    return out


def pixels_of(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.ascontiguousarray(np.asarray(im.convert("RGB")))


def best(scores: dict[int, float]) -> int:
    """The K with the highest score, the smaller K among equals."""
    return max(sorted(scores), key=lambda k: scores[k])


def run_quantcli(pixels: np.ndarray, repeat: int) -> Row:
    import quantcli

    times, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        result = quantcli.choose_k(pixels, ks=KS, bytes_level=None)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    scores = {s.k: s.silhouette for s in result.scores}
    return Row(statistics.median(times), result.k, scores, statistics.median(cpu))


def run_sklearn(pixels: np.ndarray) -> Row:
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    x = pixels.reshape(-1, 3).astype(np.float64)
    scores = {}
    t0 = time.perf_counter()
    for k in KS:
        labels = KMeans(n_clusters=k, n_init="auto", random_state=0).fit_predict(x)
        scores[k] = float(silhouette_score(x, labels, sample_size=SAMPLE, random_state=0))
    return Row(time.perf_counter() - t0, best(scores), scores, note="Euclidean, 10,000-pixel sample")


class Spark:
    """A local[2] session and the MLlib tutorial loop."""

    def __init__(self) -> None:
        warnings.filterwarnings("ignore", category=FutureWarning)  # pyspark on pandas 3
        t0 = time.perf_counter()
        from pyspark.sql import SparkSession

        self.spark = (
            SparkSession.builder.master("local[2]")
            .appName("quantcli-choosek-bench")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.memory", "4g")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .getOrCreate()
        )
        self.spark.sparkContext.setLogLevel("ERROR")
        self.startup = time.perf_counter() - t0

    def frame(self, pixels: np.ndarray, labels: np.ndarray | None = None):
        import pandas as pd
        from pyspark.ml.feature import VectorAssembler

        rows = pixels.reshape(-1, 3).astype(np.float64)
        data = {"r": rows[:, 0], "g": rows[:, 1], "b": rows[:, 2]}
        if labels is not None:
            data["prediction"] = labels.astype(np.int32)
        df = self.spark.createDataFrame(pd.DataFrame(data))
        return VectorAssembler(inputCols=["r", "g", "b"], outputCol="features").transform(df)

    def tutorial_loop(self, pixels: np.ndarray) -> Row:
        from pyspark.ml.clustering import KMeans
        from pyspark.ml.evaluation import ClusteringEvaluator

        t0 = time.perf_counter()
        df = self.frame(pixels).select("features").cache()
        evaluator = ClusteringEvaluator()  # silhouette, squared Euclidean
        scores = {}
        for k in KS:
            model = KMeans(k=k, seed=1).fit(df)
            scores[k] = float(evaluator.evaluate(model.transform(df)))
        df.unpersist()
        return Row(time.perf_counter() - t0, best(scores), scores, note="MLlib KMeans + evaluator")

    def evaluate_labels(self, pixels: np.ndarray, labels: np.ndarray) -> float:
        from pyspark.ml.evaluation import ClusteringEvaluator

        return float(ClusteringEvaluator().evaluate(self.frame(pixels, labels)))

    def stop(self) -> None:
        self.spark.stop()


def quantcli_pixel_labels(pixels: np.ndarray, k: int) -> np.ndarray:
    """quantcli's cluster of every pixel at K: the nearest entry of the palette choose_k
    fits (``run_margin=0``; the run-preferring remap of compress moves a few pixels)."""
    import quantcli

    return quantcli.quantize(pixels, k, run_margin=0.0).labels.reshape(-1)


def machine() -> list[str]:
    import quantcli
    import sklearn

    return header_lines(f"numpy {np.__version__}, scikit-learn {sklearn.__version__}, quantcli {quantcli.__version__}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=6, help="photos to use (default 6)")
    parser.add_argument("--repeat", type=int, default=3, help="quantcli runs per image; the median counts")
    parser.add_argument("--no-sklearn", action="store_true", help="skip scikit-learn")
    parser.add_argument("--spark", action="store_true", help="also run the Spark MLlib loop (minutes)")
    parser.add_argument("--spark-images", type=int, default=1, help="images for --spark (default 1)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"markdown file (default {RESULTS})")
    args = parser.parse_args()

    header = machine()
    paths = corpus(args.images)
    spark = Spark() if args.spark else None
    rows: dict[str, dict[str, Row]] = {}
    agreement: list[str] = []
    for i, path in enumerate(paths):
        pixels = pixels_of(path)
        rows[path.stem] = {"quantcli": run_quantcli(pixels, args.repeat)}
        print(
            f"{path.stem}: quantcli K={rows[path.stem]['quantcli'].k} {rows[path.stem]['quantcli'].seconds:.3f} s",
            flush=True,
        )
        if not args.no_sklearn:
            rows[path.stem]["sklearn"] = run_sklearn(pixels)
            print(
                f"{path.stem}: sklearn K={rows[path.stem]['sklearn'].k} {rows[path.stem]['sklearn'].seconds:.1f} s",
                flush=True,
            )
        if spark is not None and i < args.spark_images:
            rows[path.stem]["spark"] = spark.tutorial_loop(pixels)
            print(
                f"{path.stem}: spark K={rows[path.stem]['spark'].k} {rows[path.stem]['spark'].seconds:.1f} s",
                flush=True,
            )
            ours = rows[path.stem]["quantcli"].scores
            evaluated = {k: spark.evaluate_labels(pixels, quantcli_pixel_labels(pixels, k)) for k in KS}
            worst = max(abs(evaluated[k] - ours[k]) for k in KS)
            agreement.append(
                f"- {path.stem}: Spark's `ClusteringEvaluator` on quantcli's own labels, "
                f"K = 2..12: "
                f"largest difference from quantcli's squared silhouette {worst:.1e}; "
                f"its best K {best(evaluated)}, quantcli's {best(ours)}."
            )
    if spark is not None:
        spark.stop()

    tools = ["quantcli"] + ([] if args.no_sklearn else ["sklearn"]) + (["spark"] if spark else [])
    labels = {
        "quantcli": "quantcli `choose_k` (squared silhouette, all pixels)",
        "sklearn": "scikit-learn KMeans + `silhouette_score` (10k sample)",
        "spark": "Spark MLlib KMeans + `ClusteringEvaluator` (local[2])",
    }
    lines = [
        "# choose-k: K = 2..12 on 640x480 photos",
        "",
        "Generated by `bench/bench_choosek.py`. Seconds per image for the whole K = 2..12 scan "
        f"(quantcli: median of {args.repeat} runs, CPU seconds in brackets; others: one run); "
        "recommended K = highest silhouette.",
        "",
        *header,
    ]
    if spark is not None:
        lines.append(f"- Spark {spark.spark.version} session start-up (not counted): {spark.startup:.1f} s")
    lines += [
        "",
        "| image | " + " | ".join(labels[t] for t in tools) + " |",
        "|---|" + "---|" * len(tools),
    ]
    for name, by_tool in rows.items():
        cells = []
        for t in tools:
            r = by_tool.get(t)
            if r is None:
                cells.append("-")
            elif t == "quantcli":
                cells.append(f"{r.seconds:.3f} s ({r.cpu_seconds:.3f}), K={r.k}")
            else:
                cells.append(f"{r.seconds:.1f} s, K={r.k}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    q_times = [r["quantcli"].seconds for r in rows.values()]
    lines += [
        "",
        f"quantcli: median {statistics.median(q_times):.3f} s, max {max(q_times):.3f} s per image.",
    ]
    if "sklearn" in tools:
        s_times = [r["sklearn"].seconds for r in rows.values()]
        same = sum(r["quantcli"].k == r["sklearn"].k for r in rows.values())
        lines.append(
            f"scikit-learn: median {statistics.median(s_times):.1f} s per image; "
            f"same K as quantcli on {same} of {len(rows)} images."
        )
    lines += ["", "## Targets", ""]
    verdict = "PASS" if max(q_times) <= TARGET_SECONDS else "FAIL"
    lines.append(
        f"- {verdict}: quantcli K = 2..12 at most {TARGET_SECONDS:g} s per 640x480 photo (max {max(q_times):.3f} s)"
    )
    if spark is not None:
        compared = [(n, r) for n, r in rows.items() if "spark" in r]
        same = [n for n, r in compared if r["spark"].k == r["quantcli"].k]
        verdict = "PASS" if len(same) == len(compared) else "FAIL"
        lines.append(f"- {verdict}: same recommended K as the MLlib loop on {len(same)} of {len(compared)} image(s)")
        lines += agreement
        lines += [
            "",
            "### Silhouette per K (Spark loop vs quantcli)",
            "",
            "| image | K | MLlib KMeans + evaluator | quantcli |",
            "|---|---|---|---|",
        ]
        for name, r in compared:
            for k in KS:
                lines.append(f"| {name} | {k} | {r['spark'].scores[k]:.4f} | {r['quantcli'].scores[k]:.4f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
