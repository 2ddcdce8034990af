"""``quantcli inspect --engine spark``: the local engine's rows, as a Parquet table.

Listing and planning are the compress engine's (:func:`quantcli.spark.plan.list_inputs`
and :func:`~quantcli.spark.plan.settle`: the file list stays on the JVM, only
exceptions reach the driver); each task calls :func:`quantcli.inspection.inspect_job`,
the one per-image function, so a Spark row equals the local row of the same file.
:func:`inspect_frame` is the same as a DataFrame function for your own Spark pipeline.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..errors import InvalidOptionError
from ..inspection import ROW_NAMES, SPARK_SCHEMA, InspectOptions, empty_row, inspect_job
from ..planner import Job, Naming, output_suffix, suffix_format
from . import plan, uris
from .frame import pandas_batch
from .session import OwnedSession

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


@dataclass(frozen=True)
class InspectTask:
    """What an inspect task needs; pickled into the ``mapInPandas`` function."""

    plan: plan.SparkPlan
    options: InspectOptions
    compared: bool  # --against: each job's target is the output to compare with


def inspect(
    inputs: Sequence[str],
    options: InspectOptions,
    table: str,
    *,
    against: str | None = None,
    ext: str | None = None,
    recursive: bool = False,
    force: bool = False,
    spark: SparkSession | None = None,
    master: str | None = None,
    conf: Iterable[str] = (),
) -> tuple[int, list[str]]:
    """Inspect on Spark and write the rows to the Parquet table ``table``.

    Parameters
    ----------
    inputs
        Folders, files, Hadoop globs or URIs, as ``compress --engine spark`` takes them.
    against, ext
        The compressed outputs to compare with: a folder (URI) laid out by compress's
        naming with ``--ext`` (default ``.png``); or ``ext`` alone, beside the inputs.
    table
        Where the table goes (a folder or URI); an existing table is replaced only with
        ``force``.

    Returns
    -------
    (rows written, error messages of the rows that failed)
    """
    from .driver import check_table, job_failures

    if ext is not None and "{" in ext:
        raise InvalidOptionError(f"--ext {ext}: write K out (as the outputs are named), e.g. -q64.png")
    with OwnedSession(spark, master, conf) as spark:
        compared = against is not None or ext is not None
        if compared:
            naming = Naming(suffix=output_suffix(ext, "", against is not None, suffix_format(ext)), out_dir=against)
            if against is not None:
                out = uris.restore_authority(against)
                naming = replace(naming, out_dir=out, out_target=uris.qualify(spark, out))
                if not uris.exists(spark, naming.out_target):
                    raise InvalidOptionError(f"--against {against}: no such folder")
        else:
            # Output names mean nothing here; only "named twice" (SKIP) is kept below.
            naming = Naming(suffix=".png", out_dir="/", out_target="/")
        target = uris.qualify(spark, uris.restore_authority(table))
        check_table(spark, target, force)
        listing = plan.list_inputs(spark, list(inputs), [], naming, recursive=recursive)
        with job_failures():
            plan.settle(spark, listing)
            if not compared:
                skips = {k: v for k, v in listing.plan.exceptions.items() if v == plan.SKIP}
                listing.plan = replace(listing.plan, exceptions=skips)
            return _write_rows(spark, listing, InspectTask(listing.plan, options, compared), target)


def _write_rows(spark: SparkSession, listing: plan.Listing, task: InspectTask, target: str) -> tuple[int, list[str]]:
    """Run the tasks and write their rows (and the rows of inputs refused while listing)
    to the Parquet table ``target``; (rows written, error messages)."""
    frames = []
    if listing.frame is not None:
        frames.append(listing.frame.mapInPandas(inspect_partition(task), SPARK_SCHEMA))
    if listing.early:
        early = [_row(empty_row(job.display, job.error)) for job in listing.early]
        frames.append(spark.createDataFrame(early, SPARK_SCHEMA))
    if not frames:
        return 0, []
    rows = frames[0] if len(frames) == 1 else frames[0].unionByName(frames[1])
    rows.write.mode("overwrite").parquet(target)
    written = spark.read.parquet(target)
    failed = written.filter("error is not null").select("path", "error").orderBy("path")
    errors = [r.error for r in failed.collect()]
    return written.count(), errors


def _row(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[name] for name in ROW_NAMES)


def inspect_partition(task: InspectTask) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """The ``mapInPandas`` function: an inspect row per listed file."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        from .tasks import listed_jobs, reader, task_cpus

        cpus = task_cpus()
        options = task.options if task.options.threads else replace(task.options, threads=cpus)
        for batch in batches:
            rows = []
            for listed in listed_jobs(task.plan, batch, skip_own=task.compared):
                job = listed.job
                if not task.compared:
                    job = replace(job, output=None, target=None)
                read_output = None if job.target is None else reader(None, job.target, job.output or job.target)
                rows.append(inspect_job(job, options, read=listed.read, read_output=read_output))
            yield pandas_batch([_row(r) for r in rows], list(ROW_NAMES))

    return run


def inspect_frame(
    frame: DataFrame,
    options: InspectOptions | None = None,
    *,
    path_col: str = "path",
    content_col: str = "content",
) -> DataFrame:
    """Inspect every image of a DataFrame of ``(path, content)`` rows, lazily.

    Parameters
    ----------
    frame
        Any DataFrame with a string column of names and a binary column of encoded
        images, such as ``spark.read.format("binaryFile").load(...)``.

    Returns
    -------
    DataFrame
        One inspect row per input (:data:`quantcli.inspection.ROW_FIELDS`); a bad image is
        an error row, never a failed task.
    """
    rows = frame.select(frame[path_col].alias("path"), frame[content_col].alias("content"))
    return rows.mapInPandas(_frame_batches(options or InspectOptions()), SPARK_SCHEMA)


def _frame_batches(options: InspectOptions) -> Callable[[Iterator[Any]], Iterator[Any]]:
    def run(batches: Iterator[Any]) -> Iterator[Any]:
        for batch in batches:
            rows = []
            for path, content in zip(batch["path"], batch["content"], strict=True):
                data = b"" if content is None else bytes(content)
                job = Job(path, path, None, None, posixpath.basename(path))
                rows.append(_row(inspect_job(job, options, read=lambda d=data: d)))
            yield pandas_batch(rows, list(ROW_NAMES))

    return run
