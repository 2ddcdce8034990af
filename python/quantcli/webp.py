"""Lossless WebP (VP8L) of a palette image, through Pillow's WebP plugin (libwebp).

The file holds exactly ``palette[labels]``, alpha included (``exact``: the colour of a
fully transparent pixel is kept too), so it decodes to the pixels of the PNG written with
the same options. libwebp finds the palette itself and stores the image with its
colour-indexing transform.

Every WebP quantcli writes is marked as its own output, as its PNGs are by the ``quNT``
chunk: the file is in the extended format (a ``VP8X`` header) with an empty private
chunk ``quNT`` right after it, before the image data. Decoders skip chunks they do not
know (the WebP container's rule; libwebp's ``dwebp``, Pillow and browsers do), and
editors that re-encode the pixels drop it, as they drop an unknown PNG chunk. It costs
26 bytes (the 18-byte ``VP8X`` chunk and the 8-byte marker).
"""

from __future__ import annotations

import io
import struct
from typing import TYPE_CHECKING

from .errors import InvalidOptionError
from .options import DEFAULT_SPEED, SPEED_MAX, SPEED_MIN, _require_int

# libwebp's lossless effort per --speed: (method 0-6, quality 0-100; in lossless mode
# quality is effort too). Measured on 15 photos, artworks and icons at K=256 and 64 (total
# time from pixels to bytes against the PNG path's at the same speed; bytes against our PNG):
# (3, 50) 1.18x / 0.88x time, 0.937x / 0.964x bytes; (4, 50) the same time, 0.947x / 0.968x;
# (3, 75) 1.40x / 1.08x; (4, 100) 2.0x / 1.6x for 0.934x / 0.955x. The default speed takes
# (3, 50), within 1.3x the PNG path's time (bench/results/webp.md). Method 6 with quality
# 100 also tries several palette orders: the smallest files, 15-50x slower.
WEBP_EFFORT: dict[int, tuple[int, int]] = {
    1: (6, 100),
    2: (4, 100),
    3: (3, 50),
    4: (2, 50),
    5: (2, 25),
    6: (1, 25),
    7: (0, 0),
}

_RIFF = b"RIFF"
_WEBP = b"WEBP"
_VP8L = b"VP8L"
_VP8X = b"VP8X"
# The marker: an empty chunk of a private type, right after the 18-byte VP8X chunk.
_MARKER = b"quNT\x00\x00\x00\x00"
_MARKER_AT = 12 + 8 + 10
_VP8X_ALPHA = 0x10

if TYPE_CHECKING:  # NumPy and Pillow only once an image is encoded: the planner imports is_own_webp
    import numpy as np


def encode_webp(labels: np.ndarray, palette: np.ndarray, *, speed: int = DEFAULT_SPEED) -> bytes:
    """Encode a palette image as lossless WebP bytes, marked as quantcli's own output.

    Parameters
    ----------
    labels : ndarray of shape (h, w), dtype uint8
        Palette index of every pixel, each below ``len(palette)``.
    palette : ndarray of shape (n, 3) or (n, 4), dtype uint8
        1 to 256 colours; with alpha below 255 the WebP has alpha.
    speed : int
        1 (smallest, slowest) to 7 (fastest): libwebp's method and effort
        (:data:`WEBP_EFFORT`), as ``--speed`` sets them.

    Returns
    -------
    bytes
        A WebP (extended format, one VP8L image) that decodes to ``palette[labels]`` exactly.

    Raises
    ------
    InvalidOptionError
        Bad shape or dtype, a label not below ``len(palette)``, or a speed out of range.
    """
    import numpy as np

    _require_int("speed", speed, SPEED_MIN, SPEED_MAX)
    labels, palette = np.asarray(labels), np.asarray(palette)
    if labels.dtype != np.uint8 or labels.ndim != 2 or 0 in labels.shape:
        raise InvalidOptionError(f"labels must be (h, w) uint8 with h, w > 0, got {labels.dtype} {labels.shape}")
    if palette.dtype != np.uint8 or palette.ndim != 2 or palette.shape[1] not in (3, 4) or not 1 <= len(palette) <= 256:
        raise InvalidOptionError(
            f"palette must be 1 to 256 (n, 3|4) uint8 colours, got {palette.dtype} {palette.shape}"
        )
    top = int(labels.max())
    if top >= len(palette):
        raise InvalidOptionError(f"labels must be below the palette size {len(palette)}, found {top}")
    if palette.shape[1] == 4 and bool((palette[:, 3] == 255).all()):
        palette = palette[:, :3]
    from PIL import Image

    height, width = labels.shape
    if width > 16384 or height > 16384:
        raise InvalidOptionError(f"WebP holds at most 16384x16384 pixels, the image is {width}x{height}")
    mode = "RGBA" if palette.shape[1] == 4 else "RGB"
    pixels = np.ascontiguousarray(palette[labels])
    image = Image.frombuffer(mode, (width, height), pixels, "raw", mode, 0, 1)
    method, quality = WEBP_EFFORT[speed]
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", lossless=True, exact=True, method=method, quality=quality)
    return _marked(buffer.getvalue(), width, height)


def _marked(simple: bytes, width: int, height: int) -> bytes:
    """A simple-format lossless WebP (RIFF, WEBP, one VP8L chunk) rewritten in the
    extended format with the marker chunk: RIFF, WEBP, VP8X, quNT, the same VP8L chunk."""
    if simple[:4] != _RIFF or simple[8:12] != _WEBP or simple[12:16] != _VP8L:
        raise AssertionError("libwebp did not write a simple lossless WebP")  # pragma: no cover
    vp8l = simple[12:]
    # The VP8L header: signature 0x2f, then 14 + 14 bits of size, then alpha_is_used.
    alpha = (struct.unpack("<I", vp8l[9:13])[0] >> 28) & 1
    flags = _VP8X_ALPHA if alpha else 0
    vp8x = _VP8X + struct.pack("<I", 10) + bytes([flags, 0, 0, 0]) + _uint24(width - 1) + _uint24(height - 1)
    body = _WEBP + vp8x + _MARKER + vp8l
    return _RIFF + struct.pack("<I", len(body)) + body


def _uint24(value: int) -> bytes:
    return struct.pack("<I", value)[:3]


def is_own_webp(head: bytes) -> bool:
    """Whether a file starting with ``head`` (38 bytes or more) is a WebP quantcli wrote."""
    return (
        head[:4] == _RIFF
        and head[8:12] == _WEBP
        and head[12:16] == _VP8X
        and head[_MARKER_AT : _MARKER_AT + len(_MARKER)] == _MARKER
    )


#: Bytes of a file's start that :func:`is_own_webp` reads.
HEAD_BYTES = _MARKER_AT + len(_MARKER)
