"""Reading images into 8-bit RGB(A) arrays, and writing files atomically.

Reading lives in :mod:`quantcli.decode` (its docstring states the conversion rule, the
size limit and the colour-profile handling); its public names are re-exported here.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

from .decode import (
    DEFAULT_MAX_PIXELS,
    PEAK_BYTES_PER_PIXEL,
    display_name,
    image_size,
    read_image,
    scale16,
    to_rgb8,
)
from .errors import OutputExistsError, OutputWriteError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "PEAK_BYTES_PER_PIXEL",
    "display_name",
    "image_size",
    "output_exists",
    "read_image",
    "scale16",
    "to_rgb8",
    "write_atomic",
]

# Extensions picked up when a folder or glob is expanded (explicit files are always tried).
IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pnm", ".tga", ".ico"}
)


def write_atomic(path: str | os.PathLike[str], data: bytes, *, force: bool = False) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder.

    Readers see either no file or the whole file. Without ``force`` an existing file is
    never replaced, even one that appears while we write (the final step is a hard link,
    which fails if the name exists).

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``force`` is false.
    OutputWriteError
        Anything else went wrong; the temporary file is removed.
    """
    target = Path(path)
    if not force and output_exists(target):
        raise OutputExistsError(f"{target}: exists (use --force to overwrite)")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OutputWriteError(f"{target}: cannot write ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_UMASK)
        if force:
            os.replace(tmp, target)
        else:
            _link_no_replace(tmp, target)
    except OutputExistsError:
        raise
    except OSError as exc:
        raise OutputWriteError(f"{target}: cannot write ({exc.strerror or exc})") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def output_exists(path: Path) -> bool:
    """Whether the output ``path`` exists; a name the OS refuses (too long, ...) is an
    OutputWriteError rather than a stray OSError that would stop the batch."""
    try:
        return path.exists()
    except OSError as exc:
        raise OutputWriteError(f"{path}: cannot write ({exc.strerror or exc})") from None


def _link_no_replace(tmp: str, target: Path) -> None:
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise OutputExistsError(f"{target}: exists (use --force to overwrite)") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
            raise
        # File systems without hard links: a check, then a rename.
        if target.exists():
            raise OutputExistsError(f"{target}: exists (use --force to overwrite)") from None
        os.replace(tmp, target)


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once at import: os.umask is process-wide, so reading it later would race threads.
_UMASK = _read_umask()
