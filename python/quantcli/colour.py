"""The conversion rule's pixel half: any decoded array to 8-bit RGB(A), and embedded ICC
profiles to sRGB (see :mod:`quantcli.images` for the whole rule)."""

from __future__ import annotations

import io
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ImageReadError

if TYPE_CHECKING:
    from PIL import Image as PILImage


def to_rgb8(pixels: np.ndarray, label: str = "image") -> np.ndarray:
    """Convert a decoded array to 8-bit RGB or RGBA by the rule documented in :mod:`quantcli.images`.

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
# Colour profiles


def _icc_profile(image: PILImage.Image) -> bytes | None:
    icc = image.info.get("icc_profile")
    return icc if isinstance(icc, bytes) and icc else None


def apply_profile_array(image: PILImage.Image, pixels: np.ndarray) -> np.ndarray:
    """Decoded 8-bit RGBA (RGB decodes as RGBA) or grey pixels, converted to sRGB when the
    image's ICC profile asks for it; RGBA in place."""
    icc = _icc_profile(image)
    if icc is None or pixels.dtype != np.uint8 or (pixels.ndim == 3 and pixels.shape[2] not in (3, 4)):
        return pixels
    mode = "L" if pixels.ndim == 2 else "RGB" if pixels.shape[2] == 3 else "RGBA"
    transform = _to_srgb(icc, mode)
    if transform is None:
        return pixels
    from PIL import Image as image_module

    size = (pixels.shape[1], pixels.shape[0])
    source = image_module.frombuffer(mode, size, pixels, "raw", mode, 0, 1)
    if mode == "RGBA" and not source.readonly:
        transform.apply_in_place(source)
        return pixels
    return np.asarray(transform.apply(source))


def apply_profile_pil(image: PILImage.Image) -> PILImage.Image:
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
    from PIL import Image

    source = Image.frombuffer(mode, (probe.shape[1], 1), probe, "raw", mode, 0, 1)
    moved = np.abs(np.asarray(transform.apply(source)).astype(np.int16) - probe)
    return int(moved.max()) <= 1
