"""inspect: features and scores against independent computations, rows, planning, the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from conftest import gradient_image
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image
from quantcli import metrics
from quantcli.errors import InvalidOptionError
from quantcli.inspect_local import plan
from quantcli.inspect_table import check_table
from quantcli.inspection import (
    ROW_NAMES,
    InspectOptions,
    compare,
    image_features,
    inspect_file,
)
from quantcli.metrics import Weights

skimage_metrics = pytest.importorskip("skimage.metrics")
filters = pytest.importorskip("skimage.filters")
ndimage = pytest.importorskip("scipy.ndimage")


def skimage_ssim(a: np.ndarray, b: np.ndarray) -> float:
    return skimage_metrics.structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=-1
    )


def luma64(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.float64)
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def noisy_copy(img: np.ndarray, seed: int, amount: int = 25) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(img.astype(int) + rng.integers(-amount, amount + 1, img.shape), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------
# Metrics against oracles.


@pytest.mark.parametrize("shape", [(11, 11, 3), (12, 40, 4), (33, 17, 3), (50, 50, 1), (70, 90, 3), (300, 45, 3)])
def test_ssim_equals_scikit_image(shape):
    rng = np.random.default_rng(sum(shape))
    a = rng.integers(0, 256, shape, dtype=np.uint8)
    b = noisy_copy(a, 1)
    assert metrics.ssim(a, b) == pytest.approx(skimage_ssim(a, b), abs=1e-6)


def test_ssim_on_a_photo_like_image_and_its_quantized_copy():
    from quantcli import quantize

    img = gradient_image(96, 128, seed=5)
    out = quantize(img, 8).to_image()
    assert metrics.ssim(img, out) == pytest.approx(skimage_ssim(img, out), abs=1e-6)
    assert metrics.ssim(img, img) == pytest.approx(1.0, abs=1e-12)


def test_ssim_refuses_small_or_mismatched_images():
    a = np.zeros((10, 20, 3), np.uint8)
    with pytest.raises(InvalidOptionError, match="at least 11x11"):
        metrics.ssim(a, a)
    with pytest.raises(InvalidOptionError, match="one shape"):
        metrics.ssim(np.zeros((20, 20, 3), np.uint8), np.zeros((20, 21, 3), np.uint8))


def test_psnr_equals_scikit_image():
    a = gradient_image(40, 50, seed=2)
    b = noisy_copy(a, 3)
    assert metrics.psnr(a, b) == pytest.approx(skimage_metrics.peak_signal_noise_ratio(a, b, data_range=255))
    assert math.isinf(metrics.psnr(a, a))


def test_brightness_is_bt601_luma():
    img = gradient_image(40, 60, seed=7)
    features = image_features(img)
    assert features.brightness == pytest.approx(luma64(img).mean(), rel=1e-6)
    # Pillow's "L" is the same luma rounded per pixel.
    pillow = np.asarray(Image.fromarray(img).convert("L"), dtype=np.float64).mean()
    assert features.brightness == pytest.approx(pillow, abs=0.5)
    assert features.mean_rgb == pytest.approx(tuple(img.reshape(-1, 3).mean(axis=0)), rel=1e-6)


def test_edge_score_is_scikit_image_sobel_over_the_interior():
    img = gradient_image(50, 70, seed=8)
    expected = filters.sobel(luma64(img) / 255.0)[1:-1, 1:-1].mean()
    assert image_features(img).edge_score == pytest.approx(expected, rel=1e-5)
    # A hard vertical edge: the gradient magnitude there is sqrt(1/2) of full scale.
    step = np.zeros((20, 20, 3), np.uint8)
    step[:, 10:] = 255
    expected = filters.sobel(luma64(step) / 255.0)[1:-1, 1:-1].mean()
    assert image_features(step).edge_score == pytest.approx(expected, rel=1e-5)
    assert 0 < image_features(step).edge_score <= 1


def test_laplacian_variance_and_blurriness():
    img = gradient_image(50, 70, seed=9)
    expected = ndimage.laplace(luma64(img))[1:-1, 1:-1].var()
    features = image_features(img)
    assert features.laplacian_var == pytest.approx(expected, rel=1e-5)
    assert features.blurriness == pytest.approx(100.0 / (100.0 + expected))
    flat = np.full((20, 20, 3), 77, np.uint8)
    assert image_features(flat).laplacian_var == 0
    assert image_features(flat).blurriness == 1.0
    # Blurring an image raises its blurriness.
    blurred = np.asarray(Image.fromarray(img).resize((35, 25)).resize((70, 50), Image.Resampling.BILINEAR))
    assert image_features(blurred).blurriness > features.blurriness


def test_colorfulness_of_known_images():
    grey = np.repeat(gradient_image(20, 20, seed=1)[..., :1], 3, axis=2)
    assert image_features(grey).colorfulness == pytest.approx(0.0, abs=1e-9)
    red = np.zeros((10, 10, 3), np.uint8)
    red[..., 0] = 255
    # rg = 255, yb = 127.5 everywhere: no spread, 0.3 * |(255, 127.5)|.
    assert image_features(red).colorfulness == pytest.approx(0.3 * math.hypot(255, 127.5), rel=1e-6)


def test_rgba_features_are_those_of_the_image_over_mid_grey():
    rgba = gradient_image(30, 40, seed=4, alpha=True)
    a = rgba[..., 3:4] / 255.0
    over_grey = rgba[..., :3] * a + 128 * (1 - a)
    features = image_features(rgba)
    assert features.mode == "RGBA"
    assert features.brightness == pytest.approx(luma64(over_grey).mean(), rel=1e-5)
    assert features.mean_rgb == pytest.approx(tuple(over_grey.reshape(-1, 3).mean(axis=0)), rel=1e-5)


def test_features_of_tiny_images():
    for shape in [(1, 1, 3), (2, 5, 3), (5, 2, 4)]:
        features = image_features(np.full(shape, 9, np.uint8))
        assert features.edge_score == 0 and features.laplacian_var == 0
        assert sum(d.count for d in features.dominant) == shape[0] * shape[1]


@settings(max_examples=25, deadline=None)
@given(
    arrays(np.uint8, st.tuples(st.integers(1, 24), st.integers(1, 24), st.sampled_from([3, 4]))),
    st.integers(2, 16),
)
def test_dominant_counts_sum_to_the_pixels_and_shares_to_one(pixels, k):
    pixels = np.ascontiguousarray(pixels)
    features = image_features(pixels, InspectOptions(k=k))
    dominant = features.dominant
    assert 1 <= len(dominant) <= k
    assert sum(d.count for d in dominant) == pixels.shape[0] * pixels.shape[1]
    assert sum(d.share for d in dominant) == pytest.approx(1.0, abs=1e-12)
    assert [d.count for d in dominant] == sorted((d.count for d in dominant), reverse=True)
    rows = features.to_json()["dominant"]
    assert sum(r["share"] for r in rows) == pytest.approx(1.0, abs=1e-5)


def test_dominant_colours_are_the_quantize_palette():
    from quantcli import quantize

    img = gradient_image(30, 30, seed=3)
    q = quantize(img, 5)
    got = {(d.rgb, d.count) for d in image_features(img, InspectOptions(k=5)).dominant}
    assert got == {(tuple(int(v) for v in q.palette[i]), int(q.counts[i])) for i in range(len(q.palette))}


def test_wqs_of_the_seed_row():
    assert metrics.wqs(42.1, 0.95, 3.0, 0.35) == pytest.approx(17.485, abs=1e-9)
    assert metrics.wqs(42.1, 0.95, 3.0, 0.35, Weights(1, 0, 0, 0)) == pytest.approx(42.1)
    assert metrics.wqs(math.inf, 1.0, 2.0, 0.0) == pytest.approx(0.4 * 100 + 0.4 + 0.2)


@pytest.mark.parametrize("bad", [math.nan, math.inf, "1", True, None])
def test_weights_refuse_non_numbers(bad):
    with pytest.raises(InvalidOptionError, match="WQS weight psnr"):
        Weights(psnr=bad)


def test_options_refuse_bad_k():
    for k in (1, 257, 2.5):
        with pytest.raises(InvalidOptionError):
            InspectOptions(k=k)


def test_compare_reports_the_output_blurriness_and_the_ratio():
    img = gradient_image(40, 40, seed=6)
    out = noisy_copy(img, 2, 5)
    quality = compare(img, out, bytes_in=3000, bytes_out=1000)
    assert quality.compression_ratio == 3.0
    assert quality.output_blurriness == pytest.approx(image_features(out).blurriness)
    expected = 0.4 * metrics.psnr(img, out) + 0.4 * metrics.ssim(img, out) + 0.1 * 3.0 - 0.1 * quality.output_blurriness
    assert quality.wqs == pytest.approx(expected)
    assert quality.ssimulacra2 is None  # off by default
    assert compare(img[:8, :8], out[:8, :8], bytes_in=1, bytes_out=1).ssim is None  # below the window


def test_ssimulacra2_follows_the_package_and_the_grey_rule(tmp_path):
    ssimulacra2 = pytest.importorskip("ssimulacra2")
    img = gradient_image(40, 48, seed=1)
    out = noisy_copy(img, 1, 10)
    iio.imwrite(tmp_path / "a.png", img)
    iio.imwrite(tmp_path / "b.png", out)
    expected = ssimulacra2.compute_ssimulacra2(str(tmp_path / "a.png"), str(tmp_path / "b.png"))
    assert metrics.ssimulacra2(img, out) == pytest.approx(expected)
    assert metrics.ssimulacra2(img, img) == pytest.approx(100.0)
    rgba = gradient_image(40, 48, seed=2, alpha=True)
    worse = rgba.copy()
    worse[..., 3] = np.clip(worse[..., 3].astype(int) - 60, 0, 255)
    scores = []
    for grey in (26, 230):
        for name, src in (("r", rgba), ("d", worse)):
            a = src[..., 3:4] / 255.0
            iio.imwrite(tmp_path / f"{name}{grey}.png", np.rint(src[..., :3] * a + grey * (1 - a)).astype(np.uint8))
        scores.append(ssimulacra2.compute_ssimulacra2(str(tmp_path / f"r{grey}.png"), str(tmp_path / f"d{grey}.png")))
    assert metrics.ssimulacra2(rgba, worse) == pytest.approx(min(scores), abs=1e-6)
    assert metrics.ssimulacra2(img[:7], img[:7]) is None


# ---------------------------------------------------------------------------------------
# Rows and planning.


@pytest.fixture
def photos(tmp_path) -> Path:
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    iio.imwrite(root / "rgb.png", gradient_image(40, 50, seed=1))
    iio.imwrite(root / "rgba.png", gradient_image(30, 36, seed=2, alpha=True))
    iio.imwrite(root / "sub" / "photo.jpg", gradient_image(32, 24, seed=3), quality=90)
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (root / "empty.jpg").write_bytes(b"")
    return root


def test_row_fields_and_an_error_row(photos):
    row = inspect_file(photos / "rgb.png")
    assert tuple(row) == ROW_NAMES
    assert row["error"] is None and row["width"] == 50 and row["height"] == 40 and row["mode"] == "RGB"
    assert row["bytes"] == (photos / "rgb.png").stat().st_size
    assert row["output"] is None and row["psnr"] is None and row["wqs"] is None
    bad = inspect_file(photos / "corrupt.png")
    assert bad["error"].startswith(str(photos / "corrupt.png"))
    assert all(bad[name] is None for name in ROW_NAMES if name not in ("path", "error"))
    assert "empty file" in inspect_file(photos / "empty.jpg")["error"]
    assert "no such file" in inspect_file(photos / "missing.png")["error"]


def test_against_an_output(photos, tmp_path):
    from quantcli import compress_file

    out = tmp_path / "rgb-q8.png"
    result = compress_file(photos / "rgb.png", out, k=8)
    row = inspect_file(photos / "rgb.png", out)
    assert row["output"] == str(out)
    assert row["psnr"] == pytest.approx(result.psnr, abs=1e-3)  # the core's PSNR of the same pixels
    assert row["compression_ratio"] == pytest.approx(result.bytes_in / result.bytes_out, rel=1e-6)
    assert row["output_bytes"] == result.bytes_out
    src, dst = iio.imread(photos / "rgb.png"), iio.imread(out)[..., :3]
    assert row["ssim"] == pytest.approx(skimage_ssim(src, dst), abs=1e-6)
    out = tmp_path / "rgba-q8.png"
    result = compress_file(photos / "rgba.png", out, k=8)
    # The colour under full transparency is invisible: no error, as in compress's PSNR.
    assert inspect_file(photos / "rgba.png", out)["psnr"] == pytest.approx(result.psnr, abs=1e-3)
    lossless = inspect_file(photos / "rgb.png", photos / "rgb.png")
    assert lossless["psnr"] is None and lossless["ssim"] == 1.0 and lossless["wqs"] > 40


def test_against_an_output_of_another_size_or_missing(photos):
    row = inspect_file(photos / "rgb.png", photos / "rgba.png")
    assert "36x30 pixels, but its input" in row["error"]
    row = inspect_file(photos / "rgb.png", photos / "nope.png")
    assert row["error"] == f"{photos / 'nope.png'}: no such file"
    assert "empty file" in inspect_file(photos / "rgb.png", photos / "empty.jpg")["error"]


def test_plan_pairs_inputs_with_outputs_by_compress_naming(photos, tmp_path):
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    jobs = plan([str(photos)], against=str(out), recursive=True)
    pairs = {Path(j.source).name: (None if j.target is None else Path(j.target).relative_to(out)) for j in jobs}
    assert pairs == {
        "corrupt.png": Path("corrupt.png"),
        "empty.jpg": Path("empty.png"),
        "rgb.png": Path("rgb.png"),
        "rgba.png": Path("rgba.png"),
        "photo.jpg": Path("sub/photo.png"),
    }
    beside = plan([str(photos)], ext="-q8.png")
    assert {Path(j.target).name for j in beside} == {"corrupt-q8.png", "empty-q8.png", "rgb-q8.png", "rgba-q8.png"}


def test_plan_refusals(photos):
    with pytest.raises(InvalidOptionError, match="no such file or folder"):
        plan([str(photos)], against=str(photos / "nowhere"))
    with pytest.raises(InvalidOptionError, match="exactly one input, got 4"):
        plan([str(photos)], against=str(photos / "rgb.png"))
    with pytest.raises(InvalidOptionError, match="write K out"):
        plan([str(photos)], ext="-q{K}.png")
    with pytest.raises(InvalidOptionError, match=r"\.jpg"):
        plan([str(photos)], ext=".jpg")


def test_plan_lists_each_file_once(photos):
    jobs = plan([str(photos / "rgb.png"), str(photos), str(photos / "*.png")])
    sources = [Path(j.source).resolve() for j in jobs]
    assert len(sources) == len(set(sources)) == 4


def test_check_table(tmp_path):
    check_table(str(tmp_path / "new"), False)
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "_SUCCESS").write_bytes(b"")
    with pytest.raises(InvalidOptionError, match="holds a table"):
        check_table(str(tmp_path / "t"), False)
    check_table(str(tmp_path / "t"), True)
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(InvalidOptionError, match="not a folder"):
        check_table(str(tmp_path / "f"), True)


# ---------------------------------------------------------------------------------------
# The command.


def test_cli_json_lines_and_exit_code(run_cli, photos):
    proc = run_cli("inspect", photos, "-r", "--json", "-k", "4")
    assert proc.returncode == 1  # the corrupt and empty files
    rows = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert [Path(r["path"]).name for r in rows] == ["corrupt.png", "empty.jpg", "rgb.png", "rgba.png", "photo.jpg"]
    good = [r for r in rows if r["error"] is None]
    assert len(good) == 3 and all(len(r["dominant"]) <= 4 for r in good)
    assert all(tuple(r) == ROW_NAMES for r in rows)
    assert proc.stderr.decode().count("quantcli: error:") == 2
    assert rows[2] == inspect_file(photos / "rgb.png", options=InspectOptions(k=4)) | {"path": rows[2]["path"]}


def test_cli_table_and_against(run_cli, photos, tmp_path):
    out = tmp_path / "small"
    run_cli("compress", photos / "rgb.png", photos / "rgba.png", "-k", "16", "--out-dir", out, "-q", check_rc=0)
    proc = run_cli("inspect", photos / "rgb.png", photos / "rgba.png", "--against", out, check_rc=0)
    text = proc.stdout.decode()
    assert "PSNR" in text and "WQS" in text and "50x40" in text and "36x30A" in text
    proc = run_cli("inspect", photos / "rgb.png", "--against", out / "rgb.png", "--json", "--wqs-weights", "1,0,0,0")
    row = json.loads(proc.stdout)
    assert row["wqs"] == pytest.approx(row["psnr"], abs=1e-3)
    proc = run_cli("inspect", photos / "rgb.png", check_rc=0)
    assert "palette" in proc.stdout.decode()


def test_cli_parquet_table(run_cli, photos, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    table = tmp_path / "table"
    run_cli("inspect", photos, "--out-dir", table, "-q", check_rc=1)
    assert (table / "_SUCCESS").exists()
    rows = pq.read_table(table).to_pylist()
    jsonl = run_cli("inspect", photos, "--json").stdout.decode().splitlines()
    assert rows == [json.loads(line) for line in jsonl]
    proc = run_cli("inspect", photos, "--out-dir", table)
    assert proc.returncode == 2 and b"holds a table (use --force" in proc.stderr
    run_cli("inspect", photos / "rgb.png", "--out-dir", table, "--force", "-q", check_rc=0)
    assert len(pq.read_table(table)) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), b"no input"),
        (("-",), b"stdin) is not supported"),
        (("X", "--wqs-weights", "1,2"), b"four numbers"),
        (("X", "--wqs-weights", "a,b,c,d"), b"four numbers"),
        (("X", "--wqs-weights", "1,2,3,nan"), b"finite number"),
        (("X", "-k", "1"), b"-k"),
        (("X", "--json", "--out-dir", "t"), b"either --json or --out-dir"),
        (("X", "--engine", "spark"), b"give --out-dir"),
        (("X", "--master", "local"), b"need --engine spark"),
        (("X", "--against", "/nonexistent/dir"), b"no such file or folder"),
    ],
)
def test_cli_usage_errors(run_cli, args, message):
    proc = run_cli("inspect", *args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert proc.stderr.count(b"\n") == 1
