"""Where outputs go: a local folder or any fsspec file system, always written atomically.

A target answers two questions for the per-file pipeline (:mod:`quantcli.pipeline`):
does an output exist, and write these bytes there atomically without replacing an
existing file unless asked. Readers never see a partial file and a failed or killed
writer leaves nothing under the output's own name.

On Linux a local file is written through ``O_TMPFILE`` (an unnamed file in the output's
folder) and given its name with ``linkat``, so even ``kill -9`` mid-write leaves no
file behind (with ``--force`` it is linked to a hidden name and renamed over the old
file at once). Where that is not available (other systems, file systems without
``O_TMPFILE`` or hard links, no ``/proc``) the bytes go to a hidden temporary file
named ``.NAME.quantcli-PID-RANDOM.tmp`` in the same folder, then renamed; a later run
removes such files whose process is gone (:func:`remove_stale_temporaries`).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import posixpath
import re
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from .errors import OutputExistsError, OutputWriteError, QuantcliError

TEMP_MARK = ".quantcli-"
# .NAME.quantcli-PID-HEX.tmp (local) or .NAME.quantcli-TAG.HEX.tmp (remote writers).
_LOCAL_TEMP = re.compile(r"^\..+\.quantcli-(\d+)-[0-9a-f]+\.tmp$")


class Target(Protocol):
    """What the pipeline needs of the place outputs go."""

    def exists(self, path: str) -> bool:
        """Whether ``path`` exists (OutputWriteError when the name itself is unusable)."""
        ...

    def write(self, path: str, data: bytes, *, force: bool) -> None:
        """Write ``data`` to ``path`` atomically; never replace a file unless ``force``.

        Raises OutputExistsError or OutputWriteError.
        """
        ...

    def read(self, path: str) -> bytes:
        """The bytes at ``path`` (OSError when missing)."""
        ...


def _exists_message(path: object) -> str:
    return f"{path}: exists (use --force to overwrite)"


def _write_error(path: object, exc: OSError) -> OutputWriteError:
    return OutputWriteError(f"{path}: cannot write ({exc.strerror or exc})")


class LocalTarget:
    """Outputs on the local file system."""

    def exists(self, path: str | os.PathLike[str]) -> bool:
        try:
            return os.path.lexists(path) or Path(path).exists()
        except OSError as exc:
            raise _write_error(path, exc) from None

    def read(self, path: str | os.PathLike[str]) -> bytes:
        return Path(path).read_bytes()

    def write(self, path: str | os.PathLike[str], data: bytes, *, force: bool = False) -> None:
        write_atomic(path, data, force=force)


def write_atomic(path: str | os.PathLike[str], data: bytes, *, force: bool = False) -> None:
    """Write ``data`` to the local file ``path`` so that readers see all of it or nothing.

    Without ``force`` an existing file is never replaced, even one that appears while we
    write: the final step is a hard link, which fails if the name exists. Missing parent
    folders are created.

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``force`` is false.
    OutputWriteError
        Anything else went wrong; nothing is left behind.
    """
    target = Path(path)
    if not force and LocalTarget().exists(target):
        raise OutputExistsError(_exists_message(target))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if _write_unnamed(target, data, force=force):
            return
        tmp = _named_temporary(target, data)
    except QuantcliError:
        raise
    except OSError as exc:
        raise _write_error(target, exc) from None
    try:
        if force:
            os.replace(tmp, target)
        else:
            _link_no_replace(tmp, target)
    except OSError as exc:
        raise _write_error(target, exc) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def unnamed_writes_work(folder: str | os.PathLike[str]) -> bool:
    """Whether :func:`write_atomic` writes into ``folder`` through an unnamed file (Linux,
    a file system with ``O_TMPFILE``, ``/proc`` mounted), so that a killed writer leaves
    nothing; otherwise it writes a named temporary file that a later run sweeps away."""
    probe = Path(folder) / f".probe{TEMP_MARK}{os.getpid()}-{os.urandom(4).hex()}.tmp"
    try:
        written = _write_unnamed(probe, b"", force=False)
    except OSError:
        return False
    if written:
        with contextlib.suppress(OSError):
            os.unlink(probe)
    return written


def _write_unnamed(target: Path, data: bytes, *, force: bool) -> bool:
    """Write through O_TMPFILE and link it to ``target`` (with ``force``, to a named
    temporary renamed over it: the name exists only for that instant); False when this
    system or file system has no unnamed files."""
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag:
        return False
    try:
        fd = os.open(target.parent, flag | os.O_WRONLY | os.O_CLOEXEC, 0o666 & ~_UMASK)
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
            return False  # the file system (or kernel) has no unnamed files
        raise
    try:
        with open(fd, "wb", closefd=False) as f:
            f.write(data)
        name = _temporary_name(target) if force else target.name
        if not _link_fd(fd, target.parent, name):
            return False
    finally:
        os.close(fd)
    if force:
        try:
            os.replace(target.parent / name, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(target.parent / name)
            raise
    return True


def _link_fd(fd: int, folder: Path, name: str) -> bool:
    """Give the unnamed file ``fd`` the ``name`` in ``folder``; False where it cannot be done.

    linkat(AT_FDCWD, "/proc/self/fd/N", dirfd, name, AT_SYMLINK_FOLLOW) needs no privilege.
    Python calls linkat only when given a directory descriptor or follow_symlinks=False;
    a plain link() would link the /proc symlink itself and fail with EXDEV.
    """
    folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.link(f"/proc/self/fd/{fd}", name, dst_dir_fd=folder_fd, follow_symlinks=True)
    except FileExistsError:
        raise OutputExistsError(_exists_message(folder / name)) from None
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EMLINK):
            return False  # no /proc, or no hard links: fall back to a named file
        raise
    finally:
        os.close(folder_fd)
    return True


def _temporary_name(target: Path) -> str:
    """``.NAME.quantcli-PID-RANDOM.tmp``: hidden, and known to remove_stale_temporaries."""
    return f".{target.name}{TEMP_MARK}{os.getpid()}-{os.urandom(4).hex()}.tmp"


def _named_temporary(target: Path, data: bytes) -> str:
    tmp = target.parent / _temporary_name(target)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666 & ~_UMASK)
    try:
        with open(fd, "wb", closefd=False) as f:
            f.write(data)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    os.close(fd)
    return str(tmp)


def _link_no_replace(tmp: str, target: Path) -> None:
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise OutputExistsError(_exists_message(target)) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
            raise
        # File systems without hard links: a check, then a rename.
        if os.path.lexists(target):
            raise OutputExistsError(_exists_message(target)) from None
        os.replace(tmp, target)


def remove_stale_temporaries(folder: str | os.PathLike[str]) -> int:
    """Delete the named temporary files that a killed quantcli left in ``folder``.

    Only files named as :func:`write_atomic` names them, whose writing process no longer
    runs, are removed. Returns how many.
    """
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        match = _LOCAL_TEMP.match(entry.name)
        if match is None or _process_alive(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
            removed += 1
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class FsspecTarget:
    """Outputs on any fsspec file system (``hdfs://``, ``s3://``, ``memory://``, ...).

    Bytes go to a hidden temporary name beside the output, carrying ``tag``, then are
    moved into place; :meth:`remove_leftovers` deletes what a killed writer with that tag
    left. Local paths and ``file:`` URIs go through :class:`LocalTarget`.
    """

    def __init__(self, tag: str = "w") -> None:
        self.tag = tag

    def exists(self, uri: str) -> bool:
        fs, path = fs_and_path(uri)
        if is_local(fs):
            return LocalTarget().exists(path)
        try:
            return bool(fs.exists(path))
        except OSError as exc:
            raise _write_error(uri, exc) from None

    def read(self, uri: str) -> bytes:
        fs, path = fs_and_path(uri)
        return bytes(fs.cat_file(path))

    def write(self, uri: str, data: bytes, *, force: bool = False) -> None:
        fs, path = fs_and_path(uri)
        if is_local(fs):
            write_atomic(path, data, force=force)
            return
        parent, name = posixpath.split(path)
        tmp = posixpath.join(parent, f".{name}{TEMP_MARK}{self.tag}.{os.urandom(4).hex()}.tmp")
        try:
            fs.makedirs(parent, exist_ok=True)
            fs.pipe_file(tmp, data)
            if not force and fs.exists(path):
                raise OutputExistsError(_exists_message(uri))
            fs.mv(tmp, path)
        except QuantcliError:
            raise
        except OSError as exc:
            raise _write_error(uri, exc) from None
        finally:
            with contextlib.suppress(OSError):
                if fs.exists(tmp):
                    fs.rm_file(tmp)

    def remove_leftovers(self, folders: list[str] | set[str]) -> int:
        """Delete temporary files carrying this target's tag in ``folders``; returns how many."""
        removed = 0
        for folder in sorted(set(folders)):
            fs, path = fs_and_path(folder)
            if is_local(fs):
                removed += remove_stale_temporaries(path)
                continue
            try:
                names = fs.ls(path, detail=False)
            except (FileNotFoundError, NotADirectoryError):
                continue
            for name in names:
                base = posixpath.basename(name)
                if base.startswith(".") and f"{TEMP_MARK}{self.tag}." in base and base.endswith(".tmp"):
                    with contextlib.suppress(FileNotFoundError):
                        fs.rm_file(name)
                        removed += 1
        return removed


def fsspec_url(uri: str) -> str:
    """The fsspec spelling of a Hadoop URI (``file:/x`` -> ``/x``, ``s3a://`` -> ``s3://``)."""
    if uri.startswith("file:"):
        rest = uri[len("file:") :]
        return rest[2:] if rest.startswith("///") else rest
    scheme, sep, rest = uri.partition("://")
    if sep and scheme in ("s3a", "s3n"):
        return "s3://" + rest
    return uri


@functools.lru_cache(maxsize=16)
def _filesystem(protocol_and_host: str) -> Any:
    """One fsspec file system per protocol and host, per process (connections to HDFS or
    S3 are the expensive setup)."""
    import fsspec

    fs, _ = fsspec.core.url_to_fs(protocol_and_host)
    return fs


def fs_and_path(uri: str) -> tuple[Any, str]:
    """(fsspec file system, path on it) for a URI or a local path."""
    url = fsspec_url(uri)
    if "://" not in url:
        return _filesystem("file:///"), url
    parts = urlsplit(url)
    fs = _filesystem(f"{parts.scheme}://{parts.netloc}")
    return fs, fs._strip_protocol(url)


def is_local(fs: Any) -> bool:
    """Whether an fsspec file system is the local disk."""
    return "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once at import: os.umask is process-wide, so reading it later would race threads.
_UMASK = _read_umask()
