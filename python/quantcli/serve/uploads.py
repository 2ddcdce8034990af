"""Uploads: a name fit to show, the header checked before anything is stored, and the
media type browsers can show."""

from __future__ import annotations

from typing import Any

#: Media types browsers show, by magic number; other formats get a PNG preview.
_WEB_FORMATS = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
)


def web_media_type(head: bytes) -> str | None:
    """The media type of an image a browser can show, from its first bytes; else None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    for magic, media_type in _WEB_FORMATS:
        if head.startswith(magic):
            return media_type
    return None


class UploadRefused(Exception):
    """An upload that is not stored: ``status`` 422 (not an image) or 413 (too many pixels)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def label_of(name: str | None) -> str:
    """An uploaded file's name as a label: its last path part, printable, at most 200
    characters; ``upload`` when empty."""
    from ..images import display_name

    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    return display_name(base)[:200] or "upload"


def check_upload(data: bytes, label: str, max_pixels: int) -> tuple[int, int]:
    """(width, height) from the image's header, before any pixel is decoded.

    Raises
    ------
    UploadRefused
        422 with the reason when the bytes are not an image quantcli reads, 413 when it
        has more than ``max_pixels`` pixels.
    """
    from ..errors import ImageReadError
    from ..images import image_size

    try:
        width, height = image_size(data, label)
    except ImageReadError as exc:
        message = str(exc)
        raise UploadRefused(422, message.removeprefix(label + ": ")) from None
    if width * height > max_pixels:
        raise UploadRefused(
            413,
            f"image too large: {width}x{height} ({megapixels(width * height)}) is over the limit of "
            f"{megapixels(max_pixels)} per image",
        )
    return width, height


def megapixels(pixels: int) -> str:
    """A pixel count for people: ``24 megapixels``, ``16.7 megapixels``, ``1,000 pixels``
    below a tenth of a megapixel."""
    if pixels < 100_000:
        return f"{pixels:,} pixels"
    return f"{pixels / 1e6:.1f}".removesuffix(".0") + " megapixels"


def storage_used(session: Any, user_id: int) -> int:
    """Bytes of the user's stored uploads and results (what the quota counts)."""
    from sqlalchemy import func, select

    from .db import Image

    total = func.sum(Image.bytes_in + func.coalesce(Image.bytes_out, 0))
    return int(session.scalar(select(func.coalesce(total, 0)).where(Image.user_id == user_id)))


def check_quota(session: Any, user_id: int, incoming: int, quota: int | None) -> None:
    """UploadRefused (413) when ``incoming`` more bytes would take the user's stored
    uploads and results over ``quota`` bytes (None: no limit)."""
    from .config import format_size

    if quota is None:
        return
    used = storage_used(session, user_id)
    if used + incoming > quota:
        raise UploadRefused(
            413,
            f"your storage is full: {format_size(used)} of your {format_size(quota)} are used and this file "
            f"takes {format_size(incoming)}; delete some of your images to make room",
        )
