"""Every PNG we write is decoded by Pillow and imageio and must equal palette[labels]."""

from __future__ import annotations

import io
import struct
import zlib

import imageio.v3 as iio
import numpy as np
import pytest
import quantcli
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image


def chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of every chunk, checking each CRC on the way."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    out, pos = [], 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", png[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + data), f"bad CRC in {kind!r}"
        out.append((kind, data))
        pos += 12 + length
    return out


def decode_pillow(png: bytes, channels: int) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA" if channels == 4 else "RGB"))


def decode_imageio(png: bytes, channels: int) -> np.ndarray:
    return iio.imread(png, mode="RGBA" if channels == 4 else "RGB")


@pytest.mark.parametrize(("n_colors", "depth"), [(1, 1), (2, 1), (3, 2), (4, 2), (5, 4), (16, 4), (17, 8), (256, 8)])
@pytest.mark.parametrize("width", [1, 3, 7, 8, 9, 33])
@pytest.mark.parametrize("alpha", [False, True])
def test_every_bit_depth_decodes_exactly(n_colors, depth, width, alpha):
    rng = np.random.default_rng(n_colors * 100 + width)
    channels = 4 if alpha else 3
    palette = rng.integers(0, 256, (n_colors, channels), dtype=np.uint8)
    if alpha:
        palette[0, 3] = 0
        palette[-1, 3] = 255
    labels = rng.integers(0, n_colors, (5, width), dtype=np.uint8)
    png = quantcli.encode_png(labels, palette)
    parts = dict(chunks(png))
    ihdr = parts[b"IHDR"]
    assert struct.unpack(">IIBBBBB", ihdr) == (width, 5, depth, 3, 0, 0, 0)
    assert len(parts[b"PLTE"]) == 3 * n_colors
    assert (b"tRNS" in parts) == bool(alpha and (palette[:, 3] < 255).any())
    expected = palette[labels]
    np.testing.assert_array_equal(decode_pillow(png, channels), expected)
    np.testing.assert_array_equal(decode_imageio(png, channels), expected)


def test_chunk_order_and_short_trns():
    palette = np.array([[1, 2, 3, 255], [4, 5, 6, 0], [7, 8, 9, 128], [10, 11, 12, 255]], np.uint8)
    labels = np.array([[0, 1, 2, 3]], np.uint8)
    kinds = [kind for kind, _ in chunks(quantcli.encode_png(labels, palette))]
    assert kinds == [b"IHDR", b"quNT", b"PLTE", b"tRNS", b"IDAT", b"IEND"]
    trns = dict(chunks(quantcli.encode_png(labels, palette)))[b"tRNS"]
    assert len(trns) == 2  # translucent entries first, opaque ones need no tRNS byte


def test_opaque_rgba_palette_writes_no_trns():
    palette = np.array([[1, 2, 3, 255], [4, 5, 6, 255]], np.uint8)
    png = quantcli.encode_png(np.array([[0, 1]], np.uint8), palette)
    assert b"tRNS" not in dict(chunks(png))


@settings(max_examples=60, deadline=None)
@given(
    labels=hnp.arrays(np.uint8, hnp.array_shapes(min_dims=2, max_dims=2, max_side=20), elements=st.integers(0, 9)),
    level=st.integers(0, 12),
)
def test_decode_of_encode_is_identity(labels, level):
    palette = np.arange(30, dtype=np.uint8).reshape(10, 3) * 8
    png = quantcli.encode_png(np.ascontiguousarray(labels), palette, level=level)
    np.testing.assert_array_equal(decode_pillow(png, 3), palette[labels])


def test_quantize_then_encode_roundtrip(rgba_image):
    q = quantcli.quantize(rgba_image, 16)
    png = quantcli.encode_png(q.labels, q.palette)
    np.testing.assert_array_equal(decode_pillow(png, 4), q.to_image())
    np.testing.assert_array_equal(decode_imageio(png, 4), q.to_image())


def test_same_input_same_bytes(rgb_image):
    a = quantcli.compress_pixels(rgb_image, quantcli.QuantizeOptions(k=32))[0]
    b = quantcli.compress_pixels(rgb_image.copy(), quantcli.QuantizeOptions(k=32))[0]
    assert a == b


@pytest.mark.parametrize(
    ("labels", "palette", "message"),
    [
        (np.zeros((2, 2), np.uint8), np.zeros((0, 3), np.uint8), "1 to 256 entries"),
        (np.full((2, 2), 3, np.uint8), np.zeros((3, 3), np.uint8), "below the palette size"),
        (np.zeros((2, 2), np.int32), np.zeros((3, 3), np.uint8), "dtype"),
        (np.zeros((2, 2, 1), np.uint8), np.zeros((3, 3), np.uint8), "shape"),
        (np.zeros((2, 2), np.uint8), np.zeros((3, 2), np.uint8), "shape"),
    ],
)
def test_encode_rejects_bad_arguments(labels, palette, message):
    with pytest.raises(ValueError, match=message):
        quantcli.encode_png(labels, palette)


def test_encode_rejects_bad_level():
    with pytest.raises(ValueError, match="level"):
        quantcli.encode_png(np.zeros((2, 2), np.uint8), np.zeros((2, 3), np.uint8), level=13)


@pytest.mark.parametrize("level", [1, 6, 9, 10, 12])
def test_large_image_compressed_in_pieces_decodes(level):
    # Over 256 KiB of scanlines: the IDAT is deflated in several primed pieces.
    rng = np.random.default_rng(level)
    base = np.add.outer(np.arange(700), np.arange(1100)) // 9 % 256
    labels = np.ascontiguousarray(
        np.where(rng.random(base.shape) < 0.05, rng.integers(0, 256, base.shape), base).astype(np.uint8)
    )
    palette = rng.integers(0, 256, (256, 3), dtype=np.uint8)
    png = quantcli.encode_png(labels, palette, level=level)
    idat = b"".join(data for kind, data in chunks(png) if kind == b"IDAT")
    assert zlib.decompress(idat)  # a valid zlib stream, checksum included
    np.testing.assert_array_equal(decode_pillow(png, 3), palette[labels])
    np.testing.assert_array_equal(decode_imageio(png, 3), palette[labels])


@pytest.mark.parametrize("level", [10, 12])
@pytest.mark.parametrize("content", ["gradient", "noise", "flat"])
def test_optimal_levels_join_pieces_into_one_stream(level, content):
    # Over 2 MiB of scanlines: libdeflate packs 1 MiB pieces separately, and they are joined
    # into one zlib stream. Noise makes libdeflate store blocks; flat rows make one long match.
    rng = np.random.default_rng(level)
    shape = (1000, 2200)
    if content == "gradient":
        labels = np.add.outer(np.arange(shape[0]), np.arange(shape[1])) // 7 % 256
        labels = np.where(rng.random(shape) < 0.05, rng.integers(0, 256, shape), labels)
    elif content == "noise":
        labels = rng.integers(0, 256, shape)
    else:
        labels = np.full(shape, 7)
    labels = np.ascontiguousarray(labels.astype(np.uint8))
    palette = rng.integers(0, 256, (256, 3), dtype=np.uint8)
    png = quantcli.encode_png(labels, palette, level=level, threads=1)
    idat = b"".join(data for kind, data in chunks(png) if kind == b"IDAT")
    assert zlib.decompress(idat)  # one valid zlib stream, checksum included
    np.testing.assert_array_equal(decode_pillow(png, 3), palette[labels])
    assert quantcli.encode_png(labels, palette, level=level, threads=3) == png


def test_encode_rejects_bad_threads():
    with pytest.raises(ValueError, match="threads"):
        quantcli.encode_png(np.zeros((2, 2), np.uint8), np.zeros((2, 3), np.uint8), threads=-1)
