"""The one conversion rule from decoded images to 8-bit RGB(A), and atomic writes."""

from __future__ import annotations

import io
import os

import imageio.v3 as iio
import numpy as np
import pytest
import quantcli
from PIL import Image
from quantcli import ImageReadError, OutputExistsError


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def test_grey_becomes_rgb():
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    out = quantcli.read_image(iio.imwrite("<bytes>", grey, extension=".png"))
    assert out.shape == (3, 4, 3)
    np.testing.assert_array_equal(out, np.repeat(grey[..., None], 3, axis=2))


def test_grey_alpha_becomes_rgba():
    la = np.zeros((2, 2, 2), np.uint8)
    la[..., 0] = [[10, 20], [30, 40]]
    la[..., 1] = [[0, 255], [128, 255]]
    out = quantcli.read_image(iio.imwrite("<bytes>", la, extension=".png"))
    assert out.shape == (2, 2, 4)
    np.testing.assert_array_equal(out[..., 3], la[..., 1])
    np.testing.assert_array_equal(out[..., 1], la[..., 0])


def test_sixteen_bit_is_scaled():
    g16 = np.array([[0, 257, 65535, 32896]], np.uint16)
    out = quantcli.read_image(iio.imwrite("<bytes>", g16, extension=".png"))
    assert out[0, :, 0].tolist() == [0, 1, 255, 128]


def test_palette_with_transparency_becomes_rgba():
    im = Image.new("P", (2, 1))
    im.putpalette([255, 0, 0, 0, 0, 255])
    im.putpixel((1, 0), 1)
    im.info["transparency"] = 0
    out = quantcli.read_image(png_bytes(im))
    assert out.tolist() == [[[255, 0, 0, 0], [0, 0, 255, 255]]]


def test_palette_without_transparency_becomes_rgb():
    im = Image.new("P", (2, 1))
    im.putpalette([255, 0, 0, 0, 0, 255])
    assert quantcli.read_image(png_bytes(im)).shape == (1, 2, 3)


def test_opaque_alpha_is_dropped():
    rgba = np.full((2, 2, 4), 255, np.uint8)
    assert quantcli.read_image(iio.imwrite("<bytes>", rgba, extension=".png")).shape == (2, 2, 3)


def test_float_and_bool_arrays():
    assert quantcli.to_rgb8(np.array([[0.0, 0.5, 1.0]]))[0, :, 0].tolist() == [0, 128, 255]
    assert quantcli.to_rgb8(np.array([[False, True]]))[0, :, 0].tolist() == [0, 255]


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty"), (b"hello, not an image", "not an image"), (None, "no such file")],
)
def test_unreadable_inputs_name_the_file(tmp_path, content, message):
    path = tmp_path / "bad.png"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ImageReadError, match=message) as info:
        quantcli.read_image(path)
    assert str(path) in str(info.value)


def test_truncated_png(tmp_path, rgb_image):
    data = iio.imwrite("<bytes>", rgb_image, extension=".png")
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match=r"cut\.png"):
        quantcli.read_image(path)


def test_write_atomic_never_replaces_without_force(tmp_path):
    target = tmp_path / "out.png"
    target.write_bytes(b"old")
    with pytest.raises(OutputExistsError):
        quantcli.write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    quantcli.write_atomic(target, b"new", force=True)
    assert target.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["out.png"]


def test_compress_file_result_and_no_temp_left(tmp_path, rgb_image):
    src = tmp_path / "in.png"
    iio.imwrite(src, rgb_image)
    result = quantcli.compress_file(src, tmp_path / "sub" / "out.png", k=8)
    assert result.status == "written" and result.colors == 8
    assert result.bytes_out == (tmp_path / "sub" / "out.png").stat().st_size
    assert result.psnr is not None and result.psnr > 20
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["out.png"]
    with pytest.raises(OutputExistsError):
        quantcli.compress_file(src, tmp_path / "sub" / "out.png", k=8)


def test_signed_integer_pixels_are_shifted_then_scaled():
    """Signed samples span their full range: the minimum is black, the maximum white."""
    a = np.array([[-128, -1, 0, 127]], np.int8)
    assert quantcli.to_rgb8(a)[0, :, 0].tolist() == [0, 127, 128, 255]
    b = np.array([[-32768, 0, 32767]], np.int16)
    assert quantcli.to_rgb8(b)[0, :, 0].tolist() == [0, round(32768 * 255 / 65535), 255]
