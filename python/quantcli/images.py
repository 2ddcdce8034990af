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
  (:data:`DEFAULT_MAX_PIXELS`) before any pixel is decoded; an image that the file holds
  inside it and Pillow decodes instead (a BLP's JPEG, an ICO's or ICNS's PNG) is checked
  before it is decoded too, against ``max_pixels`` and twice the declared size;
- a PNG whose IDAT data ends before all the rows its header declares (cut short, or a
  zlib stream that ends cleanly too early) is refused as ``truncated image data``, never
  padded with black; an IDAT chunk with a wrong CRC is refused as corrupt;
- formats that Pillow hands to an outside program (EPS, through Ghostscript) are not read
  ("EPS is not supported");
- errors are one line: ``<name>: <reason>``, with control characters in the name escaped
  (:func:`display_name`); the decoders' own warnings, log records and libtiff's messages
  are silenced in the reading thread, never printed beside it, and a warning never
  aborts a file Pillow can read (see :func:`quantcli.decoding.reading`).

Memory: 8-bit RGB, RGBA and grey images in PNG, JPEG, TIFF, BMP, WebP, PPM and TGA decode
straight into the NumPy array that is returned (an opaque RGB decode is compacted from 4
to 3 bytes per pixel in place), so reading peaks at about 4 bytes per pixel (measured;
8 for a progressive JPEG, whose decoder holds every coefficient; +3 for an EXIF rotation)
where ``np.asarray(PIL.Image.open(...))`` peaks at 10 (RGB) to 16 (RGBA).
"""

from __future__ import annotations

import io
import os
import re
import struct
from typing import IO, TYPE_CHECKING

import numpy as np

from . import options
from .decoding import EmbeddedImageTooLarge, decode, finish, pil, reading
from .errors import ImageReadError, InvalidOptionError
from .png_checks import PNG_SIGNATURE, Refused

if TYPE_CHECKING:
    from PIL import Image as PILImage

#: Largest image, in pixels (width x height), read unless the caller allows more: 100 MP,
#: about 4x a 24 MP camera photo. An RGB photo of that size peaks at about 1.2 GB through
#: the whole compress path (12-13 bytes per pixel, measured). Defined in quantcli.options,
#: which the command line's fast path imports without NumPy.
DEFAULT_MAX_PIXELS = options.DEFAULT_MAX_PIXELS


# What read_image accepts as encoded bytes.
BytesLike = bytes | bytearray | memoryview
Source = str | os.PathLike[str] | BytesLike

# Pillow formats never opened, and why: Pillow runs Ghostscript on EPS data, an outside
# program with its own history of vulnerabilities, on a file we know nothing about.
_REFUSED_FORMATS = {"EPS": "EPS is not supported (it would need Ghostscript)"}
# Magic numbers whose Pillow plugin is imported alone, so the common case does not load
# every plugin Pillow has (tens of milliseconds at start-up).
_PLUGIN_BY_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PngImagePlugin"),
    (b"\xff\xd8\xff", "JpegImagePlugin"),
)


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
    :func:`quantcli.memory.image_cost`). The header is not proof that the pixel data is good.

    Raises
    ------
    ImageReadError
        The input is missing, empty or not an image.
    """
    label = _label(source, name)
    with reading(), _opened(source, label) as fp:
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
        with reading(), _opened(source, label) as fp:
            image = _open_image(fp, label)
            try:
                _check_size(image.size, max_pixels, label)
                decoded = [decode(image, fp, max_pixels)]
            finally:
                image.close()  # releases Pillow's hold on the pixel buffer
        # Handed over in a list the callee empties, so no frame here keeps the array and
        # finish can shrink its memory in place.
        return finish(decoded, label)
    except ImageReadError:
        raise
    except EmbeddedImageTooLarge as exc:
        raise ImageReadError(f"{label}: {_embedded_reason(exc)}") from None
    except Refused as exc:
        raise ImageReadError(f"{label}: {exc}") from None
    except MemoryError:
        raise ImageReadError(f"{label}: out of memory") from None
    except Exception as exc:  # Pillow and littleCMS raise many types for corrupt data
        raise ImageReadError(f"{label}: {_reason(exc)}") from None


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


def _open_image(fp: IO[bytes], label: str) -> PILImage.Image:
    """Identify the image and read its header, as ``PIL.Image.open`` does but without its
    decompression-bomb check (process-wide limits of its own, and a warning below them;
    the caller checks the size against its limit), and never through a refused format."""
    image_module = pil()
    fatal = (MemoryError, image_module.DecompressionBombError, image_module.DecompressionBombWarning)
    failure: str | None = None
    refused: str | None = None
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
                if fmt in tried:
                    continue
                tried.add(fmt)
                factory, accept = image_module.OPEN[fmt]
                recognised: object = False
                try:
                    if fmt in _REFUSED_FORMATS:
                        if accept and accept(prefix) is True and refused is None:
                            refused = _REFUSED_FORMATS[fmt]
                        continue
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
    raise ImageReadError(f"{label}: {failure or refused or 'not an image (unrecognised format)'}")


def _png_without_pixels(prefix: bytes) -> tuple[int, int] | None:
    """A PNG header declaring a zero width or height (Pillow only says "not identified")."""
    if prefix.startswith(PNG_SIGNATURE) and prefix[12:16] == b"IHDR" and len(prefix) >= 24:
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


def _embedded_reason(exc: EmbeddedImageTooLarge) -> str:
    """Why an image inside the file was not decoded: over --max-pixels, or far larger than
    the size the file declares (which the memory budget counted)."""
    (width, height), (inner_width, inner_height) = exc.declared, exc.inner
    inner = f"{inner_width}x{inner_height}"
    if exc.over_limit and exc.max_pixels is not None:
        have, limit = _megapixels(inner_width * inner_height, exc.max_pixels)
        return f"image too large: {width}x{height} holds a {inner} image ({have}) that exceeds --max-pixels {limit}"
    return f"corrupt image data (a {inner} image inside a {width}x{height} one)"


def _megapixels(pixels: int, limit: int) -> tuple[str, str]:
    """Both counts in MP, with as few decimals as tell them apart (at most 6). A limit
    that would read as 0 MP at that precision (``--max-pixels 100`` against a photo) is
    given in pixels, and so is the image's count then, unless it is 1 MP or more."""
    for decimals in range(7):
        have, cap = _mp(pixels, decimals), _mp(limit, decimals)
        if have != cap:
            break
    if cap.strip("0.") and have.strip("0."):
        return f"{have} MP", f"{cap} MP"
    return (f"{have} MP" if pixels >= 1_000_000 else _pixels(pixels)), _pixels(limit)


def _pixels(count: int) -> str:
    return "1 pixel" if count == 1 else f"{count} pixels"


def _mp(pixels: int, decimals: int = 0) -> str:
    text = f"{pixels / 1e6:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# ---------------------------------------------------------------------------------------
# Error reasons


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _is_truncation(exc: BaseException) -> bool:
    return isinstance(exc, (EOFError, struct.error)) or "truncated" in str(exc).lower()


def _reason(exc: BaseException) -> str:
    """A one-line reason for an exception raised while opening or decoding."""
    image_module = pil()
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
    if "broken data stream" in lowered or re.fullmatch(r"decoder error -?\d+", lowered):
        return "corrupt image data"  # the decoder's own message, if any, was silenced
    return f"corrupt image data ({message})"
