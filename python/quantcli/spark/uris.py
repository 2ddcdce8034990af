"""Paths as Spark and Hadoop see them: qualified URIs, globs, and the driver's view of a
file system through the JVM (no Spark job)."""

from __future__ import annotations

import functools
import os
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from ..planner import IMAGE_EXTENSIONS

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

HADOOP_GLOB_CHARS = frozenset("*?[{")


def has_scheme(path: str) -> bool:
    """Whether ``path`` is a URI (``hdfs://...``, ``file:/...``), not a local path."""
    head = path.split("/", 1)[0]
    return ":" in head and len(head.split(":", 1)[0]) > 1  # not a Windows drive letter


def restore_authority(path: str) -> str:
    """``hdfs:/host/x`` -> ``hdfs://host/x``: a URI that a path library folded."""
    if re.match(r"^(?!file:)[A-Za-z][A-Za-z0-9+.-]+:/[^/]", path):
        return re.sub(r":/", "://", path, count=1)
    return path


def image_glob() -> str:
    """A Hadoop glob for image names, case-insensitive: ``*.{[pP][nN][gG],...}``."""
    exts = sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS)
    alts = ",".join("".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in e) for e in exts)
    return "*.{" + alts + "}"


def canonical(uri: str) -> str:
    """A percent-encoded URI in the form of binaryFile's ``path`` column (Hadoop's
    ``Path.toString``: decoded, ``file:/x`` for local files)."""
    parts = urlsplit(uri)
    authority = f"//{parts.netloc}" if parts.netloc else ""
    return f"{parts.scheme}:{authority}{unquote(parts.path)}"


def canonical_column(uri: Any) -> Any:
    """:func:`canonical` as a Spark column expression, so that no Python worker runs for
    it: percent-decoded with ``+`` kept (``url_decode`` would read it as a space), and
    ``scheme:///path`` as ``scheme:/path``."""
    from pyspark.sql import functions as F

    decoded = F.url_decode(F.replace(uri, F.lit("+"), F.lit("%2B")))
    return F.regexp_replace(decoded, "^([A-Za-z][A-Za-z0-9+.-]*):///", "$1:/")


def hadoop(spark: SparkSession, uri: str) -> tuple[Any, Any]:
    """(Hadoop FileSystem, Path) for ``uri``, on the driver's JVM."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), path


def qualify(spark: SparkSession, item: str) -> str:
    """A path as Spark will see it: qualified against the default file system."""
    if not has_scheme(item) and default_fs_is_local(spark):
        return "file:" + os.path.abspath(item)
    fs, path = hadoop(spark, item)
    return str(fs.makeQualified(path).toString())


@functools.lru_cache(maxsize=4)
def _is_local_fs(default_fs: str) -> bool:
    return default_fs.startswith("file:")


def default_fs_is_local(spark: SparkSession) -> bool:
    """Whether ``fs.defaultFS`` is the local disk (so a relative path is a local path)."""
    return _is_local_fs(str(spark.sparkContext._jsc.hadoopConfiguration().get("fs.defaultFS")))


def kind(spark: SparkSession, item: str, uri: str) -> str:
    """ "glob", "dir" or "file" (also for a missing path), as the local engine decides it."""
    globby = any(ch in item for ch in HADOOP_GLOB_CHARS)
    if uri.startswith("file:") and not uri.startswith("file://"):
        local = uri[len("file:") :]
        if globby and not os.path.lexists(local):
            return "glob"
        return "dir" if os.path.isdir(local) else "file"
    fs, path = hadoop(spark, uri)
    if globby and not fs.exists(path):
        return "glob"
    return "dir" if fs.exists(path) and fs.getFileStatus(path).isDirectory() else "file"


def glob_root(item: str) -> str:
    """The fixed part of a glob, before its first wildcard segment."""
    fixed = []
    for part in item.split("/"):
        if any(ch in part for ch in HADOOP_GLOB_CHARS):
            break
        fixed.append(part)
    return "/".join(fixed) or "."


def exists(spark: SparkSession, uri: str) -> bool:
    fs, path = hadoop(spark, uri)
    return bool(fs.exists(path))
