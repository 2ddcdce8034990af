"""The broad benchmark corpus (issue 19): images of every kind users compress, made by a script.

Categories (folders of ``bench/data/corpus/``, never committed):

- ``photo``: mate-backgrounds' ``nature/`` photographs (whole, downscaled; a crop at full
  resolution; a web thumbnail) and scikit-image's colour photographs.
- ``artwork``: mate-backgrounds' ``abstract/`` and ``desktop/`` illustrations (whole, keeping
  their alpha; a full-resolution crop flattened on a desktop colour).
- ``ui``: screenshots of pages this script writes (dashboards, articles, forms, tables,
  landing pages, chat, code, pricing, mail, calendar, settings, modals; light and dark themes,
  gradients, shadows, several viewports), rendered by headless Chromium through selenium
  (Debian's chromium and chromium-driver).
- ``icon``: RGBA icons of oxygen-icon-theme at 16 to 256 px, copied byte for byte.
- ``grey``: 8-bit greyscale: scikit-image's grey photographs and scans, and mate photographs
  converted to L.
- ``pixelart``: sprites, tile maps and pixelated photographs drawn with small palettes and
  enlarged with nearest-neighbour.
- ``chart``: matplotlib figures and diagrams (lines, bars, scatter, heat maps, contours, 3D,
  pie, flow charts, graphs; some on a transparent background).
- ``gradient``: synthetic linear, radial, conic and mesh gradients, vignettes, soft shadows
  and alpha ramps.

Every image has at most ``MAX_PIXELS`` pixels, so that the whole benchmark runs on two cores.
The images depend only on the installed packages (the same versions give the same files).

The split (:func:`split`) is a fixed rule: images are split by *group*, the source they were made
from, so that a photograph's crop, thumbnail, greyscale and pixelated versions never land in
different halves. Groups are taken in the order of the SHA-256 of their names, and each goes to
the half that leaves the per-category counts most even (a tie goes by the hash's parity). The
manifest records each image's half. Tune on ``tuning``, quote ``checking``.

Use it as a module (``from corpus import load, half``) or build it from the command line::

    python bench/corpus.py              # make what is missing, print the counts per category and half
    python bench/corpus.py --force      # make everything again
    python bench/corpus.py --categories ui,chart
"""

from __future__ import annotations

import argparse
import colorsys
import hashlib
import json
import math
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

BENCH = Path(__file__).resolve().parent
ROOT = BENCH / "data" / "corpus"
MANIFEST = "manifest.json"
MATE = Path("/usr/share/backgrounds/mate")
OXYGEN = Path("/usr/share/icons/oxygen/base")
CHROMIUM = Path(shutil.which("chromium") or "/usr/bin/chromium")
CHROMEDRIVER = Path(shutil.which("chromedriver") or "/usr/bin/chromedriver")

MAX_PIXELS = 1_000_000
CATEGORIES = ("photo", "artwork", "ui", "icon", "grey", "pixelart", "chart", "gradient")
HALVES = ("tuning", "checking")

MATE_PHOTOS = (
    "Aqua",
    "Blinds",
    "Dune",
    "FreshFlower",
    "Garden",
    "GreenMeadow",
    "LadyBird",
    "RainDrops",
    "Storm",
    "TwoWings",
    "Wood",
    "YellowFlower",
)
MATE_ARTWORK = (
    "abstract/Arc-Colors-Transparent-Wallpaper.png",
    "abstract/Elephants.jpg",
    "abstract/Flow.png",
    "abstract/Gulp.png",
    "abstract/Silk.png",
    "abstract/Spring.png",
    "abstract/Waves.png",
    "desktop/Float-into-MATE.png",
    "desktop/GreenTraditional.jpg",
    "desktop/MATE-Stripes-Dark.png",
    "desktop/MATE-Stripes-Light.png",
    "desktop/Stripes.png",
    "desktop/Ubuntu-Mate-Cold-no-logo.png",
    "desktop/Ubuntu-Mate-Dark-no-logo.png",
    "desktop/Ubuntu-Mate-Radioactive-no-logo.png",
    "desktop/Ubuntu-Mate-Warm-no-logo.png",
)
SKIMAGE_PHOTOS = (
    "astronaut.png",
    "coffee.png",
    "chelsea.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "hubble_deep_field.jpg",
    "retina.jpg",
    "ihc.png",
)
SKIMAGE_GREY = (
    "camera.png",
    "moon.png",
    "coins.png",
    "page.png",
    "text.png",
    "brick.png",
    "grass.png",
    "gravel.png",
    "cell.png",
    "clock_motion.png",
    "microaneurysms.png",
)
# mate photographs also given as greyscale (the same group as their colour versions).
GREY_FROM_PHOTOS = ("Storm", "Dune", "Wood", "Blinds", "RainDrops", "TwoWings", "GreenMeadow", "LadyBird")
ICON_SIZES = (16, 22, 32, 48, 64, 128, 256)
ICONS_PER_SIZE = 6
# Whole photographs and artwork are downscaled to this many pixels; crops are cut at full
# resolution; thumbnails are what a web page shows.
WHOLE_PIXELS = 600_000
CROP = (640, 480)
THUMB_WIDTH = 400


@dataclass(frozen=True)
class CorpusImage:
    """One corpus file: ``path`` is relative to the corpus folder (``<category>/<name>.png``)."""

    category: str
    name: str
    group: str  # the source it was made from: decides its half
    path: str
    origin: str  # how it was made, for the reader
    width: int = 0
    height: int = 0
    mode: str = ""
    half: str = ""  # "tuning" or "checking", by split()

    @property
    def key(self) -> str:
        """``<category>/<name>``: unique in the corpus."""
        return f"{self.category}/{self.name}"

    def file(self, root: Path = ROOT) -> Path:
        return root / self.path


def split(images: list[CorpusImage]) -> dict[str, str]:
    """The half of every group of ``images``: ``{group: "tuning" | "checking"}``.

    Groups go in the order of the SHA-256 of their names; each joins the half that makes the
    per-category image counts most even, summed over the categories it has images in, and on
    a tie the half given by the parity of its hash's first byte. The same images always give
    the same split.
    """
    per_group: dict[str, dict[str, int]] = {}
    for im in images:
        cats = per_group.setdefault(im.group, {})
        cats[im.category] = cats.get(im.category, 0) + 1
    counts = {h: dict.fromkeys(CATEGORIES, 0) for h in HALVES}
    halves: dict[str, str] = {}
    for group in sorted(per_group, key=lambda g: hashlib.sha256(g.encode()).hexdigest()):
        cats = per_group[group]

        def imbalance(h: str, cats=cats) -> int:
            other = HALVES[1 - HALVES.index(h)]
            return sum(abs(counts[h][c] + n - counts[other][c]) for c, n in cats.items())

        parity = HALVES[hashlib.sha256(group.encode()).digest()[0] & 1]
        best = min(HALVES, key=lambda h: (imbalance(h), h != parity))
        halves[group] = best
        for c, n in cats.items():
            counts[best][c] += n
    return halves


# ---------------------------------------------------------------------------------------
# Helpers


def _rng(name: str) -> np.random.Generator:
    """A generator seeded by a name, so every image is the same on every run."""
    return np.random.default_rng(int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little"))


def _fit(im: Image.Image, pixels: int) -> Image.Image:
    """Downscale (LANCZOS, aspect kept) to about ``pixels``; never enlarge."""
    if im.width * im.height <= pixels:
        return im
    scale = math.sqrt(pixels / (im.width * im.height))
    return im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.Resampling.LANCZOS)


def _crop(im: Image.Image, name: str, size: tuple[int, int] = CROP) -> Image.Image:
    """A full-resolution window at a position chosen by the name's seed, away from the borders."""
    w, h = min(size[0], im.width), min(size[1], im.height)
    rng = _rng(name + "/crop")
    x = int(rng.uniform(0.15, 0.85) * (im.width - w))
    y = int(rng.uniform(0.15, 0.85) * (im.height - h))
    return im.crop((x, y, x + w, y + h))


def _opaque(im: Image.Image) -> Image.Image:
    """RGB or L when every pixel is opaque, else RGBA (LA becomes RGBA too)."""
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        if np.asarray(rgba)[..., 3].min() < 255:
            return rgba
        return im.convert("L" if im.mode == "LA" else "RGB")
    return im.convert("L" if im.mode in ("L", "I", "I;16", "1") else "RGB")


def _flatten(im: Image.Image, colour: tuple[int, int, int]) -> Image.Image:
    """An RGBA image composited over a flat colour, as a desktop shows a translucent wallpaper."""
    if im.mode != "RGBA":
        return im.convert("RGB")
    back = Image.new("RGBA", im.size, (*colour, 255))
    return Image.alpha_composite(back, im).convert("RGB")


def _skimage_data() -> Path | None:
    try:
        import skimage
    except ImportError:
        return None
    return Path(skimage.__file__).parent / "data"


# A maker yields (name, group, origin, write) where write(path) saves the image.
Maker = Callable[[], Iterator[tuple[str, str, str, Callable[[Path], None]]]]


def _saver(make: Callable[[], Image.Image]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        im = make()
        assert im.width * im.height <= MAX_PIXELS, (path, im.size)
        im.save(path)

    return write


# ---------------------------------------------------------------------------------------
# Photographs, artwork, greyscale


def _open(path: Path) -> Image.Image:
    with Image.open(path) as im:
        im.load()
        return im


def photos() -> Iterator[tuple[str, str, str, Callable[[Path], None]]]:
    for stem in MATE_PHOTOS:
        src = MATE / "nature" / f"{stem}.jpg"
        if not src.is_file():
            continue
        group = f"mate-{stem}"
        yield (
            group,
            group,
            f"{src}, LANCZOS to {WHOLE_PIXELS:,} px",
            _saver(lambda s=src: _fit(_open(s).convert("RGB"), WHOLE_PIXELS)),
        )
        yield (
            f"{group}-crop",
            group,
            f"{src}, a {CROP[0]}x{CROP[1]} crop at full resolution",
            _saver(lambda s=src, g=group: _crop(_open(s).convert("RGB"), g)),
        )
        yield (
            f"{group}-thumb",
            group,
            f"{src}, LANCZOS to {THUMB_WIDTH} px wide",
            _saver(lambda s=src: _thumb(_open(s).convert("RGB"))),
        )
    data = _skimage_data()
    if data is None:
        return
    for file in SKIMAGE_PHOTOS:
        src = data / file
        if src.is_file():
            name = f"skimage-{Path(file).stem}"
            yield (
                name,
                name,
                f"scikit-image {file}, at most {WHOLE_PIXELS:,} px",
                _saver(lambda s=src: _fit(_open(s).convert("RGB"), WHOLE_PIXELS)),
            )


def _thumb(im: Image.Image) -> Image.Image:
    return im.resize((THUMB_WIDTH, round(im.height * THUMB_WIDTH / im.width)), Image.Resampling.LANCZOS)


# Desktop colours the translucent wallpapers are flattened on for their crops.
DESKTOP_COLOURS = ((58, 76, 39), (32, 36, 48), (210, 214, 220), (94, 39, 80))


def artwork() -> Iterator[tuple[str, str, str, Callable[[Path], None]]]:
    for i, rel in enumerate(MATE_ARTWORK):
        src = MATE / rel
        if not src.is_file():
            continue
        group = f"mate-{Path(rel).stem}"
        yield (
            group,
            group,
            f"{src}, LANCZOS to {WHOLE_PIXELS:,} px, alpha kept",
            _saver(lambda s=src: _opaque(_fit(_open(s).convert("RGBA"), WHOLE_PIXELS))),
        )
        colour = DESKTOP_COLOURS[i % len(DESKTOP_COLOURS)]
        yield (
            f"{group}-crop",
            group,
            f"{src}, a {CROP[0]}x{CROP[1]} crop at full resolution over rgb{colour}",
            _saver(lambda s=src, g=group, c=colour: _flatten(_crop(_open(s).convert("RGBA"), g), c)),
        )


def greys() -> Iterator[tuple[str, str, str, Callable[[Path], None]]]:
    data = _skimage_data()
    if data is not None:
        for file in SKIMAGE_GREY:
            src = data / file
            if src.is_file():
                name = f"skimage-{Path(file).stem}"
                yield name, name, f"scikit-image {file} (8-bit grey)", _saver(lambda s=src: _open(s).convert("L"))
    for stem in GREY_FROM_PHOTOS:
        src = MATE / "nature" / f"{stem}.jpg"
        if src.is_file():
            group = f"mate-{stem}"
            yield (
                f"{group}-grey",
                group,
                f"{src}, LANCZOS to 400,000 px, converted to L",
                _saver(lambda s=src: _fit(_open(s).convert("L"), 400_000)),
            )
    # A scanned page: text on paper with its grain, slightly blurred, as a flatbed gives it.
    yield "scan-letter", "scan-letter", "a page of text drawn by matplotlib, paper grain, blur", _saver(_scan_page)


def _scan_page() -> Image.Image:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = _rng("scan-letter")
    fig = plt.figure(figsize=(6.2, 8.0), dpi=100)
    words = _words(rng, 420)
    lines = [" ".join(words[i : i + 11]) for i in range(0, len(words), 11)]
    fig.text(0.08, 0.95, "Minutes of the meeting", fontsize=15, family="serif", weight="bold", va="top")
    for i, line in enumerate(lines):
        fig.text(0.08, 0.9 - i * 0.022, line, fontsize=8.5, family="serif", va="top")
    fig.canvas.draw()
    page = np.asarray(fig.canvas.buffer_rgba())[..., 0].astype(np.float64)
    plt.close(fig)
    paper = 232 + rng.normal(0, 4, page.shape) + 8 * np.linspace(-1, 1, page.shape[1])[None, :]
    ink = page / 255.0
    img = Image.fromarray(np.clip(paper * ink + 30 * (1 - ink), 0, 255).astype(np.uint8), "L")
    return img.filter(ImageFilter.GaussianBlur(0.7))


# ---------------------------------------------------------------------------------------
# Icons


def icons() -> Iterator[tuple[str, str, str, Callable[[Path], None]]]:
    """``ICONS_PER_SIZE`` icons per size, distinct names chosen by hash, copied byte for byte."""
    if not OXYGEN.is_dir():
        return
    names = sorted(
        {p.relative_to(OXYGEN / "256x256").with_suffix("").as_posix() for p in (OXYGEN / "256x256").rglob("*.png")},
        key=lambda n: hashlib.sha256(n.encode()).hexdigest(),
    )
    chosen: list[tuple[int, str]] = []
    used: set[str] = set()
    for size in ICON_SIZES:
        picked = 0
        for name in names:
            if picked == ICONS_PER_SIZE:
                break
            src = OXYGEN / f"{size}x{size}" / f"{name}.png"
            if name in used or not src.is_file() or not _has_alpha(src):
                continue
            used.add(name)
            chosen.append((size, name))
            picked += 1
    for size, name in chosen:
        src = OXYGEN / f"{size}x{size}" / f"{name}.png"
        stem = name.replace("/", "-")
        yield f"{stem}-{size}", f"oxygen-{stem}", f"{src} (copied)", lambda dst, s=src: shutil.copyfile(s, dst)


def _has_alpha(path: Path) -> bool:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGBA"))[..., 3].min() < 255


# ---------------------------------------------------------------------------------------
# Synthetic gradients


def _grid(w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    return x / max(w - 1, 1), y / max(h - 1, 1)


def _stops(t: np.ndarray, colours: list[tuple[int, int, int]]) -> np.ndarray:
    """Piecewise-linear colour ramp over t in [0, 1]."""
    t = np.clip(t, 0, 1)
    pos = np.linspace(0, 1, len(colours))
    return np.stack([np.interp(t, pos, [c[i] for c in colours]) for i in range(3)], axis=-1)


def _u8(a: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def _gradient_images() -> dict[str, tuple[str, Callable[[], Image.Image]]]:
    def linear_256() -> Image.Image:  # like libpng's smooth test gradient
        x, y = _grid(256, 256)
        return Image.fromarray(_u8(np.stack([x * 255, y * 255, (1 - x) * 255], -1)))

    def sky() -> Image.Image:
        _, y = _grid(960, 600)
        return Image.fromarray(_u8(_stops(y, [(22, 60, 140), (90, 150, 215), (250, 205, 160)])))

    def diagonal_stops() -> Image.Image:
        x, y = _grid(800, 500)
        return Image.fromarray(_u8(_stops((x + y) / 2, [(255, 94, 58), (255, 42, 104), (123, 31, 162), (32, 76, 255)])))

    def radial_vignette() -> Image.Image:
        x, y = _grid(900, 600)
        r = np.hypot((x - 0.5) * 1.5, y - 0.5) / 0.9
        return Image.fromarray(_u8(_stops(r, [(236, 230, 214), (160, 140, 110), (30, 24, 18)])))

    def conic_hue() -> Image.Image:
        x, y = _grid(600, 600)
        hue = (np.arctan2(y - 0.5, x - 0.5) / (2 * np.pi)) % 1.0
        sat = np.clip(np.hypot(x - 0.5, y - 0.5) * 2, 0, 1)
        rgb = np.vectorize(colorsys.hsv_to_rgb)(hue, sat, np.ones_like(hue))
        return Image.fromarray(_u8(np.stack(rgb, -1) * 255))

    def mesh() -> Image.Image:
        x, y = _grid(1000, 640)
        corners = np.array([(18, 200, 180), (250, 180, 40), (120, 40, 200), (240, 60, 90)], np.float64)
        c = (
            corners[0] * ((1 - x) * (1 - y))[..., None]
            + corners[1] * (x * (1 - y))[..., None]
            + corners[2] * ((1 - x) * y)[..., None]
            + corners[3] * (x * y)[..., None]
        )
        return Image.fromarray(_u8(c))

    def blobs() -> Image.Image:
        x, y = _grid(800, 800)
        c = np.full((800, 800, 3), (14, 16, 30), np.float64)
        for cx, cy, r, col in (
            (0.3, 0.35, 0.35, (255, 60, 120)),
            (0.7, 0.6, 0.4, (40, 140, 255)),
            (0.5, 0.9, 0.3, (255, 200, 60)),
        ):
            w = np.exp(-(((x - cx) ** 2 + (y - cy) ** 2) / (r * r)) * 3)[..., None]
            c = c * (1 - 0.8 * w) + np.array(col) * 0.8 * w
        return Image.fromarray(_u8(c))

    def grey_ramp() -> Image.Image:
        x, _ = _grid(1024, 256)
        return Image.fromarray(_u8(x * 255), "L")

    def noisy_sky() -> Image.Image:  # a sensor's noise over a smooth sky
        x, y = _grid(900, 560)
        c = _stops(y * 0.8 + x * 0.2, [(60, 110, 180), (150, 190, 230), (230, 235, 240)])
        return Image.fromarray(_u8(c + _rng("noisy-sky").normal(0, 1.6, c.shape)))

    def banded() -> Image.Image:  # a posterized gradient: 12 flat steps
        x, _ = _grid(800, 400)
        return Image.fromarray(_u8(_stops(np.floor(x * 12) / 11, [(20, 30, 60), (240, 120, 40)])))

    def alpha_fade() -> Image.Image:
        x, y = _grid(640, 360)
        rgb = _stops(x, [(255, 140, 0), (200, 20, 90)])
        a = np.clip(1.2 - y * 1.3, 0, 1) * 255
        return Image.fromarray(_u8(np.dstack([rgb, a])), "RGBA")

    def soft_shadow() -> Image.Image:  # a card with a blurred drop shadow, on transparency
        im = Image.new("RGBA", (520, 360), (0, 0, 0, 0))
        shadow = Image.new("L", im.size, 0)
        shadow.paste(150, (70, 70, 470, 310))
        shadow = shadow.filter(ImageFilter.GaussianBlur(18))
        im.putalpha(shadow)
        im.paste((250, 250, 252, 255), (60, 50, 460, 290))
        return im

    def sunset_rings() -> Image.Image:
        x, y = _grid(720, 720)
        r = np.hypot(x - 0.5, y - 1.0)
        return Image.fromarray(
            _u8(_stops(r, [(255, 240, 170), (255, 130, 60), (180, 40, 80), (40, 20, 70), (8, 8, 30)]))
        )

    def dark_ui_glow() -> Image.Image:
        x, y = _grid(1000, 600)
        g = np.exp(-(((x - 0.5) * 2.2) ** 2 + ((y - 0.15) * 3) ** 2))[..., None]
        c = np.array((13, 17, 23)) * (1 - g) + np.array((60, 90, 170)) * g
        return Image.fromarray(_u8(c))

    def stripes_gradient() -> Image.Image:
        x, y = _grid(640, 640)
        band = (np.floor((x + y) * 10) % 2)[..., None]
        base = _stops(y, [(0, 150, 136), (63, 81, 181)])
        return Image.fromarray(_u8(base * (0.85 + 0.15 * band)))

    def alpha_radial() -> Image.Image:
        x, y = _grid(400, 400)
        r = np.hypot(x - 0.5, y - 0.5) * 2
        rgb = _stops(r, [(255, 255, 255), (120, 200, 255)])
        return Image.fromarray(_u8(np.dstack([rgb, np.clip(1 - r, 0, 1) * 255])), "RGBA")

    return {
        "linear-256": ("RGB ramp x, y, 1-x at 256x256 (as libpng's test gradient)", linear_256),
        "sky": ("three-stop vertical sky", sky),
        "diagonal-stops": ("four-stop diagonal", diagonal_stops),
        "radial-vignette": ("radial vignette", radial_vignette),
        "conic-hue": ("conic hue wheel, saturation by radius", conic_hue),
        "mesh": ("bilinear four-corner mesh", mesh),
        "blobs": ("three soft radial blobs on navy", blobs),
        "grey-ramp": ("8-bit L ramp 0-255 over 1024 px", grey_ramp),
        "noisy-sky": ("sky gradient with sensor noise (sigma 1.6)", noisy_sky),
        "banded": ("posterized gradient, 12 flat steps", banded),
        "alpha-fade": ("colour ramp fading to transparent", alpha_fade),
        "soft-shadow": ("a card with a blurred drop shadow on transparency", soft_shadow),
        "sunset-rings": ("five-stop radial sunset", sunset_rings),
        "dark-glow": ("dark UI background with a soft glow", dark_ui_glow),
        "stripes-gradient": ("diagonal light stripes over a gradient", stripes_gradient),
        "alpha-radial": ("radial glow, alpha falling to 0", alpha_radial),
    }


def gradients() -> Iterator[tuple[str, str, str, Callable[[Path], None]]]:
    for name, (origin, make) in _gradient_images().items():
        yield name, f"gradient-{name}", origin, _saver(make)


# ---------------------------------------------------------------------------------------
# Pixel art

PICO8 = [
    (0, 0, 0), (29, 43, 83), (126, 37, 83), (0, 135, 81), (171, 82, 54), (95, 87, 79), (194, 195, 199),
    (255, 241, 232), (255, 0, 77), (255, 163, 0), (255, 236, 39), (0, 228, 54), (41, 173, 255),
    (131, 118, 156), (255, 119, 168), (255, 204, 170),
]  # fmt: skip


def _palette(rng: np.random.Generator, n: int) -> np.ndarray:
    """n colours: ramps of a few hues from dark to light, as pixel artists build palettes."""
    hues = rng.uniform(0, 1, max(1, n // 4))
    cols = []
    for i in range(n):
        h = hues[i % len(hues)]
        v = 0.2 + 0.8 * ((i // len(hues)) + 1) / (n // len(hues) + 1)
        cols.append(colorsys.hsv_to_rgb((h + 0.04 * (i // len(hues))) % 1, rng.uniform(0.4, 0.9), v))
    return _u8(np.array(cols) * 255)


def _sprite(rng: np.random.Generator, size: int, colours: np.ndarray) -> np.ndarray:
    """A left-right symmetric sprite with an outline, as an RGBA array (transparent around it)."""
    half = (size + 1) // 2
    mask = rng.random((size, half)) < 0.55
    mask[[0, -1], :] = False
    mask[:, 0] = False
    full = np.concatenate([mask, mask[:, ::-1][:, size % 2 :]], axis=1)
    # Three or four colours in horizontal bands (head, body, legs), a few highlight pixels.
    own = rng.choice(np.arange(1, len(colours)), size=min(4, len(colours) - 1), replace=False)
    band = np.minimum((np.arange(size) * len(own)) // size, len(own) - 1)
    idx = np.repeat(own[band][:, None], half, axis=1)
    spots = rng.random((size, half)) < 0.08
    idx[spots] = rng.choice(own, spots.sum())
    idx = np.concatenate([idx, idx[:, ::-1][:, size % 2 :]], axis=1)
    out = np.zeros((size, size, 4), np.uint8)
    out[full, :3] = colours[idx[full]]
    out[full, 3] = 255
    edge = ~full & (np.roll(full, 1, 0) | np.roll(full, -1, 0) | np.roll(full, 1, 1) | np.roll(full, -1, 1))
    out[edge] = (*colours[0], 255)
    return out


def _nearest(rgb: np.ndarray, palette: np.ndarray) -> np.ndarray:
    d = ((rgb[:, :, None, :].astype(np.int32) - palette[None, None].astype(np.int32)) ** 2).sum(-1)
    return palette[d.argmin(-1)]


BAYER4 = np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]]) / 16 - 0.5


def _pixelart_images() -> dict[str, tuple[str, Callable[[], Image.Image]]]:
    def sprites(seed: str, n: int, scale: int, colours: int) -> Callable[[], Image.Image]:
        def make() -> Image.Image:
            rng = _rng(seed)
            pal = _palette(rng, colours)
            sheet = np.zeros((16 * n, 16 * n, 4), np.uint8)
            for i in range(n * n):
                r, c = divmod(i, n)
                sheet[r * 16 : r * 16 + 16, c * 16 : c * 16 + 16] = _sprite(rng, 16, pal)
            return Image.fromarray(sheet, "RGBA").resize((16 * n * scale,) * 2, Image.Resampling.NEAREST)

        return make

    def tilemap(seed: str, scale: int, colours: int) -> Callable[[], Image.Image]:
        def make() -> Image.Image:
            rng = _rng(seed)
            pal = _palette(rng, colours)
            # Each tile shades one ramp of three palette entries: a base, a speckle, a highlight.
            tiles = []
            count = max(6, colours // 3)
            for i in range(count):
                base = (3 * i) % (colours - 2)
                yy, xx = np.mgrid[0:8, 0:8]
                t = base + (rng.random((8, 8)) < 0.25) + ((xx + yy + i) % 7 == 0) * 2
                tiles.append(t)
            layout = rng.integers(0, count, (24, 32))
            layout[8:12, :] = 0  # a river
            grid = np.block([[tiles[t] for t in row] for row in layout])
            img = pal[np.clip(grid, 0, colours - 1)]
            return Image.fromarray(img).resize((img.shape[1] * scale, img.shape[0] * scale), Image.Resampling.NEAREST)

        return make

    def pixelated(stem: str, width: int, palette: str, scale: int, dither: bool) -> Callable[[], Image.Image]:
        def make() -> Image.Image:
            with Image.open(MATE / "nature" / f"{stem}.jpg") as im:
                small = im.convert("RGB").resize((width, round(width * im.height / im.width)), Image.Resampling.BOX)
            rgb = np.asarray(small).astype(np.float64)
            if palette == "pico8":
                pal = np.array(PICO8, np.uint8)
            else:  # the picture's own colours, as an artist picks them (median cut, no dither)
                chosen = small.quantize(int(palette), Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
                pal = np.array(chosen.getpalette()[: 3 * int(palette)], np.uint8).reshape(-1, 3)
            if dither:
                h, w = rgb.shape[:2]
                rgb = rgb + 48 * np.tile(BAYER4, (h // 4 + 1, w // 4 + 1))[:h, :w, None]
            img = _nearest(_u8(rgb), pal)
            return Image.fromarray(img).resize((img.shape[1] * scale, img.shape[0] * scale), Image.Resampling.NEAREST)

        return make

    return {
        "sprites-8c": ("a sheet of 16 symmetric 16x16 sprites, 8 colours, x8, transparent", sprites("s8", 4, 8, 8)),
        "sprites-16c": ("a sheet of 36 sprites, 16 colours, x4, transparent", sprites("s16", 6, 4, 16)),
        "sprites-32c": ("a sheet of 64 sprites, 32 colours, x3, transparent", sprites("s32", 8, 3, 32)),
        "sprites-4c-x1": ("a sheet of 100 sprites, 4 colours, x1", sprites("s4", 10, 1, 4)),
        "tilemap-16c": ("a 32x24-tile map of 8x8 tiles, 16 colours, x2", tilemap("t16", 2, 16)),
        "tilemap-48c": ("a tile map, 48 colours, x3", tilemap("t48", 3, 48)),
        "tilemap-8c-x1": ("a tile map, 8 colours, x1", tilemap("t8", 1, 8)),
        "tilemap-64c": ("a tile map, 64 colours, x2", tilemap("t64", 2, 64)),
        "pixel-Storm-pico8": ("Storm at 120 px, PICO-8 palette, x6", pixelated("Storm", 120, "pico8", 6, False)),
        "pixel-LadyBird-pico8-dither": (
            "LadyBird at 128 px, PICO-8 palette with 4x4 Bayer dither, x5",
            pixelated("LadyBird", 128, "pico8", 5, True),
        ),
        "pixel-Garden-32": ("Garden at 160 px, 32 colours, x4", pixelated("Garden", 160, "32", 4, False)),
        "pixel-Dune-24-dither": ("Dune at 200 px, 24 colours, Bayer dither, x3", pixelated("Dune", 200, "24", 3, True)),
        "pixel-Aqua-64": ("Aqua at 240 px, 64 colours, x3", pixelated("Aqua", 240, "64", 3, False)),
        "pixel-Wood-12": ("Wood at 96 px, 12 colours, x8", pixelated("Wood", 96, "12", 8, False)),
        "pixel-FreshFlower-pico8": (
            "FreshFlower at 80 px, PICO-8, x1",
            pixelated("FreshFlower", 80, "pico8", 1, False),
        ),
        "pixel-TwoWings-128": ("TwoWings at 200 px, 128 colours, x4", pixelated("TwoWings", 200, "128", 4, False)),
    }


def pixelart() -> Iterator[tuple[str, str, str, Callable[[Path], None]]]:
    for name, (origin, make) in _pixelart_images().items():
        # Pixelated photographs keep their source photograph's group.
        group = f"mate-{name.split('-')[1]}" if name.startswith("pixel-") else f"pixelart-{name}"
        yield name, group, origin, _saver(make)


# ---------------------------------------------------------------------------------------
# Charts and diagrams (matplotlib)


def _words(rng: np.random.Generator, n: int) -> list[str]:
    vocab = [
        "the",
        "of",
        "data",
        "report",
        "quarter",
        "revenue",
        "users",
        "growth",
        "model",
        "image",
        "colour",
        "palette",
        "server",
        "request",
        "cache",
        "latency",
        "review",
        "budget",
        "team",
        "design",
        "release",
        "build",
        "test",
        "deploy",
        "market",
        "region",
        "north",
        "south",
        "east",
        "west",
        "total",
        "average",
        "median",
        "forecast",
        "target",
        "project",
        "meeting",
        "agenda",
        "action",
        "item",
        "owner",
        "status",
        "open",
        "closed",
        "invoice",
        "order",
        "customer",
        "product",
        "price",
        "shipping",
        "account",
        "settings",
        "profile",
        "upload",
        "download",
        "share",
    ]
    return [vocab[i] for i in rng.integers(0, len(vocab), n)]


def _chart_images() -> dict[str, tuple[str, Callable[[], Image.Image]]]:
    def figure(name: str, size: tuple[float, float], dpi: int, draw, style: str | None = None, transparent=False):
        def make() -> Image.Image:
            import io

            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            with plt.style.context(style or "default"):
                fig = plt.figure(figsize=size, dpi=dpi)
                draw(fig, _rng(name))
                buf = io.BytesIO()
                fig.savefig(buf, format="png", dpi=dpi, transparent=transparent)
                plt.close(fig)
            buf.seek(0)
            return _opaque(Image.open(buf))

        return make

    def lines(fig, rng):
        ax = fig.add_subplot()
        x = np.linspace(0, 10, 300)
        for i in range(5):
            ax.plot(x, np.sin(x * (0.5 + i * 0.3)) * (1 + i * 0.2) + rng.normal(0, 0.08, x.size), label=f"series {i}")
        ax.legend()
        ax.grid(alpha=0.3)
        ax.set_title("Latency by release")

    def bars(fig, rng):
        ax = fig.add_subplot()
        cats = ["Q1", "Q2", "Q3", "Q4"]
        bottom = np.zeros(4)
        for i in range(4):
            v = rng.uniform(5, 20, 4)
            ax.bar(cats, v, bottom=bottom, label=f"region {i}")
            bottom += v
        ax.legend()
        ax.set_ylabel("revenue")

    def grouped_bars(fig, rng):
        ax = fig.add_subplot()
        x = np.arange(8)
        for i in range(3):
            ax.bar(x + i * 0.27, rng.uniform(1, 9, 8), 0.27, label=["2024", "2025", "2026"][i])
        ax.set_xticks(x + 0.27, [f"item {j}" for j in x], rotation=30)
        ax.legend()

    def scatter(fig, rng):
        ax = fig.add_subplot()
        for _ in range(4):
            c = rng.normal(0, 1, (2, 2))
            p = rng.normal(0, 1, (400, 2)) @ c + rng.uniform(-3, 3, 2)
            ax.scatter(p[:, 0], p[:, 1], alpha=0.45, s=18)
        ax.set_title("clusters")

    def histogram(fig, rng):
        ax = fig.add_subplot()
        ax.hist([rng.normal(0, 1, 3000), rng.normal(1.5, 0.7, 2000)], bins=40, histtype="stepfilled", alpha=0.6)

    def pie(fig, rng):
        ax = fig.add_subplot()
        ax.pie(
            rng.uniform(1, 5, 6), labels=[f"part {i}" for i in range(6)], autopct="%1.0f%%", wedgeprops={"width": 0.45}
        )

    def heatmap(fig, rng):
        ax = fig.add_subplot()
        im = ax.imshow(rng.normal(0, 1, (24, 36)).cumsum(0).cumsum(1), cmap="viridis", aspect="auto")
        fig.colorbar(im)

    def smooth_map(fig, rng):
        ax = fig.add_subplot()
        x, y = np.meshgrid(np.linspace(-3, 3, 400), np.linspace(-2, 2, 300))
        z = np.sin(x * 1.3) * np.cos(y * 2.1) + np.exp(-(x * x + y * y))
        im = ax.imshow(z, cmap="magma", extent=(-3, 3, -2, 2))
        fig.colorbar(im)

    def contour(fig, rng):
        ax = fig.add_subplot()
        x, y = np.meshgrid(np.linspace(-3, 3, 200), np.linspace(-3, 3, 200))
        z = np.exp(-((x - 1) ** 2 + y**2)) - np.exp(-((x + 1) ** 2 + (y - 0.5) ** 2))
        cs = ax.contourf(x, y, z, levels=14, cmap="RdBu_r")
        ax.contour(x, y, z, levels=14, colors="k", linewidths=0.4)
        fig.colorbar(cs)

    def surface(fig, rng):
        ax = fig.add_subplot(projection="3d")
        x, y = np.meshgrid(np.linspace(-4, 4, 80), np.linspace(-4, 4, 80))
        ax.plot_surface(x, y, np.sin(np.hypot(x, y)), cmap="coolwarm", linewidth=0, antialiased=True)

    def area(fig, rng):
        ax = fig.add_subplot()
        x = np.arange(60)
        ys = rng.uniform(1, 3, (4, 60)).cumsum(1) / 10
        ax.stackplot(x, ys, alpha=0.85)
        ax.set_title("storage by tier")

    def boxes(fig, rng):
        ax = fig.add_subplot()
        ax.boxplot([rng.normal(i, 1 + i * 0.2, 200) for i in range(7)])
        ax.violinplot([rng.normal(i, 0.8, 200) for i in range(7)], showmeans=True)

    def errorbars(fig, rng):
        ax = fig.add_subplot()
        x = np.arange(12)
        ax.errorbar(x, rng.uniform(2, 5, 12), yerr=rng.uniform(0.2, 0.8, 12), fmt="o-", capsize=4)
        ax.fill_between(x, 1, 2 + np.sin(x / 2), alpha=0.2)

    def polar(fig, rng):
        ax = fig.add_subplot(projection="polar")
        t = np.linspace(0, 2 * np.pi, 12, endpoint=False)
        ax.bar(t, rng.uniform(1, 5, 12), width=0.5, color=[f"C{i % 10}" for i in range(12)], alpha=0.8)

    def flow(fig, rng):
        from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, 10)
        ax.set_ylim(0, 6)
        ax.axis("off")
        steps = ["read", "histogram", "palette", "k-means", "remap", "encode", "write"]
        pos = [(1, 4.5), (3.5, 4.5), (6, 4.5), (8.5, 4.5), (8.5, 1.5), (6, 1.5), (3.5, 1.5)]
        for i, ((x, y), label) in enumerate(zip(pos, steps, strict=True)):
            colour = ("#e3f2fd", "#fff3e0", "#e8f5e9", "#fce4ec")[i % 4]
            ax.add_patch(
                FancyBboxPatch((x - 0.9, y - 0.45), 1.8, 0.9, boxstyle="round,pad=0.1", fc=colour, ec="#37474f")
            )
            ax.text(x, y, label, ha="center", va="center", fontsize=11)
            if i:
                ax.add_patch(
                    FancyArrowPatch(pos[i - 1], (x, y), arrowstyle="-|>", mutation_scale=18, shrinkA=38, shrinkB=38)
                )

    def network(fig, rng):
        ax = fig.add_axes((0, 0, 1, 1))
        ax.axis("off")
        p = rng.uniform(0, 1, (40, 2))
        for i in range(40):
            for j in np.argsort(((p - p[i]) ** 2).sum(1))[1:4]:
                ax.plot(*p[[i, j]].T, color="#90a4ae", lw=1, zorder=1)
        ax.scatter(
            p[:, 0], p[:, 1], s=rng.uniform(60, 400, 40), c=rng.integers(0, 5, 40), cmap="tab10", zorder=2, ec="w"
        )

    def gantt(fig, rng):
        ax = fig.add_subplot()
        for i in range(10):
            start = rng.uniform(0, 20)
            ax.barh(i, rng.uniform(3, 12), left=start, color=f"C{i % 4}")
        ax.set_yticks(range(10), [f"task {i}" for i in range(10)])
        ax.invert_yaxis()
        ax.grid(axis="x", alpha=0.3)

    def table(fig, rng):
        ax = fig.add_axes((0.02, 0.02, 0.96, 0.96))
        ax.axis("off")
        words = _words(rng, 8)
        cells = [[w, f"{rng.uniform(0, 1000):.1f}", f"{rng.integers(0, 100)}%"] for w in words]
        t = ax.table(cells, colLabels=["name", "value", "share"], loc="center", cellLoc="left")
        t.scale(1, 1.6)

    def choropleth(fig, rng):
        ax = fig.add_axes((0, 0, 1, 1))
        ax.axis("off")
        seeds = rng.uniform(0, 1, (30, 2))
        x, y = np.meshgrid(np.linspace(0, 1, 480), np.linspace(0, 1, 360))
        d = (x[..., None] - seeds[:, 0]) ** 2 + (y[..., None] - seeds[:, 1]) ** 2
        ax.imshow(rng.uniform(0, 1, 30)[d.argmin(-1)], cmap="YlGnBu", interpolation="nearest")

    return {
        "lines": ("five noisy sines, legend and grid", figure("lines", (6.4, 4.8), 100, lines)),
        "bars-stacked": ("stacked bars", figure("bars-stacked", (6.4, 4.8), 100, bars)),
        "bars-grouped-dark": (
            "grouped bars, dark background style",
            figure("bg", (8, 5), 110, grouped_bars, "dark_background"),
        ),
        "scatter-alpha": ("four clusters, alpha 0.45", figure("scatter", (6.4, 4.8), 120, scatter)),
        "histogram-ggplot": ("two histograms, ggplot style", figure("hist", (6.4, 4.8), 100, histogram, "ggplot")),
        "donut": ("donut chart with labels", figure("pie", (5, 5), 110, pie)),
        "heatmap": ("random-walk heat map, viridis", figure("heat", (7, 5), 110, heatmap)),
        "smooth-map": ("smooth field, magma, bilinear", figure("smooth", (8, 5.5), 110, smooth_map)),
        "contour": ("filled contours with lines", figure("contour", (6.4, 5), 110, contour)),
        "surface-3d": ("3D surface, coolwarm", figure("surface", (7, 5.5), 110, surface)),
        "stackplot": ("stacked areas", figure("area", (8, 4.5), 100, area, "seaborn-v0_8")),
        "box-violin": ("box and violin plots", figure("box", (7, 4.5), 110, boxes)),
        "errorbars-transparent": (
            "error bars and band, transparent background",
            figure("err", (6.4, 4.8), 100, errorbars, transparent=True),
        ),
        "polar-bars": ("polar bars", figure("polar", (5.5, 5.5), 110, polar)),
        "flowchart": ("a pipeline flow chart, rounded boxes and arrows", figure("flow", (8, 4.8), 100, flow)),
        "network": ("a 40-node graph", figure("net", (6.4, 6.4), 100, network)),
        "network-transparent": ("the graph on transparency", figure("net2", (5, 5), 100, network, transparent=True)),
        "gantt": ("a Gantt chart", figure("gantt", (8, 4.5), 100, gantt, "bmh")),
        "table": ("a table figure", figure("table", (6, 4), 110, table)),
        "choropleth": ("a Voronoi choropleth, nearest interpolation", figure("map", (6.4, 4.8), 100, choropleth)),
    }


def charts() -> Iterator[tuple[str, str, str, Callable[[Path], None]]]:
    for name, (origin, make) in _chart_images().items():
        yield name, f"chart-{name}", origin, _saver(make)


# ---------------------------------------------------------------------------------------
# UI screenshots (headless Chromium)

THEMES = {
    "light": {
        "bg": "#f5f7fb",
        "card": "#ffffff",
        "text": "#1f2933",
        "muted": "#697586",
        "accent": "#3b82f6",
        "line": "#e4e7ec",
    },
    "dark": {
        "bg": "#0f141a",
        "card": "#1a212b",
        "text": "#e6edf3",
        "muted": "#8b98a5",
        "accent": "#58a6ff",
        "line": "#2b3440",
    },
    "warm": {
        "bg": "#fbf6ef",
        "card": "#fffdf9",
        "text": "#3b2f2a",
        "muted": "#8c7b70",
        "accent": "#e0663b",
        "line": "#eadfd3",
    },
    "violet": {
        "bg": "#17122b",
        "card": "#221a3d",
        "text": "#efeaff",
        "muted": "#a89cc8",
        "accent": "#b07cff",
        "line": "#352a5c",
    },
    "mint": {
        "bg": "#eef8f4",
        "card": "#ffffff",
        "text": "#123a2e",
        "muted": "#5e7d72",
        "accent": "#10a37f",
        "line": "#d4ebe2",
    },
}
# (layout, theme, viewport width, height): 24 pages, each at most MAX_PIXELS.
UI_PAGES = (
    ("dashboard", "light", 1200, 800),
    ("dashboard", "dark", 1024, 768),
    ("article", "light", 1024, 768),
    ("article", "warm", 390, 844),
    ("form", "mint", 800, 600),
    ("form", "dark", 1200, 800),
    ("table", "light", 1200, 800),
    ("table", "violet", 960, 640),
    ("landing", "violet", 1200, 800),
    ("landing", "warm", 390, 844),
    ("chat", "light", 960, 640),
    ("chat", "dark", 390, 844),
    ("code", "dark", 1200, 800),
    ("code", "light", 800, 600),
    ("pricing", "mint", 1200, 800),
    ("pricing", "dark", 1024, 768),
    ("mail", "light", 1200, 800),
    ("mail", "warm", 960, 640),
    ("calendar", "light", 1024, 768),
    ("calendar", "violet", 800, 600),
    ("settings", "dark", 960, 640),
    ("settings", "mint", 390, 844),
    ("modal", "light", 1200, 800),
    ("modal", "dark", 800, 600),
)
FONTS = ("Roboto", "DejaVu Sans", "Liberation Sans", "Roboto Condensed", "DejaVu Serif")


def _css(t: dict[str, str], font: str, rng: np.random.Generator) -> str:
    radius = int(rng.integers(4, 16))
    return f"""
* {{ box-sizing: border-box; }}
body {{ margin: 0; font-family: '{font}', sans-serif; background: {t["bg"]}; color: {t["text"]}; font-size: 14px; }}
.card {{ background: {t["card"]}; border: 1px solid {t["line"]}; border-radius: {radius}px;
  box-shadow: 0 4px 14px rgba(0,0,0,0.08), 0 1px 3px rgba(0,0,0,0.10); padding: 16px; }}
.muted {{ color: {t["muted"]}; }}
.btn {{ display: inline-block; padding: 8px 16px; border-radius: {radius}px; background: {t["accent"]}; color: white;
  font-weight: 600; box-shadow: 0 2px 6px rgba(0,0,0,0.2); }}
.btn.ghost {{ background: transparent; color: {t["accent"]}; border: 1px solid {t["accent"]}; box-shadow: none; }}
.grid {{ display: grid; gap: 16px; }}
.row {{ display: flex; gap: 12px; align-items: center; }}
.pill {{ padding: 2px 8px; border-radius: 999px; font-size: 12px; background: {t["line"]}; }}
input, select, textarea {{ width: 100%; padding: 9px 10px; border-radius: 6px; border: 1px solid {t["line"]};
  background: {t["bg"]}; color: {t["text"]}; font: inherit; }}
.avatar {{ width: 32px; height: 32px; border-radius: 50%; flex: none; }}
h1, h2, h3 {{ margin: 0 0 8px; }}
"""


def _colour(rng: np.random.Generator) -> str:
    r, g, b = colorsys.hls_to_rgb(rng.uniform(0, 1), rng.uniform(0.45, 0.65), rng.uniform(0.5, 0.85))
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"


def _sentence(rng: np.random.Generator, n: int) -> str:
    words = _words(rng, n)
    return " ".join(words).capitalize() + "."


def _sparkline(rng: np.random.Generator, colour: str, w: int = 220, h: int = 60) -> str:
    v = rng.normal(0, 1, 30).cumsum()
    v = (v - v.min()) / (np.ptp(v) or 1)
    pts = " ".join(f"{i * w / 29:.1f},{h - 4 - v[i] * (h - 8):.1f}" for i in range(30))
    return (
        f'<svg width="{w}" height="{h}"><defs><linearGradient id="g{colour[1:]}" x1="0" y1="0" x2="0" y2="1">'
        f'<stop offset="0" stop-color="{colour}" stop-opacity="0.35"/><stop offset="1" stop-color="{colour}" '
        f'stop-opacity="0"/></linearGradient></defs><polygon points="0,{h} {pts} {w},{h}" fill="url(#g{colour[1:]})"/>'
        f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"/></svg>'
    )


def _avatar(rng: np.random.Generator) -> str:
    a, b = _colour(rng), _colour(rng)
    return f'<div class="avatar" style="background: linear-gradient(135deg, {a}, {b})"></div>'


def _page_body(layout: str, t: dict[str, str], rng: np.random.Generator) -> str:
    acc = t["accent"]
    if layout == "dashboard":
        cards = "".join(
            f'<div class="card"><div class="muted">{_words(rng, 2)[0].title()} {_words(rng, 1)[0]}</div>'
            f'<h2>{rng.integers(100, 99999):,}</h2><span class="pill">+{rng.uniform(0, 30):.1f}%</span>'
            f"{_sparkline(rng, _colour(rng))}</div>"
            for _ in range(4)
        )
        side = "".join(f'<div style="padding:10px 16px">{w.title()}</div>' for w in _words(rng, 9))
        rows = "".join(
            f'<tr><td class="row">{_avatar(rng)} {" ".join(_words(rng, 2)).title()}</td><td>{rng.integers(1, 500)}</td>'
            f'<td><span class="pill">{rng.choice(["open", "closed", "review"])}</span></td></tr>'
            for _ in range(6)
        )
        return (
            f'<div style="display:flex;min-height:100vh"><div style="width:200px;background:{t["card"]};'
            f'border-right:1px solid {t["line"]}"><h3 style="padding:16px;color:{acc}">quantboard</h3>{side}</div>'
            f'<div style="flex:1;padding:24px"><h1>Overview</h1><div class="grid" '
            f'style="grid-template-columns:repeat(auto-fit,minmax(220px,1fr))">{cards}</div>'
            f'<div class="card" style="margin-top:16px"><table style="width:100%;border-collapse:collapse">{rows}'
            "</table></div></div></div>"
        )
    if layout == "article":
        paras = "".join(
            f"<p>{' '.join(_sentence(rng, int(rng.integers(8, 20))) for _ in range(5))}</p>" for _ in range(6)
        )
        hero = f"linear-gradient(120deg, {_colour(rng)}, {_colour(rng)})"
        return (
            f'<div style="height:220px;background:{hero}"></div><div style="max-width:720px;margin:-60px auto 0;'
            f'padding:0 20px"><div class="card" style="padding:28px"><h1 style="font-size:30px">'
            f'{_sentence(rng, 6)}</h1><div class="row muted">{_avatar(rng)} by {" ".join(_words(rng, 2)).title()}'
            f' &middot; {rng.integers(3, 15)} min read</div><div style="line-height:1.6;font-size:16px">{paras}'
            "</div></div></div>"
        )
    if layout == "form":
        fields = "".join(
            f'<label><div style="margin:10px 0 4px">{w.title()}</div><input value="{" ".join(_words(rng, 2))}"></label>'
            for w in _words(rng, 5)
        )
        return (
            '<div style="display:grid;place-items:center;min-height:100vh;'
            f'background:radial-gradient(circle at 30% 20%, {acc}33, transparent 60%)">'
            '<div class="card" style="width:min(440px,92vw);padding:28px">'
            f'<h2>Create your account</h2><div class="muted">{_sentence(rng, 9)}</div>{fields}'
            f'<label class="row" style="margin:14px 0"><input type="checkbox" style="width:auto" checked> '
            f'{_sentence(rng, 6)}</label><div class="row"><span class="btn">Sign up</span>'
            '<span class="btn ghost">Cancel</span></div></div></div>'
        )
    if layout == "table":
        head = "".join(f'<th style="text-align:left;padding:10px">{w.title()}</th>' for w in _words(rng, 6))
        rows = "".join(
            f'<tr style="background:{t["card"] if i % 2 else t["bg"]}">'
            + "".join(f'<td style="padding:9px 10px;border-top:1px solid {t["line"]}">{c}</td>' for c in (
                " ".join(_words(rng, 2)), f"{rng.uniform(0, 9999):.2f}", f"{rng.integers(0, 100)}%",
                f'<span class="pill" style="background:{_colour(rng)}33">{_words(rng, 1)[0]}</span>',
                f"2026-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}", _words(rng, 1)[0],
            ))
            + "</tr>"
            for i in range(22)
        )  # fmt: skip
        return (
            f'<div style="padding:20px"><div class="row" style="justify-content:space-between"><h2>Orders</h2>'
            f'<span class="btn">Export</span></div><div class="card" style="padding:0;overflow:hidden">'
            f'<table style="width:100%;border-collapse:collapse;font-size:13px"><tr style="background:{acc}22">{head}'
            f"</tr>{rows}</table></div></div>"
        )
    if layout == "landing":
        a, b = _colour(rng), _colour(rng)
        feats = "".join(
            f'<div class="card"><div style="width:40px;height:40px;border-radius:10px;background:linear-gradient('
            f'135deg,{_colour(rng)},{_colour(rng)})"></div><h3 style="margin-top:12px">'
            f'{" ".join(_words(rng, 2)).title()}</h3><div class="muted">{_sentence(rng, 14)}</div></div>'
            for _ in range(3)
        )
        return (
            '<div style="padding:60px 24px 40px;text-align:center;'
            f'background:linear-gradient(160deg,{a},{b});color:#fff">'
            f'<h1 style="font-size:42px;text-shadow:0 4px 20px rgba(0,0,0,0.3)">{_sentence(rng, 5)}</h1>'
            f'<p style="font-size:18px;opacity:0.9">{_sentence(rng, 16)}</p><span class="btn" style="background:#fff;'
            f'color:{a}">Get started</span></div><div class="grid" style="padding:24px;'
            f'grid-template-columns:repeat(auto-fit,minmax(220px,1fr))">{feats}</div>'
        )
    if layout == "chat":
        msgs = ""
        for i in range(12):
            mine = bool(rng.integers(0, 2))
            style = f"background:{acc};color:#fff;margin-left:auto" if mine else f"background:{t['card']}"
            msgs += (
                f'<div class="row" style="margin:8px 0">{"" if mine else _avatar(rng)}<div style="{style};'
                f'padding:9px 13px;border-radius:16px;max-width:70%;box-shadow:0 1px 2px rgba(0,0,0,0.12)">'
                f"{_sentence(rng, int(rng.integers(3, 18)))}</div></div>"
            )
            del i
        return (
            f'<div style="display:flex;flex-direction:column;height:100vh"><div class="row" style="padding:12px 16px;'
            f'background:{t["card"]};border-bottom:1px solid {t["line"]}">{_avatar(rng)}<b>{_words(rng, 1)[0].title()}'
            f'</b><span class="muted">online</span></div><div style="flex:1;padding:12px 16px;overflow:hidden">{msgs}'
            f'</div><div style="padding:12px"><input value="{_sentence(rng, 5)}"></div></div>'
        )
    if layout == "code":
        kw = "#c678dd" if t is THEMES["dark"] else "#a626a4"
        st = "#98c379" if t is THEMES["dark"] else "#50a14f"
        fn = "#61afef" if t is THEMES["dark"] else "#4078f2"
        lines = []
        for i in range(40):
            indent = "&nbsp;" * (4 * int(rng.integers(0, 3)))
            w = _words(rng, 4)
            lines.append(
                f'<div><span class="muted" style="display:inline-block;width:36px">{i + 1}</span>{indent}'
                f'<span style="color:{kw}">{rng.choice(["def", "return", "if", "for", "let", "const"])}</span> '
                f'<span style="color:{fn}">{w[0]}_{w[1]}</span>(<span style="color:{st}">"{w[2]}"</span>, {w[3]})</div>'
            )
        tabs = "".join(f'<span style="padding:8px 14px">{w}.py</span>' for w in _words(rng, 4))
        return (
            f'<div style="background:{t["card"]};border-bottom:1px solid {t["line"]}">{tabs}</div>'
            f"<div style=\"font-family:'DejaVu Sans Mono',monospace;font-size:13px;line-height:1.5;padding:10px\">"
            f"{''.join(lines)}</div>"
        )
    if layout == "pricing":
        plans = ""
        for i, plan in enumerate(("Starter", "Team", "Business")):
            feats = "".join(f"<li>{' '.join(_words(rng, 3))}</li>" for _ in range(5))
            top = (
                f"border:2px solid {acc};transform:scale(1.04);box-shadow:0 20px 40px rgba(0,0,0,0.18)"
                if i == 1
                else ""
            )
            plans += (
                f'<div class="card" style="padding:24px;{top}"><h3>{plan}</h3>'
                '<div style="font-size:36px;font-weight:700">'
                f'${rng.integers(5, 99)}<span class="muted" style="font-size:14px">/mo</span></div>'
                f'<ul class="muted" style="line-height:1.9">{feats}</ul><span class="btn{" ghost" if i != 1 else ""}">'
                "Choose</span></div>"
            )
        return (
            '<div style="padding:40px 24px;text-align:center"><h1>Pricing</h1>'
            f'<p class="muted">{_sentence(rng, 10)}</p>'
            f'</div><div class="grid" style="padding:0 32px;grid-template-columns:repeat(auto-fit,minmax(240px,1fr))">'
            f"{plans}</div>"
        )
    if layout == "mail":
        items = "".join(
            f'<div class="row" style="padding:10px 14px;border-bottom:1px solid {t["line"]};'
            f'{"font-weight:600" if rng.random() < 0.4 else ""}">{_avatar(rng)}<div style="width:140px">'
            f'{" ".join(_words(rng, 2)).title()}</div><div style="flex:1;white-space:nowrap;overflow:hidden;'
            f'text-overflow:ellipsis">{_sentence(rng, 5)} <span class="muted">{_sentence(rng, 14)}</span></div>'
            f'<div class="muted">{rng.integers(1, 12)}:{rng.integers(0, 60):02d}</div></div>'
            for _ in range(16)
        )
        folders = "".join(f'<div style="padding:8px 16px">{w.title()}</div>' for w in ("inbox", *_words(rng, 6)))
        return (
            f'<div style="display:flex;height:100vh"><div style="width:190px;padding-top:12px"><span class="btn" '
            f'style="margin:0 16px 12px">Compose</span>{folders}</div><div class="card" style="flex:1;margin:12px;'
            f'padding:0;overflow:hidden">{items}</div></div>'
        )
    if layout == "calendar":
        cells = ""
        for d in range(35):
            events = "".join(
                '<div style="font-size:11px;margin-top:3px;padding:2px 5px;border-radius:4px;'
                f"background:{_colour(rng)}33;"
                f'border-left:3px solid {_colour(rng)}">{_words(rng, 1)[0]}</div>'
                for _ in range(int(rng.integers(0, 3)))
            )
            cells += f'<div style="border:1px solid {t["line"]};padding:6px;min-height:96px">{d % 31 + 1}{events}</div>'
        names = "".join(
            f'<div class="muted" style="padding:6px">{n}</div>'
            for n in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
        )
        return (
            f'<div style="padding:16px"><div class="row" style="justify-content:space-between"><h2>March 2026</h2>'
            f'<span class="btn">New event</span></div><div class="card" style="padding:0;display:grid;'
            f'grid-template-columns:repeat(7,1fr)">{names}{cells}</div></div>'
        )
    if layout == "settings":
        rows = ""
        for w in _words(rng, 8):
            on = rng.random() < 0.5
            side = "right" if on else "left"
            knob = (
                f'<div style="width:40px;height:22px;border-radius:11px;background:{acc if on else t["line"]};'
                f'position:relative"><div style="position:absolute;top:2px;{side}:2px;width:18px;height:18px;'
                'border-radius:50%;background:#fff;box-shadow:0 1px 3px rgba(0,0,0,0.3)"></div></div>'
            )
            rows += (
                f'<div class="row" style="justify-content:space-between;padding:12px 0;border-bottom:1px solid '
                f'{t["line"]}"><div><b>{w.title()}</b><div class="muted">{_sentence(rng, 8)}</div></div>{knob}</div>'
            )
        return (
            '<div style="padding:20px;max-width:760px;margin:auto"><h1>Settings</h1>'
            f'<div class="card">{rows}</div></div>'
        )
    if layout == "modal":
        back = _page_body("dashboard", t, rng)
        return (
            f'{back}<div style="position:fixed;inset:0;background:rgba(10,12,20,0.45);backdrop-filter:blur(3px);'
            f'display:grid;place-items:center"><div class="card" style="width:min(460px,90vw);padding:28px;'
            f'box-shadow:0 30px 60px rgba(0,0,0,0.35)"><h2>Delete {_words(rng, 1)[0]}?</h2><p class="muted">'
            f'{_sentence(rng, 20)}</p><div class="row" style="justify-content:flex-end"><span class="btn ghost">Cancel'
            '</span><span class="btn" style="background:#e5484d">Delete</span></div></div></div>'
        )
    raise ValueError(layout)


def ui_page(layout: str, theme: str, seed: str) -> str:
    """The HTML of one page: a layout in a theme, its text and colours drawn from the seed."""
    rng = _rng(seed)
    font = FONTS[int(rng.integers(0, len(FONTS)))]
    t = THEMES[theme]
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><style>{_css(t, font, rng)}</style></head>"
        f"<body>{_page_body(layout, t, rng)}</body></html>"
    )


class _Browser:
    """One headless Chromium for all the screenshots, started on first use."""

    def __init__(self) -> None:
        self.driver = None

    def shot(self, html: Path, width: int, height: int, dst: Path) -> None:
        if self.driver is None:
            from selenium import webdriver
            from selenium.webdriver.chrome.service import Service

            options = webdriver.ChromeOptions()
            options.binary_location = str(CHROMIUM)
            for arg in (
                "--headless=new",
                "--no-sandbox",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--force-device-scale-factor=1",
                "--font-render-hinting=none",
                "--window-size=1200,800",
            ):
                options.add_argument(arg)
            self.driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 500},
        )
        self.driver.get(html.as_uri())
        png = self.driver.get_screenshot_as_png()
        import io

        with Image.open(io.BytesIO(png)) as im:
            shot = im.convert("RGB")
        if shot.size != (width, height):
            shot = shot.crop((0, 0, width, height))
        shot.save(dst)

    def close(self) -> None:
        if self.driver is not None:
            self.driver.quit()
            self.driver = None


def screenshots(browser: _Browser, pages: Path) -> Iterator[tuple[str, str, str, Callable[[Path], None]]]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        print("ui: skipped (apt-get install -y chromium chromium-driver)", file=sys.stderr)
        return
    for i, (layout, theme, width, height) in enumerate(UI_PAGES):
        name = f"{layout}-{theme}-{width}x{height}"

        def write(dst: Path, layout=layout, theme=theme, w=width, h=height, name=name, i=i) -> None:
            pages.mkdir(parents=True, exist_ok=True)
            html = pages / f"{name}.html"
            html.write_text(ui_page(layout, theme, f"ui-{i}-{name}"))
            browser.shot(html, w, h, dst)

        yield name, f"ui-{name}", f"headless Chromium, {layout} page, {theme} theme, {width}x{height}", write


# ---------------------------------------------------------------------------------------
# Building and loading


def build(root: Path = ROOT, categories: tuple[str, ...] = CATEGORIES, force: bool = False) -> list[CorpusImage]:
    """Make the images of ``categories`` that are missing (all of them with ``force``) and the manifest."""
    browser = _Browser()
    makers: dict[str, Callable[[], Iterator]] = {
        "photo": photos,
        "artwork": artwork,
        "ui": lambda: screenshots(browser, root / "pages"),
        "icon": icons,
        "grey": greys,
        "pixelart": pixelart,
        "chart": charts,
        "gradient": gradients,
    }
    old = {im.key: im for im in _read_manifest(root)}
    images: dict[str, CorpusImage] = {k: v for k, v in old.items() if v.category not in categories}
    try:
        for category in categories:
            (root / category).mkdir(parents=True, exist_ok=True)
            for name, group, origin, write in makers[category]():
                rel = f"{category}/{name}.png"
                dst = root / rel
                if force or not dst.exists():
                    tmp = dst.with_suffix(".tmp.png")
                    write(tmp)
                    tmp.replace(dst)
                with Image.open(dst) as im:
                    images[f"{category}/{name}"] = CorpusImage(
                        category, name, group, rel, origin, im.width, im.height, im.mode
                    )
    finally:
        browser.close()
    halves = split(list(images.values()))
    ordered = sorted(
        (replace(im, half=halves[im.group]) for im in images.values()),
        key=lambda im: (CATEGORIES.index(im.category), im.name),
    )
    (root / MANIFEST).write_text(json.dumps([asdict(im) for im in ordered], indent=1) + "\n")
    return ordered


def _read_manifest(root: Path) -> list[CorpusImage]:
    try:
        rows = json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError):
        return []
    return [CorpusImage(**row) for row in rows]


def load(
    root: Path = ROOT, categories: tuple[str, ...] | None = None, halves: tuple[str, ...] = HALVES
) -> list[CorpusImage]:
    """The corpus images of ``categories`` (all by default) in ``halves``, building what is missing."""
    wanted = tuple(categories or CATEGORIES)
    images = _read_manifest(root)
    have = {im.category for im in images if im.file(root).exists()}
    if not set(wanted) <= have:
        images = build(root, tuple(c for c in wanted if c not in have))
    return [im for im in images if im.category in wanted and im.half in halves and im.file(root).exists()]


def counts(images: list[CorpusImage]) -> list[str]:
    """Lines of a table: images and megapixels per category and half."""
    lines = ["| category | tuning | checking | megapixels |", "|---|---:|---:|---:|"]
    for category in CATEGORIES:
        rows = [im for im in images if im.category == category]
        if rows:
            t = sum(im.half == "tuning" for im in rows)
            mp = sum(im.width * im.height for im in rows) / 1e6
            lines.append(f"| {category} | {t} | {len(rows) - t} | {mp:.1f} |")
    t = sum(im.half == "tuning" for im in images)
    lines.append(f"| all | {t} | {len(images) - t} | {sum(im.width * im.height for im in images) / 1e6:.1f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--categories", default=",".join(CATEGORIES), help="comma-separated, of: " + ", ".join(CATEGORIES)
    )
    parser.add_argument("--force", action="store_true", help="make the images again even where they exist")
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args()
    categories = tuple(c for c in args.categories.split(",") if c)
    unknown = set(categories) - set(CATEGORIES)
    if unknown:
        parser.error(f"unknown categories: {', '.join(sorted(unknown))}")
    images = [im for im in build(args.root, categories, args.force) if im.category in categories]
    print(f"{len(images)} images in {args.root}")
    print("\n".join(counts(images)))


if __name__ == "__main__":
    main()
