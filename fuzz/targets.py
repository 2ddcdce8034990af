"""Fuzz targets: each takes arbitrary bytes and raises only on a bug.

``decode_quantize_encode``
    The file pipeline: bytes -> ``read_image`` -> ``quantize`` -> ``encode_png``, then
    Pillow decodes the PNG, which must equal ``palette[labels]``; and the pipeline's
    ``encode_image``, which takes a plain PNG through the core's own decoder
    (``_core.compress_plain_png``), must give the same bytes, colours and PSNR, or the
    same error. A flag in the options bytes fixes a PNG's checksums first (chunk CRCs,
    the zlib stream's Adler-32), so that mutated chunks and rows reach both decoders.
``api_on_arrays``
    The public API and the private ``_core`` on arrays built from the bytes: sizes,
    channels, K, options, palettes and float centres, valid or not. A refused argument
    must be a ``ValueError``/``TypeError`` (``InvalidOptionError`` is one) and every
    result must keep the documented invariants.

Any other exception, a failed invariant or a crash is a finding.
"""

from __future__ import annotations

import io
import math
import struct
import zlib

import numpy as np
import quantcli
from PIL import Image
from quantcli import _core
from quantcli.errors import ImageReadError, InvalidOptionError
from quantcli.pipeline import Settings, encode_image

# Decoding is bounded here, not by quantcli (decompression bombs are another issue):
# the fuzzer looks for wrong results and crashes, not for slow inputs.
MAX_PIXELS = 1 << 18
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Bytes:
    """Reads numbers from the front of the input; zeros once it runs out."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += len(chunk)
        return chunk.ljust(n, b"\0")

    def int(self, low: int, high: int) -> int:
        """An integer from low to high inclusive."""
        return low + int.from_bytes(self.take(2), "little") % (high - low + 1)

    def pick(self, choices):
        return choices[self.int(0, len(choices) - 1)]

    def rest(self) -> bytes:
        return self.data[self.pos :]


def _check_quantized(pixels: np.ndarray, q: quantcli.Quantized, k: int | None) -> None:
    h, w, channels = pixels.shape
    assert q.labels.shape == (h, w), q.labels.shape
    assert q.palette.ndim == 2 and q.palette.shape[1] in (3, 4)
    assert 1 <= len(q.palette) <= 256
    if k is not None:
        assert len(q.palette) <= k and q.palette.shape[1] == channels
    assert int(q.labels.max()) < len(q.palette)
    assert int(q.counts.sum()) == h * w
    assert np.array_equal(q.counts, np.bincount(q.labels.ravel(), minlength=len(q.palette)))
    assert q.inertia >= 0 and math.isfinite(q.inertia)


def _check_png(png: bytes, q: quantcli.Quantized) -> None:
    mode = "RGBA" if q.palette.shape[1] == 4 else "RGB"
    with Image.open(io.BytesIO(png)) as image:
        decoded = np.asarray(image.convert(mode))
    assert np.array_equal(decoded, q.to_image()), "the PNG does not decode to palette[labels]"


def with_checksums_fixed(data: bytes) -> bytes:
    """A PNG's bytes with the CRC of every whole chunk recomputed, and the Adler-32 of the
    zlib stream in its IDAT chunks when that stream inflates; other bytes as they are."""
    if not data.startswith(PNG_SIGNATURE):
        return data
    out = bytearray(data)
    chunks = []  # (start, end of data) of each whole chunk
    pos = len(PNG_SIGNATURE)
    while pos + 12 <= len(out):
        (length,) = struct.unpack_from(">I", out, pos)
        if pos + 12 + length > len(out):
            break
        chunks.append((pos, pos + 8 + length))
        pos += 12 + length
    idat = [range(start + 8, end) for start, end in chunks if out[start + 4 : start + 8] == b"IDAT"]
    stream_at = [i for span in idat for i in span]  # file offset of each byte of the stream
    inflater = zlib.decompressobj(-15)  # raw deflate after the 2-byte header: no Adler-32 check
    try:
        rows = inflater.decompress(bytes(out[i] for i in stream_at[2:]))
    except zlib.error:
        rows = None
    end = len(stream_at) - len(inflater.unused_data)
    if rows is not None and inflater.eof and end + 4 <= len(stream_at):
        for i, byte in zip(stream_at[end : end + 4], struct.pack(">I", zlib.adler32(rows)), strict=True):
            out[i] = byte
    for start, end in chunks:
        struct.pack_into(">I", out, end, zlib.crc32(out[start + 4 : end]))
    return bytes(out)


def decode_quantize_encode(data: bytes) -> None:
    """The file pipeline on arbitrary bytes (the first 10 choose the options and whether
    to fix a PNG's checksums)."""
    source = Bytes(data)
    options = quantcli.QuantizeOptions(
        k=source.int(2, 256),
        dither=bool(source.int(0, 1)),
        run_margin=source.pick([0.0, 4.0, 50.0]),
        level=source.int(0, 9),
    )
    fix_checksums = bool(source.int(0, 1))
    encoded = source.rest()
    if fix_checksums:
        encoded = with_checksums_fixed(encoded)
    try:
        with Image.open(io.BytesIO(encoded)) as header:
            if header.width * header.height > MAX_PIXELS:
                return
    except Exception:  # not for Pillow: read_image must refuse it too
        pass
    try:
        pixels = quantcli.read_image(encoded, name="fuzz", max_pixels=MAX_PIXELS)
    except ImageReadError as exc:
        general: object = str(exc)
    else:
        png, q = quantcli.compress_pixels(pixels, options)
        _check_quantized(pixels, q, options.k)
        _check_png(png, q)
        general = (png, len(q.palette), q.psnr)
    # The pipeline: the core's decoder for a plain PNG, the same route as above otherwise.
    try:
        piped: object = encode_image(encoded, Settings(options=options, max_pixels=MAX_PIXELS), "fuzz")[:3]
    except ImageReadError as exc:
        piped = str(exc)
    assert piped == general, f"encode_image gives {piped!r:.200}, read_image + compress_pixels {general!r:.200}"


def _floats(source: Bytes, n: int) -> np.ndarray:
    """n float32 values: mostly colours, sometimes NaN, infinities or out of range."""
    special = [math.nan, math.inf, -math.inf, -1.0, 256.0, 1e30, 255.0, 0.0]
    out = np.empty(n, np.float32)
    for i in range(n):
        selector = source.int(0, 15)
        out[i] = special[selector] if selector < len(special) else struct.unpack("<B", source.take(1))[0]
    return out


def api_on_arrays(data: bytes) -> None:
    """The public API and the private _core on arrays made from the bytes."""
    source = Bytes(data)
    h, w, channels = source.int(1, 24), source.int(1, 24), source.pick([3, 4])
    k = source.pick([0, 1, 2, 3, 4, 8, 16, 64, 255, 256, 257])
    dither = bool(source.int(0, 1))
    run_margin = source.pick([0.0, 4.0, 1e6, -1.0, math.nan])
    n_colors = source.int(1, 64)
    colours = np.frombuffer(source.take(n_colors * channels), np.uint8).reshape(n_colors, channels)
    index = np.frombuffer(source.take(h * w), np.uint8).reshape(h, w) % n_colors
    pixels = np.ascontiguousarray(colours[index])
    valid = 2 <= k <= 256 and 0 <= run_margin <= 1e6

    try:
        q = quantcli.quantize(pixels, k, dither=dither, run_margin=run_margin)
    except InvalidOptionError:
        assert not valid, "a valid option was refused"
    else:
        assert valid, "an invalid option was accepted"
        _check_quantized(pixels, q, k)
        _check_png(quantcli.encode_png(q.labels, q.palette, level=1), q)

    n_palette = source.pick([0, 1, 2, 5, 16, 256, 257])
    palette = np.frombuffer(source.take(n_palette * channels), np.uint8).reshape(n_palette, channels)
    try:
        r = quantcli.remap(pixels, palette, dither=dither)
    except InvalidOptionError:
        assert not 1 <= n_palette <= 256
    else:
        _check_quantized(pixels, r, None)
        assert np.array_equal(r.palette, palette)

    colors, counts = _core.histogram(pixels)
    assert int(counts.sum()) == h * w
    top = pixels[: max(1, h // 2)]
    bottom = pixels[max(1, h // 2) :]
    if bottom.size:
        merged = _core.merge_histograms(*_core.histogram(np.ascontiguousarray(top)), *_core.histogram(bottom))
        assert np.array_equal(merged[0], colors) and np.array_equal(merged[1], counts)

    n_centres = source.int(1, 6)
    centres = _floats(source, n_centres * 4).reshape(n_centres, 4)
    finite = bool(np.all((centres >= 0) & (centres <= 255)))
    try:
        got, assignment, inertia, _ = _core.kmeans(
            colors, counts, centres, source.int(0, n_centres), quantcli.QuantizeOptions(max_iter=source.int(0, 20))
        )
    except ValueError as exc:
        assert not finite or n_centres > len(colors), f"refused valid centres: {exc}"
    else:
        assert finite and n_centres <= len(colors)
        assert got.shape == (n_centres, 4) and assignment.max() < n_centres and inertia >= 0

    if h * w >= 2:
        ks = sorted({source.int(2, 12) for _ in range(source.int(1, 3))})
        result = quantcli.choose_k(pixels, method=source.pick(["silhouette", "elbow", "quality"]), ks=ks)
        assert result.k in ks


TARGETS = {"decode": decode_quantize_encode, "api": api_on_arrays}


def seed_inputs(target: str) -> list[bytes]:
    """Small valid inputs for the fuzzer to start from."""
    rng = np.random.default_rng(0)
    if target == "api":
        return [bytes(rng.integers(0, 256, n, dtype=np.uint8)) for n in (16, 200, 1500)]
    y, x = np.mgrid[0:20, 0:24]
    rgb = np.stack([x * 10, y * 12, (x + y) * 5], -1).astype(np.uint8)
    rgba = np.concatenate([rgb, (x * 11).astype(np.uint8)[..., None]], -1)
    four = Image.fromarray(rgb).quantize(4)  # a 2-bit palette
    options = b"\x10\x00\x00\x00\x00\x00\x06\x00"
    out = []
    for image, fmt, params in [
        (Image.fromarray(rgb), "PNG", {}),
        (Image.fromarray(rgba), "PNG", {}),
        (Image.fromarray(rgb).convert("P"), "PNG", {}),
        (Image.fromarray(rgb).convert("L"), "PNG", {}),
        (Image.fromarray(rgb).convert("1"), "PNG", {}),
        (Image.fromarray(rgba).convert("LA"), "PNG", {}),
        (four, "PNG", {"transparency": bytes([255, 0, 128])}),
        # Stored, not deflated: a mutated byte is a mutated filter type or sample.
        (four, "PNG", {"compress_level": 0}),
        (Image.fromarray(rgba), "PNG", {"compress_level": 0}),
        (Image.fromarray(rgb), "JPEG", {}),
        (Image.fromarray(rgb).convert("P"), "GIF", {}),
        (Image.fromarray(rgb), "BMP", {}),
        (Image.fromarray(rgba), "TIFF", {}),
        (Image.fromarray(rgba), "WEBP", {}),
    ]:
        buffer = io.BytesIO()
        image.save(buffer, format=fmt, **params)
        out.append(options + b"\x00\x00" + buffer.getvalue())
        if fmt == "PNG":  # mutated with its checksums fixed, so that the mutants reach the decoders
            out.append(options + b"\x01\x00" + buffer.getvalue())
    return out
