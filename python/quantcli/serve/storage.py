"""Where uploads and results are kept: a local folder or any fsspec URI (HDFS, S3).

Every stored name is made by the server: ``u<user id>/<image id>/<role>``, with random
image ids. An uploaded file's name is only a label in the database; no route takes a path
from the client. Writes go through the same atomic targets as the CLI's outputs
(:mod:`quantcli.targets`). Local folders the server makes are private to its user (0700,
whatever the umask).
"""

from __future__ import annotations

import contextlib
import os
import shutil

from ..targets import FsspecTarget, LocalTarget, Target, fs_and_path

SOURCE, OUTPUT, PREVIEW = "source", "output.png", "preview.png"


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
        """Store bytes atomically (OutputExistsError or OutputWriteError on failure)."""
        location = self.location(key)
        if not self.remote:
            with contextlib.suppress(OSError):  # the write below says what is wrong
                private_folder(os.path.dirname(location))
        self.target.write(location, data, force=force)

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
