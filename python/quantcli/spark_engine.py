"""The Spark engine: ``quantcli compress --engine spark``, for folders that outgrow one machine.

The same command runs on a laptop (``--master local[*]``) and on a cluster
(``spark-submit``, ``--master spark://...|yarn|k8s://...``); inputs and ``--out-dir``
may be any Hadoop URI Spark reads (``file://``, ``hdfs://``, ``s3a://``).

How the work is split:

- the driver lists the inputs with Spark's ``binaryFile`` source (``pathGlobFilter``
  for image extensions, ``recursiveFileLookup`` for ``--recursive``) and decides every
  output name, with the local engine's rules;
- Spark packs the files into partitions by bytes (``spark.sql.files.maxPartitionBytes``,
  ``openCostInBytes``); Arrow batches hold a few images each
  (``spark.sql.execution.arrow.maxRecordsPerBatch``);
- ``mapInPandas`` decodes each image and calls :func:`quantcli.api.compress_bytes`,
  the very function behind the local engine, so the bytes are the same;
- executors write each PNG to a temporary name beside its final name, then rename it,
  through fsspec; or, with ``--out-format parquet``, Spark writes one table;
- the driver collects one small result row per file for the CLI's report.

With ``--palette shared``, pass 1 counts colours per partition (C++ histograms, merged
within a partition and then across partitions with ``treeAggregate``), the driver fits
one palette, broadcasts it, and pass 2 remaps and encodes every image with it.

PySpark is imported only inside the functions here, so importing this module is cheap;
Spark's Python workers import it (and the C++ core) once per worker process, not per row.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import pickle
import posixpath
import sys
import time
import uuid
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import numpy as np

from .api import CompressResult, compress_bytes
from .choosek import ChooseKError, ChooseKOptions, ChooseKResult, choose_k_histogram
from .choosek import choose_k as choose_k_pixels
from .errors import InvalidOptionError, OutputExistsError, OutputWriteError, QuantcliError
from .images import IMAGE_EXTENSIONS, _link_no_replace
from .options import QuantizeOptions
from .palette import SHARED, ColorHistogram, HistogramMerger, fit_shared_palette

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

INSTALL_HINT = "--engine spark needs PySpark: pip install 'quantcli[spark]'"

# Set only where the user (--conf, spark-defaults.conf, spark-submit) has not.
DEFAULT_CONF: dict[str, str] = {
    # A batch of multi-megabyte images must stay small in the Python worker.
    "spark.sql.execution.arrow.maxRecordsPerBatch": "8",
    "spark.sql.execution.arrow.maxBytesPerBatch": str(64 * 1024 * 1024),
    # Partitions by bytes: 32 MB of compressed images is seconds of work per task. Each
    # file counts as at least 256 kB: a Python task costs ~0.15 s to start, so thousands
    # of thumbnails go a few hundred to a task, not a few dozen (Spark's 4 MB default).
    "spark.sql.files.maxPartitionBytes": str(32 * 1024 * 1024),
    "spark.sql.files.openCostInBytes": str(256 * 1024),
}

_RESULT_SCHEMA = (
    "source string, path string, output string, name string, k int, colors int, bytes_in long, "
    "bytes_out long, psnr double, seconds double, status string, error string"
)
_PARQUET_SCHEMA = _RESULT_SCHEMA + ", png binary"
_HISTOGRAM_SCHEMA = "colors binary, counts binary, images long, channels int, errors binary"
_CHOOSE_K_SCHEMA = "source string, outcome binary"  # a pickled ChooseKResult or ChooseKError

# Only tests set this: the first attempt of the task for partition 0 writes one output,
# leaves a temporary file behind as a killed writer would, and fails.
FAULT_ENV = "QUANTCLI_TEST_FAIL_FIRST_ATTEMPT"


# ---------------------------------------------------------------------------------------
# The plan: which files, which outputs. Pure functions of strings, run on the driver and
# again on executors, so a million-file plan never has to be shipped.


@dataclass(frozen=True)
class InputGroup:
    """One command-line input as Spark reads it.

    ``kind`` is "dir" (a folder), "glob" (a Hadoop glob) or "files" (explicit files,
    all in one group). ``root`` is the qualified URI that relative paths start below,
    ``display`` the user's spelling of it; for "files", ``displays`` maps each file's URI
    to the spelling the user gave.
    """

    kind: str
    load: tuple[str, ...]
    root: str = ""
    display: str = ""
    recursive: bool = False
    displays: dict[str, str] = field(default_factory=dict)
    relatives: dict[str, str] = field(default_factory=dict)  # --files-from: tree kept

    def relative(self, uri: str) -> PurePosixPath:
        """The path below the group's root (just the name for explicit files)."""
        if self.kind != "files" and uri.startswith(self.root.rstrip("/") + "/"):
            return PurePosixPath(uri[len(self.root.rstrip("/")) + 1 :])
        if uri in self.relatives:
            return PurePosixPath(self.relatives[uri])
        return PurePosixPath(posixpath.basename(uri))

    def display_of(self, uri: str) -> str:
        """How results name this input: as the user spelled the folder, glob or file."""
        if self.kind == "files":
            return self.displays.get(uri, uri)
        return _join(self.display, str(self.relative(uri)))


@dataclass(frozen=True)
class SparkPlan:
    """Everything executors need besides the pixels; small, pickled into the UDF."""

    groups: tuple[InputGroup, ...]
    options: QuantizeOptions
    ext: str
    out_dir: str | None = None  # qualified URI
    out_display: str | None = None
    force: bool = False
    skip_if_larger: bool = False
    out_format: str = "png"
    token: str = ""
    skip: frozenset[tuple[int, str]] = frozenset()  # (group, uri) listed twice
    conflicts: dict[str, str] = field(default_factory=dict)  # uri -> error
    fault_partition: int | None = None
    pick_k: Any = None  # -k auto: chooses K from each image's pixels

    def output_of(self, group: int, uri: str) -> tuple[str, str, str]:
        """(output as the results name it, output URI, name below --out-dir)."""
        g = self.groups[group]
        rel = g.relative(uri)
        name = str(rel.parent / (rel.stem + self.ext)) if str(rel.parent) != "." else rel.stem + self.ext
        if self.out_dir is not None and self.out_display is not None:
            return _join(self.out_display, name), _join(self.out_dir, name), name
        display = g.display_of(uri)
        leaf = PurePosixPath(rel.name).stem + self.ext
        return _join(_parent(display), leaf), _join(_parent(uri), leaf), leaf


def _join(base: str, rel: str) -> str:
    if "://" in base or base.startswith("file:"):
        return base.rstrip("/") + "/" + rel
    return str(Path(base) / rel)


def _parent(path: str) -> str:
    if "://" in path or path.startswith("file:"):
        return path.rsplit("/", 1)[0]
    return str(Path(path).parent)


def _has_scheme(path: str) -> bool:
    head = path.split("/", 1)[0]
    return ":" in head and len(head.split(":", 1)[0]) > 1  # not a Windows drive letter


def _ext_glob() -> str:
    """A Hadoop glob for image names, case-insensitive: ``*.{[pP][nN][gG],...}``."""
    exts = sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS)
    alts = ",".join("".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in e) for e in exts)
    return "*.{" + alts + "}"


def _canonical(uri: str) -> str:
    """A URI from ``DataFrame.inputFiles`` (percent-encoded) in the form of the ``path``
    column (Hadoop's ``Path.toString``: decoded, ``file:/x`` for local files)."""
    parts = urlsplit(uri)
    authority = f"//{parts.netloc}" if parts.netloc else ""
    return f"{parts.scheme}:{authority}{unquote(parts.path)}"


# ---------------------------------------------------------------------------------------
# Files through fsspec: executors write, the driver cleans up.


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
    """One fsspec filesystem per protocol and host, per worker process (connections to
    HDFS or S3 are the expensive setup)."""
    import fsspec

    fs, _ = fsspec.core.url_to_fs(protocol_and_host)
    return fs


def _fs_and_path(uri: str) -> tuple[Any, str]:
    url = fsspec_url(uri)
    if "://" not in url:
        return _filesystem("file:///"), url
    parts = urlsplit(url)
    fs = _filesystem(f"{parts.scheme}://{parts.netloc}")
    return fs, fs._strip_protocol(url)


def _is_local(fs: Any) -> bool:
    return "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))


def write_output(uri: str, data: bytes, *, force: bool, tmp_tag: str) -> None:
    """Write ``data`` to ``uri``: a temporary name in the same folder, then a rename.

    Readers never see a partial file. Without ``force`` an existing file is not
    replaced (on local disks the last step is a hard link, which fails if the name
    exists). The temporary name carries ``tmp_tag`` so that the driver can find what a
    killed writer left behind.

    Raises
    ------
    OutputExistsError, OutputWriteError
    """
    fs, path = _fs_and_path(uri)
    parent, name = posixpath.split(path)
    tmp = posixpath.join(parent, f".{name}.{tmp_tag}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        fs.makedirs(parent, exist_ok=True)
        fs.pipe_file(tmp, data)
        if _is_local(fs):
            if force:
                os.replace(tmp, path)
            else:
                _link_no_replace(tmp, Path(path))
        else:
            if not force and fs.exists(path):
                raise OutputExistsError(f"{uri}: exists (use --force to overwrite)")
            fs.mv(tmp, path)
    except QuantcliError:
        raise
    except OSError as exc:
        raise OutputWriteError(f"{uri}: cannot write ({exc.strerror or exc})") from None
    finally:
        with contextlib.suppress(OSError):
            if fs.exists(tmp):
                fs.rm_file(tmp)


def remove_leftovers(folders: Iterable[str], tmp_tag: str) -> int:
    """Delete temporary files carrying ``tmp_tag`` in ``folders``; returns how many."""
    removed = 0
    for folder in sorted(set(folders)):
        fs, path = _fs_and_path(folder)
        try:
            names = fs.ls(path, detail=False)
        except (FileNotFoundError, NotADirectoryError):
            continue
        for name in names:
            base = posixpath.basename(name)
            if base.startswith(".") and f".{tmp_tag}" in base and base.endswith(".tmp"):
                with contextlib.suppress(FileNotFoundError):
                    fs.rm_file(name)
                    removed += 1
    return removed


# ---------------------------------------------------------------------------------------
# Executor side: one row in, one result row out.


def _tmp_tag(plan: SparkPlan, partition: int, attempt: int) -> str:
    return f"quantcli-{plan.token}-p{partition}a{attempt}"


def _result_row(
    plan: SparkPlan, uri: str, path: str, output: str | None, name: str, start: float, **values: Any
) -> dict[str, Any]:
    row = dict(
        source=uri,
        path=path,
        output=output,
        name=name,
        k=plan.options.k,
        colors=None,
        bytes_in=None,
        bytes_out=None,
        psnr=None,
        status="written",
        error=None,
    )
    row.update(values)
    row["seconds"] = time.perf_counter() - start
    return row


def compress_row(
    plan: SparkPlan,
    palette: np.ndarray | None,
    group: int,
    uri: str,
    content: bytes,
    *,
    partition: int = 0,
    attempt: int = 0,
) -> tuple[dict[str, Any], bytes | None] | None:
    """Compress one input file on an executor: (result row, PNG bytes for parquet).

    Returns None for a file that another input already named. The work is
    :func:`quantcli.api.compress_bytes`; this function only names, checks and writes.
    """
    start = time.perf_counter()
    if (group, uri) in plan.skip:
        return None
    path = plan.groups[group].display_of(uri)
    output, output_uri, name = plan.output_of(group, uri)
    parquet = plan.out_format == "parquet"
    shown = plan.out_display if parquet else output

    def error(message: str) -> tuple[dict[str, Any], None]:
        return _result_row(plan, uri, path, shown, name, start, status="error", error=message), None

    if uri in plan.conflicts:
        return error(plan.conflicts[uri])
    if not parquet and not plan.force and attempt == 0:
        # As the local engine: fail before the work. A retried attempt may find the
        # file its first attempt wrote, and checks the bytes below instead.
        fs, fpath = _fs_and_path(output_uri)
        if fs.exists(fpath):
            return error(f"{output}: exists (use --force to overwrite)")
    if not content:
        return error(f"{path}: empty file (0 bytes)")
    try:
        png, result = compress_bytes(content, plan.options, name=path, pick_k=plan.pick_k, palette=palette)
    except QuantcliError as exc:
        return error(str(exc))
    except MemoryError:
        return error(f"{path}: out of memory")
    common = dict(k=result.k, colors=result.colors, bytes_in=len(content), psnr=result.psnr)
    if plan.skip_if_larger and len(png) >= len(content):
        row = _result_row(
            plan,
            uri,
            path,
            None,
            name,
            start,
            bytes_out=len(content),
            status="skipped",
            error=f"output ({len(png)} bytes) not smaller than input",
            **common,
        )
        return row, None
    if parquet:
        return _result_row(plan, uri, path, shown, name, start, bytes_out=len(png), **common), png
    try:
        write_output(output_uri, png, force=plan.force, tmp_tag=_tmp_tag(plan, partition, attempt))
    except OutputExistsError:
        if not _same_bytes(output_uri, png):
            return error(f"{output}: exists (use --force to overwrite)")
        # Written by an earlier or a speculative attempt of this task: the same bytes.
    except QuantcliError as exc:
        return error(str(exc))
    return _result_row(plan, uri, path, output, name, start, bytes_out=len(png), **common), None


def _same_bytes(uri: str, data: bytes) -> bool:
    fs, path = _fs_and_path(uri)
    try:
        return bool(fs.size(path) == len(data) and fs.cat_file(path) == data)
    except OSError:
        return False


def _compress_partition(plan: SparkPlan, palette_bc: Any) -> Any:
    """The ``mapInPandas`` function of pass 2 (or of the only pass)."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import pandas as pd
        from pyspark import TaskContext

        ctx = TaskContext.get()
        partition = ctx.partitionId() if ctx else 0
        attempt = ctx.attemptNumber() if ctx else 0
        here = plan
        if plan.options.threads == 0:
            # One image at a time per task: use the cores the task holds (spark.task.cpus).
            cpus = max(1, ctx.cpus() if ctx else 1)
            here = replace(plan, options=replace(plan.options, threads=cpus))
        palette = None if palette_bc is None else palette_bc.value
        fail_here = plan.fault_partition == partition and attempt == 0
        columns = [
            c.split()[0] for c in (_PARQUET_SCHEMA if plan.out_format == "parquet" else _RESULT_SCHEMA).split(", ")
        ]
        for batch in batches:
            rows = []
            for group, uri, content in zip(batch["group"], batch["path"], batch["content"], strict=True):
                done = compress_row(
                    here,
                    palette,
                    int(group),
                    uri,
                    bytes(content) if content is not None else b"",
                    partition=partition,
                    attempt=attempt,
                )
                if done is None:
                    continue
                row, png = done
                if plan.out_format == "parquet":
                    row["png"] = png
                rows.append(row)
                if fail_here and row["status"] == "written":
                    _simulate_killed_writer(plan, int(group), uri, partition, attempt)
            yield pd.DataFrame(rows, columns=columns)

    return run


def _simulate_killed_writer(plan: SparkPlan, group: int, uri: str, partition: int, attempt: int) -> None:
    if plan.out_format == "png":
        fs, path = _fs_and_path(plan.output_of(group, uri)[1])
        parent, name = posixpath.split(path)
        fs.pipe_file(
            posixpath.join(parent, f".{name}.{_tmp_tag(plan, partition, attempt)}.dead.tmp"),
            b"partial",
        )
    raise RuntimeError(f"{FAULT_ENV}: failing attempt {attempt} of partition {partition} on purpose")


def _histogram_partition(plan: SparkPlan) -> Any:
    """The ``mapInPandas`` function of pass 1: one merged histogram per partition.

    The row also carries the most channels of any image (choose-k's MSE divides by it)
    and the pickled ``[(uri, message)]`` of the files that could not be read (compress
    reports those in pass 2; ``choose-k --shared`` reports them from here).
    """

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import pandas as pd

        from .images import read_image
        from .palette import image_histogram

        merger = HistogramMerger()
        channels = 0
        errors: list[tuple[str, str]] = []
        for batch in batches:
            for group, uri, content in zip(batch["group"], batch["path"], batch["content"], strict=True):
                if (int(group), uri) in plan.skip or uri in plan.conflicts:
                    continue
                name = plan.groups[int(group)].display_of(uri)
                try:
                    pixels = read_image(bytes(content) if content is not None else b"", name=name)
                    merger.add(image_histogram(pixels))
                except QuantcliError as exc:
                    errors.append((uri, str(exc)))
                    continue
                except MemoryError:
                    errors.append((uri, f"{name}: out of memory"))
                    continue
                channels = max(channels, pixels.shape[2])
        hist = merger.result()
        if hist is not None or errors:
            colors, counts = hist.to_bytes() if hist is not None else (b"", b"")
            yield pd.DataFrame(
                {
                    "colors": [colors],
                    "counts": [counts],
                    "images": [merger.images],
                    "channels": [channels],
                    "errors": [pickle.dumps(errors)],
                }
            )

    return run


# (colors, counts, images, channels, errors) of pass 1, for a partition or merged.
_Pass1 = tuple[bytes, bytes, int, int, list[tuple[str, str]]]


def _merge_pair(a: _Pass1 | None, b: _Pass1 | None) -> _Pass1 | None:
    if a is None or b is None:
        return a if b is None else b
    if not a[0] or not b[0]:  # a partition where no image could be read
        colors, counts = (a[0], a[1]) if a[0] else (b[0], b[1])
    else:
        hist = ColorHistogram.from_bytes(a[0], a[1])
        colors, counts = hist.merge(ColorHistogram.from_bytes(b[0], b[1])).to_bytes()
    return colors, counts, a[2] + b[2], max(a[3], b[3]), a[4] + b[4]


# ---------------------------------------------------------------------------------------
# Driver side.


def _require_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise InvalidOptionError(INSTALL_HINT) from None
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)


def parse_conf(pairs: Iterable[str]) -> dict[str, str]:
    """``--conf key=value`` strings as a dict."""
    conf: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidOptionError(f"--conf takes key=value, got {pair!r}")
        conf[key.strip()] = value
    return conf


def get_session(
    master: str | None = None, conf: Iterable[str] | dict[str, str] = (), *, progress: bool = False
) -> tuple[SparkSession, bool]:
    """A SparkSession with quantcli's defaults where the user set nothing: (session, created).

    An active session (spark-submit, a notebook, tests) is reused and its settings kept.
    Workers run the driver's Python unless ``PYSPARK_PYTHON`` says otherwise, so that
    they import the same quantcli.
    """
    _require_pyspark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and master is None and not conf:
        return active, False
    settings = dict(conf) if isinstance(conf, dict) else parse_conf(conf)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("quantcli")
    if master:
        builder = builder.master(master)
    defaults = {**DEFAULT_CONF, "spark.ui.showConsoleProgress": str(progress).lower()}
    log_conf = Path(__file__).with_name("spark-log4j2.properties")
    if log_conf.exists():
        defaults["spark.driver.extraJavaOptions"] = f"-Dlog4j2.configurationFile=file:{log_conf}"
    if "PYSPARK_GATEWAY_PORT" in os.environ:
        # Under spark-submit the JVM runs already: its settings (spark-defaults.conf,
        # --conf) win over our defaults.
        from pyspark import SparkConf, SparkContext

        SparkContext._ensure_initialized()
        preset = SparkConf()
        defaults = {k: v for k, v in defaults.items() if not preset.contains(k)}
    for key, value in {**defaults, **settings}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session, active is None


def _hadoop(spark: SparkSession, uri: str) -> tuple[Any, Any]:
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), path


def _qualify(spark: SparkSession, item: str) -> str:
    """A path as Spark will see it: qualified against the default file system."""
    if not _has_scheme(item) and _default_fs_is_local(spark):
        return "file:" + os.path.abspath(item)
    fs, path = _hadoop(spark, item)
    return str(fs.makeQualified(path).toString())


@functools.lru_cache(maxsize=1)
def _default_fs_is_local_cached(default_fs: str) -> bool:
    return default_fs.startswith("file:")


def _default_fs_is_local(spark: SparkSession) -> bool:
    return _default_fs_is_local_cached(str(spark.sparkContext._jsc.hadoopConfiguration().get("fs.defaultFS")))


def _kind(spark: SparkSession, item: str, uri: str) -> str:
    """ "glob", "dir", "file" or "missing", as the local engine decides it."""
    globby = any(ch in item for ch in "*?[{")
    if uri.startswith("file:") and not uri.startswith("file://"):
        local = uri[len("file:") :]
        if globby and not os.path.exists(local):
            return "glob"
        return "dir" if os.path.isdir(local) else "file" if os.path.exists(local) else "missing"
    fs, path = _hadoop(spark, uri)
    if globby:
        statuses = fs.globStatus(path)
        if statuses is None or len(statuses) == 0:
            return "missing"
        if not fs.exists(path):
            return "glob"
    if not fs.exists(path):
        return "missing"
    return "dir" if fs.getFileStatus(path).isDirectory() else "file"


def _glob_root(item: str) -> str:
    parts = item.split("/")
    fixed = []
    for part in parts:
        if any(ch in part for ch in "*?[{"):
            break
        fixed.append(part)
    return "/".join(fixed) or "."


def _reader(spark: SparkSession, recursive: bool, glob_filter: str | None) -> Any:
    reader = spark.read.format("binaryFile").option("recursiveFileLookup", str(recursive).lower())
    if glob_filter:
        reader = reader.option("pathGlobFilter", glob_filter)
    return reader


@dataclass
class _Listing:
    plan: SparkPlan
    frame: DataFrame | None
    order: dict[str, int]  # source uri -> position in input order
    group_of: dict[str, int]  # source uri -> its input group
    sequence: list[str | CompressResult]  # source uris, and rows of missing inputs, in order
    output_folders: set[str]


def build_plan(
    spark: SparkSession,
    inputs: Sequence[str],
    *,
    options: QuantizeOptions,
    ext: str,
    recursive: bool = False,
    out_dir: str | os.PathLike[str] | None = None,
    force: bool = False,
    skip_if_larger: bool = False,
    out_format: str = "png",
    listed: Sequence[str] = (),
) -> _Listing:
    """List the inputs with Spark and decide every output, with the local engine's rules.

    Folders are listed with ``binaryFile`` (``pathGlobFilter`` keeps image names;
    ``recursiveFileLookup`` with ``recursive``); explicit files are always tried. Names
    ending in ``ext`` and files below ``out_dir`` are left out of folders and globs, a
    file named twice is done once, and two inputs with one output name make the second an
    error. Note that Hadoop skips names starting with ``_`` or ``.`` in folders.
    ``listed`` are ``--files-from`` entries: a relative file path below the current
    folder keeps its tree in ``out_dir``, as with the local engine.
    """
    from pyspark.sql import functions as F

    out_uri = None if out_dir is None else _qualify(spark, str(out_dir))
    out_display = None if out_dir is None else str(out_dir)
    groups: list[InputGroup] = []
    files: dict[str, str] = {}
    relatives: dict[str, str] = {}
    slots: list[tuple[str, Any]] = []  # the inputs in command-line order
    for item, from_list in [*((i, False) for i in inputs), *((i, True) for i in listed)]:
        uri = _qualify(spark, item)
        kind = _kind(spark, item, uri)
        if kind == "missing":
            slots.append(("missing", (item, from_list)))
        elif kind == "file":
            path = Path(item)
            files.setdefault(uri, item if _has_scheme(item) else str(path))
            if from_list and not _has_scheme(item) and not path.is_absolute() and ".." not in path.parts:
                relatives.setdefault(uri, path.as_posix())
            slots.append(("file", uri))
            continue
        elif kind == "dir":
            display = str(Path(item)) if not _has_scheme(item) else item.rstrip("/")
            load = uri.rstrip("/") if recursive else uri.rstrip("/") + "/" + _ext_glob()
            groups.append(InputGroup("dir", (load,), uri.rstrip("/"), display, recursive))
            slots.append(("group", len(groups) - 1))
        else:
            root = _glob_root(item)
            display = str(Path(root)) if not _has_scheme(item) else root
            groups.append(InputGroup("glob", (uri,), _qualify(spark, root).rstrip("/"), display))
            slots.append(("group", len(groups) - 1))
    if files:
        groups.append(InputGroup("files", tuple(files), displays=dict(files), relatives=relatives))

    frames = []
    listed_in: dict[int, list[str]] = {}
    ext_filter = _ext_glob()
    for index, group in enumerate(groups):
        if group.kind == "files":
            frame = _reader(spark, True, None).load(list(group.load))
            uris = [u for u in group.load]
        else:
            frame = _reader(spark, True, ext_filter).load(list(group.load))
            uris = sorted(
                (_canonical(u) for u in frame.inputFiles()),
                key=lambda u, g=group: g.relative(u).parts,
            )
            # Leave out our own earlier outputs and the out-dir, as the local engine does.
            if ext != ".png":
                frame = frame.filter(~F.col("path").endswith(ext))
                uris = [u for u in uris if not u.endswith(ext)]
            if out_uri is not None and out_uri.rstrip("/") != group.root and out_uri.startswith(group.root + "/"):
                frame = frame.filter(~F.col("path").startswith(out_uri.rstrip("/") + "/"))
                uris = [u for u in uris if not u.startswith(out_uri.rstrip("/") + "/")]
        frames.append(frame.select(F.lit(index).alias("group"), "path", "content"))
        listed_in[index] = uris
    files_group = len(groups) - 1
    entries: list[tuple[Any, Any]] = []  # (group, uri), or (missing input, from_list)
    for kind, value in slots:
        if kind == "group":
            entries.extend((value, u) for u in listed_in[value])
        elif kind == "file":
            entries.append((files_group, value))
        else:
            entries.append(value)

    plan = SparkPlan(
        groups=tuple(groups),
        options=options,
        ext=ext,
        out_dir=out_uri,
        out_display=out_display,
        force=force,
        skip_if_larger=skip_if_larger,
        out_format=out_format,
        token=uuid.uuid4().hex[:12],
    )
    skip: set[tuple[int, str]] = set()
    conflicts: dict[str, str] = {}
    order: dict[str, int] = {}
    owner: dict[str, str] = {}
    folders: set[str] = set()
    sequence: list[str | CompressResult] = []
    group_of: dict[str, int] = {}
    for entry in entries:
        if isinstance(entry[0], str):
            sequence.append(_missing(entry[0], entry[1], ext, out_display, options))
            continue
        group, uri = entry
        if uri in order:
            skip.add((group, uri))
            continue
        order[uri] = len(order)
        group_of[uri] = group
        sequence.append(uri)
        output, output_uri, _ = plan.output_of(group, uri)
        key = output_uri
        if key in owner:
            shown = plan.groups[group].display_of(uri)
            conflicts[uri] = f"{shown}: output {output} is also the output of {owner[key]}"
        else:
            owner[key] = plan.groups[group].display_of(uri)
            folders.add(_parent(output_uri))
    fault = os.environ.get(FAULT_ENV)
    plan = replace(
        plan,
        skip=frozenset(skip),
        conflicts=conflicts,
        fault_partition=int(fault) if fault and fault.isdigit() else None,
    )

    frame = None
    for f in frames:
        frame = f if frame is None else frame.unionByName(f)
    return _Listing(plan, frame, order, group_of, sequence, folders)


def _missing(item: str, from_list: bool, ext: str, out_display: str | None, options: QuantizeOptions) -> CompressResult:
    """The result row of an input that does not exist, as the local engine reports it."""
    path = Path(item)
    keep = from_list and not path.is_absolute() and ".." not in path.parts
    name = str(path.parent / (path.stem + ext)) if keep else path.stem + ext
    output = str(Path(out_display) / name) if out_display else str(Path(item).parent / name)
    return CompressResult(path=item, output=output, k=options.k, status="error", error=f"{item}: no such file")


def _rows_for_dropped_files(plan: SparkPlan, listing: _Listing, seen: set[str]) -> list[dict[str, Any]]:
    """Rows for listed files that the scan never passed on: Spark drops zero-byte files."""
    rows = []
    for uri in listing.order:
        if uri not in seen:
            done = compress_row(plan, None, listing.group_of[uri], uri, b"")
            if done is not None:
                rows.append(done[0])
    return rows


def collection_histogram(listing: _Listing) -> _Pass1 | None:
    """Pass 1: per-partition histograms, tree-merged (``treeAggregate``) into one.

    Returns (colors, counts, images, channels, errors) as :func:`_merge_pair` keeps them,
    with ``colors`` empty when no image could be read; None when nothing was listed.
    """
    if listing.frame is None:
        return None
    rows = listing.frame.mapInPandas(_histogram_partition(listing.plan), _HISTOGRAM_SCHEMA)
    return rows.rdd.map(lambda r: (bytes(r[0]), bytes(r[1]), int(r[2]), int(r[3]), pickle.loads(r[4]))).treeAggregate(
        None, _merge_pair, _merge_pair, depth=2
    )


def shared_palette(spark: SparkSession, listing: _Listing, options: QuantizeOptions) -> tuple[np.ndarray, int]:
    """Pass 1 and one fit: (palette, images counted)."""
    merged = collection_histogram(listing)
    if merged is None or not merged[0]:
        return fit_shared_palette(None, options), 0
    return fit_shared_palette(ColorHistogram.from_bytes(merged[0], merged[1]), options), merged[2]


# The columns of a result row that make a CompressResult (rows also carry "source").
_RESULT_FIELDS = tuple(f.name for f in dataclasses.fields(CompressResult))


def compress(
    inputs: Sequence[str],
    *,
    options: QuantizeOptions,
    ext: str,
    recursive: bool = False,
    out_dir: str | os.PathLike[str] | None = None,
    force: bool = False,
    skip_if_larger: bool = False,
    palette: str | np.ndarray | None = None,
    out_format: str = "png",
    spark: SparkSession | None = None,
    master: str | None = None,
    conf: Iterable[str] = (),
    progress: bool = False,
    pick_k: Any = None,
    listed: Sequence[str] = (),
) -> tuple[int, Iterator[CompressResult]]:
    """Run ``compress`` on Spark: (number of inputs, their results in input order).

    The inputs are listed at once; the Spark jobs run when the results are iterated,
    so that the caller's clock and progress cover them.

    Parameters
    ----------
    inputs
        Folders, files, Hadoop globs or URIs (``hdfs://``, ``s3a://``, ``file://``).
    palette
        None for a palette per image, ``"shared"`` for one fitted to every input, or an
        (n, 3|4) uint8 palette to remap onto.
    out_format
        ``"png"``: one file per input in ``out_dir`` (or beside it); ``"parquet"``: one
        table at ``out_dir`` with columns path, name, png, and the metrics.
    spark
        A session to use; otherwise one is made from ``master`` and ``conf``, and
        stopped once the results are consumed.
    listed
        ``--files-from`` entries (see :func:`build_plan`).
    pick_k
        ``-k auto``: a picklable ``pick_k(pixels, options)`` run on the executors, as
        :func:`quantcli.api.compress_bytes` takes it.
    """
    if out_format == "parquet" and out_dir is None:
        raise InvalidOptionError("--out-format parquet needs --out-dir (where the table goes)")
    created = False
    if spark is None:
        spark, created = get_session(master, conf, progress=progress)
    try:
        listing = build_plan(
            spark,
            inputs,
            options=options,
            ext=ext,
            recursive=recursive,
            out_dir=out_dir,
            force=force,
            skip_if_larger=skip_if_larger,
            out_format=out_format,
            listed=listed,
        )
    except BaseException:
        if created:
            spark.stop()
        raise
    if pick_k is not None:
        listing.plan = replace(listing.plan, pick_k=pick_k)
    if out_format == "parquet" and not force and listing.plan.out_dir is not None:
        fs, path = _hadoop(spark, listing.plan.out_dir)
        if fs.exists(path):
            if created:
                spark.stop()
            raise InvalidOptionError(f"{out_dir}: exists (use --force to replace the table)")
    total = len(listing.sequence)
    return total, _run(spark, listing, palette, options, stop=created)


def _run(
    spark: SparkSession,
    listing: _Listing,
    palette: str | np.ndarray | None,
    options: QuantizeOptions,
    *,
    stop: bool,
) -> Iterator[CompressResult]:
    plan = listing.plan
    sc = spark.sparkContext
    try:
        if listing.frame is None:
            yield from (entry for entry in listing.sequence if isinstance(entry, CompressResult))
            return
        if sc.getLocalProperty("spark.jobGroup.id") is None:  # keep a caller's group
            sc.setJobGroup(f"quantcli-{plan.token}", "quantcli compress")
        if isinstance(palette, str) and palette == SHARED:
            palette, _ = shared_palette(spark, listing, options)
        palette_bc = None if palette is None else sc.broadcast(np.ascontiguousarray(palette))
        schema = _PARQUET_SCHEMA if plan.out_format == "parquet" else _RESULT_SCHEMA
        rows = listing.frame.mapInPandas(_compress_partition(plan, palette_bc), schema)
        if plan.out_format == "parquet":
            assert plan.out_dir is not None
            rows.write.mode("overwrite" if plan.force else "errorifexists").parquet(plan.out_dir)
            collected = spark.read.parquet(plan.out_dir).drop("png").collect()
            dropped = _rows_for_dropped_files(plan, listing, {r["source"] for r in collected})
            if dropped:
                extra = spark.createDataFrame([{**r, "png": None} for r in dropped], _PARQUET_SCHEMA)
                extra.coalesce(1).write.mode("append").parquet(plan.out_dir)
                collected.extend(dropped)
        else:
            try:
                collected = rows.collect()
            finally:
                remove_leftovers(listing.output_folders, f"quantcli-{plan.token}")
            collected.extend(_rows_for_dropped_files(plan, listing, {r["source"] for r in collected}))
        rows_of = {r["source"]: r for r in collected}
        for entry in listing.sequence:  # input order
            if isinstance(entry, CompressResult):
                yield entry
                continue
            row = rows_of[entry]
            yield CompressResult(**{name: row[name] for name in _RESULT_FIELDS})
    finally:
        if stop:
            spark.stop()


# ---------------------------------------------------------------------------------------
# choose-k: the same listing, one small row per image (or one histogram pass, --shared).


def choose_k_row(
    plan: SparkPlan, group: int, uri: str, content: bytes, choose: ChooseKOptions
) -> dict[str, Any] | None:
    """Choose K for one listed file on an executor: {"source", "outcome" (pickled)}.

    Returns None for a file that another input already named. The work is
    :func:`quantcli.choosek.choose_k`, the function behind the local engine.
    """
    from .images import read_image

    if (group, uri) in plan.skip:
        return None
    start = time.perf_counter()
    name = plan.groups[group].display_of(uri)
    outcome: ChooseKResult | ChooseKError
    try:
        pixels = read_image(content, name=name)
        result = choose_k_pixels(pixels, choose, quantize=plan.options, name=name)
        outcome = replace(result, seconds=time.perf_counter() - start)
    except QuantcliError as exc:
        outcome = ChooseKError(name, str(exc), time.perf_counter() - start)
    except MemoryError:
        outcome = ChooseKError(name, f"{name}: out of memory", time.perf_counter() - start)
    return {"source": uri, "outcome": pickle.dumps(outcome)}


def _choose_k_partition(plan: SparkPlan, choose: ChooseKOptions) -> Any:
    """The ``mapInPandas`` function of ``choose-k``: one row per image."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import pandas as pd
        from pyspark import TaskContext

        here = plan
        if plan.options.threads == 0:  # as in compress: the cores the task holds
            ctx = TaskContext.get()
            cpus = max(1, ctx.cpus() if ctx else 1)
            here = replace(plan, options=replace(plan.options, threads=cpus))
        for batch in batches:
            rows = []
            for group, uri, content in zip(batch["group"], batch["path"], batch["content"], strict=True):
                row = choose_k_row(here, int(group), uri, bytes(content) if content is not None else b"", choose)
                if row is not None:
                    rows.append(row)
            yield pd.DataFrame(rows, columns=["source", "outcome"])

    return run


def choose_k(
    inputs: Sequence[str],
    *,
    choose: ChooseKOptions,
    quantize: QuantizeOptions,
    shared: bool = False,
    recursive: bool = False,
    spark: SparkSession | None = None,
    master: str | None = None,
    conf: Iterable[str] = (),
    progress: bool = False,
) -> Iterator[ChooseKResult | ChooseKError]:
    """Run ``choose-k`` on Spark: the local engine's outcomes, in its order.

    Inputs are listed as :func:`compress` lists them. Per image, a ``mapInPandas``
    calls :func:`quantcli.choosek.choose_k` on each decoded image. With ``shared``,
    pass 1 of the shared palette builds the collection's histogram and the driver runs
    :func:`quantcli.choosek.choose_k_histogram` on it; unreadable files come first, as
    from :func:`quantcli.choosek.choose_k_shared`.
    """
    created = False
    if spark is None:
        spark, created = get_session(master, conf, progress=progress)
    try:
        listing = build_plan(spark, inputs, options=quantize, ext=".png", recursive=recursive)
    except BaseException:
        if created:
            spark.stop()
        raise
    # Output names mean nothing here: two inputs with one output name are both scored.
    listing.plan = replace(listing.plan, conflicts={})
    return _run_choose_k(spark, listing, choose, shared, stop=created)


def _run_choose_k(
    spark: SparkSession, listing: _Listing, choose: ChooseKOptions, shared: bool, *, stop: bool
) -> Iterator[ChooseKResult | ChooseKError]:
    plan = listing.plan
    try:
        missing = [ChooseKError(e.path, e.error or "") for e in listing.sequence if isinstance(e, CompressResult)]
        if listing.frame is None:
            yield from missing
            return
        sc = spark.sparkContext
        if sc.getLocalProperty("spark.jobGroup.id") is None:
            sc.setJobGroup(f"quantcli-{plan.token}", "quantcli choose-k")
        if shared:
            start = time.perf_counter()
            merged = collection_histogram(listing)
            failed = {} if merged is None else dict(merged[4])
            for entry in listing.sequence:  # unreadable files first, in input order
                if isinstance(entry, CompressResult):
                    yield ChooseKError(entry.path, entry.error or "")
                elif entry in failed:
                    name = plan.groups[listing.group_of[entry]].display_of(entry)
                    yield ChooseKError(name, failed[entry])
            if merged is None or not merged[0]:
                return
            hist = ColorHistogram.from_bytes(merged[0], merged[1])
            images = merged[2]
            name = f"shared ({images} image{'s' if images != 1 else ''})"
            result = choose_k_histogram(
                hist.colors,
                hist.counts,
                choose,
                quantize=plan.options,
                channels=merged[3],
                name=name,
            )
            yield replace(result, images=images, seconds=time.perf_counter() - start)
            return
        rows = listing.frame.mapInPandas(_choose_k_partition(plan, choose), _CHOOSE_K_SCHEMA)
        outcomes = {r["source"]: pickle.loads(r["outcome"]) for r in rows.collect()}
        for entry in listing.sequence:  # input order
            if isinstance(entry, CompressResult):
                yield ChooseKError(entry.path, entry.error or "")
            elif entry in outcomes:
                yield outcomes[entry]
            else:  # Spark's scan drops zero-byte files
                row = choose_k_row(plan, listing.group_of[entry], entry, b"", choose)
                if row is not None:
                    yield pickle.loads(row["outcome"])
    finally:
        if stop:
            spark.stop()
