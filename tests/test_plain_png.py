"""The core's route for a plain PNG (cpp/png_decoder.hpp, ``_core.compress_plain_png``)
held to the general route (Pillow's decode in read_image, then compress_pixels): the same
PNG bytes, palette size and PSNR for every file the core accepts; None for every file it
cannot vouch for, which the pipeline then reads the general way, errors included; and a
plain PNG through the pipeline imports neither NumPy nor Pillow."""

from __future__ import annotations

import io
import math
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import crafting_helpers, gradient_image
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin
from quantcli import ImageReadError, QuantizeOptions, _core, api, compress_bytes, compress_file
from quantcli.api import compress_pixels
from quantcli.images import DEFAULT_MAX_PIXELS, read_image
from quantcli.pipeline import Settings, pixel_chunks_png, run_job
from quantcli.planner import Job
from quantcli.psnr import psnr_from_mse

DATA = Path(__file__).parent / "data"


craft = crafting_helpers()
chunk = craft.png_chunk
IEND = chunk(b"IEND", b"")
ALL_FILTERS = (0, 1, 2, 3, 4)  # None, Sub, Up, Average, Paeth


# --- making PNGs -----------------------------------------------------------------------


def pack(samples: np.ndarray, depth: int) -> np.ndarray:
    """(h, w) samples below 2**depth as PNG rows packed most significant bits first: (h, bytes, 1)."""
    h = samples.shape[0]
    bits = (samples[:, :, None] >> np.arange(depth - 1, -1, -1)) & 1
    return np.packbits(bits.astype(np.uint8).reshape(h, -1), axis=1)[:, :, None]


def png(
    samples: np.ndarray,
    depth: int,
    colour: int,
    *,
    plte: bytes | None = None,
    trns: bytes | None = None,
    filters: tuple[int, ...] = ALL_FILTERS,
    before: tuple[bytes, ...] = (),
    after: tuple[bytes, ...] = (),
) -> bytes:
    """A PNG crafted by hand: (h, w) or (h, w, c) samples of IHDR's ``depth`` and ``colour``
    type, row y filtered with ``filters[y % len(filters)]``; ``before`` and ``after`` are
    chunks just before and after the IDAT chunk."""
    h, w = samples.shape[:2]
    rows = pack(samples, depth) if depth < 8 else samples.reshape(h, w, -1)
    stream = zlib.compress(craft.png_filter(rows, 8, list(filters)), 9)
    return (
        craft.PNG_SIGNATURE
        + craft.ihdr(w, h, depth, colour)
        + (chunk(b"PLTE", plte) if plte is not None else b"")
        + (chunk(b"tRNS", trns) if trns is not None else b"")
        + b"".join(before)
        + chunk(b"IDAT", stream)
        + b"".join(after)
        + IEND
    )


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, body) of every chunk of a well-formed PNG."""
    out, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        out.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]))
        pos += length + 12
    return out


def rebuild(parts: list[tuple[bytes, bytes]]) -> bytes:
    """A PNG of these (type, body) chunks, with correct CRCs."""
    return craft.PNG_SIGNATURE + b"".join(chunk(kind, body) for kind, body in parts)


def idat_stream(data: bytes) -> bytes:
    return b"".join(body for kind, body in chunks(data) if kind == b"IDAT")


def with_idat(data: bytes, *pieces: bytes, between: bytes = b"") -> bytes:
    """``data`` with its IDAT chunks replaced by one chunk per piece (``between`` after the first)."""
    parts = chunks(data)
    first = next(i for i, (kind, _) in enumerate(parts) if kind == b"IDAT")
    rest = [p for p in parts[first:] if p[0] != b"IDAT"]
    new = [(b"IDAT", pieces[0])] + ([] if not between else [(between[:4], between[4:])])
    new += [(b"IDAT", piece) for piece in pieces[1:]]
    return rebuild(parts[:first] + new + rest)


class FixedHuffman:
    """A zlib stream of one deflate block with the fixed Huffman codes, written symbol by
    symbol: for streams no compressor writes (symbols zlib refuses)."""

    def __init__(self) -> None:
        self.bits = [1, 1, 0]  # last block; type 1, least significant bit first

    def _code(self, value: int, n: int) -> None:  # Huffman codes go most significant bit first
        self.bits += [(value >> i) & 1 for i in reversed(range(n))]

    def literal(self, byte: int) -> FixedHuffman:
        assert byte < 144
        self._code(0x30 + byte, 8)
        return self

    def match(self, length_symbol: int, distance_symbol: int) -> FixedHuffman:
        """A match with no extra length bits (symbols 257-264, 285, and the invalid 286 and
        287) and zero extra distance bits."""
        if length_symbol < 280:
            self._code(length_symbol - 256, 7)
        else:
            self._code(0xC0 + length_symbol - 280, 8)
        self._code(distance_symbol, 5)
        self.bits += [0] * max(0, (distance_symbol - 2) // 2)  # the extra distance bits
        return self

    def zlib(self, inflated: bytes) -> bytes:
        """The stream, ended, in a zlib wrapper whose Adler-32 is that of ``inflated``."""
        bits = self.bits + [0] * 7  # end of block: symbol 256
        bits += [0] * (-len(bits) % 8)
        deflate = bytes(sum(bit << i for i, bit in enumerate(bits[at : at + 8])) for at in range(0, len(bits), 8))
        return b"\x78\x01" + deflate + struct.pack(">I", zlib.adler32(inflated))


def zero_rows_259(length_symbol: int = 285) -> bytes:
    """A 259 x 1 black grey PNG: the filter byte and 259 zeros as 2 literals and a 258-byte match."""
    stream = FixedHuffman().literal(0).literal(0).match(length_symbol, 0).zlib(bytes(260))
    return with_idat(png(np.zeros((1, 259), np.uint8), 8, 0), stream)


def zero_rows_far(distance_symbol: int = 29) -> bytes:
    """A 199 x 130 black grey PNG whose stream copies a match from 24577 bytes back."""
    huffman = FixedHuffman().literal(0)
    for _ in range(96):  # 1 + 96 * 258 = 24769 bytes
        huffman.match(285, 0)
    huffman.match(285, distance_symbol)  # 25027
    for _ in range(3):
        huffman.match(285, 0)  # 25801
    for _ in range(199):
        huffman.literal(0)  # 26000 = 130 rows of 200 bytes
    return with_idat(png(np.zeros((130, 199), np.uint8), 8, 0), huffman.zlib(bytes(26000)))


def pillow_png(image: Image.Image, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **params)
    return buffer.getvalue()


def text(keyword: str, value: bytes) -> bytes:
    return chunk(b"tEXt", keyword.encode("latin-1") + b"\0" + value)


RNG = np.random.default_rng(7)
RGB = gradient_image(12, 29, seed=2)  # photo-like: many colours, so K and dithering matter
RGBA = gradient_image(12, 29, seed=3, alpha=True)
GREY = RGB[:, :, 1].copy()
OPAQUE = np.full((12, 29), 255, np.uint8)
SOME_ALPHA = RGBA[:, :, 3].copy()


def samples_below(levels: int, shape=(12, 37)) -> np.ndarray:
    return RNG.integers(0, levels, shape).astype(np.uint8)


def palette_bytes(entries: int) -> bytes:
    return RNG.integers(0, 256, entries * 3).astype(np.uint8).tobytes()


PALETTE_16 = palette_bytes(16)
INDICES_16 = samples_below(16)
ALPHAS_16 = bytes(RNG.integers(0, 256, 16).astype(np.uint8))


def p16(**params) -> bytes:
    return png(INDICES_16, 4, 3, plte=PALETTE_16, **params)


def variants() -> dict[str, bytes]:
    """Plain PNGs the core must accept: every colour type and depth it reads, tRNS forms,
    every row filter, harmless ancillary chunks; crafted by hand and written by Pillow."""
    out: dict[str, bytes] = {}
    for depth in (1, 2, 4, 8):
        out[f"grey-{depth}"] = png(samples_below(1 << depth), depth, 0)
        out[f"palette-{depth}"] = png(samples_below(1 << depth), depth, 3, plte=palette_bytes(1 << depth))
    out["grey-8-photo"] = png(GREY, 8, 0)
    out["rgb"] = png(RGB, 8, 2)
    out["rgba-opaque"] = png(np.dstack([RGB, OPAQUE]), 8, 6)
    out["rgba"] = png(RGBA, 8, 6)
    out["grey-alpha-opaque"] = png(np.dstack([GREY, OPAQUE]), 8, 4)
    out["grey-alpha"] = png(np.dstack([GREY, SOME_ALPHA]), 8, 4)
    out["palette-small-plte"] = png(samples_below(5), 8, 3, plte=palette_bytes(5))  # 5 of 256 entries
    out["palette-2-big-plte"] = png(samples_below(4), 2, 3, plte=palette_bytes(16))  # more than 2 bits index
    out["palette-trns-alpha-table"] = p16(trns=ALPHAS_16)
    out["palette-trns-shorter"] = p16(trns=ALPHAS_16[:5])
    out["palette-trns-all-ff"] = p16(trns=b"\xff" * 16)
    out["palette-trns-one-transparent"] = p16(trns=b"\xff\xff\xff\x00")  # Pillow: transparency=3
    out["palette-trns-empty"] = p16(trns=b"")
    for kind in ALL_FILTERS:
        out[f"filter-{kind}-rgb"] = png(RGB, 8, 2, filters=(kind,))
        out[f"filter-{kind}-rgba"] = png(RGBA, 8, 6, filters=(kind,))
        out[f"filter-{kind}-grey-alpha"] = png(np.dstack([GREY, SOME_ALPHA]), 8, 4, filters=(kind,))
        out[f"filter-{kind}-grey-1"] = png(samples_below(2), 1, 0, filters=(kind,))
    # Ancillary chunks Pillow keeps as metadata only, before and after the image data.
    harmless = {
        "gAMA": chunk(b"gAMA", struct.pack(">I", 45455)),
        "sRGB": chunk(b"sRGB", b"\0"),
        "pHYs": chunk(b"pHYs", struct.pack(">IIB", 2835, 2835, 1)),
        "tIME": chunk(b"tIME", struct.pack(">HBBBBB", 2024, 5, 17, 12, 30, 0)),
        "tEXt": text("Comment", b"made by hand"),
        "cHRM": chunk(b"cHRM", struct.pack(">8I", 31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000)),
        "bKGD": chunk(b"bKGD", struct.pack(">3H", 255, 255, 255)),
        "sBIT": chunk(b"sBIT", b"\5\6\5"),
    }
    for name, extra in harmless.items():
        out[f"ancillary-{name}"] = png(RGB, 8, 2, before=(extra,))
    out["ancillary-after-idat"] = png(RGB, 8, 2, after=(harmless["tEXt"], harmless["tIME"]))
    out["ancillary-all"] = png(RGBA, 8, 6, before=tuple(harmless.values()), after=(harmless["tEXt"],))
    out["plte-in-rgb"] = png(RGB, 8, 2, before=(chunk(b"PLTE", palette_bytes(8)),))  # a suggested palette
    stream = idat_stream(out["rgb"])
    out["idat-split"] = with_idat(out["rgb"], stream[:1], stream[1:40], stream[40:], b"")
    out["bytes-after-iend"] = out["rgb"] + b"\0trailing"
    out["zlib-fixed-huffman"] = zero_rows_259()
    out["zlib-fixed-huffman-far-match"] = zero_rows_far()
    # Written by Pillow, as most plain PNGs are.
    out["pillow-1"] = pillow_png(Image.fromarray(GREY > 128))
    out["pillow-L"] = pillow_png(Image.fromarray(GREY))
    out["pillow-LA"] = pillow_png(Image.fromarray(np.dstack([GREY, SOME_ALPHA])))
    out["pillow-RGB"] = pillow_png(Image.fromarray(RGB))
    out["pillow-RGBA"] = pillow_png(Image.fromarray(RGBA))
    out["pillow-RGBA-opaque"] = pillow_png(Image.fromarray(np.dstack([RGB, OPAQUE])))
    out["pillow-P"] = pillow_png(Image.fromarray(RGB).quantize(64))
    four = Image.fromarray(RGB).quantize(4)  # Pillow writes 2 bits
    out["pillow-P-2-bits-transparency"] = pillow_png(four, transparency=1)
    out["pillow-P-alphas"] = pillow_png(four, transparency=bytes([255, 0, 128, 7]))
    out["pillow-RGB-optimize"] = pillow_png(Image.fromarray(RGB), optimize=True, compress_level=1)
    return out


VARIANTS = variants()
OPTIONS = {
    "k2-off": QuantizeOptions(k=2, dither="off"),
    "k16-auto": QuantizeOptions(k=16),
    "k16-on-no-margin": QuantizeOptions(k=16, dither="on", run_margin=0),
    "k256-half-level6": QuantizeOptions(k=256, dither=0.5, level=6),
}


# --- the two routes --------------------------------------------------------------------


def plain_route(data: bytes, options: QuantizeOptions, max_pixels: int = 0):
    """The core's route as the pipeline reads it: (PNG bytes, palette entries, PSNR), or None."""
    out = _core.compress_plain_png(data, options, max_pixels)
    if out is None:
        return None
    png_bytes, colors, sse, samples = out
    return png_bytes, colors, psnr_from_mse(sse / samples)


def general_outcome(data: bytes, options: QuantizeOptions, name: str = "<stdin>", max_pixels=DEFAULT_MAX_PIXELS):
    """The general route: (PNG bytes, palette entries, PSNR or None when lossless), or its error."""
    try:
        pixels = read_image(data, name=name, max_pixels=max_pixels)
    except ImageReadError as exc:
        return str(exc)
    png_bytes, q = compress_pixels(pixels, options)
    return png_bytes, len(q.palette), None if math.isinf(q.psnr) else q.psnr


def kept_outcome(data: bytes, options: QuantizeOptions):
    """general_outcome with the pipeline's rule for an image of at most K colours: the
    input's own pixel chunks when the core reads it and they are no larger than quantcli's."""
    out = general_outcome(data, options)
    own = pixel_chunks_png(data) if _core.compress_plain_png(data, options, 0) is not None else None
    if own is not None and isinstance(out, tuple) and out[2] is None and len(own) <= len(out[0]):
        return own, out[1], None
    return out


def pipeline_outcome(data: bytes, options: QuantizeOptions):
    """compress_bytes: (PNG bytes, palette entries, PSNR), or its error."""
    try:
        png_bytes, result = compress_bytes(data, options)
    except ImageReadError as exc:
        return str(exc)
    return png_bytes, result.colors, result.psnr


def assert_parity(data: bytes, options: QuantizeOptions) -> None:
    out = _core.compress_plain_png(data, options, 0)
    assert out is not None, "the core declined a plain PNG"
    png_bytes, colors, sse, samples = out
    pixels = read_image(data, max_pixels=None)
    want, q = compress_pixels(pixels, options)
    assert samples == pixels.size  # as many pixels, and the same choice of RGB or RGBA
    assert png_bytes == want
    assert colors == len(q.palette)
    assert psnr_from_mse(sse / samples) == q.psnr


# --- 1. parity over the fixture --------------------------------------------------------


@pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS.keys())
@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_core_matches_the_general_route(name, options):
    assert_parity(VARIANTS[name], options)


def test_the_pipeline_takes_the_core_route_and_gives_the_same_result(monkeypatch):
    """compress_bytes on every variant with the general route made to fail: each goes
    through the core, with the general route's bytes, colours and PSNR."""
    options = OPTIONS["k16-auto"]
    wanted = {name: kept_outcome(data, options) for name, data in VARIANTS.items()}

    def general_route_taken(*args, **kwargs):
        raise AssertionError("the general route was taken")

    monkeypatch.setattr(api, "compress_pixels", general_route_taken)
    for name, data in VARIANTS.items():
        assert pipeline_outcome(data, options) == wanted[name], name


def test_the_fixture_holds_every_colour_type_depth_and_filter():
    """The variants hold what the core reads: so the parity test above covers it all."""
    kinds, filters = set(), set()
    for data in VARIANTS.values():
        width, _, depth, colour = struct.unpack(">IIBB", chunks(data)[0][1][:10])
        kinds.add((colour, depth))
        bits = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour] * depth
        raw = zlib.decompress(idat_stream(data))
        filters |= set(raw[:: 1 + (width * bits + 7) // 8])
    assert kinds == {(0, 1), (0, 2), (0, 4), (0, 8), (2, 8), (3, 1), (3, 2), (3, 4), (3, 8), (4, 8), (6, 8)}
    assert filters == set(ALL_FILTERS)
    pillow_p = chunks(VARIANTS["pillow-P-2-bits-transparency"])
    assert pillow_p[0][1][8:10] == b"\2\3" and (b"tRNS", b"\xff\x00") in pillow_p  # 2 bits, a short tRNS


# --- 2. properties ---------------------------------------------------------------------

PILLOW_MODES = ("1", "L", "LA", "RGB", "RGBA", "P", "P-transparent-index", "P-alphas")


def pillow_image(mode: str, height: int, width: int, levels: int, opaque: bool, rng) -> tuple[Image.Image, dict]:
    """A random image in a Pillow mode, and the save parameters that go with it."""
    step = 255 // (levels - 1)
    values = (rng.integers(0, levels, (height, width, 4)) * step).astype(np.uint8)
    if opaque:
        values[:, :, 3] = 255
    if mode == "1":
        return Image.fromarray(values[:, :, 0] > 127), {}
    if mode == "L":
        return Image.fromarray(np.ascontiguousarray(values[:, :, 0])), {}
    if mode in ("LA", "RGB", "RGBA"):
        channels = {"LA": [0, 3], "RGB": [0, 1, 2], "RGBA": [0, 1, 2, 3]}[mode]
        return Image.fromarray(np.ascontiguousarray(values[:, :, channels])), {}
    entries = int(rng.integers(1, 257))
    image = Image.frombytes(
        "P", (width, height), (rng.integers(0, entries, (height, width))).astype(np.uint8).tobytes()
    )
    image.putpalette(rng.integers(0, 256, entries * 3).astype(np.uint8).tobytes())
    if mode == "P-transparent-index":
        return image, {"transparency": int(rng.integers(0, entries))}
    if mode == "P-alphas":
        return image, {
            "transparency": rng.integers(0, 256, int(rng.integers(1, entries + 1))).astype(np.uint8).tobytes()
        }
    return image, {}


@settings(max_examples=300, deadline=None)
@given(
    mode=st.sampled_from(PILLOW_MODES),
    height=st.integers(1, 40),
    width=st.integers(1, 40),
    levels=st.sampled_from([2, 3, 16, 256]),
    opaque=st.booleans(),
    optimize=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
    k=st.sampled_from([2, 16, 256]),
    dither=st.sampled_from(["off", "auto", "on"]),
)
def test_every_png_pillow_writes_is_accepted_with_the_general_routes_result(
    mode, height, width, levels, opaque, optimize, seed, k, dither
):
    """Non-interlaced, 8 bits or fewer, no extra chunks: the core reads it all."""
    image, params = pillow_image(mode, height, width, levels, opaque, np.random.default_rng(seed))
    assert_parity(pillow_png(image, optimize=optimize, **params), QuantizeOptions(k=k, dither=dither, level=6))


COLOUR_DEPTHS = [(0, 1), (0, 2), (0, 4), (0, 8), (2, 8), (3, 1), (3, 2), (3, 4), (3, 8), (4, 8), (6, 8)]


@settings(max_examples=300, deadline=None)
@given(
    colour_depth=st.sampled_from(COLOUR_DEPTHS),
    height=st.integers(1, 40),
    width=st.integers(1, 40),
    filters=st.lists(st.sampled_from(ALL_FILTERS), min_size=1, max_size=6),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_row_filters_at_any_size_match_the_general_route(colour_depth, height, width, filters, seed):
    """Hand-filtered rows (every filter on any row, widths that leave padding bits)."""
    colour, depth = colour_depth
    rng = np.random.default_rng(seed)
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
    entries = 1 << depth if colour == 3 else 0
    samples = rng.integers(0, 1 << depth, (height, width, channels)).astype(np.uint8)
    if channels == 1:
        samples = samples[:, :, 0]
    plte = rng.integers(0, 256, entries * 3).astype(np.uint8).tobytes() if colour == 3 else None
    data = png(samples, depth, colour, plte=plte, filters=tuple(filters))
    assert_parity(data, QuantizeOptions(k=16, level=6))


# --- 3. declines -----------------------------------------------------------------------


def exif_orientation(value: int = 6) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif.tobytes()  # b"Exif\0\0" + TIFF


def raw_profile(exif: bytes) -> bytes:
    """EXIF as ImageMagick's text chunk holds it (what Pillow reads back)."""
    return b"\nexif\n%8d\n%s\n" % (len(exif), exif.hex().encode())


def info(**texts) -> PngImagePlugin.PngInfo:
    out = PngImagePlugin.PngInfo()
    for key, (value, kind) in texts.items():
        if kind == "zTXt":
            out.add_text(key, value, zip=True)
        else:
            out.add_itxt(key, value)
    return out


def apng() -> bytes:
    first, second = Image.fromarray(RGB), Image.fromarray(RGB[::-1].copy())
    return pillow_png(first, save_all=True, append_images=[second], duration=100)


def declined() -> dict[str, bytes]:
    """Files the core must leave to the general route: PNGs it cannot vouch for (most of
    them one change away from a plain PNG), the corpus's bad PNGs, and a JPEG."""
    rgb = png(RGB, 8, 2)
    stream = idat_stream(rgb)
    raw = craft.png_filter(RGB, 8, [0])
    out = {
        "16-bit-grey": craft.png_file((GREY.astype(np.uint16) * 257), depth=16),
        "16-bit-rgb": craft.png_file(craft.RGB16_SAMPLES, depth=16),
        "16-bit-rgba": craft.png_file(np.dstack([RGB, OPAQUE]).astype(np.uint16) * 257, depth=16),
        "interlaced-rgb": craft.png_file(RGB, interlace=True),
        "interlaced-grey": craft.png_file(GREY, interlace=True),
        "iCCP": craft.png_file(RGB, chunks_before_idat=(craft.iccp_chunk(craft.adobe_rgb_profile()),)),
        "eXIf": pillow_png(Image.fromarray(RGB), exif=exif_orientation()),
        "zTXt": pillow_png(Image.fromarray(RGB), pnginfo=info(Comment=("hi", "zTXt"))),
        "iTXt": pillow_png(Image.fromarray(RGB), pnginfo=info(Comment=("hi", "iTXt"))),
        "tEXt-raw-profile-exif": png(
            RGB, 8, 2, before=(text("Raw profile type exif", raw_profile(exif_orientation())),)
        ),
        "tEXt-xmp": png(RGB, 8, 2, before=(text("XML:com.adobe.xmp", b'<x tiff:Orientation="6"/>'),)),
        # Pillow keeps a tEXt "exif" as EXIF bytes and rotates by it.
        "tEXt-exif": png(RGB, 8, 2, before=(text("exif", exif_orientation()),)),
        "tEXt-exif-after-idat": png(RGB, 8, 2, after=(text("exif", exif_orientation()),)),
        "tEXt-xmp-key": png(RGB, 8, 2, before=(text("xmp", b'<x tiff:Orientation="6"/>'),)),
        # Pillow refuses a palette image with a text "transparency".
        "tEXt-transparency": p16(before=(text("transparency", b"3"),)),
        "tEXt-over-1MiB": png(RGB, 8, 2, before=(text("Comment", b"x" * (1 << 20)),)),
        "tRNS-grey": pillow_png(Image.fromarray(GREY), transparency=0),
        "tRNS-grey-1-bit": png(samples_below(2), 1, 0, before=(chunk(b"tRNS", b"\0\1"),)),
        "tRNS-rgb": pillow_png(Image.fromarray(RGB), transparency=(0, 0, 0)),
        "tRNS-longer-than-plte": p16(trns=b"\x80" * 17),
        "tRNS-over-256": png(samples_below(5), 8, 3, plte=palette_bytes(5), trns=b"\x80" * 300),
        "tRNS-before-PLTE": png(INDICES_16, 4, 3, before=(chunk(b"PLTE", PALETTE_16),), trns=b"\0"),
        "tRNS-after-IDAT": p16(after=(chunk(b"tRNS", b"\0"),)),
        "two-tRNS": p16(trns=b"\0", before=(chunk(b"tRNS", b"\0"),)),
        "PLTE-in-grey": png(GREY, 8, 0, plte=palette_bytes(4)),
        "PLTE-in-grey-alpha": png(np.dstack([GREY, OPAQUE]), 8, 4, plte=palette_bytes(4)),
        "PLTE-missing": png(INDICES_16, 4, 3),
        "PLTE-after-IDAT": png(INDICES_16, 4, 3, after=(chunk(b"PLTE", PALETTE_16),)),
        "PLTE-twice": p16(before=(chunk(b"PLTE", PALETTE_16),)),
        "PLTE-over-256": png(INDICES_16, 8, 3, plte=palette_bytes(257)),
        "PLTE-not-whole-entries": png(INDICES_16, 4, 3, plte=PALETTE_16 + b"\0"),
        "palette-index-beyond-PLTE": png(INDICES_16, 4, 3, plte=PALETTE_16[: 15 * 3]),
        "bad-crc-IHDR": craft.with_bad_crc(rgb, b"IHDR"),
        "bad-crc-IDAT": craft.with_bad_crc(rgb, b"IDAT"),
        "bad-crc-gAMA": craft.with_bad_crc(VARIANTS["ancillary-gAMA"], b"gAMA"),
        "bad-crc-IEND": craft.with_bad_crc(rgb, b"IEND"),
        "cut-in-IDAT": rgb[: len(rgb) - 40],
        "cut-in-IHDR": rgb[:20],
        "signature-only": craft.PNG_SIGNATURE,
        "zlib-stream-cut": with_idat(rgb, stream[: len(stream) // 2]),
        "zlib-ends-early": with_idat(rgb, zlib.compress(raw[: len(raw) // 2], 9)),
        "zlib-bad-adler": with_idat(rgb, stream[:-1] + bytes([stream[-1] ^ 1])),
        "raw-deflate": with_idat(rgb, zlib.compress(raw)[2:-4]),
        "data-after-zlib": with_idat(rgb, stream + b"\0\0\0\0"),
        "more-rows-than-IHDR": with_idat(rgb, zlib.compress(raw + raw[: len(raw) // 3], 9)),
        # Symbols zlib, as Pillow, refuses: libdeflate read 286 and 287 as length 258 (and
        # has read 30 and 31 as distance 24577, in some versions).
        "zlib-length-symbol-286": zero_rows_259(286),
        "zlib-length-symbol-287": zero_rows_259(287),
        "zlib-distance-symbol-30": zero_rows_far(30),
        "zlib-distance-symbol-31": zero_rows_far(31),
        "unknown-row-filter": with_idat(rgb, zlib.compress(b"\5" + raw[1:], 9)),
        "IDAT-tEXt-IDAT": with_idat(rgb, stream[:50], stream[50:], between=b"tEXtComment\0x"),
        "empty-IDAT-tEXt-IDAT": with_idat(rgb, b"", stream, between=b"tEXtComment\0x"),
        "PLTE-after-empty-IDAT": rebuild(
            [chunks(VARIANTS["palette-4"])[0], (b"IDAT", b""), *chunks(VARIANTS["palette-4"])[1:]]
        ),
        "no-IDAT": craft.PNG_SIGNATURE + craft.ihdr(29, 12, 8, 2) + IEND,
        "no-IEND": rgb[: -len(IEND)],
        "acTL-apng": apng(),
        "private-chunk": png(RGB, 8, 2, before=(chunk(b"prVt", b"data"),)),
        "unknown-critical-chunk": png(RGB, 8, 2, before=(chunk(b"CRIT", b"data"),)),
        "IHDR-twice": rebuild([chunks(rgb)[0], *chunks(rgb)]),
        "IHDR-zero-width": rebuild([(b"IHDR", struct.pack(">IIBBBBB", 0, 12, 8, 2, 0, 0, 0)), *chunks(rgb)[1:]]),
        "IHDR-rgb-4-bit": rebuild([(b"IHDR", struct.pack(">IIBBBBB", 29, 12, 4, 2, 0, 0, 0)), *chunks(rgb)[1:]]),
        "IHDR-compression-1": rebuild([(b"IHDR", struct.pack(">IIBBBBB", 29, 12, 8, 2, 1, 0, 0)), *chunks(rgb)[1:]]),
        "IHDR-filter-method-1": rebuild([(b"IHDR", struct.pack(">IIBBBBB", 29, 12, 8, 2, 0, 1, 0)), *chunks(rgb)[1:]]),
        "jpeg": craft.jpeg_bytes(RGB),
    }
    # The corpus's bad PNGs (an empty file never reaches the decoders: the pipeline refuses it first).
    corpus = sorted((DATA / "corpus").glob("*.png"))
    out.update({f"corpus-{p.name}": p.read_bytes() for p in corpus if p.name not in ("good.png", "empty.png")})
    return out


DECLINED = declined()


@pytest.mark.parametrize("name", sorted(DECLINED))
def test_core_declines_what_it_cannot_vouch_for(name):
    # At the pipeline's default limit, which the corpus's bomb is over.
    assert _core.compress_plain_png(DECLINED[name], OPTIONS["k16-auto"], DEFAULT_MAX_PIXELS) is None


@pytest.mark.parametrize("name", sorted(DECLINED))
def test_a_declined_file_gets_the_general_routes_result_or_error(name):
    options = OPTIONS["k16-auto"]
    assert pipeline_outcome(DECLINED[name], options) == general_outcome(DECLINED[name], options)


def test_declined_files_the_general_route_reads_otherwise_than_their_pixels_say():
    """Why some declines matter: the general route turns these by their EXIF or XMP
    orientation, refuses a palette image with a text "transparency", and reads no IDAT
    after the first other chunk that follows an IDAT, even an empty one."""
    for name in ("eXIf", "tEXt-raw-profile-exif", "tEXt-xmp", "tEXt-exif"):
        assert read_image(DECLINED[name]).shape == (29, 12, 3), name  # stored 12 high, 29 wide
    with pytest.raises(ImageReadError, match="Transparency for P mode"):
        read_image(DECLINED["tEXt-transparency"])
    with pytest.raises(ImageReadError, match="truncated image data"):
        read_image(DECLINED["empty-IDAT-tEXt-IDAT"])


# --- max_pixels ------------------------------------------------------------------------


def test_max_pixels_declines_a_plain_png_over_it_and_is_inclusive():
    data = VARIANTS["rgb"]  # 29 x 12 = 348 pixels
    options = OPTIONS["k16-auto"]
    assert plain_route(data, options, max_pixels=347) is None
    assert plain_route(data, options, max_pixels=348) == plain_route(data, options, max_pixels=0) is not None


def test_the_pipeline_with_max_pixels_gives_the_general_routes_error_or_result():
    """run_job, under compress_file, compress_bytes and every front end, with --max-pixels."""
    data = VARIANTS["rgb"]
    options = OPTIONS["k16-auto"]
    job = Job("in.png", "in.png", None, None, "in.png")
    over = run_job(job, Settings(options, max_pixels=347), read=lambda: data).result
    assert over.status == "error"
    assert over.error == general_outcome(data, options, name="in.png", max_pixels=347)
    assert over.error == "in.png: image too large: 29x12 (0.000348 MP) exceeds --max-pixels 0.000347 MP"
    at = run_job(job, Settings(options, max_pixels=348), read=lambda: data)
    assert at.result.status == "written"
    assert (at.payload, at.result.colors, at.result.psnr) == general_outcome(data, options, max_pixels=348)


def test_a_plain_png_over_the_default_limit_is_refused_by_compress_bytes_and_compress_file(tmp_path):
    bomb = (DATA / "corpus" / "bomb.png").read_bytes()  # a plain 1-bit grey PNG of 13000 x 13000
    assert plain_route(bomb, OPTIONS["k16-auto"], max_pixels=DEFAULT_MAX_PIXELS) is None
    message = "image too large: 13000x13000 (169 MP) exceeds --max-pixels 100 MP"
    with pytest.raises(ImageReadError) as info:
        compress_bytes(bomb, OPTIONS["k16-auto"])
    assert str(info.value) == f"<stdin>: {message}"
    src, dst = tmp_path / "bomb.png", tmp_path / "out.png"
    src.write_bytes(bomb)
    with pytest.raises(ImageReadError) as info:
        compress_file(src, dst, k=16)
    assert str(info.value) == f"{src}: {message}"
    assert not dst.exists()


def test_a_tiny_png_declaring_a_large_image_costs_no_memory_for_rows_it_lacks():
    """Under 200 bytes declaring 10000 x 9999 RGBA pixels: declined (the data is short) after
    committing memory only for the rows the data fills, not the 400 MB IHDR declares (as
    the general route, which refuses it as truncated)."""
    code = (
        "import resource, sys\n"
        "from quantcli import QuantizeOptions, _core\n"
        "data = bytes.fromhex(sys.argv[1])\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "assert _core.compress_plain_png(data, QuantizeOptions(k=2), 0) is None\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    data = with_idat(png(RGBA, 8, 6), zlib.compress(bytes(100_000)))
    data = rebuild([(b"IHDR", struct.pack(">IIBBBBB", 10000, 9999, 8, 6, 0, 0, 0)), *chunks(data)[1:]])
    assert len(data) < 200
    proc = subprocess.run([sys.executable, "-c", code, data.hex()], capture_output=True, text=True, check=True)
    assert int(proc.stdout) < 50_000  # kB


# --- 4. the pipeline imports neither NumPy nor Pillow for a plain PNG -------------------

IMPORTS = (
    "import sys, quantcli\n"
    "result = quantcli.compress_file(sys.argv[1], sys.argv[2], k=16)\n"
    "print(result.status, 'numpy' in sys.modules, 'PIL' in sys.modules)\n"
)


@pytest.mark.parametrize(
    ("name", "data", "imported"),
    [
        ("plain.png", VARIANTS["rgb"], False),
        ("palette.png", VARIANTS["palette-trns-alpha-table"], False),
        ("photo.jpg", craft.jpeg_bytes(RGB), True),
        ("deep.png", DECLINED["16-bit-rgb"], True),
    ],
)
def test_compress_file_needs_numpy_and_pillow_only_off_the_plain_route(tmp_path, name, data, imported):
    src, dst = tmp_path / name, tmp_path / "out.png"
    src.write_bytes(data)
    proc = subprocess.run([sys.executable, "-c", IMPORTS, src, dst], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["written", str(imported), str(imported)]
    assert dst.read_bytes() == kept_outcome(data, QuantizeOptions(k=16))[0]
