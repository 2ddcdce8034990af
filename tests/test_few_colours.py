"""An input that already has at most K colours: reproduced exactly, and a PNG input never
comes out larger than its own pixel chunks (the JSON row's ``kept_input`` says when those
are the output)."""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import quantcli
from PIL import Image, PngImagePlugin
from quantcli import QuantizeOptions, _core
from quantcli.pipeline import pixel_chunks_png

PNGSUITE = Path(__file__).resolve().parents[2] / "shared" / "pngsuite"


def chunk_types(png: bytes) -> list[bytes]:
    out, pos = [], 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        out.append(png[pos + 4 : pos + 8])
        pos += 12 + length
    return out


def rgba(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGBA"))


def few_colours(height: int = 48, width: int = 64) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    colours = np.array([[200, 30, 30], [30, 200, 30], [30, 30, 200], [250, 250, 250]], np.uint8)
    return colours[((x // 8) + (y // 8)) % 4]


def save(pixels: np.ndarray, **params) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", **params)
    return buffer.getvalue()


def test_a_small_palette_png_is_kept_as_its_own_pixel_chunks():
    buffer = io.BytesIO()
    Image.fromarray(few_colours()).quantize(4).save(buffer, format="PNG", optimize=True)  # 2-bit palette
    data = buffer.getvalue()
    assert b"PLTE" in chunk_types(data)
    png, result = quantcli.compress_bytes(data, QuantizeOptions(k=16))
    np.testing.assert_array_equal(rgba(png), rgba(data))
    assert result.colors == 4 and result.psnr is None
    assert result.kept_input and png == pixel_chunks_png(data) and result.bytes_out == len(png) <= len(data)


def test_an_input_quantcli_packs_smaller_gets_quantcli_s_png():
    data = save(few_colours(), compress_level=0)  # RGB, stored without compression
    png, result = quantcli.compress_bytes(data, QuantizeOptions(k=16))
    assert not result.kept_input and b"quNT" in chunk_types(png)
    assert len(png) < len(data)
    np.testing.assert_array_equal(rgba(png), rgba(data))


def test_metadata_is_left_out_of_a_kept_input():
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "x" * 2000)  # private text, larger than the pixels
    data = save(few_colours(), optimize=True, pnginfo=info)
    png, result = quantcli.compress_bytes(data, QuantizeOptions(k=16))
    assert b"tEXt" not in chunk_types(png) and b"Comment" not in png
    assert len(png) < len(data)
    assert len(png) <= len(pixel_chunks_png(data)) and result.psnr is None
    np.testing.assert_array_equal(rgba(png), rgba(data))


def test_an_exif_orientation_is_never_kept():
    data = save(few_colours(), optimize=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: the reader turns the image
    body = exif.tobytes()
    chunk = struct.pack(">I", len(body)) + b"eXIf" + body + struct.pack(">I", zlib.crc32(b"eXIf" + body))
    turned = data[:33] + chunk + data[33:]  # after IHDR
    assert pixel_chunks_png(turned) is None
    png, result = quantcli.compress_bytes(turned, QuantizeOptions(k=16))
    assert not result.kept_input and b"eXIf" not in chunk_types(png)


def test_an_image_of_more_colours_than_k_is_never_kept():
    pixels = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    data = save(pixels, optimize=True)
    _, result = quantcli.compress_bytes(data, QuantizeOptions(k=16))
    assert not result.kept_input and result.psnr is not None


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"GIF89a", None),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR", None),  # cut short
    ],
)
def test_what_is_not_a_whole_png_has_no_pixel_chunks(data, expected):
    assert pixel_chunks_png(data) is expected


def test_the_json_row_says_which(tmp_path, run_cli):
    src = tmp_path / "tiny.png"
    src.write_bytes(save(few_colours(), optimize=True))
    proc = run_cli("compress", src, "-k", "16", "-o", tmp_path / "out.png", "--json", check_rc=0)
    row = json.loads(proc.stdout)
    assert isinstance(row["kept_input"], bool)
    assert row["status"] == "written" and row["bytes_out"] <= row["bytes_in"]
    np.testing.assert_array_equal(rgba((tmp_path / "out.png").read_bytes()), rgba(src.read_bytes()))


@pytest.mark.skipif(not PNGSUITE.is_dir(), reason="PngSuite is not beside the repository")
def test_pngsuite_images_of_at_most_256_colours_come_back_exact_and_no_larger():
    checked = 0
    for path in sorted(PNGSUITE.glob("[!x]*.png")):
        data = path.read_bytes()
        own = pixel_chunks_png(data)
        if own is None or _core.compress_plain_png(data, QuantizeOptions(), 0) is None:
            continue  # 16-bit and other inputs the core's reader leaves to the general route
        pixels = quantcli.read_image(data)
        if len(np.unique(pixels.reshape(-1, pixels.shape[2]), axis=0)) > 256:
            continue
        png, result = quantcli.compress_bytes(data, QuantizeOptions())
        assert len(png) <= len(own), path.name
        assert result.psnr is None, path.name
        np.testing.assert_array_equal(quantcli.read_image(png), pixels, err_msg=path.name)
        checked += 1
    assert checked >= 40
