"""quantcli.quantize_image and quantcli.save: Pillow in, Pillow out, on the pipeline of compress_pixels."""

from __future__ import annotations

import io

import numpy as np
import pytest
import quantcli
from PIL import Image
from quantcli.pillow import image_pixels, palette_image


def _photo(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([x * 255 // w, y * 255 // h, (x + y) * 127 // (w + h)], axis=2)
    return np.clip(rgb + rng.integers(-12, 13, (h, w, 3)), 0, 255).astype(np.uint8)


def _rgba(alpha: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.concatenate([_photo(*alpha.shape), alpha[:, :, None]], axis=2))


def _gradient_alpha(h: int = 48, w: int = 64) -> np.ndarray:
    return (np.mgrid[0:h, 0:w][1] * 255 // (w - 1)).astype(np.uint8)


def _one_bit_alpha(h: int = 48, w: int = 64) -> np.ndarray:
    alpha = np.full((h, w), 255, np.uint8)
    alpha[h // 4 : h // 2, w // 3 :] = 0
    return alpha


def _decoded(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


def _with_alpha(pixels: np.ndarray) -> np.ndarray:
    if pixels.shape[2] == 4:
        return pixels
    return np.concatenate([pixels, np.full((*pixels.shape[:2], 1), 255, np.uint8)], axis=2)


# One input per kind: (Pillow image, the pixels compress_pixels is given for it).
def _inputs() -> dict[str, tuple[Image.Image, np.ndarray]]:
    rgb = _photo()
    grey = rgb[:, :, 1].copy()
    rgba = _rgba(_gradient_alpha())
    one_bit = _rgba(_one_bit_alpha())
    return {
        "rgb": (Image.fromarray(rgb, "RGB"), rgb),
        "grey": (Image.fromarray(grey, "L"), np.repeat(grey[:, :, None], 3, axis=2)),
        "rgba": (Image.fromarray(rgba, "RGBA"), rgba),
        "one_bit_alpha": (Image.fromarray(one_bit, "RGBA"), one_bit),
    }


@pytest.mark.parametrize("kind", ["rgb", "grey", "rgba", "one_bit_alpha"])
@pytest.mark.parametrize("k", [16, 256])
def test_quantize_image_matches_compress_pixels(kind, k):
    image, pixels = _inputs()[kind]
    options = quantcli.QuantizeOptions(k=k, dither="auto")
    png, q = quantcli.compress_pixels(np.ascontiguousarray(pixels), options)
    out = quantcli.quantize_image(image, k=k, dither="auto")
    assert out.mode == "P" and out.size == image.size
    n = len(q.palette)
    assert np.array_equal(np.asarray(out), q.labels)
    assert np.array_equal(np.array(out.getpalette("RGB"), np.uint8).reshape(-1, 3), q.palette[:, :3])
    if q.palette.shape[1] == 4:
        assert np.frombuffer(out.info["transparency"], np.uint8).tolist() == q.palette[:, 3].tolist()
    else:
        assert "transparency" not in out.info
    assert len(out.getpalette()) == 3 * n
    # Pillow's own view of the image is the quantized pixels, alpha included.
    assert np.array_equal(np.asarray(out.convert("RGBA")), _with_alpha(q.to_image()))
    # save() writes what compress_pixels wrote, pixel for pixel.
    buffer = io.BytesIO()
    quantcli.save(out, buffer)
    assert np.array_equal(_decoded(buffer.getvalue()), _decoded(png))
    assert buffer.getvalue()[37:41] == b"quNT"


def test_quantize_image_options_and_quality():
    image, pixels = _inputs()["rgb"]
    options = quantcli.QuantizeOptions(k=64, dither="off", seed=3, speed=5)
    _, q = quantcli.compress_pixels(pixels, options)
    out = quantcli.quantize_image(image, k=64, dither="off", seed=3, speed=5)
    assert np.array_equal(np.asarray(out), q.labels)
    # quality: the fewest colours reaching it, as compress_to_quality picks them.
    _, q = quantcli.compress_to_quality(pixels, quantcli.QuantizeOptions(k=256), (0, 60))
    for given in ((0, 60), 60, "0-60", "60"):
        out = quantcli.quantize_image(image, quality=given)
        assert len(out.getpalette()) == 3 * len(q.palette)
        assert np.array_equal(np.asarray(out), q.labels)
    with pytest.raises(quantcli.QualityTooLowError):
        quantcli.quantize_image(image, k=2, quality=(99, 100))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"k": 1}, "k must be from 2 to 256"),
        ({"dither": "sometimes"}, "dither must be"),
        ({"quality": (90, 10)}, "quality minimum 90 is above its maximum 10"),
    ],
)
def test_quantize_image_refuses_bad_options(value, message):
    with pytest.raises(quantcli.InvalidOptionError, match=message):
        quantcli.quantize_image(Image.new("RGB", (4, 4)), **value)


def test_image_pixels_follow_the_reading_rule():
    # A palette image with a transparent entry becomes RGBA; an opaque RGBA becomes RGB;
    # 16-bit grey is scaled as read_image scales it; 1-bit becomes grey RGB.
    p = Image.frombytes("P", (2, 1), bytes([0, 1]))
    p.putpalette(bytes([10, 20, 30, 40, 50, 60]))
    p.info["transparency"] = 0
    assert image_pixels(p).tolist() == [[[10, 20, 30, 0], [40, 50, 60, 255]]]
    opaque = Image.new("RGBA", (3, 2), (1, 2, 3, 255))
    assert image_pixels(opaque).shape == (2, 3, 3)
    grey16 = Image.fromarray(np.array([[0, 257, 65535]], np.uint16))
    assert image_pixels(grey16)[0, :, 0].tolist() == [0, 1, 255]
    bits = Image.new("1", (2, 2), 1)
    assert image_pixels(bits).tolist() == [[[255, 255, 255]] * 2] * 2
    la = Image.fromarray(np.array([[[7, 0], [9, 255]]], np.uint8))
    assert image_pixels(la).tolist() == [[[7, 7, 7, 0], [9, 9, 9, 255]]]
    with pytest.raises(quantcli.InvalidOptionError, match="no pixels"):
        image_pixels(Image.new("RGB", (0, 3)))


def test_save_keeps_foreign_palette_images_exactly(tmp_path):
    # A P image made by Pillow: 256 palette entries of which 3 are used, one transparent index.
    labels = np.array([[0, 5, 200], [5, 5, 0]], np.uint8)
    image = Image.fromarray(labels, "L").convert("P")
    image.putpalette([v for i in range(256) for v in (i, 255 - i, i // 2)])
    image.info["transparency"] = 5
    expected = np.asarray(image.convert("RGBA"))
    quantcli.save(image, tmp_path / "out.png")
    data = (tmp_path / "out.png").read_bytes()
    assert np.array_equal(_decoded(data), expected)
    assert len(Image.open(tmp_path / "out.png").getpalette()) == 3 * 3  # unused entries dropped
    got_labels, got_palette = palette_image(image)
    assert got_palette.shape == (3, 4) and got_labels.max() == 2
    # An RGBA palette (Pillow's other way of holding per-entry alpha) is kept too.
    rgba = Image.frombytes("P", (2, 1), bytes([0, 1]))
    rgba.putpalette(bytes([1, 2, 3, 128, 4, 5, 6, 255]), "RGBA")
    quantcli.save(rgba, tmp_path / "rgba.png")
    assert _decoded((tmp_path / "rgba.png").read_bytes()).tolist() == [[[1, 2, 3, 128], [4, 5, 6, 255]]]


def test_save_replaces_a_file_and_picks_the_format(tmp_path):
    image = quantcli.quantize_image(Image.fromarray(_photo()), k=8)
    target = tmp_path / "sub" / "a.png"
    target.parent.mkdir()
    target.write_bytes(b"old")
    quantcli.save(image, str(target))
    assert target.read_bytes().startswith(b"\x89PNG")
    quantcli.save(image, tmp_path / "b.image", format="PNG")
    assert (tmp_path / "b.image").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("image", "kwargs", "message"),
    [
        (Image.new("RGB", (2, 2)), {}, "save writes palette images .mode P., got mode RGB"),
        (None, {"format": "gif"}, "format must be one of"),
        (None, {"level": 13}, "level must be from 0 to 12"),
    ],
)
def test_save_refusals(tmp_path, image, kwargs, message):
    image = image if image is not None else quantcli.quantize_image(Image.new("RGB", (2, 2)), k=2)
    with pytest.raises(quantcli.InvalidOptionError, match=message):
        quantcli.save(image, tmp_path / "x.png", **kwargs)
    assert not (tmp_path / "x.png").exists()


def test_save_refuses_an_unknown_suffix_and_a_missing_palette_entry(tmp_path):
    image = quantcli.quantize_image(Image.new("RGB", (2, 2)), k=2)
    with pytest.raises(quantcli.InvalidOptionError, match=r"cannot tell the format from the suffix '\.jpg'"):
        quantcli.save(image, tmp_path / "x.jpg")
    short = Image.frombytes("P", (2, 1), bytes([0, 3]))
    short.putpalette(bytes([1, 2, 3, 4, 5, 6]))
    with pytest.raises(quantcli.InvalidOptionError, match="uses palette index 3 but its palette has 2 colours"):
        quantcli.save(short, io.BytesIO())
