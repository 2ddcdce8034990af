"""Reading untrusted image files into 8-bit RGB(A) arrays.

Conversion rule, applied to every decoded image (first frame only):

- greyscale becomes RGB (the grey value in all three channels); grey + alpha becomes RGBA;
  palette images become RGB, or RGBA when the palette has transparency; CMYK, YCbCr, LAB
  and HSV images become RGB by Pillow's conversion;
- 16-bit samples become 8-bit as ``round(v * 255 / 65535)``: exactly so for PNG (grey,
  grey + alpha, RGB, RGBA; Pillow alone keeps the high byte of colour samples) and 16-bit
  grey in any format; Pillow converts 16-bit colour in other formats (PPM scales by its
  maxval, TIFF keeps the high byte); other integer arrays are scaled from their full
  unsigned range the same way; floats are taken as 0..1;
- colour profiles: an image with an embedded ICC profile that is not sRGB (Adobe RGB,
  Display P3, ProPhoto, a grey or CMYK profile, ...) is converted to sRGB by littleCMS
  (Pillow's ImageCms), relative colorimetric with black point compensation, so the output,
  which carries no profile, looks like the source in a colour-managed viewer. A profile
  whose conversion to sRGB moves no sample by more than 1 counts as sRGB and changes
  nothing; a profile littleCMS cannot read, or one for another colour space than the
  image's, is ignored, as browsers do;
- an alpha channel that is 255 everywhere is dropped, so an opaque image is RGB;
- EXIF orientation is applied, so the output looks the way viewers show the input.

Every input is untrusted:

- the image's size is read from its header and checked against ``max_pixels``
  (:data:`DEFAULT_MAX_PIXELS`) before any pixel is decoded;
- a PNG whose IDAT data ends before all the rows its header declares (cut short, or a
  zlib stream that ends cleanly too early) is refused as ``truncated image data``, never
  padded with black; an IDAT chunk with a wrong CRC is refused as corrupt;
- formats that Pillow hands to an outside program (EPS, through Ghostscript) are not read;
- errors are one line: ``<name>: <reason>``, with control characters in the name escaped
  (:func:`display_name`).

Memory: 8-bit RGB, RGBA and grey images in PNG, JPEG, TIFF, BMP, WebP, PPM and TGA decode
straight into the NumPy array that is returned (an opaque RGB decode is compacted from 4
to 3 bytes per pixel in place), so reading peaks at about 4 bytes per pixel (measured;
8 for a progressive JPEG, whose decoder holds every coefficient; +3 for an EXIF rotation)
where ``np.asarray(PIL.Image.open(...))`` peaks at 10 (RGB) to 16 (RGBA).
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from .errors import ImageReadError, InvalidOptionError

if TYPE_CHECKING:
    from PIL import Image as PILImage

#: Largest image, in pixels (width x height), read unless the caller allows more: 100 MP,
#: about 4x a 24 MP camera photo. An RGB photo of that size peaks at about 1.2 GB through
#: the whole compress path (12-13 bytes per pixel, measured).
DEFAULT_MAX_PIXELS = 100_000_000

#: Peak memory of one image through the whole compress path (decode, convert, quantize,
#: encode), in bytes per pixel, for budgeting ``width * height * this`` per image in
#: flight: the worst case measured, an RGBA photo where nearly every pixel is a distinct
#: colour (47; an RGB photo: 12-13; reading alone: 4, 8 for a progressive JPEG). See
#: ``bench/results/peak_memory.md``; the excess over reading is the core's quantize step.
PEAK_BYTES_PER_PIXEL = 48

# What read_image accepts as encoded bytes.
BytesLike = bytes | bytearray | memoryview
Source = str | os.PathLike[str] | BytesLike

# Pillow formats never opened: Pillow runs Ghostscript on EPS data, an outside program
# with its own history of vulnerabilities, on a file we know nothing about.
_REFUSED_FORMATS = frozenset({"EPS"})
# Magic numbers whose Pillow plugin is imported alone, so the common case does not load
# every plugin Pillow has (tens of milliseconds at start-up).
_PLUGIN_BY_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PngImagePlugin"),
    (b"\xff\xd8\xff", "JpegImagePlugin"),
)
# Pillow modes decoded straight into a NumPy buffer: Pillow mode -> (buffer mode, channels).
# "RGB" is stored by Pillow as 4 bytes per pixel with the 4th byte 255, so it decodes into
# an RGBA buffer that is opaque by construction.
# Bilevel ("1") images are stored as one byte of 0 or 255 per pixel: grey.
_DIRECT_MODES = {"RGB": ("RGBA", 4), "RGBA": ("RGBA", 4), "L": ("L", 1), "1": ("L", 1)}
# Formats whose plugins load through ImageFile.load into whatever image memory is set, as
# the direct path needs (each checked by a test). Some others take preset memory for an
# image already loaded (ICO, GBR) and would return it blank; they go the generic way.
_DIRECT_FORMATS = frozenset({"PNG", "JPEG", "TIFF", "BMP", "DIB", "WEBP", "PPM", "TGA"})
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
# Pillow's rawmodes for 16-bit PNG colour keep the high byte only; these read the low byte
# (RGB, RGBA) or all four bytes (grey + alpha) through the same decoder and filters.
_PNG16_LOW_BYTE = {"RGB;16B": "RGB;16L", "RGBA;16B": "RGBA;16L"}
_PNG16_GREY_ALPHA = "LA;16B"
_EXIF_ORIENTATION = 0x0112


class _Refused(Exception):
    """A reason to refuse the input, without its name; read_image adds the name."""


def display_name(path: str | os.PathLike[str] | bytes) -> str:
    """A file name made safe to print on one line.

    Characters that are not printable (control characters such as newline and escape,
    bidirectional overrides, line separators, invisible spaces) become Python-style escapes
    (``\\n``, ``\\x1b``, ``\\u202e``); bytes that are not valid UTF-8 in a POSIX file name
    become ``\\xNN``. Printable names come back unchanged, so escaping twice changes nothing.
    """
    text = path if isinstance(path, str) else os.fsdecode(path)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape_char(ch) for ch in text)


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte os.fsdecode could not decode (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return repr(ch)[1:-1] if ch not in "'\"" else ch


def image_size(source: Source, name: str | None = None) -> tuple[int, int]:
    """The (width, height) an image's header declares, read without decoding any pixel.

    Cheap enough to call on every input to budget memory before work starts (see
    :data:`PEAK_BYTES_PER_PIXEL`). The header is not proof that the pixel data is good.

    Raises
    ------
    ImageReadError
        The input is missing, empty or not an image.
    """
    label = _label(source, name)
    with _opened(source, label) as fp:
        image = _open_image(fp, label)
        try:
            return image.size
        finally:
            image.close()


def read_image(source: Source, name: str | None = None, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode an image file or encoded bytes into 8-bit RGB or RGBA by the module's rule.

    Parameters
    ----------
    source : path or bytes-like
        A file path, or the encoded file's bytes (bytes, bytearray, memoryview).
    name : str, optional
        How to name the input in error messages (default: the path, or "<bytes>").
    max_pixels : int or None
        Refuse an image whose header declares more pixels than this, before decoding it;
        None for no limit.

    Returns
    -------
    ndarray of shape (h, w, 3) or (h, w, 4), dtype uint8, C-contiguous

    Raises
    ------
    ImageReadError
        One line, ``<name>: <reason>``: no such file, empty, not an image (unrecognised
        format), image too large, truncated image data, corrupt image data, out of memory...
    InvalidOptionError
        ``max_pixels`` is not a positive integer.
    """
    if max_pixels is not None and (isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1):
        raise InvalidOptionError(f"max_pixels must be a positive integer or None, got {max_pixels!r}")
    label = _label(source, name)
    try:
        with _opened(source, label) as fp:
            image = _open_image(fp, label)
            try:
                _check_size(image.size, max_pixels, label)
                decoded = [_decode(image, fp)]
            finally:
                image.close()  # releases Pillow's hold on the pixel buffer
        # Handed over in a list the callee empties, so no frame here keeps the array and
        # _finish can shrink its memory in place.
        return _finish(decoded, label)
    except ImageReadError:
        raise
    except _Refused as exc:
        raise ImageReadError(f"{label}: {exc}") from None
    except MemoryError:
        raise ImageReadError(f"{label}: out of memory") from None
    except Exception as exc:  # Pillow and littleCMS raise many types for corrupt data
        raise ImageReadError(f"{label}: {_reason(exc)}") from None


def to_rgb8(pixels: np.ndarray, label: str = "image") -> np.ndarray:
    """Convert a decoded array to 8-bit RGB or RGBA by the module's documented rule.

    Parameters
    ----------
    pixels : ndarray of shape (h, w), (h, w, 1), (h, w, 2), (h, w, 3) or (h, w, 4)
        Any numeric dtype.
    label : str
        How to name the input in error messages.

    Returns
    -------
    ndarray of shape (h, w, 3) or (h, w, 4), dtype uint8, C-contiguous
    """
    a = np.asarray(pixels)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 2, 3, 4):
        raise ImageReadError(f"{label}: unsupported image shape {a.shape}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ImageReadError(f"{label}: image has no pixels")
    a = _to_uint8(a, label)
    channels = a.shape[2]
    if channels == 1:
        a = np.repeat(a, 3, axis=2)
    elif channels == 2:
        a = np.concatenate([np.repeat(a[:, :, :1], 3, axis=2), a[:, :, 1:]], axis=2)
    if a.shape[2] == 4 and bool((a[:, :, 3] == 255).all()):
        a = a[:, :, :3]
    return np.ascontiguousarray(a)


def scale16(values: np.ndarray) -> np.ndarray:
    """16-bit samples to 8-bit, exactly ``round(v * 255 / 65535)``.

    ``v * 255 / 65535`` is ``v / 257``, never halfway between two integers, so
    ``(v + 128) // 257`` is the rounded value; integers avoid a float64 copy.
    """
    return ((values.astype(np.uint32) + 128) // 257).astype(np.uint8)


def _to_uint8(a: np.ndarray, label: str = "image") -> np.ndarray:
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * 255
    if a.dtype == np.uint16:
        return scale16(a)
    if np.issubdtype(a.dtype, np.integer):
        info = np.iinfo(a.dtype)
        top = float(info.max) if info.min >= 0 else float(info.max - info.min)
        shifted = a.astype(np.float64) - (0 if info.min >= 0 else info.min)
        return np.rint(shifted * (255.0 / top)).astype(np.uint8)
    if np.issubdtype(a.dtype, np.floating):
        return np.rint(np.clip(np.nan_to_num(a.astype(np.float64)), 0.0, 1.0) * 255.0).astype(np.uint8)
    raise ImageReadError(f"{label}: unsupported pixel type {a.dtype}")


# ---------------------------------------------------------------------------------------
# Opening


def _label(source: Source, name: str | None) -> str:
    if name is not None:
        return display_name(name)
    return "<bytes>" if isinstance(source, (bytes, bytearray, memoryview)) else display_name(source)


class _opened:
    """A seekable binary stream over a path or bytes-like ``source``; file-level refusals
    (missing, folder, empty, permission) raise ImageReadError."""

    def __init__(self, source: Source, label: str) -> None:
        self.source, self.label = source, label
        self.fp: IO[bytes] | None = None

    def __enter__(self) -> IO[bytes]:
        source, label = self.source, self.label
        if isinstance(source, (bytes, bytearray, memoryview)):
            view = memoryview(source)
            if view.nbytes == 0:
                raise ImageReadError(f"{label}: empty input (0 bytes)")
            # BytesIO copies the encoded bytes, small next to the pixels.
            self.fp = io.BytesIO(view if view.c_contiguous else view.tobytes())
            return self.fp
        if not isinstance(source, (str, os.PathLike)):
            raise TypeError(f"source must be a path or bytes-like, not {type(source).__name__}")
        try:
            self.fp = open(source, "rb")
            if not self.fp.seekable():  # a pipe, e.g. <(curl ...): Pillow needs to seek
                data = self.fp.read()
                self.fp.close()
                self.fp = io.BytesIO(data)
            if not self.fp.read(1):
                raise ImageReadError(f"{label}: empty file (0 bytes)")
            self.fp.seek(0)
        except FileNotFoundError:
            raise ImageReadError(f"{label}: no such file") from None
        except IsADirectoryError:
            raise ImageReadError(f"{label}: is a folder, not an image") from None
        except PermissionError:
            self.__exit__()
            if os.path.isdir(source):
                raise ImageReadError(f"{label}: is a folder, not an image") from None
            raise ImageReadError(f"{label}: permission denied") from None
        except OSError as exc:
            self.__exit__()
            raise ImageReadError(f"{label}: cannot read ({exc.strerror or exc})") from None
        except BaseException:
            self.__exit__()
            raise
        return self.fp

    def __exit__(self, *exc: object) -> None:
        if self.fp is not None:
            self.fp.close()
            self.fp = None


def _pil() -> Any:
    from PIL import Image

    return Image


def _open_image(fp: IO[bytes], label: str) -> PILImage.Image:
    """Identify the image and read its header, as ``PIL.Image.open`` does but without its
    decompression-bomb check (process-wide limits of its own, and a warning below them;
    the caller checks the size against its limit), and never through a refused format."""
    image_module = _pil()
    fatal = (MemoryError, image_module.DecompressionBombError, image_module.DecompressionBombWarning)
    failure: str | None = None
    try:
        prefix = fp.read(24)
        empty = _png_without_pixels(prefix)
        if empty is not None:
            raise ImageReadError(f"{label}: image has no pixels ({empty[0]}x{empty[1]})")
        tried: set[str] = set()
        for loader in (_import_plugin_by_magic, image_module.preinit, image_module.init):
            if loader is _import_plugin_by_magic:
                loader(prefix)
            else:
                loader()
            for fmt in list(image_module.ID):
                if fmt in tried or fmt in _REFUSED_FORMATS:
                    continue
                tried.add(fmt)
                factory, accept = image_module.OPEN[fmt]
                recognised: object = False
                try:
                    recognised = accept(prefix) if accept else True
                    if not recognised or isinstance(recognised, str):
                        continue
                    fp.seek(0)
                    return factory(fp, "")
                except fatal:
                    raise
                except Exception as exc:
                    # As PIL.Image.open: not this format after all, try the next one. When
                    # the format knew the magic number, the header is corrupt.
                    if accept and recognised and failure is None:
                        failure = "truncated image data" if _is_truncation(exc) else f"corrupt image (bad {fmt} header)"
    except ImageReadError:
        raise
    except MemoryError:
        raise ImageReadError(f"{label}: out of memory") from None
    except Exception as exc:
        raise ImageReadError(f"{label}: {_reason(exc)}") from None
    raise ImageReadError(f"{label}: {failure or 'not an image (unrecognised format)'}")


def _png_without_pixels(prefix: bytes) -> tuple[int, int] | None:
    """A PNG header declaring a zero width or height (Pillow only says "not identified")."""
    if prefix.startswith(_PNG_SIGNATURE) and prefix[12:16] == b"IHDR" and len(prefix) >= 24:
        width, height = struct.unpack(">II", prefix[16:24])
        if width == 0 or height == 0:
            return width, height
    return None


def _import_plugin_by_magic(prefix: bytes) -> None:
    import importlib

    for magic, plugin in _PLUGIN_BY_MAGIC:
        if prefix.startswith(magic):
            importlib.import_module(f"PIL.{plugin}")


def _check_size(size: tuple[int, int], max_pixels: int | None, label: str) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise ImageReadError(f"{label}: image has no pixels ({width}x{height})")
    if max_pixels is not None and width * height > max_pixels:
        have, limit = _megapixels(width * height, max_pixels)
        raise ImageReadError(f"{label}: image too large: {width}x{height} ({have}) exceeds --max-pixels {limit}")


def _megapixels(pixels: int, limit: int) -> tuple[str, str]:
    """Both counts in MP, with as few decimals as tell them apart (at most 6)."""
    for decimals in range(7):
        have, cap = _mp(pixels, decimals), _mp(limit, decimals)
        if have != cap:
            break
    return f"{have} MP", f"{cap} MP"


def _mp(pixels: int, decimals: int = 0) -> str:
    text = f"{pixels / 1e6:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# ---------------------------------------------------------------------------------------
# Decoding


def _decode(image: PILImage.Image, fp: IO[bytes]) -> tuple[np.ndarray, int]:
    """Decode the opened image's first frame: (pixels in sRGB, EXIF orientation).

    The pixels are (h, w), (h, w, 2|3|4) of any dtype; :func:`_finish` converts them.
    """
    png16 = _png16_rawmode(image)
    if png16 is not None:
        pixels = _apply_profile_array(image, _decode_png16(image, fp, png16))
    elif image.mode in _DIRECT_MODES and image.format in _DIRECT_FORMATS:
        pixels = _apply_profile_array(image, _decode_direct(image, fp))
    else:
        pixels = _decode_generic(image, fp)
    return pixels, _orientation(image)


def _decode_direct(image: PILImage.Image, fp: IO[bytes]) -> np.ndarray:
    """Decode into a NumPy buffer that Pillow writes to, sparing Pillow's own copy of the
    pixels and the two copies ``np.asarray(image)`` makes through ``tobytes``."""
    width, height = image.size
    buffer_mode, channels = _DIRECT_MODES[image.mode]
    # Zeroed (calloc: pages are mapped lazily), so rows a decoder never writes are zero,
    # never stale memory; _check_png relies on it.
    buffer = np.zeros((height, width, channels) if channels > 1 else (height, width), np.uint8)
    _load_into(image, buffer, buffer_mode)
    _check_png(image, fp, buffer)
    return buffer


def _load_into(image: PILImage.Image, buffer: np.ndarray, buffer_mode: str) -> None:
    """``image.load()`` with ``buffer`` as the pixel memory. A plugin that makes its own
    image memory anyway (GIF, ...) is copied from: only memory use differs."""
    image_module = _pil()
    height, width = buffer.shape[:2]
    mode = image.mode
    core = image_module.frombuffer(buffer_mode, (width, height), buffer, "raw", buffer_mode, 0, 1).im
    image.im = core
    image.load()
    if image.im is not core or image.mode != mode:
        loaded = image if image.mode == buffer_mode else image.convert(buffer_mode)
        buffer[...] = np.asarray(loaded).reshape(buffer.shape)


def _decode_generic(image: PILImage.Image, fp: IO[bytes]) -> np.ndarray:
    """Any other mode (palette, grey + alpha, CMYK, 16-bit grey, ...): Pillow loads and
    converts, and the array is a copy of its result."""
    image.load()
    _check_png(image, fp, None)
    converted = _apply_profile_pil(image)
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


def _finish(decoded: list[tuple[np.ndarray, int]], label: str) -> np.ndarray:
    """8-bit RGB(A) by the module's rule, an opaque RGBA buffer compacted in place; then
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


def _decode_png16(image: PILImage.Image, fp: IO[bytes], rawmode: str) -> np.ndarray:
    """A 16-bit RGB(A) or grey + alpha PNG with every bit kept, scaled by the rule.

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
        _check_png(image, fp, raw)
        return scale16(raw.view(">u2"))  # (h, w, 2): grey, alpha
    channels = 4 if rawmode.startswith("RGBA") else 3
    high = np.zeros((height, width, 4), np.uint8)
    _load_into(image, high, "RGBA")
    _check_png(image, fp, high)
    low = np.zeros((height, width, 4), np.uint8)
    fp.seek(0)
    again = _pil().OPEN["PNG"][0](fp, "")
    try:
        again.tile = [again.tile[0]._replace(args=_PNG16_LOW_BYTE[rawmode])]
        _load_into(again, low, "RGBA")
    finally:
        again.close()
    out = np.empty((height, width, channels), np.uint8)
    for c in range(channels):
        out[:, :, c] = scale16(high[:, :, c].astype(np.uint16) << 8 | low[:, :, c])
    return out


# ---------------------------------------------------------------------------------------
# PNG integrity: rows that never arrived, and IDAT CRCs


def _check_png(image: PILImage.Image, fp: IO[bytes], decoded: np.ndarray | None) -> None:
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
        raise _Refused("corrupt image (PNG without IHDR)")
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
        raise _Refused("truncated image data")


def _png_chunks(fp: IO[bytes]) -> Iterator[tuple[bytes, bytes]]:
    """(type, data) of each chunk up to IEND or the first frame's end; IDAT CRCs checked."""
    if fp.read(8) != _PNG_SIGNATURE:
        raise _Refused("corrupt image (PNG signature)")
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
                raise _Refused("corrupt image data (IDAT CRC mismatch)")
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


# ---------------------------------------------------------------------------------------
# Colour profiles


def _icc_profile(image: PILImage.Image) -> bytes | None:
    icc = image.info.get("icc_profile")
    return icc if isinstance(icc, bytes) and icc else None


def _apply_profile_array(image: PILImage.Image, pixels: np.ndarray) -> np.ndarray:
    """Decoded 8-bit RGBA (RGB decodes as RGBA) or grey pixels, converted to sRGB when the
    image's ICC profile asks for it; RGBA in place."""
    icc = _icc_profile(image)
    if icc is None or pixels.dtype != np.uint8 or (pixels.ndim == 3 and pixels.shape[2] not in (3, 4)):
        return pixels
    mode = "L" if pixels.ndim == 2 else "RGB" if pixels.shape[2] == 3 else "RGBA"
    transform = _to_srgb(icc, mode)
    if transform is None:
        return pixels
    image_module = _pil()
    size = (pixels.shape[1], pixels.shape[0])
    source = image_module.frombuffer(mode, size, pixels, "raw", mode, 0, 1)
    if mode == "RGBA" and not source.readonly:
        transform.apply_in_place(source)
        return pixels
    return np.asarray(transform.apply(source))


def _apply_profile_pil(image: PILImage.Image) -> PILImage.Image:
    """A loaded Pillow image in sRGB: converted when its ICC profile asks for it."""
    icc = _icc_profile(image)
    mode = image.mode
    if icc is None or mode not in ("RGB", "RGBA", "L", "LA", "CMYK"):
        return image
    transform = _to_srgb(icc, "L" if mode == "LA" else mode)
    if transform is None:
        return image
    if mode != "LA":
        return transform.apply(image)
    rgba = transform.apply(image.getchannel("L")).convert("RGBA")
    rgba.putalpha(image.getchannel("A"))
    return rgba


@lru_cache(maxsize=32)
def _to_srgb(icc: bytes, mode: str) -> Any:
    """A littleCMS transform from the profile to sRGB for Pillow ``mode``, or None when the
    profile is sRGB in effect, unreadable, or for another colour space than ``mode``.

    Cached by the profile's bytes (a batch from one camera or editor shares a profile);
    NOCACHE makes one transform safe to apply from several threads at once.
    """
    from PIL import ImageCms

    space = {"L": "GRAY", "CMYK": "CMYK"}.get(mode, "RGB")
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if profile.profile.xcolor_space.strip() != space:
            return None
        transform = ImageCms.buildTransform(
            profile,
            _srgb_profile(),
            mode,
            "RGB" if mode in ("L", "CMYK") else mode,
            renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
            flags=ImageCms.Flags.BLACKPOINTCOMPENSATION | ImageCms.Flags.NOCACHE,
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None
    if mode in ("RGB", "RGBA") and _is_identity(transform, mode):
        return None
    return transform


@lru_cache(maxsize=1)
def _srgb_profile() -> Any:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@lru_cache(maxsize=1)
def _probe_colours() -> np.ndarray:
    """Greys, each channel's ramp, and a 17^3 lattice of the RGB cube: (n, 3) uint8."""
    ramp = np.arange(256, dtype=np.uint8)
    singles = np.zeros((3, 256, 3), np.uint8)
    for c in range(3):
        singles[c, :, c] = ramp
    axis = np.linspace(0, 255, 17).round().astype(np.uint8)
    cube = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)
    return np.concatenate([np.repeat(ramp[:, None], 3, axis=1), singles.reshape(-1, 3), cube])


def _is_identity(transform: Any, mode: str) -> bool:
    """Whether the transform moves no probe colour by more than 1 on any channel."""
    colours = _probe_colours()
    if mode == "RGBA":
        colours = np.concatenate([colours, np.full((len(colours), 1), 255, np.uint8)], axis=1)
    probe = np.ascontiguousarray(colours[None])
    source = _pil().frombuffer(mode, (probe.shape[1], 1), probe, "raw", mode, 0, 1)
    moved = np.abs(np.asarray(transform.apply(source)).astype(np.int16) - probe)
    return int(moved.max()) <= 1


# ---------------------------------------------------------------------------------------
# Error reasons


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _is_truncation(exc: BaseException) -> bool:
    return isinstance(exc, (EOFError, struct.error)) or "truncated" in str(exc).lower()


def _reason(exc: BaseException) -> str:
    """A one-line reason for an exception raised while opening or decoding."""
    image_module = _pil()
    if isinstance(exc, MemoryError):
        return "out of memory"
    if isinstance(exc, (image_module.DecompressionBombError, image_module.DecompressionBombWarning)):
        # Only from a frame larger than the header's size (GIF), past Pillow's own limit.
        return f"image too large (a frame over {_mp(image_module.MAX_IMAGE_PIXELS)} MP)"
    message = _first_line(exc)
    lowered = message.lower()
    if _is_truncation(exc):
        return "truncated image data"
    if "out of memory" in lowered:
        return "out of memory"
    if "broken data stream" in lowered:
        return "corrupt image data"
    return f"corrupt image data ({message})"
