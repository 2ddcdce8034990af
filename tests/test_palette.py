"""Shared palettes (local engine) and palette files, against numpy oracles and Pillow."""

from __future__ import annotations

import io
import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from conftest import gradient_image
from PIL import Image
from quantcli import _core
from quantcli.api import compress_pixels, remap
from quantcli.errors import ImageReadError, InvalidOptionError
from quantcli.options import QuantizeOptions
from quantcli.palette import (
    ColorHistogram,
    HistogramMerger,
    collection_histogram,
    fit_shared_palette,
    image_histogram,
    merge_histograms,
    read_palette,
)


def numpy_histogram(images: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The oracle: every pixel as RGBA (transparent folded to 0), np.unique, key order."""
    rows = []
    for img in images:
        px = img.reshape(-1, img.shape[-1])
        if px.shape[1] == 3:
            px = np.concatenate([px, np.full((len(px), 1), 255, np.uint8)], axis=1)
        px = px.copy()
        px[px[:, 3] == 0] = 0
        rows.append(px)
    allpx = np.concatenate(rows).astype(np.uint64)
    keys = allpx[:, 0] | (allpx[:, 1] << 8) | (allpx[:, 2] << 16) | (allpx[:, 3] << 24)
    uniq, counts = np.unique(keys, return_counts=True)
    colors = np.stack([(uniq >> (8 * c)) & 255 for c in range(4)], axis=1).astype(np.uint8)
    return colors, counts.astype(np.uint64)


def png_palette(data: bytes | Path) -> np.ndarray:
    """PLTE (+ tRNS) of a palette PNG as Pillow reads it: (n, 4) uint8."""
    with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as im:
        assert im.mode == "P"
        rgb = np.asarray(im.getpalette("RGB"), np.uint8).reshape(-1, 3)
        alpha = np.full(len(rgb), 255, np.uint8)
        trns = im.info.get("transparency", b"")
        alpha[: len(trns)] = np.frombuffer(trns, np.uint8)
        return np.concatenate([rgb, alpha[:, None]], axis=1)


def as_rgba_set(palette: np.ndarray) -> set[tuple[int, ...]]:
    if palette.shape[1] == 3:
        palette = np.concatenate([palette, np.full((len(palette), 1), 255, np.uint8)], axis=1)
    return {tuple(int(v) for v in row) for row in palette}


@pytest.fixture
def collection() -> list[np.ndarray]:
    return [gradient_image(24, 32, seed=s, alpha=(s % 3 == 2)) for s in range(7)]


def test_tree_merge_equals_numpy_histogram_in_any_order(collection):
    want_colors, want_counts = numpy_histogram(collection)
    for order in (range(7), reversed(range(7)), [3, 0, 6, 1, 5, 2, 4]):
        merged = merge_histograms(image_histogram(collection[i]) for i in order)
        assert merged is not None
        np.testing.assert_array_equal(merged.colors, want_colors)
        np.testing.assert_array_equal(merged.counts, want_counts)


def test_merger_keeps_few_partial_sums(collection):
    merger = HistogramMerger()
    for _ in range(100):
        merger.add(image_histogram(collection[0]))
        assert len(merger._stack) <= 7  # log2(100) + 1
    total = merger.result()
    assert total is not None and int(total.counts.sum()) == 100 * 24 * 32
    assert merge_histograms([]) is None


def test_histogram_bytes_round_trip(collection):
    hist = image_histogram(collection[2])
    back = ColorHistogram.from_bytes(*hist.to_bytes())
    np.testing.assert_array_equal(back.colors, hist.colors)
    np.testing.assert_array_equal(back.counts, hist.counts)


def test_shared_palette_is_weighted_kmeans_on_the_oracle_histogram(collection, tmp_path):
    options = QuantizeOptions(k=16)
    paths = []
    for i, img in enumerate(collection):
        paths.append(tmp_path / f"{i}.png")
        iio.imwrite(paths[-1], img)
    hist = collection_histogram(paths, workers=3)
    assert hist is not None
    colors, counts = numpy_histogram(collection)
    want, _, _ = _core.fit_palette(colors, counts, QuantizeOptions(k=16))
    palette = fit_shared_palette(hist, options)
    assert palette.shape == (16, 4)  # some inputs have alpha
    np.testing.assert_array_equal(palette, want)
    np.testing.assert_array_equal(fit_shared_palette(collection_histogram(paths, workers=1), options), palette)
    for img in collection:
        png, q = compress_pixels(img, options, palette)
        decoded = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA")).reshape(-1, 4)
        assert as_rgba_set(png_palette(png)) == as_rgba_set(palette)
        assert {tuple(p) for p in decoded} <= as_rgba_set(palette)
        assert len(q.palette) == 16


def test_unreadable_collection_gives_an_empty_palette_that_remap_refuses(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    palette = fit_shared_palette(collection_histogram([bad], workers=2), QuantizeOptions(k=8))
    assert palette.shape == (0, 3)
    with pytest.raises(InvalidOptionError, match="1 to 256"):
        remap(gradient_image(4, 4), palette)


def test_read_palette_from_a_quantcli_png_and_from_a_few_colour_image(rgba_image, tmp_path):
    png, q = compress_pixels(rgba_image, QuantizeOptions(k=12))
    palette = read_palette(png)
    assert palette.shape == (12, 4)
    assert as_rgba_set(palette) == as_rgba_set(q.palette)
    # Remapping the image onto its own palette gives the same pixels.
    again = remap(rgba_image, palette)
    np.testing.assert_array_equal(again.to_image(), q.to_image())

    few = np.zeros((8, 8, 3), np.uint8)
    few[:4] = (200, 10, 10)
    path = tmp_path / "few.png"
    iio.imwrite(path, few)
    assert as_rgba_set(read_palette(path)) == {(0, 0, 0, 255), (200, 10, 10, 255)}


def test_read_palette_refuses_photos_and_non_images(rgb_image, tmp_path):
    photo = tmp_path / "photo.png"
    iio.imwrite(photo, rgb_image)
    with pytest.raises(InvalidOptionError, match=r"photo\.png: has \d+ colours"):
        read_palette(photo)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"junk")
    with pytest.raises(ImageReadError, match=r"junk\.png"):
        read_palette(junk)
    with pytest.raises(ImageReadError, match="no such file"):
        read_palette(tmp_path / "missing.png")


def test_cli_shared_palette_and_palette_file(run_cli, collection, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i, img in enumerate(collection):
        iio.imwrite(src / f"{i}.png", img)
    (src / "bad.png").write_bytes(b"broken")
    proc = run_cli(
        "compress",
        src,
        "-k",
        "16",
        "--palette",
        "shared",
        "--out-dir",
        tmp_path / "shared",
        "--json",
    )
    assert proc.returncode == 1  # bad.png
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["status"] for r in rows].count("written") == 7
    outputs = sorted((tmp_path / "shared").glob("*.png"))
    assert len(outputs) == 7
    want, _, _ = _core.fit_palette(*numpy_histogram(collection), QuantizeOptions(k=16))
    for out in outputs:
        assert as_rgba_set(png_palette(out)) == as_rgba_set(want)
        np.testing.assert_array_equal(png_palette(out), png_palette(outputs[0]))  # same order too

    # Any output is a palette file: mapping the inputs onto it gives the same bytes.
    proc = run_cli("compress", src, "--palette", outputs[0], "--out-dir", tmp_path / "mapped", "--json")
    assert proc.returncode == 1
    for out in outputs:
        assert (tmp_path / "mapped" / out.name).read_bytes() == out.read_bytes()

    proc = run_cli("compress", src / "0.png", "--palette", src / "0.png", "-o", tmp_path / "x.png")
    assert proc.returncode == 2
    assert b"--palette" in proc.stderr and b"colours" in proc.stderr


def test_read_palette_with_one_transparent_index(tmp_path):
    """A GIF-style palette file whose transparency is a single index, not a tRNS table."""
    from PIL import Image

    path = tmp_path / "pal.gif"
    image = Image.new("P", (3, 1))
    image.putpalette([10, 20, 30, 40, 50, 60, 70, 80, 90])
    image.putdata([0, 1, 2])
    image.save(path, transparency=1)
    palette = read_palette(path)
    assert palette.shape[1] == 4
    assert palette[:3].tolist() == [[10, 20, 30, 255], [40, 50, 60, 0], [70, 80, 90, 255]]


def test_an_opaque_image_on_an_rgba_palette_is_scored_on_its_three_channels():
    """A shared palette is RGBA when any image had transparency; an opaque image mapped
    onto its opaque entries has exactly its RGB error, not that error over four channels."""
    rgb = gradient_image(40, 50, seed=1)[..., :3].copy()
    entries = remap(rgb, gradient_image(8, 4, seed=4)[..., :3].reshape(-1, 3), dither="off").palette
    rgba_palette = np.vstack([np.column_stack([entries, np.full(len(entries), 255, np.uint8)]), [[0, 0, 0, 0]]])
    q = remap(rgb, rgba_palette.astype(np.uint8), dither="off")
    out = q.to_image()
    assert out.shape[2] == 4 and (out[..., 3] == 255).all()
    want = float(np.mean((out[..., :3].astype(float) - rgb) ** 2))
    assert q.mse == pytest.approx(want, rel=1e-12)
    assert q.psnr == pytest.approx(remap(rgb, entries, dither="off").psnr, rel=1e-12)
