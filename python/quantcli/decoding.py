"""Decoding an opened image's first frame into a NumPy array, with as few copies as Pillow
allows (see :mod:`quantcli.images` for the rule and the memory figures)."""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from .colour import apply_profile_array, apply_profile_pil, scale16, to_rgb8
from .png_checks import Refused, check_png

if TYPE_CHECKING:
    from PIL import Image as PILImage

# "RGB" is stored by Pillow as 4 bytes per pixel with the 4th byte 255, so it decodes into
# an RGBA buffer that is opaque by construction.
# Bilevel ("1") images are stored as one byte of 0 or 255 per pixel: grey.
_DIRECT_MODES = {"RGB": ("RGBA", 4), "RGBA": ("RGBA", 4), "L": ("L", 1), "1": ("L", 1)}
# Formats whose plugins load through ImageFile.load into whatever image memory is set, as
# the direct path needs (each checked by a test). Some others take preset memory for an
# image already loaded (ICO, GBR) and would return it blank; they go the generic way.
_DIRECT_FORMATS = frozenset({"PNG", "JPEG", "TIFF", "BMP", "DIB", "WEBP", "PPM", "TGA"})
# Pillow's rawmodes for 16-bit PNG colour keep the high byte only; these read the low byte
# (RGB, RGBA) or all four bytes (grey + alpha) through the same decoder and filters.
_PNG16_LOW_BYTE = {"RGB;16B": "RGB;16L", "RGBA;16B": "RGBA;16L"}
_PNG16_GREY_ALPHA = "LA;16B"
_EXIF_ORIENTATION = 0x0112
# PNG grey rawmodes and their bit depths, for a tRNS colour key in the decoded samples' units.
_PNG_GREY_DEPTH = {"1": 1, "L;2": 2, "L;4": 4, "L": 8, "I;16B": 16}
# Integer grey rawmodes (Pillow's mode "I" holds them all as int32): the sample's range.
# PPM scales to 0..65535 by its maxval; unlisted rawmodes are taken as signed 32-bit.
_UNSIGNED16 = (0, 65535)
_INTEGER_RANGES = {
    "I;16": _UNSIGNED16,
    "I;16B": _UNSIGNED16,
    "I;16L": _UNSIGNED16,
    "I;16N": _UNSIGNED16,
    "I;16S": (-32768, 32767),
    "I;16BS": (-32768, 32767),
    "I;16LS": (-32768, 32767),
    "I;16NS": (-32768, 32767),
    "I;32": (0, 2**32 - 1),
    "I;32B": (0, 2**32 - 1),
    "I;32L": (0, 2**32 - 1),
    "I;32N": (0, 2**32 - 1),
}
_SIGNED32 = (-(2**31), 2**31 - 1)


def pil() -> Any:
    from PIL import Image

    return Image


# ---------------------------------------------------------------------------------------
# Decoder messages
#
# Besides raising, Pillow reports odd input three ways, none of which may reach the
# terminal beside quantcli's one line per file (``quantcli: error: PATH: reason``):
#
# - warnings.warn ("Tag data larger than file. Skipping tag 42112", printed with Pillow's
#   site-packages path; under ``-W error`` or pytest's filterwarnings it raises instead and
#   aborts a file Pillow can read);
# - logging (the TIFF plugin logs "More samples per pixel than can be decoded" as an
#   error, which Python prints when no handler is configured);
# - libtiff's own C error and warning handlers, which write "TIFFFillStrip: Read error on
#   strip 0; ..." or "_tiffReadProc: Invalid Read at loc 3309, eof: 2529." straight to
#   file descriptor 2, past sys.stderr.
#
# Redirecting fd 2 around a decode is not safe: with -j, other threads decode and print
# error lines, the progress bar and warnings meanwhile, and would lose them (or get the
# decoder's). So each channel is closed at its source instead:
#
# - warnings: one filter at the front of ``warnings.filters`` that ignores warnings from
#   Pillow's modules, and matches only in a thread inside :func:`reading` (its "message"
#   pattern is an object whose ``match`` checks a thread-local flag; both the C and the
#   Python warnings machinery call ``match`` on it). Other threads, and warnings from
#   anything but Pillow, are untouched. It is put back in front when a later filter or
#   ``catch_warnings`` displaced it.
# - logging: a NullHandler on the "PIL" logger, the library convention that stops Python's
#   last-resort handler from printing when the application configured no logging.
# - libtiff: its process-wide handlers set to NULL (``TIFFSetErrorHandler`` and friends,
#   the calls Pillow itself makes for warnings before each TIFF decode), found through
#   Pillow's own extension module so it is the libtiff Pillow decodes with. This is done
#   once, under a lock, before quantcli's first libtiff decode: every libtiff decode in
#   quantcli first waits for it, so none runs while the handlers change. The messages are
#   lost, not moved: a failed decode still raises in Pillow, and :func:`decode` words the
#   reason ("truncated image data" when a strip lies past the end of the file).


class _InReadingThread:
    """A warnings-filter "message" pattern that matches any text, in a reading thread only."""

    def match(self, text: str) -> bool:
        return getattr(_reading_state, "depth", 0) > 0


_reading_state = threading.local()
_quiet_lock = threading.Lock()
_PIL_WARNINGS = ("ignore", _InReadingThread(), Warning, re.compile(r"PIL(\.|$)"), 0)
_libtiff_quiet = False
_LIBTIFF_HANDLER_SETTERS = (
    "TIFFSetErrorHandler",
    "TIFFSetErrorHandlerExt",
    "TIFFSetWarningHandler",
    "TIFFSetWarningHandlerExt",
)


@contextlib.contextmanager
def reading() -> Iterator[None]:
    """Within this block, this thread's Pillow warnings and log records, and libtiff's
    messages, are silenced (see the comment above); the caller reports what went wrong."""
    _install_reading_hooks()
    _reading_state.depth = getattr(_reading_state, "depth", 0) + 1
    try:
        yield
    finally:
        _reading_state.depth -= 1


def _install_reading_hooks() -> None:
    """The warnings filter in front (again, if displaced), the PIL logger's NullHandler and
    the bound on images inside images (see below), all scoped to reading threads."""
    filters = warnings.filters
    if filters and filters[0] is _PIL_WARNINGS:
        return
    with _quiet_lock:
        filters = warnings.filters
        if filters and filters[0] is _PIL_WARNINGS:
            return
        with contextlib.suppress(ValueError):
            filters.remove(_PIL_WARNINGS)
        filters.insert(0, _PIL_WARNINGS)
        mutated = getattr(warnings, "_filters_mutated", None)
        if mutated is not None:
            mutated()  # what warnings.filterwarnings does after changing the list
        _bound_inner_images()
        pil_logger = logging.getLogger("PIL")
        if not any(isinstance(h, logging.NullHandler) for h in pil_logger.handlers):
            pil_logger.addHandler(logging.NullHandler())


def _quiet_libtiff() -> None:
    """Set libtiff's error and warning handlers to none, once (see above)."""
    global _libtiff_quiet
    if _libtiff_quiet:
        return
    with _quiet_lock:
        if _libtiff_quiet:
            return
        try:
            import ctypes

            from PIL import _imaging

            # dlsym on the extension's handle searches it and the libraries it links to.
            library = ctypes.CDLL(_imaging.__file__)
            for name in _LIBTIFF_HANDLER_SETTERS:
                setter = getattr(library, name, None)  # absent where libtiff is linked in statically
                if setter is not None:
                    setter.restype = ctypes.c_void_p
                    setter.argtypes = [ctypes.c_void_p]
                    setter(None)
        except (ImportError, OSError, AttributeError):
            pass  # no ctypes, or no libtiff to find: its messages stay as they were
        _libtiff_quiet = True


def decode(image: PILImage.Image, fp: IO[bytes], max_pixels: int | None = None) -> tuple[np.ndarray, int]:
    """Decode the opened image's first frame: (pixels in sRGB, EXIF orientation).

    The pixels are (h, w), (h, w, 2|3|4) of any dtype; :func:`finish` converts them.
    A PNG's tRNS colour key (grey or RGB, any bit depth) becomes an alpha channel.
    An image embedded in the file (see :class:`EmbeddedImageTooLarge`) is decoded only
    up to ``max_pixels`` and twice the size the header declares. Call it inside
    :func:`reading`, after checking the declared size against ``max_pixels``.
    """
    if any(tile.codec_name == "libtiff" for tile in image.tile):
        _quiet_libtiff()
    width, height = image.size
    _reading_state.bound = (width, height, max_pixels)
    try:
        return _decode_first_frame(image, fp)
    except Refused:
        raise
    except Exception:
        if image.format == "TIFF" and _tiff_data_past_end(image, fp):
            raise Refused("truncated image data") from None
        raise
    finally:
        _reading_state.bound = None


# ---------------------------------------------------------------------------------------
# Images inside images
#
# Some containers declare one size and decode another image found inside them: a BLP's
# JPEG (Pillow's blp1_jpeg2.blp declares 425x256 and holds a 64512x256 JPEG: 255 MB for a
# 0.1 MP file, past any --max-pixels), an ICO's or ICNS's PNG or bitmap. The header's
# size, all that read_image can check before decoding and all the -j memory budget
# counts, does not bound them. Pillow calls Image._decompression_bomb_check with the
# inner image's size just before decoding it, in every such plugin (and for a TIFF's
# stored size, a GIF frame, a crop). So that function is wrapped, once: in a thread
# inside decode() it checks the size against the caller's max_pixels and against twice
# the declared size (an ICO's bitmap holds its AND mask below the image: exactly twice),
# and raises EmbeddedImageTooLarge before any of it is decoded; Pillow's own process-wide
# limit (MAX_IMAGE_PIXELS) stays for every other thread and use.


class EmbeddedImageTooLarge(Refused):
    """The image Pillow is about to decode is larger than the limit or the header says."""

    def __init__(self, declared: tuple[int, int], inner: tuple[int, int], max_pixels: int | None) -> None:
        super().__init__(f"an embedded {inner[0]}x{inner[1]} image in a {declared[0]}x{declared[1]} one")
        self.declared, self.inner, self.max_pixels = declared, inner, max_pixels

    @property
    def over_limit(self) -> bool:
        """Over max_pixels (else only over twice the declared size)."""
        return self.max_pixels is not None and self.inner[0] * self.inner[1] > self.max_pixels


def _bound_inner_images() -> None:
    """Wrap Pillow's Image._decompression_bomb_check once (see above)."""
    image_module = pil()
    original = getattr(image_module, "_decompression_bomb_check", None)
    if original is None or getattr(original, "quantcli_bound", False):
        return  # another Pillow: only the header's size is checked

    def check(size: tuple[int, int], *args: Any, **kwargs: Any) -> None:
        bound = getattr(_reading_state, "bound", None)
        if bound is None:
            return original(size, *args, **kwargs)
        width, height, max_pixels = bound
        pixels = max(1, size[0]) * max(1, size[1])
        if (max_pixels is not None and pixels > max_pixels) or pixels > 2 * max(1, width) * max(1, height):
            raise EmbeddedImageTooLarge((width, height), (size[0], size[1]), max_pixels)
        return None

    check.quantcli_bound = True  # type: ignore[attr-defined]
    image_module._decompression_bomb_check = check


def _decode_first_frame(image: PILImage.Image, fp: IO[bytes]) -> tuple[np.ndarray, int]:
    rawmode = _rawmode(image)  # the tiles are gone once loaded
    key = _colour_key(image, rawmode)
    png16 = _png16_rawmode(image)
    if png16 is not None:
        pixels = apply_profile_array(image, _decode_png16(image, fp, png16, key))
    elif image.mode in _DIRECT_MODES and image.format in _DIRECT_FORMATS and _decodes_in_place(image):
        pixels = _decode_direct(image, fp)
        if key is not None and pixels.ndim == 3:  # RGB decoded as opaque RGBA
            pixels[:, :, 3][_keyed(pixels[:, :, :3], key)] = 0
            pixels = apply_profile_array(image, pixels)
        elif key is not None:
            transparent = _keyed(pixels, key)
            pixels = _with_alpha(apply_profile_array(image, pixels), transparent)
        else:
            pixels = apply_profile_array(image, pixels)
    else:
        pixels = _decode_generic(image, fp, rawmode, key)
    return pixels, _orientation(image)


def _decodes_in_place(image: PILImage.Image) -> bool:
    """Whether Pillow's decoder can write into preset memory of the image's mode and size.
    Not so for a TIFF whose stored size is transposed (orientation 5 to 8: Pillow rotates
    after decoding), nor for planar RGB through libtiff (one plane per band, three bands
    where the preset memory has four)."""
    if image.format != "TIFF":
        return True
    planar = image.tag_v2.get(_TIFF_PLANAR_CONFIGURATION, 1) == 2
    return getattr(image, "_tile_size", image.size) == image.size and not planar


_TIFF_PLANAR_CONFIGURATION = 284
# TIFF tags: where the strips (or tiles) of pixel data lie, and their lengths.
_TIFF_DATA_TAGS = ((273, 279), (324, 325))


def _tiff_data_past_end(image: PILImage.Image, fp: IO[bytes]) -> bool:
    """Whether a TIFF's strips or tiles reach past the end of the file (libtiff then says
    "Read error on strip 0; got 18446744073709551274 bytes", a negative count)."""
    try:
        size = fp.seek(0, 2)
        tags = image.tag_v2
        for offsets_tag, counts_tag in _TIFF_DATA_TAGS:
            offsets, counts = tags.get(offsets_tag), tags.get(counts_tag)
            if offsets is None:
                continue
            offsets = offsets if isinstance(offsets, tuple) else (offsets,)
            counts = counts if isinstance(counts, tuple) else (counts,) if counts is not None else ()
            if any(offset >= size for offset in offsets):
                return True
            if any(offset + count > size for offset, count in zip(offsets, counts, strict=False)):
                return True
    except Exception:  # unreadable tags: no better reason than the decoder's
        return False
    return False


def _rawmode(image: PILImage.Image) -> str | None:
    """The rawmode of the image's first tile (how its samples are stored), if it has one."""
    tiles = image.tile
    if not tiles:
        return None
    args = tiles[0].args
    if isinstance(args, tuple):
        args = args[0] if args else None
    return args if isinstance(args, str) else None


def _colour_key(image: PILImage.Image, rawmode: str | None) -> tuple[int, ...] | None:
    """A grey or RGB PNG's tRNS colour key, in the units of the samples decoded: 8-bit for
    depths up to 8 (Pillow spreads 1, 2 and 4-bit grey over 0..255), 16-bit otherwise."""
    value = image.info.get("transparency")
    if image.format != "PNG" or value is None or image.mode not in ("1", "L", "I", "I;16", "RGB"):
        return None
    if isinstance(value, tuple):
        if len(value) != 3 or not all(isinstance(v, int) for v in value):
            return None
        return value  # RGB: 8-bit samples for an 8-bit PNG, 16-bit ones for RGB;16B
    depth = _PNG_GREY_DEPTH.get(rawmode or "")
    if not isinstance(value, int) or depth is None:
        return None
    if depth >= 8:
        return (value,)
    top = (1 << depth) - 1
    return (value * (255 // top),) if value <= top else (-1,)  # -1: a key no pixel has


def _keyed(samples: np.ndarray, key: tuple[int, ...]) -> np.ndarray:
    """(h, w) bool: where the (h, w) or (h, w, len(key)) samples equal the colour key."""
    if samples.ndim == 2:
        return samples == key[0]
    mask = samples[:, :, 0] == key[0]
    for c in range(1, len(key)):
        mask &= samples[:, :, c] == key[c]
    return mask


def _with_alpha(pixels: np.ndarray, transparent: np.ndarray) -> np.ndarray:
    """8-bit grey or colour pixels with an alpha channel: 0 where ``transparent``, else 255."""
    colour = pixels[:, :, None] if pixels.ndim == 2 else pixels
    return np.concatenate([colour, _alpha(transparent)[:, :, None]], axis=2)


def _alpha(transparent: np.ndarray) -> np.ndarray:
    """(h, w) uint8 alpha: 0 where ``transparent``, else 255."""
    return np.where(transparent, np.uint8(0), np.uint8(255))


def _decode_direct(image: PILImage.Image, fp: IO[bytes]) -> np.ndarray:
    """Decode into a NumPy buffer that Pillow writes to, sparing Pillow's own copy of the
    pixels and the two copies ``np.asarray(image)`` makes through ``tobytes``."""
    width, height = image.size
    buffer_mode, channels = _DIRECT_MODES[image.mode]
    # Zeroed (calloc: pages are mapped lazily), so rows a decoder never writes are zero,
    # never stale memory; check_png relies on it.
    buffer = np.zeros((height, width, channels) if channels > 1 else (height, width), np.uint8)
    _load_into(image, buffer, buffer_mode)
    check_png(image, fp, buffer)
    return buffer


def _load_into(image: PILImage.Image, buffer: np.ndarray, buffer_mode: str) -> None:
    """``image.load()`` with ``buffer`` as the pixel memory. A plugin that makes its own
    image memory anyway (GIF, ...) is copied from: only memory use differs."""
    image_module = pil()
    height, width = buffer.shape[:2]
    mode = image.mode
    if not image.tile and type(image).load is _image_file_load():
        # A header with no pixel data (plugins that make their tiles in load() aside):
        # ImageFile.load would leave the preset buffer as it is.
        raise Refused("truncated image data" if image.format == "PNG" else "corrupt image data (no pixel data)")
    core = image_module.frombuffer(buffer_mode, (width, height), buffer, "raw", buffer_mode, 0, 1).im
    image.im = core
    image.load()
    if image.im is not core or image.mode != mode:
        loaded = image if image.mode == buffer_mode else image.convert(buffer_mode)
        buffer[...] = np.asarray(loaded).reshape(buffer.shape)


def _image_file_load() -> Any:
    from PIL import ImageFile

    return ImageFile.ImageFile.load


def _decode_generic(
    image: PILImage.Image, fp: IO[bytes], rawmode: str | None, key: tuple[int, ...] | None
) -> np.ndarray:
    """Any other mode (palette, grey + alpha, CMYK, 16-bit grey, ...): Pillow loads and
    converts, and the array is a copy of its result."""
    image.load()
    check_png(image, fp, None)
    if image.mode == "I" or image.mode.startswith("I;16"):
        if image.format == "PPM":  # Pillow spreads every PPM maxval over 0..65535
            rawmode = "I;16"
        return _integer_grey(np.asarray(image), rawmode, key)
    converted = apply_profile_pil(image)
    mode = converted.mode
    if mode == "P":
        converted = converted.convert("RGBA" if "transparency" in converted.info else "RGB")
    elif mode in ("PA", "La", "RGBa"):
        converted = converted.convert("RGBA")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        converted = converted.convert("RGB")
    elif mode == "1":
        converted = converted.convert("L")
    return np.asarray(converted)


def _integer_grey(values: np.ndarray, rawmode: str | None, key: tuple[int, ...] | None) -> np.ndarray:
    """Integer grey samples (Pillow's modes I and I;16) to 8-bit by their stored range:
    16-bit as ``round(v * 255 / 65535)``, signed and 32-bit ones from their full range;
    with a colour key, grey + alpha."""
    low, high = _INTEGER_RANGES.get(rawmode or "", _UNSIGNED16 if values.dtype.itemsize == 2 else _SIGNED32)
    if (low, high) == (0, 2**32 - 1) and values.dtype == np.int32:
        values = values.view(np.uint32)  # Pillow holds unsigned 32-bit samples as int32
    if (low, high) == _UNSIGNED16:
        grey = scale16(np.clip(values, 0, 65535))
    else:
        grey = np.rint((values.astype(np.float64) - low) * (255.0 / (high - low))).astype(np.uint8)
    return grey if key is None else _with_alpha(grey, _keyed(values, key))


def finish(decoded: list[tuple[np.ndarray, int]], label: str) -> np.ndarray:
    """8-bit RGB(A) by the rule, an opaque RGBA buffer compacted in place; then
    the EXIF orientation. ``decoded`` holds the only reference to the pixels."""
    pixels, orientation = decoded.pop()
    if pixels.ndim == 3 and pixels.shape[2] == 4 and pixels.dtype == np.uint8 and pixels.flags.writeable:
        if int(pixels[:, :, 3].min()) == 255:  # a strided reduction: no (h, w) temporary
            box = [pixels]
            del pixels  # the box holds the only reference
            pixels = _drop_alpha_in_place(box)
    else:
        pixels = to_rgb8(pixels, label)
    return _orient(pixels, orientation)


def _drop_alpha_in_place(box: list[np.ndarray]) -> np.ndarray:
    """(h, w, 4) -> (h, w, 3) in the same memory, a band of rows at a time (band i's RGB
    ends where band i+1's RGBA starts, so nothing unread is overwritten), then the memory
    is shrunk when nothing else refers to it (``box`` holds the only reference: NumPy
    resizes an array only from the frame that holds its one reference)."""
    rgba = box.pop()
    if not (rgba.flags.c_contiguous and rgba.flags.owndata):
        return np.ascontiguousarray(rgba[:, :, :3])
    height, width = rgba.shape[:2]
    rows = max(1, (1 << 20) // (width * 4))  # ~1 MB bands
    rgba.shape = (height * width * 4,)  # the owner itself, so resize below may work
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        band = rgba[top * width * 4 : bottom * width * 4].reshape(-1, 4)[:, :3].copy()
        rgba[top * width * 3 : bottom * width * 3] = band.reshape(-1)
    del band
    try:
        rgba.resize(height * width * 3)  # realloc: shrinks in place
    except ValueError:  # still referenced elsewhere: keep the larger block
        return rgba[: height * width * 3].reshape(height, width, 3)
    rgba.shape = (height, width, 3)
    return rgba


def _orientation(image: PILImage.Image) -> int:
    try:
        value = image.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # unreadable EXIF: show the pixels as stored, as viewers do
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


# EXIF orientation -> the view that shows the stored pixels upright (PIL.ImageOps.exif_transpose).
_ORIENT_VIEWS: dict[int, Callable[[np.ndarray], np.ndarray]] = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: a.transpose(1, 0, 2)[:, ::-1],
    7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
    8: lambda a: a.transpose(1, 0, 2)[::-1],
}


def _orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    view = _ORIENT_VIEWS.get(orientation)
    return pixels if view is None else np.ascontiguousarray(view(pixels))


# ---------------------------------------------------------------------------------------
# 16-bit PNG


def _png16_rawmode(image: PILImage.Image) -> str | None:
    """The rawmode of a 16-bit colour or grey + alpha PNG, which Pillow would cut to its
    high bytes; None for anything else."""
    tiles = image.tile
    if image.format != "PNG" or len(tiles) != 1 or tiles[0].codec_name != "zip":
        return None
    rawmode = tiles[0].args
    return rawmode if rawmode in _PNG16_LOW_BYTE or rawmode == _PNG16_GREY_ALPHA else None


def _decode_png16(image: PILImage.Image, fp: IO[bytes], rawmode: str, key: tuple[int, ...] | None = None) -> np.ndarray:
    """A 16-bit RGB(A) or grey + alpha PNG with every bit kept, scaled by the rule; an RGB
    PNG's colour ``key`` (16-bit samples) becomes alpha.

    Pillow's PNG decoder unfilters by the pixel size of the rawmode; another rawmode of
    the same pixel size picks other bytes of each sample, through Pillow's own inflate and
    unfiltering: grey + alpha is read as 4 bytes (RGBA), RGB(A) twice (high, then low bytes).
    """
    width, height = image.size
    tile = image.tile[0]
    if rawmode == _PNG16_GREY_ALPHA:
        raw = np.zeros((height, width, 4), np.uint8)
        image.tile = [tile._replace(args="RGBA")]
        _load_into(image, raw, "RGBA")
        check_png(image, fp, raw)
        return scale16(raw.view(">u2"))  # (h, w, 2): grey, alpha
    channels = 4 if rawmode.startswith("RGBA") else 3
    high = np.zeros((height, width, 4), np.uint8)
    _load_into(image, high, "RGBA")
    check_png(image, fp, high)
    low = np.zeros((height, width, 4), np.uint8)
    fp.seek(0)
    again = pil().OPEN["PNG"][0](fp, "")
    try:
        again.tile = [again.tile[0]._replace(args=_PNG16_LOW_BYTE[rawmode])]
        _load_into(again, low, "RGBA")
    finally:
        again.close()
    keyed = key is not None and channels == 3
    out = np.empty((height, width, 4 if keyed else channels), np.uint8)
    transparent = np.ones((height, width), bool) if keyed else None
    for c in range(channels):
        samples = high[:, :, c].astype(np.uint16) << 8 | low[:, :, c]
        if transparent is not None:
            transparent &= samples == key[c]
        out[:, :, c] = scale16(samples)
    if transparent is not None:
        out[:, :, 3] = _alpha(transparent)
    return out
