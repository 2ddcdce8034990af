"""Reading images into 8-bit RGB(A) arrays.

Conversion rule, applied to every decoded image (first frame only):

- greyscale becomes RGB (the grey value in all three channels); grey + alpha becomes RGBA;
  palette images become RGB, or RGBA when the palette has transparency; CMYK, YCbCr, LAB
  and HSV images become RGB by Pillow's conversion;
- 16-bit samples become 8-bit as ``round(v * 255 / 65535)``; other integer types are
  scaled from their full unsigned range the same way; floats are taken as 0..1;
- an alpha channel that is 255 everywhere is dropped, so an opaque image is RGB;
- EXIF orientation is applied, so the output looks the way viewers show the input.
"""

from __future__ import annotations

import os
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from .errors import ImageReadError

# Pillow modes that carry alpha, or may (palette images with a tRNS entry).
_ALPHA_MODES = frozenset({"RGBA", "LA", "La", "RGBa", "PA", "P"})
# Pillow modes with three or four channels that are not RGB(A): read as RGB, or a CMYK
# JPEG's K channel would pass for alpha.
_OTHER_COLOUR_MODES = frozenset({"CMYK", "YCbCr", "LAB", "HSV"})


def read_image(source: str | os.PathLike[str] | bytes, name: str | None = None) -> np.ndarray:
    """Decode an image file or encoded bytes into 8-bit RGB or RGBA.

    Parameters
    ----------
    source : path or bytes
        A file path, or the encoded file's bytes.
    name : str, optional
        How to name the input in error messages (default: the path, or "<bytes>").

    Returns
    -------
    ndarray of shape (h, w, 3) or (h, w, 4), dtype uint8, C-contiguous
    """
    label = name or (str(source) if not isinstance(source, bytes) else "<bytes>")
    if isinstance(source, bytes) and not source:
        raise ImageReadError(f"{label}: empty input (0 bytes)")
    if not isinstance(source, bytes):
        path = Path(source)
        if not path.exists():
            raise ImageReadError(f"{label}: no such file")
        if path.is_dir():
            raise ImageReadError(f"{label}: is a folder, not an image")
        if path.stat().st_size == 0:
            raise ImageReadError(f"{label}: empty file (0 bytes)")
    try:
        with iio.imopen(source, "r", plugin="pillow") as image:
            meta = image.metadata(index=0, exclude_applied=False)
            mode = meta.get("mode")
            wants_alpha = mode in _ALPHA_MODES and (mode != "P" or "transparency" in meta)
            read_mode = "RGBA" if wants_alpha else "RGB" if mode in _OTHER_COLOUR_MODES else None
            pixels = image.read(index=0, mode=read_mode, rotate=True)
    except PermissionError:
        raise ImageReadError(f"{label}: permission denied") from None
    except Exception as exc:  # Pillow raises many types for corrupt data
        raise ImageReadError(f"{label}: not a readable image ({_reason(exc)})") from None
    return to_rgb8(pixels, label)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    message = text[0] if text else type(exc).__name__
    if message.startswith("Could not find a backend"):
        return "unknown or corrupt format"
    return message


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
    a = _to_uint8(a)
    channels = a.shape[2]
    if channels == 1:
        a = np.repeat(a, 3, axis=2)
    elif channels == 2:
        a = np.concatenate([np.repeat(a[:, :, :1], 3, axis=2), a[:, :, 1:]], axis=2)
    if a.shape[2] == 4 and bool((a[:, :, 3] == 255).all()):
        a = a[:, :, :3]
    return np.ascontiguousarray(a)


def _to_uint8(a: np.ndarray) -> np.ndarray:
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * 255
    if np.issubdtype(a.dtype, np.integer):
        info = np.iinfo(a.dtype)
        top = float(info.max) if info.min >= 0 else float(info.max - info.min)
        shifted = a.astype(np.float64) - (0 if info.min >= 0 else info.min)
        return np.rint(shifted * (255.0 / top)).astype(np.uint8)
    if np.issubdtype(a.dtype, np.floating):
        return np.rint(np.clip(np.nan_to_num(a.astype(np.float64)), 0.0, 1.0) * 255.0).astype(np.uint8)
    raise ImageReadError(f"unsupported pixel type {a.dtype}")
