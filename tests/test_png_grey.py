"""The greyscale form of a palette PNG: a palette whose every entry is an opaque grey is
written as a greyscale PNG (colour type 0, no PLTE) at the smallest bit depth that holds
its values, when that file is smaller; Pillow and imageio decode it to the same pixels."""

from __future__ import annotations

import io
import struct

import imageio.v3 as iio
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from quantcli.api import encode_png


def header(png: bytes) -> tuple[int, int, set[bytes]]:
    """(bit depth, colour type, chunk types) of a PNG."""
    depth, colour_type = png[24], png[25]
    chunks, pos = set(), 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        chunks.add(png[pos + 4 : pos + 8])
        pos += 12 + length
    return depth, colour_type, chunks


def grey_palette(values) -> np.ndarray:
    return np.repeat(np.asarray(values, dtype=np.uint8)[:, None], 3, axis=1)


def decoded_rgb(png: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The RGB pixels as Pillow and as imageio read the file."""
    with Image.open(io.BytesIO(png)) as image:
        pillow = np.asarray(image.convert("RGB"))
    read = iio.imread(png)
    if read.ndim == 2:
        read = np.repeat(read[..., None], 3, axis=2)
    return pillow, read[..., :3]


@pytest.mark.parametrize(
    ("values", "depth"),
    [([0, 85, 170, 255], 2), ([17 * i for i in range(16)], 4), (list(range(0, 256, 5)), 8)],
)
def test_a_grey_palette_becomes_greyscale_at_the_smallest_depth_holding_its_values(values, depth):
    palette = grey_palette(values)
    y, x = np.mgrid[0:40, 0:90]
    labels = ((x // 3 + y) % len(values)).astype(np.uint8)
    png = encode_png(labels, palette)
    got_depth, colour_type, chunks = header(png)
    assert (got_depth, colour_type) == (depth, 0)
    assert b"PLTE" not in chunks and b"quNT" in chunks
    want = palette[labels]
    for pixels in decoded_rgb(png):
        np.testing.assert_array_equal(pixels, want)


def test_two_greys_stay_a_1_bit_palette_which_readers_give_as_uint8():
    """A 1-bit grey PNG reads as booleans in Pillow and imageio: never written."""
    palette = grey_palette([0, 255])
    labels = np.tile(np.array([0, 1], np.uint8), (16, 16))
    png = encode_png(labels, palette)
    assert header(png)[:2] in {(1, 3), (2, 0)}
    assert iio.imread(png).dtype == np.uint8


def test_grey_values_off_every_coarse_grid_are_stored_at_8_bits():
    palette = grey_palette([3, 200])  # two entries, but 3 is no level of 1, 2 or 4 bits
    labels = np.tile(np.array([0, 1], np.uint8), (8, 8))
    png = encode_png(labels, palette)
    depth, colour_type, _ = header(png)
    # 8-bit grey or a 1-bit palette, whichever is smaller; either way the same pixels
    assert (depth, colour_type) in {(8, 0), (1, 3)}
    for pixels in decoded_rgb(png):
        np.testing.assert_array_equal(pixels, palette[labels])


def test_a_gradient_grey_file_is_smaller_than_its_palette_form():
    """PngSuite's 8-bit grey case in small: a palette file carries a 768-byte PLTE."""
    labels = np.tile(np.arange(256, dtype=np.uint8), (32, 1))
    palette = grey_palette(range(256))
    grey = encode_png(labels, palette)
    assert header(grey)[1] == 0
    coloured = palette.copy()
    coloured[0, 0] = 1  # no longer grey: the palette form
    assert header(encode_png(labels, coloured))[1] == 3
    assert len(grey) < len(encode_png(labels, coloured)) - 700


@pytest.mark.parametrize(
    "palette",
    [
        np.array([[10, 20, 30], [255, 255, 255]], np.uint8),  # a colour entry
        np.array([[0, 0, 0, 0], [255, 255, 255, 255]], np.uint8),  # transparency
        np.array([[90, 90, 90, 128], [255, 255, 255, 255]], np.uint8),  # translucency
    ],
)
def test_colour_or_transparency_keeps_the_palette_form(palette):
    labels = np.tile(np.array([0, 1], np.uint8), (4, 4))
    png = encode_png(labels, palette)
    assert header(png)[1] == 3
    with Image.open(io.BytesIO(png)) as image:
        rgba = np.asarray(image.convert("RGBA"))
    full = palette if palette.shape[1] == 4 else np.concatenate([palette, np.full((2, 1), 255, np.uint8)], 1)
    np.testing.assert_array_equal(rgba, full[labels])


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.integers(0, 255), min_size=1, max_size=256, unique=True),
    shape=st.tuples(st.integers(1, 37), st.integers(1, 37)),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_grey_palette_decodes_to_its_pixels(values, shape, seed):
    palette = grey_palette(values)
    labels = np.random.default_rng(seed).integers(0, len(values), shape, dtype=np.uint8)
    png = encode_png(labels, palette)
    for pixels in decoded_rgb(png):
        np.testing.assert_array_equal(pixels, palette[labels])
