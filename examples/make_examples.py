"""Regenerates the sample images in this folder (made here, free to redistribute).

    python examples/make_examples.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

HERE = Path(__file__).parent
rng = np.random.default_rng(2026)


def sunset(w: int = 480, h: int = 320) -> Image.Image:
    """A smooth sky gradient with a sun, hills and sensor noise: photo-like."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    t = y / h
    sky = np.stack([255 * (0.95 - 0.3 * t), 120 + 90 * t, 80 + 140 * t], axis=-1)
    sun = np.exp(-(((x - 0.7 * w) ** 2 + (y - 0.45 * h) ** 2) / (2 * (0.08 * w) ** 2)))
    sky += sun[..., None] * np.array([60.0, 60.0, 10.0])
    hills = y > h * (0.7 + 0.08 * np.sin(x / w * 7.0) + 0.03 * np.sin(x / w * 23.0))
    sky[hills] = np.stack([30 + 20 * t, 70 + 40 * t, 40 + 10 * t], axis=-1)[hills]
    sky += rng.normal(0.0, 3.0, sky.shape)
    return Image.fromarray(np.clip(sky, 0, 255).astype(np.uint8), "RGB")


def icon(size: int = 192) -> Image.Image:
    """An anti-aliased RGBA badge on a transparent background."""
    big = Image.new("RGBA", (size * 4, size * 4), (0, 0, 0, 0))
    d = ImageDraw.Draw(big)
    d.ellipse([16, 16, size * 4 - 16, size * 4 - 16], fill=(40, 110, 220, 255))
    d.ellipse([120, 120, size * 4 - 120, size * 4 - 120], fill=(250, 250, 250, 230))
    d.rectangle([size * 2 - 40, 200, size * 2 + 40, size * 4 - 200], fill=(230, 60, 60, 255))
    return big.resize((size, size), Image.LANCZOS)


def texture(w: int = 320, h: int = 240) -> Image.Image:
    """Greyscale blurred noise: many distinct grey levels."""
    noise = Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8), "L")
    return noise.filter(ImageFilter.GaussianBlur(3)).point(lambda v: min(255, max(0, (v - 100) * 4)))


def main() -> None:
    (HERE / "photos").mkdir(exist_ok=True)
    sunset().save(HERE / "photos" / "sunset.png")
    sunset(320, 240).save(HERE / "photos" / "sunset-small.jpg", quality=90)
    icon().save(HERE / "icon.png")
    texture().save(HERE / "texture.png")


if __name__ == "__main__":
    main()
