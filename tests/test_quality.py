"""Issue 7: the perceptual palette, edge-aware dithering, stronger packing and the quality target."""

from __future__ import annotations

import io
import math

import imageio.v3 as iio
import numpy as np
import pytest
import quantcli
from conftest import gradient_image, perceptual_points
from PIL import Image
from quantcli.errors import InvalidOptionError
from quantcli.quality import (
    QualityTooLowError,
    choose_k_for_quality,
    compress_to_quality,
    error_for_quality,
    palette_quality,
    parse_quality,
    quality_from_error,
)


def ramp(h: int = 128, w: int = 1024) -> np.ndarray:
    """A smooth horizontal gradient (blue to grey-violet), the same on every row."""
    x = np.arange(w)[None, :].repeat(h, 0)
    img = np.stack([30 + x * 190 / (w - 1), 50 + x * 150 / (w - 1), 180 - x * 80 / (w - 1)], -1)
    return np.ascontiguousarray(np.rint(img).astype(np.uint8))


def sky(h: int = 24, w: int = 32, seed: int = 5) -> np.ndarray:
    """A small sky-like gradient with mild noise: its palette quality climbs steadily with K."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([100 + x * 80 / (w - 1), 120 + y * 80 / (h - 1), 180 + (x + y) * 50 / (h + w - 2)], -1)
    return np.ascontiguousarray(np.clip(np.rint(img + rng.normal(0, 1.5, img.shape)), 0, 255).astype(np.uint8))


def longest_run(labels: np.ndarray) -> int:
    """The longest run of one label along any row."""
    best = 0
    for row in labels.astype(np.int64):
        edges = np.concatenate([[-1], np.flatnonzero(np.diff(row) != 0), [len(row) - 1]])
        best = max(best, int(np.diff(edges).max()))
    return best


def floyd_steinberg(points: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Textbook Floyd-Steinberg (left to right, full error) on (h, w, 4) points: the labels."""
    h, w, _ = points.shape
    err = np.zeros((h + 1, w + 2, 4))
    labels = np.zeros((h, w), np.int64)
    for y in range(h):
        for x in range(w):
            want = points[y, x] + err[y, x + 1]
            j = int(((palette - want) ** 2).sum(1).argmin())
            labels[y, x] = j
            e = want - palette[j]
            err[y, x + 2] += e * 7 / 16
            err[y + 1, x] += e * 3 / 16
            err[y + 1, x + 1] += e * 5 / 16
            err[y + 1, x + 2] += e / 16
    return labels


# ---------------------------------------------------------------------------------------
# Dithering and the importance map


@pytest.mark.parametrize("alpha", [False, True])
def test_dithering_and_importance_do_not_depend_on_threads(alpha):
    # Big enough that the histogram is counted in chunks and the maps in many row blocks.
    img = gradient_image(600, 700, seed=31, alpha=alpha)
    options = quantcli.QuantizeOptions(k=64, dither="on", threads=1)
    png, one = quantcli.compress_pixels(img, options)
    for threads in (2, 3, 8):
        other_png, other = quantcli.compress_pixels(img, quantcli.QuantizeOptions(k=64, dither="on", threads=threads))
        np.testing.assert_array_equal(other.palette, one.palette)
        np.testing.assert_array_equal(other.labels, one.labels)
        assert other_png == png
    again_png, _ = quantcli.compress_pixels(img.copy(), options)
    assert again_png == png


def test_dithering_breaks_the_bands_of_a_gradient():
    """K=16 on a smooth ramp: away from the ends (where no darker or lighter entry exists), no
    run of one colour is longer than 48 pixels with dithering on, against 75 without and 40 for
    textbook Floyd-Steinberg on the same palette (rows 64 and down, once the error has built)."""
    img = ramp()
    plain = quantcli.quantize(img, 16, dither="off", run_margin=0)
    dithered = quantcli.quantize(img, 16, dither="on", run_margin=0)
    np.testing.assert_array_equal(plain.palette, dithered.palette)
    interior = (slice(64, None), slice(128, -128))
    assert longest_run(plain.labels[interior]) >= 70
    assert longest_run(dithered.labels[interior]) <= 48
    # The oracle, on a smaller crop to stay fast: ours is within a few pixels of textbook FS.
    crop = np.ascontiguousarray(img[:96, :512])
    ours = quantcli.remap(crop, plain.palette, dither="on", run_margin=0)
    oracle = floyd_steinberg(
        perceptual_points(crop.reshape(-1, 3)).reshape(96, 512, 4), perceptual_points(plain.palette)
    )
    assert longest_run(ours.labels[48:, 64:-64]) <= longest_run(oracle[48:, 64:-64]) + 8


def test_without_dithering_each_band_is_the_mean_of_its_pixels():
    """k-means in the perceptual space: every palette entry of the ramp is the mean of its
    pixels' Oklab points, up to the 8-bit rounding of the entry and the importance weights
    (under 0.75 units, where 255 spans black to white)."""
    img = ramp(32, 1024)
    q = quantcli.quantize(img, 16, dither="off", run_margin=0, max_iter=1000, tol=0)
    points = perceptual_points(img.reshape(-1, 3))
    entries = perceptual_points(q.palette)
    labels = q.labels.ravel()
    for j in range(len(q.palette)):
        mean = points[labels == j].mean(axis=0)
        assert np.sqrt(((mean - entries[j]) ** 2).sum()) < 0.75


def test_importance_favours_smooth_areas():
    """The importance map: the same gradient, smooth on the left half and noisy on the right.
    The palette quantize fits (noisy pixels weigh a third of smooth ones) serves the smooth
    half better, and the noisy half worse, than the palette of the plain histogram."""
    rng = np.random.default_rng(3)
    h, w = 64, 512
    x = np.arange(w)[None, :].repeat(h, 0) % (w // 2)
    base = np.stack([20 + x * 0.8, 40 + x * 0.6, 200 - x * 0.5], -1)
    noise = np.where(np.arange(w)[None, :, None] >= w // 2, rng.normal(0, 10, (h, w, 3)), 0)
    img = np.ascontiguousarray(np.clip(np.rint(base + noise), 0, 255).astype(np.uint8))
    weighted = quantcli.quantize(img, 24, dither="off", run_margin=0)
    colors, counts = quantcli._core.histogram(img)
    plain_palette, _, _ = quantcli._core.fit_palette(colors, counts, quantcli.QuantizeOptions(k=24))
    plain = quantcli.remap(img, plain_palette[:, :3], dither="off", run_margin=0)
    points = perceptual_points(img.reshape(-1, 3)).reshape(h, w, 4)

    def error(q, half):
        e = ((points - perceptual_points(q.palette)[q.labels]) ** 2).sum(-1)
        return e[:, : w // 2].mean() if half == "smooth" else e[:, w // 2 :].mean()

    assert error(weighted, "smooth") < 0.9 * error(plain, "smooth")
    assert error(weighted, "noisy") > error(plain, "noisy")


# ---------------------------------------------------------------------------------------
# Every PNG decodes to palette[labels]


@pytest.mark.parametrize("alpha", [False, True])
@pytest.mark.parametrize("level", [0, 6, 10, 12])
@pytest.mark.parametrize("dither", ["off", "auto", 0.5])
def test_every_png_decodes_to_palette_of_labels(alpha, level, dither):
    img = gradient_image(50, 70, seed=8, alpha=alpha)
    png, q = quantcli.compress_pixels(img, quantcli.QuantizeOptions(k=40, level=level, dither=dither))
    mode = "RGBA" if alpha else "RGB"
    expected = q.to_image()
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(png)).convert(mode)), expected)
    np.testing.assert_array_equal(iio.imread(png, mode=mode), expected)


def test_stronger_levels_are_smaller():
    img = gradient_image(300, 400, seed=12)
    q = quantcli.quantize(img, 64)
    sizes = [len(quantcli.encode_png(q.labels, q.palette, level=level)) for level in (6, 9, 10, 12)]
    assert sizes[2] < 0.97 * min(sizes[:2]) and sizes[3] <= sizes[2]


# ---------------------------------------------------------------------------------------
# The quality target


def test_quality_scale():
    assert quality_from_error(0) == 100
    assert quality_from_error(1e9) == 0
    values = [quality_from_error(m) for m in (0.1, 1, 4, 16, 64)]
    assert values == sorted(values, reverse=True)
    for target in (100, 99.5, 80, 33.3, 1e-6):
        bound = error_for_quality(target)  # exact: the last error that still reaches the target
        assert quality_from_error(bound) >= target > quality_from_error(math.nextafter(bound, math.inf))
    assert error_for_quality(0) == math.inf


@pytest.mark.parametrize("seed", [5, 6, 9])
def test_quality_picks_the_smallest_k_of_an_exhaustive_scan(seed):
    img = sky(seed=seed)
    options = quantcli.QuantizeOptions(k=48)
    scan = {k: palette_quality(img, k, options) for k in range(2, 49)}
    # Bisection is exact when quality rises with K: check that it does on this image.
    assert all(scan[k + 1] >= scan[k] for k in range(2, 48))
    assert scan[2] < 20 and scan[48] > 60  # the targets below span the scale
    for target in (0, scan[5], scan[7], scan[7] + 1e-6, (scan[20] + scan[21]) / 2, scan[47], scan[48]):
        k, reached = choose_k_for_quality(img, options, (0, target))
        assert k == min(k for k in scan if scan[k] >= target)
        assert reached == scan[k]


@pytest.mark.parametrize("seed", [7, 8, 12])
def test_quality_choice_is_locally_minimal_where_quality_dips(seed):
    """On these images quality falls back a little at one or two K: bisection then still
    returns a K that reaches the target while K - 1 does not."""
    img = sky(seed=seed)
    options = quantcli.QuantizeOptions(k=48)
    scan = {k: palette_quality(img, k, options) for k in range(2, 49)}
    assert any(scan[k + 1] < scan[k] for k in range(2, 48))
    for target in np.linspace(scan[3], scan[48], 15):
        k, reached = choose_k_for_quality(img, options, (0, target))
        assert scan[k] >= target and reached == scan[k]
        assert k == 2 or scan[k - 1] < target


def test_quality_out_of_reach_keeps_the_largest_k_above_min():
    img = sky()
    options = quantcli.QuantizeOptions(k=16)
    top = palette_quality(img, 16, options)
    assert choose_k_for_quality(img, options, (top - 5, 100)) == (16, top)
    with pytest.raises(QualityTooLowError, match="below the minimum"):
        choose_k_for_quality(img, options, (top + 1, 100))
    assert QualityTooLowError.exit_code == 99


def test_result_row_says_whether_the_quality_target_was_met():
    img = sky()
    data = io.BytesIO()
    Image.fromarray(img).save(data, "PNG")
    options = quantcli.QuantizeOptions(k=16)
    top = palette_quality(img, 16, options)
    _, missed = quantcli.compress_bytes(data.getvalue(), options, quality=(0, top + 1))
    assert (missed.k, missed.target_met, missed.quality) == (16, False, top)
    _, met = quantcli.compress_bytes(data.getvalue(), options, quality=(0, top - 5))
    assert met.k < 16 and met.target_met is True and met.quality >= top - 5
    _, fixed = quantcli.compress_bytes(data.getvalue(), options)
    assert fixed.target_met is None and fixed.quality is None
    assert missed.to_json()["target_met"] is False and missed.to_json()["quality"] == round(top, 2)


def test_quality_below_min_encodes_nothing():
    img = gradient_image(40, 40, seed=9)
    with pytest.raises(QualityTooLowError) as raised:
        compress_to_quality(img, quantcli.QuantizeOptions(k=4), (99, 100))
    assert raised.value.exit_code == 99


def test_compress_to_quality_writes_the_chosen_k():
    img = gradient_image(40, 50, seed=4)
    options = quantcli.QuantizeOptions()
    k, _ = choose_k_for_quality(img, options, (0, 60))
    png, q = compress_to_quality(img, options, (0, 60))
    assert len(q.palette) == k < 256
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(png)).convert("RGB")), q.to_image())


@pytest.mark.parametrize("text", ["", "abc", "50-40", "101", "-5", "1-2-3", "0-101", "5.5"])
def test_bad_quality_is_refused(text):
    with pytest.raises(InvalidOptionError, match="quality"):
        parse_quality(text)


def test_quality_parses_like_pngquant():
    assert parse_quality("65-80") == (65, 80)
    assert parse_quality("80") == (0, 80)
    assert parse_quality("0-100") == (0, 100)


@pytest.mark.parametrize("bad", ["sometimes", 1.5, -0.1, None, float("nan")])
def test_bad_dither_is_refused(bad):
    with pytest.raises(InvalidOptionError, match="dither"):
        quantcli.QuantizeOptions(dither=bad)
