"""Where uploads and results are kept: a local folder or any fsspec URI (HDFS, S3).

Every stored name is made by the server: ``u<user id>/<image id>/<role>``, with random
image ids. An uploaded file's name is only a label in the database; no route takes a path
from the client. Writes go through the same atomic targets as the CLI's outputs
(:mod:`quantcli.targets`). Local folders the server makes are private to its user (0700,
whatever the umask).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil

from ..errors import OutputExistsError, OutputWriteError, QuantcliError
from ..targets import FsspecTarget, LocalTarget, Target, fs_and_path

SOURCE, OUTPUT, PREVIEW = "source", "output.png", "preview.png"

#: What a client is told when the server's disk (or quota) is full, whatever was written.
OUT_OF_STORAGE = "the server is out of storage; try again later"
#: ... and when a write failed otherwise (an I/O error, a database that is down or locked).
CANNOT_STORE = "the server cannot store anything just now; try again later"

_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
# The words of full disks in messages that carry no errno: SQLite's SQLITE_FULL,
# PostgreSQL's DiskFull, and strerror(ENOSPC or EDQUOT) in a flattened OSError.
_FULL_WORDS = ("database or disk is full", "could not extend file", "no space left", "disk quota exceeded")

log = logging.getLogger("quantcli.serve")


class StorageError(QuantcliError):
    """A write of the server (a stored file, or the database) failed: the message is fit
    for any client (no path, no user id); the details are logged. Answered with 503."""

    @property
    def out_of_storage(self) -> bool:
        return str(self) == OUT_OF_STORAGE


def storage_error(exc: BaseException) -> StorageError:
    """The StorageError a failed write stands for: :data:`OUT_OF_STORAGE` when a disk or
    quota is full (by errno anywhere in the exception's chain, or by the database's
    words), :data:`CANNOT_STORE` otherwise."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _FULL_ERRNOS:
            return StorageError(OUT_OF_STORAGE)
        if any(words in str(current).lower() for words in _FULL_WORDS):
            return StorageError(OUT_OF_STORAGE)
        todo += [current.__cause__, current.__context__, getattr(current, "orig", None)]
    return StorageError(CANNOT_STORE)


def is_storage_failure(message: str) -> bool:
    """Whether a pipeline error line is a failed output write (``PATH: cannot write (...)``,
    :mod:`quantcli.targets`' words): such a line names a server path."""
    return ": cannot write (" in message


class StoreTarget:
    """The store's target as the pipeline writes outputs through it: a failed write
    raises StorageError (so the result row's error names no path) and is kept in
    ``failure``. One per call: ``failure`` belongs to one image."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.failure: StorageError | None = None

    def exists(self, path: str) -> bool:
        return self.target.exists(path)

    def read(self, path: str) -> bytes:
        return self.target.read(path)

    def write(self, path: str, data: bytes, *, force: bool) -> None:
        try:
            self.target.write(path, data, force=force)
        except OutputExistsError:
            raise
        except (OutputWriteError, OSError) as exc:
            log.error("storing a file: %s", exc)  # the error names the path
            self.failure = storage_error(exc)
            raise self.failure from None


def private_folder(path: str) -> None:
    """Make a folder and its missing parents readable by this user only (0700, whatever the
    umask); folders that exist are left as they are."""
    path = os.path.abspath(path)
    if os.path.isdir(path):
        return
    parent = os.path.dirname(path)
    if parent != path:
        private_folder(parent)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        return
    os.chmod(path, 0o700)


class Store:
    """Stored files under one root (a local folder or a URI such as ``hdfs://nn/quantcli``)."""

    def __init__(self, root: str) -> None:
        self.remote = "://" in root and not root.startswith("file://")
        self.root = root.rstrip("/") if self.remote else os.path.abspath(root)
        self.target: Target = FsspecTarget(tag="serve") if self.remote else LocalTarget()
        if not self.remote:
            private_folder(self.root)

    @staticmethod
    def folder(user_id: int, image_id: str) -> str:
        """The key of an image's folder."""
        return f"u{int(user_id)}/{image_id}"

    @staticmethod
    def key(user_id: int, image_id: str, role: str) -> str:
        """The key of one of an image's files (``SOURCE``, ``OUTPUT``, ``PREVIEW``). A
        source's name carries the image id, so that the sources of a job have distinct
        names (a Spark job mirrors them by name)."""
        name = f"{SOURCE}-{image_id}" if role == SOURCE else role
        return f"{Store.folder(user_id, image_id)}/{name}"

    def location(self, key: str) -> str:
        """The path or URI of a key."""
        if self.remote:
            return f"{self.root}/{key}"
        return os.path.join(self.root, *key.split("/"))

    def key_of(self, location: str) -> str:
        """The key of a path or URI below the root (the inverse of :meth:`location`)."""
        prefix = self.root + ("/" if self.remote else os.sep)
        if not location.startswith(prefix):
            raise ValueError(f"{location} is not in the store")
        return location[len(prefix) :].replace(os.sep, "/")

    def write(self, key: str, data: bytes, *, force: bool = False) -> None:
        """Store bytes atomically: all of them or nothing (OutputExistsError, or
        StorageError with a message fit for the client)."""
        location = self.location(key)
        if not self.remote:
            with contextlib.suppress(OSError):  # the write below says what is wrong
                private_folder(os.path.dirname(location))
        StoreTarget(self.target).write(location, data, force=force)

    def pipeline_target(self) -> StoreTarget:
        """A target for one image's output (see :class:`StoreTarget`)."""
        return StoreTarget(self.target)

    def read(self, key: str) -> bytes:
        """The bytes at a key (OSError when missing)."""
        return self.target.read(self.location(key))

    def exists(self, key: str) -> bool:
        """Whether a key holds a file."""
        return self.target.exists(self.location(key))

    def delete(self, key: str) -> None:
        """Delete one file; nothing when it is missing."""
        location = self.location(key)
        if not self.remote:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(location)
            return
        fs, path = fs_and_path(location)
        with contextlib.suppress(FileNotFoundError):
            fs.rm_file(path)

    def delete_folder(self, folder: str) -> None:
        """Delete everything below a folder key; nothing when it is missing."""
        location = self.location(folder)
        if not self.remote:
            shutil.rmtree(location, ignore_errors=True)
            return
        fs, path = fs_and_path(location)
        with contextlib.suppress(FileNotFoundError):
            fs.rm(path, recursive=True)

    def __repr__(self) -> str:
        return f"Store({self.root!r})"
