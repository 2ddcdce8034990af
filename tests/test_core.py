"""The C++ core against oracles: brute-force k-means, numpy histograms, invariants."""

from __future__ import annotations

import concurrent.futures

import numpy as np
import pytest
import quantcli
from conftest import gradient_image
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from quantcli import QuantizeOptions, _core


def keys_of(colors: np.ndarray) -> np.ndarray:
    c = colors.astype(np.uint64)
    return c[:, 0] | (c[:, 1] << 8) | (c[:, 2] << 16) | (c[:, 3] << 24)


def rgba_rows(pixels: np.ndarray) -> np.ndarray:
    """Pixels as (n, 4) RGBA rows with fully transparent pixels folded to (0, 0, 0, 0)."""
    rows = pixels.reshape(-1, pixels.shape[-1])
    if rows.shape[1] == 3:
        rows = np.concatenate([rows, np.full((len(rows), 1), 255, np.uint8)], axis=1)
    rows = rows.copy()
    rows[rows[:, 3] == 0] = 0
    return rows


def brute_force_lloyd(points: np.ndarray, init: np.ndarray, max_iter: int, tol: float):
    """Plain Lloyd's k-means over every pixel (float64), the textbook way."""
    x = points.astype(np.float64)
    centres = init.astype(np.float64)

    def nearest(c):
        d = ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1)
        return d.argmin(axis=1)

    labels = nearest(centres)
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        new = centres.copy()
        for j in range(len(centres)):
            members = x[labels == j]
            assert len(members), "the oracle cases are built without empty clusters"
            new[j] = members.mean(axis=0)
        moved = np.sqrt(((new - centres) ** 2).sum(-1)).max()
        centres = new
        if moved <= tol:
            break
        new_labels = nearest(centres)
        if (new_labels == labels).all():
            break
        labels = new_labels
    inertia = ((x - centres[labels]) ** 2).sum()
    return centres, labels, inertia, iterations


@pytest.mark.parametrize("k", [2, 3, 5, 8, 13])
@pytest.mark.parametrize("init", ["median-cut", "kmeans++"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weighted_kmeans_equals_lloyd_on_raw_pixels(k, init, seed):
    rng = np.random.default_rng(seed)
    # 40 random colours, repeated unevenly over 30x30 pixels: weights matter.
    palette = rng.integers(0, 256, (40, 3), dtype=np.uint8)
    idx = rng.choice(40, size=(30, 30), p=rng.dirichlet(np.ones(40)))
    pixels = np.ascontiguousarray(palette[idx])
    colors, counts = _core.histogram(pixels)
    start = _core.initial_palette(colors, counts, QuantizeOptions(k=k, seed=seed, init=init))
    centres, assignment, inertia, iterations = _core.kmeans(
        colors, counts, start, 0, QuantizeOptions(max_iter=50, tol=0.0)
    )

    ref_centres, ref_labels, ref_inertia, ref_iter = brute_force_lloyd(rgba_rows(pixels), start, 50, 0.0)
    np.testing.assert_allclose(centres, ref_centres, atol=2e-3)
    # Map every pixel to its histogram colour, then to the colour's centre.
    where = np.searchsorted(keys_of(colors), keys_of(rgba_rows(pixels)))
    np.testing.assert_array_equal(assignment[where], ref_labels)
    assert inertia == pytest.approx(ref_inertia, rel=1e-6)
    assert iterations == ref_iter


def test_histogram_matches_numpy_unique(rgba_image):
    colors, counts = _core.histogram(rgba_image)
    rows = rgba_rows(rgba_image)
    uniq, ref_counts = np.unique(rows, axis=0, return_counts=True)
    order = np.argsort(keys_of(uniq))
    np.testing.assert_array_equal(colors, uniq[order])
    np.testing.assert_array_equal(counts, ref_counts[order])
    assert (np.diff(keys_of(colors).astype(np.int64)) > 0).all()
    assert counts.sum() == rgba_image.shape[0] * rgba_image.shape[1]


def test_transparent_pixels_share_one_colour():
    img = np.zeros((4, 4, 4), np.uint8)
    img[..., :3] = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)  # every RGB differs, alpha 0
    img[0, 0] = (9, 9, 9, 255)
    colors, counts = _core.histogram(img)
    assert colors.tolist() == [[0, 0, 0, 0], [9, 9, 9, 255]]
    assert counts.tolist() == [15, 1]


def test_merge_histograms_adds_counts():
    a = gradient_image(seed=3)
    b = gradient_image(seed=4)
    ca, na = _core.histogram(a)
    cb, nb = _core.histogram(b)
    cm, nm = _core.merge_histograms(ca, na, cb, nb)
    cboth, nboth = _core.histogram(np.ascontiguousarray(np.concatenate([a, b], axis=0)))
    np.testing.assert_array_equal(cm, cboth)
    np.testing.assert_array_equal(nm, nboth)


@st.composite
def small_images(draw):
    h = draw(st.integers(1, 12))
    w = draw(st.integers(1, 12))
    channels = draw(st.sampled_from([3, 4]))
    n_colors = draw(st.integers(1, 40))
    palette = draw(hnp.arrays(np.uint8, (n_colors, channels)))
    idx = draw(hnp.arrays(np.int64, (h, w), elements=st.integers(0, n_colors - 1)))
    return np.ascontiguousarray(palette[idx])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pixels=small_images(), k=st.integers(2, 24), dither=st.booleans(), init=st.sampled_from(["median-cut", "kmeans++"])
)
def test_quantize_invariants(pixels, k, dither, init):
    q = quantcli.quantize(pixels, k, dither=dither, init=init)
    n_unique = len(np.unique(rgba_rows(pixels), axis=0))
    assert q.unique_colors == n_unique
    assert q.palette.shape[1] == pixels.shape[2]
    assert len(q.palette) == min(k, n_unique)  # never silently fewer than asked
    assert q.labels.shape == pixels.shape[:2]
    assert q.labels.max() < len(q.palette)
    np.testing.assert_array_equal(q.counts, np.bincount(q.labels.ravel(), minlength=len(q.palette)))
    out = q.to_image().astype(np.int64)
    expected_sse = (
        (rgba_rows(pixels)[:, : pixels.shape[2]].astype(np.int64) - out.reshape(-1, pixels.shape[2])) ** 2
    ).sum()
    assert q.inertia == pytest.approx(expected_sse, rel=1e-9, abs=1e-6)
    if n_unique <= k:
        np.testing.assert_array_equal(q.to_image(), rgba_rows(pixels)[:, : pixels.shape[2]].reshape(pixels.shape))
        assert q.inertia == 0


def test_without_run_margin_every_pixel_gets_its_nearest_palette_colour(rgb_image):
    q = quantcli.quantize(rgb_image, 12, run_margin=0)
    x = rgb_image.reshape(-1, 3).astype(np.int64)
    d = ((x[:, None, :] - q.palette[None].astype(np.int64)) ** 2).sum(-1)
    np.testing.assert_array_equal(q.labels.ravel(), d.argmin(axis=1))


@pytest.mark.parametrize("margin", [4.0, 50.0])
def test_run_margin_takes_a_neighbours_near_tie(margin):
    img = gradient_image(64, 96, seed=13)
    exact = quantcli.quantize(img, 24, run_margin=0)
    runs = quantcli.quantize(img, 24, run_margin=margin)
    np.testing.assert_array_equal(runs.palette, exact.palette)  # only the remap differs
    x = img.reshape(-1, 3).astype(np.int64)
    d = ((x[:, None, :] - exact.palette[None].astype(np.int64)) ** 2).sum(-1)
    chosen = np.take_along_axis(d, runs.labels.reshape(-1, 1).astype(np.int64), 1)[:, 0]
    nearest = d.min(axis=1)
    changed = chosen != nearest
    assert changed.any()
    # Every changed pixel took its second-nearest entry, within the margin...
    second = np.sort(d, axis=1)[:, 1]
    assert (chosen[changed] == second[changed]).all()
    assert (chosen[changed] - nearest[changed] <= margin).all()
    # ...and the left or upper neighbour has that entry.
    labels = runs.labels
    ys, xs = np.divmod(np.flatnonzero(changed), labels.shape[1])
    left = (xs > 0) & (labels[ys, np.maximum(xs - 1, 0)] == labels[ys, xs])
    up = (ys > 0) & (labels[np.maximum(ys - 1, 0), xs] == labels[ys, xs])
    assert (left | up).all()
    assert runs.inertia == pytest.approx(chosen.sum(), rel=1e-9)
    assert runs.inertia > exact.inertia


def test_run_margin_compresses_better():
    img = gradient_image(200, 300, seed=17)
    exact = quantcli.compress_pixels(img, quantcli.QuantizeOptions(k=64, run_margin=0))[0]
    runs = quantcli.compress_pixels(img, quantcli.QuantizeOptions(k=64, run_margin=8))[0]
    assert len(runs) < len(exact)


def test_one_colour_image():
    img = np.full((5, 7, 3), (10, 20, 30), np.uint8)
    q = quantcli.quantize(img, 2)
    assert q.palette.tolist() == [[10, 20, 30]]
    assert q.iterations == 0 and q.inertia == 0 and q.psnr == float("inf")


def test_k_above_unique_colours_is_lossless():
    rng = np.random.default_rng(5)
    palette = rng.integers(0, 256, (37, 3), dtype=np.uint8)
    img = np.ascontiguousarray(palette[rng.integers(0, 37, (20, 20))])
    q = quantcli.quantize(img, 64)
    np.testing.assert_array_equal(q.to_image(), img)
    assert {tuple(c) for c in q.palette} == {tuple(c) for c in img.reshape(-1, 3)}


@pytest.mark.parametrize("k", [2, 256])
def test_k_extremes_give_exactly_k_colours(k):
    img = gradient_image(64, 64, seed=9)
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 256
    q = quantcli.quantize(img, k)
    assert len(q.palette) == k
    assert len({tuple(c) for c in q.palette}) == k


def test_alpha_keeps_one_transparent_entry(rgba_image):
    q = quantcli.quantize(rgba_image, 16)
    assert q.palette.shape == (16, 4)
    transparent = np.flatnonzero(q.palette[:, 3] == 0)
    assert len(transparent) == 1
    assert q.palette[transparent[0]].tolist() == [0, 0, 0, 0]
    assert (q.labels[rgba_image[..., 3] == 0] == transparent[0]).all()


def test_same_seed_same_result_in_parallel_threads():
    img = gradient_image(80, 80, seed=11)
    first = quantcli.quantize(img, 32, seed=7, init="kmeans++")
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda _: quantcli.quantize(img, 32, seed=7, init="kmeans++"), range(8)))
    for q in runs:
        np.testing.assert_array_equal(q.palette, first.palette)
        np.testing.assert_array_equal(q.labels, first.labels)
    other = quantcli.quantize(img, 32, seed=8, init="kmeans++")
    assert not np.array_equal(other.palette, first.palette)


def test_dither_keeps_local_averages(rgb_image):
    plain = quantcli.quantize(rgb_image, 4)
    dithered = quantcli.quantize(rgb_image, 4, dither=True)
    np.testing.assert_array_equal(plain.palette, dithered.palette)
    assert not np.array_equal(plain.labels, dithered.labels)

    def blocks(img):  # mean colour of each 8x8 block
        h, w, c = img.shape
        return img.astype(np.float64).reshape(h // 8, 8, w // 8, 8, c).mean(axis=(1, 3))

    target = blocks(rgb_image)
    err_plain = np.abs(blocks(plain.to_image()) - target).mean()
    err_dither = np.abs(blocks(dithered.to_image()) - target).mean()
    assert err_dither < 0.7 * err_plain


def test_remap_onto_given_palette(rgb_image):
    palette = np.array([[0, 0, 0], [255, 255, 255], [255, 0, 0]], np.uint8)
    out = _core.remap(rgb_image, palette, QuantizeOptions(run_margin=0))
    x = rgb_image.reshape(-1, 3).astype(np.int64)
    d = ((x[:, None, :] - palette[None].astype(np.int64)) ** 2).sum(-1)
    np.testing.assert_array_equal(out.labels.ravel(), d.argmin(axis=1))


@pytest.mark.parametrize(
    ("pixels", "message"),
    [
        (np.zeros((4, 4, 3), np.float32), "dtype"),
        (np.zeros((4, 4), np.uint8), "shape"),
        (np.zeros((4, 4, 5), np.uint8), "shape"),
        (np.zeros((4, 8, 3), np.uint8)[:, ::2], "C-contiguous"),
        (np.zeros((0, 4, 3), np.uint8), "empty"),
    ],
)
def test_bad_pixels_raise_value_error(pixels, message):
    with pytest.raises(ValueError, match=message):
        quantcli.quantize(pixels, 4)


@pytest.mark.parametrize("k", [0, 1, 257, -3])
def test_k_out_of_range(k, rgb_image):
    with pytest.raises(ValueError, match="k must be from 2 to 256"):
        quantcli.quantize(rgb_image, k)


@pytest.mark.parametrize("bad", [{"seed": -1}, {"max_iter": -1}, {"tol": -0.5}, {"init": "random"}, {"dither": "yes"}])
def test_bad_options(bad, rgb_image):
    with pytest.raises(ValueError):
        quantcli.quantize(rgb_image, 4, **bad)


def test_arrays_from_pickle_are_accepted(rgb_image):
    import pickle

    clone = pickle.loads(pickle.dumps(rgb_image))  # a dtype object that is not numpy's cached one
    np.testing.assert_array_equal(quantcli.quantize(clone, 8).palette, quantcli.quantize(rgb_image, 8).palette)


def test_big_endian_counts_are_rejected(rgb_image):
    colors, counts = _core.histogram(rgb_image)
    with pytest.raises(ValueError, match="dtype uint64"):
        _core.fit_palette(colors, counts.astype(">u8"), QuantizeOptions(k=4))


@pytest.mark.parametrize("alpha", [False, True])
def test_thread_count_never_changes_the_result(alpha):
    # Big enough that the histogram is counted in several chunks.
    img = gradient_image(700, 800, seed=21, alpha=alpha)
    one = quantcli.quantize(img, 200, threads=1)
    for threads in (2, 3, 8):
        other = quantcli.quantize(img, 200, threads=threads)
        np.testing.assert_array_equal(other.palette, one.palette)
        np.testing.assert_array_equal(other.labels, one.labels)
        assert other.inertia == one.inertia and other.iterations == one.iterations
    c1, _ = _core.histogram(img)
    assert len(c1) == one.unique_colors


@pytest.mark.parametrize("options", [None, {"k": 4}, 4])
def test_core_takes_options_only_as_a_quantize_options(options, rgb_image):
    # Option values are validated once, by QuantizeOptions; the binding accepts nothing else.
    with pytest.raises(TypeError, match="QuantizeOptions"):
        _core.quantize(rgb_image, options)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, -0.5, 255.5, 1e30])
def test_kmeans_refuses_centres_that_are_not_colours(bad, rgb_image):
    # NaN centres made the k-means step write past a buffer (found by ASan); the binding
    # now refuses anything outside the colour cube before the core sees it.
    colors, counts = _core.histogram(rgb_image)
    start = _core.initial_palette(colors, counts, QuantizeOptions(k=8))
    start[3, 1] = bad
    with pytest.raises(ValueError, match="init must hold finite values from 0 to 255"):
        _core.kmeans(colors, counts, start, 0, QuantizeOptions())


def test_kmeans_accepts_its_own_initial_palette_at_the_edges(rgb_image):
    colors, counts = _core.histogram(rgb_image)
    start = _core.initial_palette(colors, counts, QuantizeOptions(k=4))
    start[0] = 0.0
    start[1] = 255.0
    centres, assignment, _, _ = _core.kmeans(colors, counts, start, 2, QuantizeOptions())
    np.testing.assert_array_equal(centres[:2], start[:2])  # fixed centres never move
    assert assignment.min() >= 0 and assignment.max() < 4
