"""Make the bad-input corpus in tests/data/corpus/ and its table of expected reasons.

Run from anywhere: ``python tests/data/make_bad_inputs.py``. It rewrites every file in
tests/data/corpus/ and tests/data/bad_inputs.json; the outputs are committed (a few kB in
all), so tests never depend on this machine's zlib. The crafting helpers (PNG chunks and
filters, an ICC profile from primaries) are imported by the tests too.

bad_inputs.json maps each file name to the one-line reason ``quantcli.read_image`` gives
(the text after ``<name>: ``), or null for a file that must read fine.
"""

from __future__ import annotations

import json
import struct
import sys
import zlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
TABLE = HERE / "bad_inputs.json"

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# PNG colour types: grey, RGB, palette, grey + alpha, RGBA -> channels
PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


# --- PNG -------------------------------------------------------------------------------


def png_chunk(kind: bytes, data: bytes, crc: int | None = None) -> bytes:
    """One chunk: length, type, data, CRC (the right one unless ``crc`` is given)."""
    if crc is None:
        crc = zlib.crc32(data, zlib.crc32(kind))
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def ihdr(width: int, height: int, depth: int, colour: int, interlace: int = 0) -> bytes:
    return png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, interlace))


def png_filter(pixels: np.ndarray, depth: int, filters: list[int] | None = None) -> bytes:
    """Scanlines of an (h, w, c) array as PNG filtered data (filter byte + row), with
    filter type ``filters[y % len(filters)]`` on row y (0 none, 1 Sub, 2 Up, 3 Average,
    4 Paeth). 16-bit samples are written big-endian."""
    h, w = pixels.shape[:2]
    dtype = ">u2" if depth == 16 else np.uint8
    rows = np.ascontiguousarray(pixels.astype(dtype)).view(np.uint8).reshape(h, -1).astype(np.int32)
    bpp = max(1, rows.shape[1] // w)
    filters = filters or [0]
    out = bytearray()
    for y in range(h):
        x = rows[y]
        a = np.concatenate([np.zeros(bpp, np.int32), x[:-bpp]])  # left
        b = rows[y - 1] if y else np.zeros_like(x)  # up
        c = np.concatenate([np.zeros(bpp, np.int32), b[:-bpp]])  # up-left
        kind = filters[y % len(filters)]
        if kind == 0:
            line = x
        elif kind == 1:
            line = x - a
        elif kind == 2:
            line = x - b
        elif kind == 3:
            line = x - (a + b) // 2
        else:
            p = a + b - c
            pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
            predictor = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
            line = x - predictor
        out.append(kind)
        out += (line % 256).astype(np.uint8).tobytes()
    return bytes(out)


# Adam7 passes: first column, first row, column step, row step.
ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def png_file(
    pixels: np.ndarray,
    depth: int = 8,
    filters: list[int] | None = None,
    chunks_before_idat: tuple[bytes, ...] = (),
    interlace: bool = False,
) -> bytes:
    """A complete PNG of an (h, w), (h, w, 2), (h, w, 3) or (h, w, 4) array."""
    a = pixels if pixels.ndim == 3 else pixels[:, :, None]
    colour = {1: 0, 2: 4, 3: 2, 4: 6}[a.shape[2]]
    if interlace:
        passes = (a[y::dy, x::dx] for x, y, dx, dy in ADAM7)
        raw = b"".join(png_filter(p, depth, filters) for p in passes if p.size)
    else:
        raw = png_filter(a, depth, filters)
    data = zlib.compress(raw, 9)
    return (
        PNG_SIGNATURE
        + ihdr(a.shape[1], a.shape[0], depth, colour, int(interlace))
        + b"".join(chunks_before_idat)
        + png_chunk(b"IDAT", data)
        + png_chunk(b"IEND", b"")
    )


def iccp_chunk(profile: bytes, name: bytes = b"ICC profile") -> bytes:
    return png_chunk(b"iCCP", name + b"\0\0" + zlib.compress(profile, 9))


# --- ICC -------------------------------------------------------------------------------

D50 = np.array([0.9642, 1.0, 0.8249])
# Bradford cone response matrix (chromatic adaptation)
BRADFORD = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])
D65_XY = (0.3127, 0.3290)
ADOBE_RGB_XY = ((0.64, 0.33), (0.21, 0.71), (0.15, 0.06))
SRGB_XY = ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06))
ADOBE_RGB_GAMMA = 563 / 256  # 2.19921875, as u8Fixed8


def _xyz(xy: tuple[float, float]) -> np.ndarray:
    x, y = xy
    return np.array([x / y, 1.0, (1 - x - y) / y])


def rgb_to_xyz_d50(primaries: tuple[tuple[float, float], ...], white: tuple[float, float] = D65_XY) -> np.ndarray:
    """The 3x3 matrix from linear RGB to XYZ, Bradford-adapted from ``white`` to D50 (ICC PCS)."""
    columns = np.stack([_xyz(p) for p in primaries], axis=1)
    white_xyz = _xyz(white)
    scale = np.linalg.solve(columns, white_xyz)
    m = columns * scale
    lms_src, lms_dst = BRADFORD @ white_xyz, BRADFORD @ D50
    adapt = np.linalg.inv(BRADFORD) @ np.diag(lms_dst / lms_src) @ BRADFORD
    return adapt @ m


def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _xyz_tag(xyz: np.ndarray) -> bytes:
    return b"XYZ \0\0\0\0" + b"".join(_s15(v) for v in xyz)


def icc_profile(primaries: tuple[tuple[float, float], ...], gamma: float, description: str) -> bytes:
    """A minimal ICC v2 display profile: RGB matrix/TRC with a pure-gamma curve."""
    m = rgb_to_xyz_d50(primaries)
    desc = description.encode("ascii") + b"\0"
    text_desc = b"desc\0\0\0\0" + struct.pack(">I", len(desc)) + desc + b"\0" * 4 + b"\0" * 4 + b"\0\0\0" + b"\0" * 67
    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0"
    tags = [
        (b"desc", text_desc),
        (b"cprt", b"text\0\0\0\0" + b"No copyright, use freely\0"),
        (b"wtpt", _xyz_tag(D50)),
        (b"rXYZ", _xyz_tag(m[:, 0])),
        (b"gXYZ", _xyz_tag(m[:, 1])),
        (b"bXYZ", _xyz_tag(m[:, 2])),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for sig, data in tags:
        padded = data + b"\0" * (-len(data) % 4)
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += padded
    size = offset + len(body)
    header = (
        struct.pack(">I", size)
        + b"\0\0\0\0"
        + struct.pack(">I", 0x02100000)
        + b"mntrRGB XYZ "
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
        + b"acsp"
        + b"\0" * 24
        + struct.pack(">I", 0)  # rendering intent: perceptual
        + b"".join(_s15(v) for v in D50)
        + b"\0" * 48
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


def adobe_rgb_profile() -> bytes:
    """An Adobe RGB (1998)-compatible profile: its primaries, D65 white, gamma 563/256."""
    return icc_profile(ADOBE_RGB_XY, ADOBE_RGB_GAMMA, "Adobe RGB (1998) compatible, made by quantcli's tests")


# --- the corpus ------------------------------------------------------------------------


def gradient(h: int = 16, w: int = 16) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + y) * 255 // (h + w - 2)], -1).astype(np.uint8)


# 16-bit samples, some whose 8-bit value differs between round(v*255/65535) and the high
# byte (v >> 8): 1000 -> 4 (high byte 3), 255 -> 1 (0), 65407 -> 255 (255), 12345 -> 48 (48).
RGB16_SAMPLES = np.array(
    [[[0, 1000, 65535], [0x80FF, 0x00FF, 0xFEFF]], [[128, 383, 65407], [257, 32896, 12345]]], dtype=np.uint16
)


def bomb_png(width: int = 13000, height: int = 13000) -> bytes:
    """A 1-bit grey PNG of all-zero rows: ~20 kB declaring width x height pixels."""
    row = b"\0" * (1 + (width + 7) // 8)
    deflate = zlib.compressobj(9)
    data = b"".join(deflate.compress(row) for _ in range(height)) + deflate.flush()
    return PNG_SIGNATURE + ihdr(width, height, 1, 0) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")


def zlib_ends_early_png() -> bytes:
    """A PNG whose zlib stream ends cleanly after 3 of the 16 rows IHDR declares."""
    pixels = gradient()
    rows = png_filter(pixels[:3], 8)
    return PNG_SIGNATURE + ihdr(16, 16, 8, 2) + png_chunk(b"IDAT", zlib.compress(rows, 9)) + png_chunk(b"IEND", b"")


def with_bad_crc(png: bytes, kind: bytes) -> bytes:
    """The PNG with the CRC of its first ``kind`` chunk flipped."""
    at = png.index(kind) - 4
    (length,) = struct.unpack(">I", png[at : at + 4])
    crc_at = at + 8 + length
    return png[:crc_at] + bytes(b ^ 0xFF for b in png[crc_at : crc_at + 4]) + png[crc_at + 4 :]


def jpeg_bytes(pixels: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def jpeg_with_bad_components(jpeg: bytes) -> bytes:
    """The JPEG with its frame header (SOF0) declaring 7 colour components."""
    sof = jpeg.index(b"\xff\xc0")
    return jpeg[: sof + 9] + b"\x07" + jpeg[sof + 10 :]


def gif_huge_screen() -> bytes:
    """A 29-byte GIF: a 65535x65535 logical screen holding one 1x1 frame."""
    screen = b"GIF89a" + struct.pack("<HHBBB", 65535, 65535, 0, 0, 0)
    frame = b"," + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    return screen + frame + b";"


_TIFF_TYPE_FORMAT = {2: "B", 3: "H", 4: "I"}  # ASCII (as bytes), SHORT, LONG


def tiff_bytes(entries: dict[int, tuple[int, tuple[int, ...]]], strips: list[bytes]) -> bytes:
    """A little-endian TIFF written by hand: one directory of ``entries`` (tag -> (type,
    values); values that do not fit in the entry are stored after it), then ``strips``,
    whose offsets and byte counts fill StripOffsets (273) and StripByteCounts (279)
    unless ``entries`` gives them."""
    entries = dict(entries)
    entries.setdefault(279, (4, tuple(len(strip) for strip in strips)))
    entries.setdefault(273, (4, (0,) * len(strips)))  # placeholder of the right size
    directory_end = 8 + 2 + 12 * len(entries) + 4

    def layout(strip_offsets: tuple[int, ...] | None) -> tuple[bytes, bytes]:
        ifd, blobs = struct.pack("<H", len(entries)), b""
        for tag, (kind, values) in sorted(entries.items()):
            if tag == 273 and strip_offsets is not None:
                values = strip_offsets
            packed = struct.pack(f"<{len(values)}{_TIFF_TYPE_FORMAT[kind]}", *values)
            if len(packed) <= 4:
                ifd += struct.pack("<HHI", tag, kind, len(values)) + packed.ljust(4, b"\0")
            else:
                ifd += struct.pack("<HHII", tag, kind, len(values), directory_end + len(blobs))
                blobs += packed + b"\0" * (len(packed) % 2)
        return ifd, blobs

    _, blobs = layout(None)
    start = directory_end + len(blobs)
    offsets, position = [], start
    for strip in strips:
        offsets.append(position)
        position += len(strip)
    given = entries[273][1]
    ifd, blobs = layout(tuple(offsets) if not any(given) else None)
    return b"II*\0" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + blobs + b"".join(strips)


def tiff_file(
    grey: np.ndarray,
    compression: int = 1,
    strip_offset: int | None = None,
    extra: tuple[tuple[int, int, int, int], ...] = (),
) -> bytes:
    """An 8-bit grey TIFF of one strip: ``compression`` 1 (none) or 8 (deflate, decoded by
    libtiff); the strip at ``strip_offset`` if given (past the end, say), else after the
    directory; ``extra`` (tag, type, count, value or offset) entries added or replacing the
    usual ones as they are, such as a tag whose data lies past the end."""
    height, width = grey.shape
    strip = grey.astype(np.uint8).tobytes()
    if compression == 8:
        strip = zlib.compress(strip)
    entries = {
        256: (3, (width,)),  # ImageWidth
        257: (3, (height,)),  # ImageLength
        258: (3, (8,)),  # BitsPerSample
        259: (3, (compression,)),  # Compression
        262: (3, (1,)),  # Photometric: black is zero
        277: (3, (1,)),  # SamplesPerPixel
        278: (3, (height,)),  # RowsPerStrip
        279: (4, (len(strip),)),  # StripByteCounts
    }
    if strip_offset is not None:
        entries[273] = (4, (strip_offset,))
    raw = {tag: (kind, count, value) for tag, kind, count, value in extra}
    for tag, (kind, count, value) in raw.items():
        # an entry as given: one short or long value, or a count with an offset that
        # need not point at anything; patched in after the layout below
        entries[tag] = (kind, (value,)) if count == 1 else (4, (value,))
    data = tiff_bytes(entries, [strip] if strip_offset is None else [])
    return _patch_tiff_entries(data, {tag: entry for tag, entry in raw.items() if entry[1] != 1})


def _patch_tiff_entries(data: bytes, entries: dict[int, tuple[int, int, int]]) -> bytes:
    """The TIFF with each listed directory entry's type, count and value field replaced."""
    out = bytearray(data)
    start = struct.unpack_from("<I", out, 4)[0]
    for i in range(struct.unpack_from("<H", out, start)[0]):
        at = start + 2 + 12 * i
        tag = struct.unpack_from("<H", out, at)[0]
        if tag in entries:
            kind, count, value = entries[tag]
            struct.pack_into("<HHI", out, at + 2, kind, count, value)
    return bytes(out)


def tiff_planar_rgb(rgb: np.ndarray, compression: int = 8) -> bytes:
    """An 8-bit RGB TIFF stored planar (PlanarConfiguration 2: one strip per colour band),
    deflated by default so that libtiff decodes it."""
    height, width, _ = rgb.shape
    strips = [rgb[:, :, band].astype(np.uint8).tobytes() for band in range(3)]
    if compression == 8:
        strips = [zlib.compress(strip) for strip in strips]
    entries = {
        256: (3, (width,)),
        257: (3, (height,)),
        258: (3, (8, 8, 8)),
        259: (3, (compression,)),
        262: (3, (2,)),  # RGB
        277: (3, (3,)),
        278: (3, (height,)),
        284: (3, (2,)),  # PlanarConfiguration: separate planes
    }
    return tiff_bytes(entries, strips)


def tiff_strip_past_end() -> bytes:
    """A little-endian 8x8 grey TIFF whose only strip lies beyond the end of the file."""
    return tiff_file(np.zeros((8, 8), np.uint8), strip_offset=100000)


def blp1_jpeg(jpeg: bytes, declared: tuple[int, int]) -> bytes:
    """A BLP1 texture (Blizzard's format) declaring ``declared`` (width, height) and
    holding ``jpeg`` as its first mipmap: what Pillow decodes, whatever its size."""
    header = b"BLP1" + struct.pack("<iIIIiI", 0, 0, *declared, 5, 0)  # JPEG, no alpha
    start = len(header) + 16 * 4 * 2 + 4  # mipmap offsets and lengths, JPEG header size
    offsets = struct.pack("<16I", start, *([0] * 15))
    lengths = struct.pack("<16I", len(jpeg), *([0] * 15))
    return header + offsets + lengths + struct.pack("<I", 0) + jpeg


def corpus() -> dict[str, tuple[bytes, str | None]]:
    """File name -> (content, expected reason or None)."""
    good = png_file(gradient(), filters=[1, 2, 3, 4])
    idat = good.index(b"IDAT")
    jpeg = jpeg_bytes(gradient(32, 32))
    sixteen = png_file(RGB16_SAMPLES, depth=16, filters=[4, 1])
    grey = gradient(48, 64)[:, :, 0]
    deflated = tiff_file(grey, compression=8)
    adobe = png_file(gradient(), chunks_before_idat=(iccp_chunk(adobe_rgb_profile(), b"Adobe RGB compatible"),))
    return {
        "empty.png": (b"", "empty file (0 bytes)"),
        "text.png": (b"hello, this is a text file, not an image\n", "not an image (unrecognised format)"),
        "truncated.png": (good[: idat + 30], "truncated image data"),
        "zlib-ends-early.png": (zlib_ends_early_png(), "truncated image data"),
        "bomb.png": (bomb_png(), "image too large: 13000x13000 (169 MP) exceeds --max-pixels 100 MP"),
        "bad-crc-idat.png": (with_bad_crc(good, b"IDAT"), "corrupt image data (IDAT CRC mismatch)"),
        "bad-crc-ihdr.png": (with_bad_crc(good, b"IHDR"), "corrupt image (bad PNG header)"),
        "zero-size.png": (
            PNG_SIGNATURE + ihdr(0, 0, 8, 2) + png_chunk(b"IEND", b""),
            "image has no pixels (0x0)",
        ),
        "huge-dimensions.png": (
            PNG_SIGNATURE + ihdr(2**31 - 1, 2**31 - 1, 8, 2) + png_chunk(b"IEND", b""),
            "image too large: 2147483647x2147483647 (4611686014132 MP) exceeds --max-pixels 100 MP",
        ),
        "truncated.jpg": (jpeg[: len(jpeg) // 2], "truncated image data"),
        "corrupt.jpg": (jpeg_with_bad_components(jpeg), "corrupt image (bad JPEG header)"),
        "huge-screen.gif": (gif_huge_screen(), "image too large: 65535x65535 (4295 MP) exceeds --max-pixels 100 MP"),
        "strip-past-end.tif": (tiff_strip_past_end(), "truncated image data"),
        # libtiff decodes these and writes its own messages to fd 2 ("TIFFFillStrip: Read
        # error on strip 0; got 18446744073709551274 bytes"); Pillow warns of a tag whose
        # data lies past the end ("Tag data larger than file"), yet reads the image; the TIFF
        # plugin logs "More samples per pixel than can be decoded" as an error.
        "deflate-strip-past-end.tif": (tiff_file(grey, compression=8, strip_offset=100000), "truncated image data"),
        "deflate-cut-short.tif": (deflated[: len(deflated) - 100], "truncated image data"),
        "deflate-garbage.tif": (deflated[:-64] + bytes(range(64)), "corrupt image data"),
        "tag-past-end.tif": (tiff_file(grey, compression=8, extra=((270, 2, 5000, 100000),)), None),
        "samples-per-pixel.tif": (tiff_file(grey, extra=((277, 3, 1, 65535),)), "corrupt image (bad TIFF header)"),
        "jpeg-larger-than-declared.blp": (
            blp1_jpeg(jpeg_bytes(np.zeros((16, 4000, 3), np.uint8)), (100, 16)),
            "corrupt image data (a 4000x16 image inside a 100x16 one)",
        ),
        "postscript.eps": (
            b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\nnewpath 0 0 moveto 8 8 lineto stroke\n",
            "EPS is not supported (it would need Ghostscript)",
        ),
        "rgb16.png": (sixteen, None),
        "adobe-rgb.png": (adobe, None),
        "good.png": (good, None),
        "good.jpg": (jpeg, None),
    }


def main() -> None:
    CORPUS.mkdir(exist_ok=True)
    entries = corpus()
    for old in CORPUS.iterdir():
        if old.name not in entries:
            old.unlink()
    for name, (content, _) in entries.items():
        (CORPUS / name).write_bytes(content)
    TABLE.write_text(json.dumps({name: reason for name, (_, reason) in entries.items()}, indent=2) + "\n")
    total = sum(len(content) for content, _ in entries.values())
    print(f"wrote {len(entries)} files ({total} bytes) to {CORPUS} and {TABLE}", file=sys.stderr)


if __name__ == "__main__":
    main()
