"""Benchmark: ``quantcli inspect`` and ``similar`` against scikit-image and scikit-learn.

Part 1, per image (photos resized to 2 megapixels, cached in ``bench/data/inspect-2mp/``):

- ``compress``: quantcli reading the file and compressing it at its defaults (K=256), the
  cost that ``inspect`` aims not to exceed;
- ``inspect``: :func:`quantcli.inspection.inspect_job` on the file (read, features,
  8 dominant colours): one row of ``quantcli inspect``;
- ``skimage``: what a user would write instead for the same row: Pillow decode, BT.601 luma
  in NumPy, ``skimage.filters.sobel`` (mean), ``skimage.filters.laplace`` (variance),
  colourfulness in NumPy, and the 8 dominant colours with scikit-learn's ``KMeans`` fitted
  on 10,000 sampled pixels then predicting every pixel (its colour-quantization example);
- ``inspect --against``: the row with the comparison to a compressed output (K=64): PSNR,
  SSIM, the output's blurriness, WQS;
- ``skimage --against``: decoding both and ``peak_signal_noise_ratio``,
  ``structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
  data_range=255, channel_axis=-1)`` and the output's Laplacian;
- ``ssimulacra2`` (``--ssimulacra2``): the ``ssimulacra2`` package on the same pair.

Every tool runs on one core (``threads=1``, one BLAS thread: the engines run one image per
core); each is run ``--repeat`` times in turns and the fastest run kept. The values are
checked against each other (SSIM, edge score, Laplacian variance).

Part 2, ``similar`` on a synthetic 100,000-row index (``--rows``): 8 dominant colours with
random shares and random features per row, written as JSON lines and as Parquet; the
time to load each, and the median time of 20 queries by palette and by features, with the
top 10 checked against a full stable sort.

Writes ``bench/results/inspect.md`` (or ``--out``). Run from the repository root::

    apt-get install -y mate-backgrounds
    pip install -e '.[bench,inspect]'
    python bench/bench_inspect.py                 # 6 photos, 100k rows
    python bench/bench_inspect.py --images 12 --ssimulacra2
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from machine import header_lines
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "bench" / "data" / "inspect-2mp"
WORK = REPO / "bench" / "work" / "inspect"
RESULTS = REPO / "bench" / "results" / "inspect.md"
PHOTOS = Path("/usr/share/backgrounds/mate/nature")
PIXELS = 2_000_000


def corpus(n: int) -> list[Path]:
    """The first ``n`` photos as ~2 MP RGB PNGs (Pillow LANCZOS, aspect kept), made once."""
    DATA.mkdir(parents=True, exist_ok=True)
    out = []
    for src in sorted(PHOTOS.glob("*.jpg"))[:n]:
        dst = DATA / (src.stem + ".png")
        if not dst.exists():
            with Image.open(src) as im:
                scale = (PIXELS / (im.width * im.height)) ** 0.5
                size = (round(im.width * scale), round(im.height * scale))
                im.convert("RGB").resize(size, Image.Resampling.LANCZOS).save(dst)
        out.append(dst)
    if not out:
        sys.exit(f"no photos in {PHOTOS} (apt-get install -y mate-backgrounds)")
    return out


def best(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    times, value = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return min(times), value


# ---------------------------------------------------------------------------------------
# Part 1: one image.


def quantcli_compress(path: Path) -> bytes:
    import quantcli
    from quantcli.images import read_image

    png, _ = quantcli.compress_pixels(read_image(path.read_bytes()), quantcli.QuantizeOptions(threads=1))
    return png


def quantcli_inspect(path: Path, against: Path | None = None) -> dict:
    from quantcli.inspection import InspectOptions, inspect_job
    from quantcli.planner import Job

    out = None if against is None else str(against)
    return inspect_job(Job(str(path), str(path), out, out, path.name), InspectOptions(threads=1))


def skimage_features(path: Path) -> dict:
    from skimage.filters import laplace, sobel
    from sklearn.cluster import KMeans

    with Image.open(path) as im:
        rgb = np.asarray(im.convert("RGB"))
    f = rgb.astype(np.float64)
    y = 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]
    rg = f[..., 0] - f[..., 1]
    yb = 0.5 * (f[..., 0] + f[..., 1]) - f[..., 2]
    colorfulness = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())
    flat = rgb.reshape(-1, 3)
    rng = np.random.default_rng(0)
    sample = flat[rng.choice(len(flat), 10_000, replace=False)]
    kmeans = KMeans(n_clusters=8, n_init=1, random_state=0).fit(sample)
    counts = np.bincount(kmeans.predict(flat), minlength=8)
    return {
        "brightness": y.mean(),
        "edge_score": sobel(y / 255.0)[1:-1, 1:-1].mean(),
        "laplacian_var": laplace(y)[1:-1, 1:-1].var(),
        "colorfulness": colorfulness,
        "dominant": sorted(zip(counts.tolist(), kmeans.cluster_centers_.round().tolist(), strict=True), reverse=True),
    }


def skimage_quality(path: Path, output: Path) -> dict:
    from skimage.filters import laplace
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    with Image.open(path) as a, Image.open(output) as b:
        x, y = np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB"))
    luma = 0.299 * y[..., 0] + 0.587 * y[..., 1] + 0.114 * y[..., 2]
    return {
        "psnr": peak_signal_noise_ratio(x, y, data_range=255),
        "ssim": structural_similarity(
            x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=-1
        ),
        "output_laplacian_var": laplace(luma)[1:-1, 1:-1].var(),
    }


def ssimulacra2_pair(path: Path, output: Path) -> float | None:
    from quantcli import metrics
    from quantcli.images import read_image

    return metrics.ssimulacra2(read_image(path), read_image(output))


def part1(images: list[Path], repeat: int, with_s2: bool) -> list[str]:
    import quantcli

    WORK.mkdir(parents=True, exist_ok=True)
    lines = [
        "| image | pixels | compress s | inspect s | skimage s | inspect / compress | skimage / inspect "
        "| --against s | skimage --against s | skimage / --against |" + (" ssimulacra2 s |" if with_s2 else ""),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if with_s2 else ""),
    ]
    ratios: dict[str, list[float]] = {"inspect/compress": [], "skimage/inspect": [], "skimage/against": []}
    worst = {"ssim": 0.0, "edge": 0.0, "laplacian": 0.0}
    for path in images:
        output = WORK / (path.stem + "-q64.png")
        if not output.exists():
            quantcli.compress_file(path, output, k=64, force=True)
        timings: dict[str, list[float]] = {}
        values: dict[str, object] = {}
        tools = {
            "compress": lambda p=path: quantcli_compress(p),
            "inspect": lambda p=path: quantcli_inspect(p),
            "skimage": lambda p=path: skimage_features(p),
            "against": lambda p=path, o=output: quantcli_inspect(p, o),
            "skimage_against": lambda p=path, o=output: skimage_quality(p, o),
        }
        for _ in range(repeat):  # in turns, so that a burst of load hits every tool alike
            for name, fn in tools.items():
                seconds, values[name] = best(fn, 1)
                timings.setdefault(name, []).append(seconds)
        t = {name: min(v) for name, v in timings.items()}
        s2 = best(lambda p=path, o=output: ssimulacra2_pair(p, o), 1)[0] if with_s2 else None
        row, sk, q, skq = values["inspect"], values["skimage"], values["against"], values["skimage_against"]
        worst["ssim"] = max(worst["ssim"], abs(q["ssim"] - skq["ssim"]))
        worst["edge"] = max(worst["edge"], abs(row["edge_score"] / sk["edge_score"] - 1))
        worst["laplacian"] = max(worst["laplacian"], abs(row["laplacian_var"] / sk["laplacian_var"] - 1))
        ratios["inspect/compress"].append(t["inspect"] / t["compress"])
        ratios["skimage/inspect"].append(t["skimage"] / t["inspect"])
        ratios["skimage/against"].append(t["skimage_against"] / t["against"])
        pixels = row["width"] * row["height"]
        lines.append(
            f"| {path.stem} | {pixels / 1e6:.2f} MP | {t['compress']:.3f} | {t['inspect']:.3f} | {t['skimage']:.3f} "
            f"| {t['inspect'] / t['compress']:.2f} | {t['skimage'] / t['inspect']:.2f} | {t['against']:.3f} "
            f"| {t['skimage_against']:.3f} | {t['skimage_against'] / t['against']:.2f} |"
            + (f" {s2:.2f} |" if s2 is not None else "")
        )
        print(lines[-1], flush=True)
    median = {k: statistics.median(v) for k, v in ratios.items()}
    lines += [
        "",
        f"Medians: inspect / compress **{median['inspect/compress']:.2f}**; "
        f"scikit-image / inspect **{median['skimage/inspect']:.2f}**; "
        f"scikit-image / inspect --against **{median['skimage/against']:.2f}**.",
        "",
        f"Agreement with scikit-image: SSIM within {worst['ssim']:.1e} (absolute); edge score within "
        f"{worst['edge']:.1e} and Laplacian variance within {worst['laplacian']:.1e} (relative); the rows round "
        "SSIM and the edge score to 6 decimals, the Laplacian variance to 4.",
        "",
        f"- {'PASS' if median['inspect/compress'] <= 1.0 else 'FAIL'}: inspect costs no more than compress "
        f"(median ratio {median['inspect/compress']:.2f} <= 1)",
    ]
    return lines


# ---------------------------------------------------------------------------------------
# Part 2: similar on a synthetic index.


def synthetic_rows(n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (n, 8, 3))
    shares = rng.dirichlet(np.ones(8), n)
    counts = np.rint(shares * 2_000_000).astype(int)
    features = rng.random((n, 7)) * [255, 0.2, 120, 255, 255, 255, 1]
    rows = []
    for i in range(n):
        order = np.argsort(-counts[i], kind="stable")
        rows.append(
            {
                "path": f"/photos/{i:06d}.jpg",
                "width": 1920,
                "height": 1080,
                "mode": "RGB",
                "bytes": 500_000,
                "brightness": round(float(features[i, 0]), 4),
                "edge_score": round(float(features[i, 1]), 6),
                "colorfulness": round(float(features[i, 2]), 4),
                "mean_rgb": [round(float(v), 4) for v in features[i, 3:6]],
                "laplacian_var": 100.0,
                "blurriness": round(float(features[i, 6]), 6),
                "dominant": [
                    {
                        "rgb": rgb[i, j].tolist(),
                        "alpha": 255,
                        "count": int(counts[i, j]),
                        "share": round(float(shares[i, j]), 6),
                    }
                    for j in order
                ],
                **dict.fromkeys(
                    ("output", "output_bytes", "psnr", "ssim", "ssimulacra2", "compression_ratio", "output_blurriness")
                ),
                "wqs": None,
                "error": None,
            }
        )
    return rows


def part2(n_rows: int) -> list[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from quantcli.inspect_table import arrow_schema
    from quantcli.similar import feature_distances, nearest, palette_distances, search
    from quantcli.similar_index import load_index

    WORK.mkdir(parents=True, exist_ok=True)
    jsonl, parquet = WORK / f"index-{n_rows}.jsonl", WORK / f"index-{n_rows}.parquet"
    if not jsonl.exists() or not parquet.exists():
        rows = synthetic_rows(n_rows)
        jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
        pq.write_table(pa.Table.from_pylist(rows, schema=arrow_schema()), parquet)
    load_json, index = best(lambda: load_index(jsonl), 1)
    load_parquet, index = best(lambda: load_index(parquet), 3)
    rng = np.random.default_rng(1)
    queries = rng.choice(len(index), 20, replace=False)
    by_palette, by_features = [], []
    std = index.scale()
    for i in queries:
        palette, vector = index.palettes.row(int(i)), index.features[int(i)]
        by_palette.append(best(lambda p=palette, v=vector: search(index, p, v, by="palette", n=10), 1)[0])
        by_features.append(best(lambda p=palette, v=vector: search(index, p, v, by="features", n=10), 1)[0])
        for distances in (palette_distances(index.palettes, palette), feature_distances(index.features, vector, std)):
            assert nearest(distances, 10).tolist() == np.argsort(distances, kind="stable")[:10].tolist()
    return [
        f"Index: {len(index):,} rows, 8 dominant colours each (JSON lines {jsonl.stat().st_size / 1e6:.0f} MB, "
        f"Parquet {parquet.stat().st_size / 1e6:.0f} MB).",
        "",
        "| step | seconds |",
        "|---|---:|",
        f"| load the JSON-lines index | {load_json:.3f} |",
        f"| load the Parquet index | {load_parquet:.3f} |",
        f"| one query by palette, top 10 (median of 20) | {statistics.median(by_palette):.4f} |",
        f"| one query by features, top 10 (median of 20) | {statistics.median(by_features):.4f} |",
        "",
        "Every top 10 equals a full stable sort of the distances (checked on each query).",
        "",
        f"- {'PASS' if statistics.median(by_palette) < 0.5 else 'FAIL'}: a palette query on "
        f"{len(index):,} rows well under a second",
    ]


def machine() -> list[str]:
    import quantcli
    import skimage
    import sklearn

    return header_lines(
        f"numpy {np.__version__}, scikit-image {skimage.__version__}, scikit-learn {sklearn.__version__}, "
        f"quantcli {quantcli.__version__}",
        shared=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=6, help="photos (default 6)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool and image, fastest kept (default 3)")
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the synthetic index (default 100000)")
    parser.add_argument("--ssimulacra2", action="store_true", help="time the ssimulacra2 package too (slow)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    header = machine()
    with threadpool_limits(limits=1):  # one core per image for every tool, as the engines run
        table = part1(corpus(args.images), args.repeat, args.ssimulacra2)
    similar = part2(args.rows)
    text = io.StringIO()
    print("# inspect and similar: quantcli against scikit-image and scikit-learn\n", file=text)
    print(f"`python bench/bench_inspect.py {' '.join(sys.argv[1:])}`\n", file=text)
    print("\n".join(header) + "\n", file=text)
    print(
        "Times in seconds; every tool on one core; fastest of the runs. On this shared machine absolute times "
        "move with the load: read the ratios, measured side by side in one run.\n",
        file=text,
    )
    print("## One row of inspect per 2 MP photo\n", file=text)
    print("\n".join(table) + "\n", file=text)
    print("## similar on a synthetic index\n", file=text)
    print("\n".join(similar), file=text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text.getvalue())
    print(text.getvalue())


if __name__ == "__main__":
    main()
