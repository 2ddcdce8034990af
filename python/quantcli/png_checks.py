"""PNG integrity: rows that never arrived, and IDAT CRCs, checked against the file itself
because Pillow pads a short PNG with black."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image as PILImage

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


class Refused(Exception):
    """A reason to refuse the input, without its name; read_image adds the name."""


def check_png(image: PILImage.Image, fp: IO[bytes], decoded: np.ndarray | None) -> None:
    """Refuse a PNG whose image data is short or whose IDAT CRC is wrong.

    Pillow stops at a zlib stream that ends cleanly before the last row, and the missing
    rows stay zero. So the IDAT data is inflated again and counted against what IHDR
    declares, unless the last decoded row shows that it arrived (non-interlaced, some byte
    non-zero; an RGB image decodes with a 4th byte of 255 in every written pixel). CRCs
    are checked on every PNG (zlib.crc32: about 1 ms per MB).
    """
    if image.format != "PNG":
        return
    fp.seek(0)
    chunks = _png_chunks(fp)
    kind, ihdr = next(chunks, (b"", b""))
    if kind != b"IHDR" or len(ihdr) < 13:
        raise Refused("corrupt image (PNG without IHDR)")
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", ihdr[:13])
    count = interlace != 0 or decoded is None or not decoded[-1].any()
    expected = _png_data_size(width, height, depth, colour, interlace != 0)
    inflater = zlib.decompressobj()
    produced = 0
    for kind, data in chunks:
        if kind != b"IDAT":
            continue
        while count and data and produced < expected:
            produced += len(inflater.decompress(data, min(1 << 20, expected - produced)))
            data = inflater.unconsumed_tail
    if count and produced < expected:
        raise Refused("truncated image data")


def _png_chunks(fp: IO[bytes]) -> Iterator[tuple[bytes, bytes]]:
    """(type, data) of each chunk up to IEND or the first frame's end; IDAT CRCs checked."""
    if fp.read(8) != PNG_SIGNATURE:
        raise Refused("corrupt image (PNG signature)")
    seen_idat = False
    while True:
        head = fp.read(8)
        if len(head) < 8:
            return
        length, kind = struct.unpack(">I4s", head)
        data = fp.read(length)
        crc = fp.read(4)
        if len(data) < length or len(crc) < 4:
            return  # Pillow decoded what there was; the row count decides
        if kind == b"IDAT":
            if zlib.crc32(data, zlib.crc32(kind)) != int.from_bytes(crc, "big"):
                raise Refused("corrupt image data (IDAT CRC mismatch)")
            seen_idat = True
        elif kind == b"IEND" or seen_idat:
            return
        yield kind, data


def _png_data_size(width: int, height: int, depth: int, colour: int, interlaced: bool) -> int:
    """Bytes of filtered scanlines (a filter byte, then packed samples) IHDR declares."""
    bits = _PNG_CHANNELS.get(colour, 4) * depth

    def rows(w: int, h: int) -> int:
        return 0 if w <= 0 or h <= 0 else h * (1 + (w * bits + 7) // 8)

    if not interlaced:
        return rows(width, height)
    # Adam7 passes: first column, first row, column step, row step.
    passes = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
    return sum(rows((width - x + dx - 1) // dx, (height - y + dy - 1) // dy) for x, y, dx, dy in passes)
