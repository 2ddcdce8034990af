"""choose-k against oracles: direct O(n^2) silhouettes, scikit-learn, exhaustive scans."""

from __future__ import annotations

import hashlib
import io
import json
import math
from dataclasses import replace

import imageio.v3 as iio
import numpy as np
import pytest
import quantcli
from conftest import gradient_image
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image
from quantcli import QuantizeOptions, _core
from quantcli.choosek import (
    ChooseKOptions,
    choose_k,
    choose_k_histogram,
    quantize_chosen,
)
from quantcli.choosek_rules import knee_point, search_smallest

# Well separated colours for the blob images.
BLOB_COLOURS = np.array(
    [
        (20, 20, 20),
        (230, 30, 30),
        (30, 220, 40),
        (40, 40, 230),
        (230, 230, 40),
        (220, 40, 220),
        (40, 220, 220),
        (235, 235, 235),
        (128, 128, 128),
    ],
    dtype=np.float64,
)


def blob_image(n_blobs: int, h: int = 48, w: int = 60, noise: float = 4.0, seed: int = 0) -> np.ndarray:
    """``n_blobs`` equal areas of distinct colours plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(n_blobs), -(-h * w // n_blobs))[: h * w]
    img = BLOB_COLOURS[labels] + rng.normal(0.0, noise, (h * w, 3))
    return np.ascontiguousarray(np.clip(np.rint(img), 0, 255).astype(np.uint8).reshape(h, w, 3))


def pixel_rows(colors: np.ndarray, counts: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The histogram expanded back to one row per pixel, with each pixel's label."""
    reps = counts.astype(np.int64)
    return np.repeat(colors.astype(np.float64), reps, axis=0), np.repeat(labels, reps)


def direct_squared_silhouette(points: np.ndarray, labels: np.ndarray) -> float:
    """Spark's definition written out over all pairs of pixels."""
    d = ((points[:, None, :] - points[None, :, :]) ** 2).sum(-1)
    clusters = np.unique(labels)
    s = np.zeros(len(points))
    for i in range(len(points)):
        own = labels == labels[i]
        if own.sum() == 1:
            continue  # a pixel alone in its cluster scores 0
        a = d[i, own].sum() / (own.sum() - 1)
        b = min(d[i, labels == c].mean() for c in clusters if c != labels[i])
        s[i] = (b - a) / max(a, b)
    return float(s.mean())


# --- squared silhouette (Spark's ClusteringEvaluator) ------------------------------------


@pytest.mark.parametrize("k", [2, 3, 5])
def test_squared_silhouette_equals_direct_computation(k):
    img = gradient_image(10, 12, seed=k)
    colors, counts = _core.histogram(img)
    _, labels, _ = _core.fit_palette(colors, counts, QuantizeOptions(k=k))
    points, pixel_labels = pixel_rows(colors, counts, labels)
    expected = direct_squared_silhouette(points, pixel_labels)
    assert abs(_core.squared_silhouette(colors, counts, labels) - expected) < 1e-9


@settings(max_examples=40, deadline=None)
@given(
    pixels=hnp.arrays(
        np.uint8,
        st.tuples(st.integers(1, 6), st.integers(2, 8), st.just(4)),
        elements=st.sampled_from([0, 1, 7, 64, 200, 255]),
    ),
    seed=st.integers(0, 2**32 - 1),
    n_clusters=st.integers(2, 5),
)
def test_squared_silhouette_on_any_labelling(pixels, seed, n_clusters):
    """Random labels, singletons, repeated colours and transparent pixels included."""
    colors, counts = _core.histogram(np.ascontiguousarray(pixels))
    labels = np.random.default_rng(seed).integers(0, n_clusters, len(colors)).astype(np.int32)
    got = _core.squared_silhouette(colors, counts, labels)
    if len(np.unique(labels)) < 2:
        assert math.isnan(got)
        return
    points, pixel_labels = pixel_rows(colors, counts, labels)
    assert abs(got - direct_squared_silhouette(points, pixel_labels)) < 1e-9


def test_squared_silhouette_of_a_lone_pixel_is_zero():
    # Two pixels of one colour and one pixel of another: the lone pixel scores 0, the
    # pair scores 1 (a = 0), so the mean is 2/3.
    img = np.array([[[10, 10, 10], [10, 10, 10], [200, 0, 0]]], dtype=np.uint8)
    colors, counts = _core.histogram(img)
    assert _core.squared_silhouette(colors, counts, np.arange(2, dtype=np.int32)) == pytest.approx(2 / 3)


def test_silhouette_rejects_bad_labels():
    colors, counts = _core.histogram(gradient_image(4, 4))
    with pytest.raises(ValueError, match="one entry per point"):
        _core.squared_silhouette(colors, counts, np.zeros(3, np.int32))
    with pytest.raises(ValueError, match="labels must be >= 0"):
        _core.squared_silhouette(colors, counts, np.full(len(colors), -1, np.int32))
    with pytest.raises(ValueError, match="dtype"):
        _core.squared_silhouette(colors, counts, np.zeros(len(colors), np.int64))


# --- Euclidean silhouette (scikit-learn's silhouette_score) ------------------------------


def test_euclidean_silhouette_equals_sklearn_on_points():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    points = rng.integers(0, 8, (600, 3)).astype(np.uint8) * 30  # many duplicates
    labels = rng.integers(0, 4, 600).astype(np.int32)
    labels[0] = 4  # a cluster of one
    expected = sklearn_metrics.silhouette_score(points.astype(np.float64), labels)
    assert abs(_core.euclidean_silhouette(points, labels, 0) - expected) < 1e-6


def test_euclidean_silhouette_of_choose_k_equals_sklearn_on_its_sample():
    """The sample choose-k draws, with each K's labels, scored by scikit-learn."""
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    img = gradient_image(40, 50, seed=3)
    seed, sample = 7, 800
    colors, counts = _core.histogram(img)
    # The histogram path: its fits are fit_palette's on the plain counts.
    result = choose_k_histogram(
        colors,
        counts,
        ChooseKOptions(ks=(2, 3, 6), distance="euclidean", sample=sample),
        quantize=quantcli.QuantizeOptions(seed=seed),
    )
    drawn = _core.sample_pixels(colors, counts, sample, seed)
    assert result.sample == sample and len(drawn) == sample
    for score in result.scores:
        _, labels, _ = _core.fit_palette(colors, counts, QuantizeOptions(k=score.k, seed=seed))
        expected = sklearn_metrics.silhouette_score(colors[drawn].astype(np.float64), labels[drawn])
        assert abs(score.silhouette_euclidean - expected) < 1e-6


def test_sample_pixels_draws_without_replacement():
    colors, counts = _core.histogram(gradient_image(20, 30))
    drawn = _core.sample_pixels(colors, counts, 300, 1)
    assert len(drawn) == 300 and np.all(np.diff(drawn.astype(np.int64)) >= 0)
    assert np.all(np.bincount(drawn, minlength=len(colors)) <= counts)
    assert np.array_equal(drawn, _core.sample_pixels(colors, counts, 300, 1))
    assert not np.array_equal(drawn, _core.sample_pixels(colors, counts, 300, 2))
    everything = _core.sample_pixels(colors, counts, 10**9, 0)
    assert np.array_equal(np.bincount(everything, minlength=len(colors)), counts)


# --- recommendations -----------------------------------------------------------------------


@pytest.mark.parametrize("n_blobs", [3, 5, 7])
def test_silhouette_and_elbow_find_the_blobs(n_blobs):
    img = blob_image(n_blobs, seed=n_blobs)
    assert choose_k(img, k_max=12).k == n_blobs
    assert choose_k(img, k_max=12, method="elbow", bytes_level=None).k == n_blobs


def test_euclidean_silhouette_finds_the_blobs():
    assert choose_k(blob_image(4), k_max=8, distance="euclidean", sample=1000).k == 4


def test_quality_is_the_smallest_k_of_an_exhaustive_scan():
    img = gradient_image(32, 40, seed=5)
    colors, counts = _core.histogram(img)
    # Up to 34: palettes fitted in the perceptual space do not always raise the sRGB PSNR
    # with K (on this image 36 and 40 fall back a little).
    ks = tuple(range(2, 35))
    scan = choose_k_histogram(colors, counts, ChooseKOptions(ks=ks))
    psnr = {s.k: s.psnr for s in scan.scores}
    # The rule is exact when PSNR rises with K; check that it does on this image.
    assert all(psnr[k + 1] >= psnr[k] for k in ks[:-1])
    for target in (
        psnr[2] - 1.0,
        psnr[9],
        psnr[9] + 1e-9,
        (psnr[20] + psnr[21]) / 2,
        psnr[30],
        psnr[34],
    ):
        result = choose_k_histogram(colors, counts, ChooseKOptions(method="quality", ks=ks, min_psnr=target))
        expected = min(k for k in ks if psnr[k] >= target)
        assert result.k == expected and result.target_met
        assert len(result.scores) < len(ks) / 2  # a search, not a scan
        for s in result.scores:  # the same fits as the scan
            assert s.psnr == psnr[s.k]


def test_quality_reports_an_unreachable_target():
    result = choose_k(gradient_image(16, 16), method="quality", min_psnr=99.0, k_max=20)
    assert result.k == 20 and result.target_met is False


def test_quality_on_an_image_with_few_colours_is_lossless():
    img = blob_image(5, noise=0.0)
    result = choose_k(img, method="quality", min_psnr=60.0)
    assert result.k == 5 and math.isinf(result.score(5).psnr)


@settings(max_examples=200, deadline=None)
@given(
    ks=st.lists(st.integers(2, 256), min_size=1, max_size=40, unique=True).map(sorted),
    threshold=st.integers(0, 260),
    noise=st.sets(st.integers(2, 256), max_size=5),
)
def test_search_smallest_contract(ks, threshold, noise):
    """Monotone goals give the exhaustive answer; others still give a boundary."""
    evaluated = []

    def monotone(k):
        evaluated.append(k)
        return k >= threshold

    k, met = search_smallest(ks, monotone)
    passing = [x for x in ks if x >= threshold]
    assert (k, met) == ((passing[0], True) if passing else (ks[-1], False))

    def bumpy_goal(k):  # flips the answer at a few K: not monotone
        return (k >= threshold) != (k in noise)

    def bumpy(k):
        evaluated.append(k)
        return bumpy_goal(k)

    evaluated.clear()
    k, met = search_smallest(ks, bumpy)
    if met:
        i = ks.index(k)
        assert bumpy_goal(k) and (i == 0 or not bumpy_goal(ks[i - 1]))
        assert not any(bumpy_goal(x) for x in evaluated if x < k)
    else:
        assert k == ks[-1] and not bumpy_goal(k)


def test_knee_point_agrees_with_kneed():
    kneed = pytest.importorskip("kneed")
    ks = np.arange(2, 41)
    for scale in (1.0, 3.0, 8.0):
        mse = 1000.0 / (ks / scale + 1.0) ** 2 + 5.0
        expected = kneed.KneeLocator(ks, mse, curve="convex", direction="decreasing").knee
        assert knee_point(ks.tolist(), mse.tolist()) == expected


def test_knee_point_edge_cases():
    assert knee_point([2, 3], [10.0, 1.0]) == 2
    assert knee_point([2, 3, 4], [5.0, 5.0, 5.0]) == 2
    assert knee_point([2, 4, 8, 16], [100.0, 10.0, 5.0, 4.0]) == 4


# --- consistency with compress -------------------------------------------------------------


def test_scores_match_compress_and_do_not_depend_on_threads():
    img = gradient_image(40, 56, seed=2)
    for run_margin in (4.0, 0.0):  # compress's default, and plain nearest colours
        # choose-k scores undithered remaps.
        fit = quantcli.QuantizeOptions(run_margin=run_margin, threads=1, dither="off")
        one = choose_k(img, ks=(2, 7, 16), bytes_level=6, quantize=fit)
        many = choose_k(img, ks=(2, 7, 16), bytes_level=6, quantize=replace(fit, threads=3))
        assert one.scores == many.scores
        for s in one.scores:
            png, q = quantcli.compress_pixels(img, replace(fit, k=s.k, level=6))
            assert s.mse == q.mse and s.png_bytes == len(png) and s.colors == len(q.palette)


def test_shared_scores_are_nearest_colour_scores():
    img = gradient_image(30, 30, seed=6)
    result = choose_k_histogram(*_core.histogram(img), ChooseKOptions(ks=(5, 9)))
    colors, counts = _core.histogram(img)
    for s in result.scores:
        # A histogram has no pixel layout, hence no importance weights: its fit is
        # fit_palette's on the plain counts, each colour on its nearest entry.
        palette, labels, _ = _core.fit_palette(colors, counts, QuantizeOptions(k=s.k))
        error = (counts * ((colors[:, :3].astype(np.int64) - palette[labels, :3]) ** 2).sum(1)).sum()
        assert s.mse == error / (img.shape[0] * img.shape[1] * 3) and s.png_bytes is None


def test_rgba_images_score_four_channels():
    img = gradient_image(24, 24, seed=4, alpha=True)
    s = choose_k(img, ks=(8,)).score(8)
    assert s.mse == quantcli.quantize(img, 8).mse


def test_one_colour_image():
    img = np.full((8, 8, 3), 9, np.uint8)
    result = choose_k(img, ks=(2, 3))
    assert result.k == 2 and all(math.isnan(s.silhouette) and s.colors == 1 for s in result.scores)


def test_shared_merges_histograms(tmp_path):
    paths = []
    for i, n in enumerate((3, 3, 5)):
        path = tmp_path / f"b{i}.png"
        quantcli.write_atomic(path, quantcli.compress_pixels(blob_image(n, noise=0), quantcli.QuantizeOptions())[0])
        paths.append(path)
    (tmp_path / "bad.png").write_bytes(b"not a png")
    result, errors = quantcli.choose_k_shared([*paths, tmp_path / "bad.png"], k_max=8)
    assert result.images == 3 and result.pixels == 3 * 48 * 60 and result.k == 5
    assert [e.path for e in errors] == [str(tmp_path / "bad.png")]


# --- one prepared image per choose-k, and -k auto reuses the winning fit ------------------


class CountingCore:
    """Counts the _core calls choose-k makes, delegating to the real ones."""

    def __init__(self, monkeypatch):
        self.calls: dict[str, int] = {}
        real_prepared = _core.PreparedImage
        counts = self.calls

        class Prepared:
            def __init__(self, *args):
                counts["prepare"] = counts.get("prepare", 0) + 1
                self._image = real_prepared(*args)
                self.unique_colors = self._image.unique_colors

            def scan(self, *args):
                counts["scan"] = counts.get("scan", 0) + 1
                return self._image.scan(*args)

            def remap_fit(self, *args):
                counts["remap_fit"] = counts.get("remap_fit", 0) + 1
                return self._image.remap_fit(*args)

        monkeypatch.setattr(_core, "PreparedImage", Prepared)
        for name in ("quantize", "fit_palette", "histogram", "remap", "choose_k_scan"):
            real = getattr(_core, name)

            def counted(*args, _name=name, _real=real):
                counts[_name] = counts.get(_name, 0) + 1
                return _real(*args)

            monkeypatch.setattr(_core, name, counted)


def test_quality_search_prepares_the_image_once(monkeypatch):
    img = gradient_image(60, 90, seed=5)
    core = CountingCore(monkeypatch)
    result = choose_k(img, method="quality", min_psnr=32.0)
    assert len(result.scores) > 5  # a search of several probes...
    assert core.calls == {"prepare": 1, "scan": len(result.scores)}  # ...on one histogram and pixel map


def png_bytes_of(img: np.ndarray) -> bytes:
    """The image as a lossless PNG file, via Pillow."""
    buffer = io.BytesIO()
    Image.fromarray(img).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("alpha", [False, True])
@pytest.mark.parametrize("dither", [False, True])
@pytest.mark.parametrize("method", ["silhouette", "quality"])
def test_auto_k_encodes_the_winning_fit_without_fitting_it_again(monkeypatch, alpha, dither, method):
    data = png_bytes_of(gradient_image(60, 90, seed=7, alpha=alpha))
    choose = ChooseKOptions(method=method, k_max=24, min_psnr=30.0, bytes_level=None)
    options = QuantizeOptions(dither=dither)
    core = CountingCore(monkeypatch)
    got, row = quantcli.compress_bytes(data, options, choose=choose)
    assert core.calls == {"prepare": 1, "scan": core.calls["scan"], "remap_fit": 1}  # no quantize, no refit
    monkeypatch.undo()
    # The bytes and the row are those of compress at that K, fitted from scratch.
    want, want_row = quantcli.compress_bytes(data, replace(options, k=row.k))
    assert got == want
    # The same row, but for the target: only the chosen K was chosen for one.
    assert isinstance(row.target_met, bool) if method == "quality" else row.target_met is None
    assert want_row.target_met is None
    assert replace(row, seconds=0, target_met=None, quality=None) == replace(want_row, seconds=0, quality=None)


# Recorded before choose-k kept one prepared image (commit 370471a), then again when palettes
# moved to the perceptual space with importance weights and dithering (issue 7), and when the
# dither's bounds grew for palettes under 64 entries, and when those palettes' dithering
# reached into lightly textured areas (the scores' errors and PNG sizes; no K changed):
# the K chosen and a hash of every score, so later changes are shown to alter neither.
RECORDED = [
    ("rgb", {"method": "silhouette", "k_max": 24}, 2, "d2190242175b1bdc"),
    ("rgb", {"method": "silhouette", "distance": "euclidean", "sample": 500, "k_max": 12}, 3, "9a0e74b20e8fc52a"),
    ("rgb", {"method": "elbow", "k_max": 32}, 10, "22c559d1ce2bc73f"),
    ("rgb", {"method": "quality", "min_psnr": 32.0}, 256, "bf14c26041868002"),
    ("rgb", {"method": "quality", "min_psnr": 38.0, "bytes_level": 6}, 256, "d3b090ab0fb4d51f"),
    ("rgba", {"method": "silhouette", "k_max": 24}, 2, "421620cb2d2ec772"),
    ("rgba", {"method": "elbow", "k_max": 32}, 8, "800a60c483c149ee"),
    ("rgba", {"method": "quality", "min_psnr": 38.0, "bytes_level": 6}, 256, "428a018adb309843"),
]
RECORDED_AUTO = [("rgb", False, 256, "98db4d69caf27d99"), ("rgb", True, 256, "47937f9a78a27af2")]


def recorded_image(name: str) -> np.ndarray:
    return gradient_image(60, 90, seed=5) if name == "rgb" else gradient_image(60, 90, seed=6, alpha=True)


MARKER = 12  # the empty quNT chunk every PNG has carried since these were recorded


def without_marker(png: bytes) -> bytes:
    assert png[37:41] == b"quNT"
    return png[:33] + png[33 + MARKER :]


@pytest.mark.parametrize(("name", "values", "k", "digest"), RECORDED)
def test_choose_k_matches_its_recorded_results(name, values, k, digest):
    result = choose_k(recorded_image(name), **values)
    rows = [s.to_json() for s in result.scores]
    for row in rows:
        if row["png_bytes"] is not None:
            row["png_bytes"] -= MARKER
    blob = json.dumps(rows, sort_keys=True).encode()
    assert (result.k, hashlib.sha256(blob).hexdigest()[:16]) == (k, digest)


@pytest.mark.parametrize(("name", "dither", "k", "digest"), RECORDED_AUTO)
def test_auto_k_matches_its_recorded_bytes(name, dither, k, digest):
    options = QuantizeOptions(dither=dither)
    choose = ChooseKOptions(method="quality", min_psnr=33.0, bytes_level=None)
    result, q = quantize_chosen(recorded_image(name), choose, options)
    png = without_marker(quantcli.encode_png(q.labels, q.palette, level=options.level))
    assert (result.k, hashlib.sha256(png).hexdigest()[:16]) == (k, digest)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"method": "best"}, "method"),
        ({"distance": "cosine"}, "distance"),
        ({"ks": ()}, "ks"),
        ({"ks": (2, 300)}, "ks"),
        ({"k_min": 10, "k_max": 4}, "k_max"),
        ({"sample": 1}, "sample"),
        ({"min_psnr": float("nan")}, "min_psnr"),
        ({"bytes_level": 13}, "bytes_level"),
    ],
)
def test_options_are_validated(values, message):
    with pytest.raises(quantcli.InvalidOptionError, match=message):
        ChooseKOptions(**values)


def test_candidates():
    assert ChooseKOptions().candidates == tuple(range(2, 65))
    assert ChooseKOptions(method="quality").candidates == tuple(range(2, 257))
    assert ChooseKOptions(ks=(8, 2, 8, 4)).candidates == (2, 4, 8)


# --- the CLI, run as a user would ----------------------------------------------------------


@pytest.fixture
def blob_files(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for n in (3, 4):
        # Not written by quantcli: folder expansion leaves quantcli's own outputs out.
        iio.imwrite(folder / f"blobs{n}.png", blob_image(n, seed=n))
    return folder


def test_cli_table_json_plot_and_errors(run_cli, blob_files, tmp_path):
    proc = run_cli("choose-k", blob_files / "blobs3.png", "--k-max", "8", check_rc=0)
    table = proc.stdout.decode()
    assert "K = 3" in table and "<- chosen" in table and "PNG bytes" in table

    (blob_files / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    plot = tmp_path / "curve.png"
    proc = run_cli("choose-k", blob_files, "--k-max", "8", "--json", "--plot", plot, check_rc=1)
    rows = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert [(r["path"].rsplit("/", 1)[-1], r["k"], r["status"]) for r in rows] == [
        ("blobs3.png", 3, "ok"),
        ("blobs4.png", 4, "ok"),
        ("broken.png", None, "error"),
    ]
    assert [s["k"] for s in rows[0]["scores"]] == list(range(2, 9))
    assert "broken.png" in proc.stderr.decode()
    pil = pytest.importorskip("PIL.Image")
    with pil.open(plot) as image:
        assert image.format == "PNG" and image.size[0] > 300

    proc = run_cli("choose-k", blob_files, "--shared", "--ks", "2,3,4,5", "--json", check_rc=1)
    shared = [json.loads(line) for line in proc.stdout.decode().splitlines() if '"ok"' in line]
    assert len(shared) == 1 and shared[0]["images"] == 2 and shared[0]["k"] == 4


def test_cli_quality_and_usage_errors(run_cli, blob_files):
    proc = run_cli(
        "choose-k",
        blob_files / "blobs4.png",
        "--method",
        "quality",
        "--min-psnr",
        "30",
        "--json",
        check_rc=0,
    )
    row = json.loads(proc.stdout)
    assert row["k"] == 4 and row["target_met"] is True and row["min_psnr"] == 30.0
    for args in (
        ["--ks", "2,x"],
        ["--ks", "2,4", "--k-max", "9"],
        ["--method", "best"],
        ["--distance", "cosine"],
    ):
        proc = run_cli("choose-k", blob_files / "blobs4.png", *args, check_rc=2)
        assert proc.stderr.startswith(b"quantcli: error:")


def test_cli_compress_auto_records_the_chosen_k(run_cli, blob_files, tmp_path):
    out = tmp_path / "out"
    proc = run_cli(
        "compress", blob_files, "-k", "auto", "--method", "silhouette", "--out-dir", out, "--json", check_rc=0
    )
    rows = {json.loads(line)["path"].rsplit("/", 1)[-1]: json.loads(line) for line in proc.stdout.splitlines()}
    assert rows["blobs3.png"]["k"] == 3 and rows["blobs4.png"]["k"] == 4
    pil = pytest.importorskip("PIL.Image")
    with pil.open(out / "blobs4.png") as image:
        assert image.mode == "P" and len(image.getcolors()) == 4
    proc = run_cli(
        "compress",
        blob_files / "blobs3.png",
        "-k",
        "auto",
        "--method",
        "elbow",
        "-o",
        "-",
        check_rc=0,
    )
    assert proc.stdout.startswith(b"\x89PNG")
    run_cli("compress", blob_files / "blobs3.png", "-k", "automatic", check_rc=2)


def test_cli_compress_auto_error_rows_have_no_k(run_cli, blob_files, tmp_path):
    (blob_files / "broken.png").write_bytes(b"not an image")
    proc = run_cli(
        "compress",
        blob_files,
        "-k",
        "auto",
        "--method",
        "silhouette",
        "--json",
        "--out-dir",
        tmp_path / "o",
        check_rc=1,
    )
    rows = {json.loads(line)["path"].rsplit("/", 1)[-1]: json.loads(line) for line in proc.stdout.decode().splitlines()}
    assert rows["broken.png"]["status"] == "error" and rows["broken.png"]["k"] is None
    assert rows["blobs3.png"]["k"] == 3
