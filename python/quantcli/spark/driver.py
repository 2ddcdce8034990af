"""The driver of ``--engine spark``: list and plan, run the job, stream its results.

The driver never holds the file list or the result rows: listing stays in the JVM and in
DataFrames (:mod:`quantcli.spark.plan`), and results are read from the ledger
(:mod:`quantcli.spark.ledger`) as partitions finish, printed, and dropped.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..errors import InvalidOptionError, JobFailedError
from ..pipeline import CompressResult, Settings, run_job
from ..planner import Naming
from . import ledger, plan, tasks, uris
from .session import OwnedSession

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from ..request import CompressRequest

POLL_SECONDS = 0.25


def compress(
    request: CompressRequest,
    inputs: Sequence[str],
    naming: Naming,
    *,
    listed: Sequence[str] = (),
    recursive: bool = False,
    out_format: str = "png",
    spark: SparkSession | None = None,
    master: str | None = None,
    conf: Iterable[str] = (),
    stop: Any = None,
    hook: Any = None,
) -> tuple[int, Iterator[CompressResult]]:
    """Run ``compress`` on Spark: (number of inputs, their results as partitions finish),
    as :func:`quantcli.local_engine.compress` runs it on this machine.

    Parameters
    ----------
    request
        What to do; with ``palette="shared"`` pass 1 fits one palette to every input first.
    inputs, listed
        Folders, files, Hadoop globs or URIs (``hdfs://``, ``s3a://``, ``file://``), and
        ``--files-from`` entries (literal paths).
    naming
        How outputs are named (:class:`quantcli.planner.Naming`); ``out_dir`` may be a URI.
    out_format
        ``"png"``: one file per input; ``"parquet"``: one table at ``naming.out_dir``.
    spark
        A session to use; otherwise one is made from ``master`` and ``conf`` and stopped
        once the results are consumed.
    stop
        A flag (truthy once set) that cancels the job: the rows already in the ledger are
        still yielded, and Spark's log is turned off for the rest of the session (which
        would log each killed task's stack trace).
    hook
        Tests only: ``hook(partition, attempt, job)`` runs on the executor after each file.
    """
    if out_format == "parquet" and naming.out_dir is None:
        raise InvalidOptionError("--out-format parquet needs --out-dir (where the table goes)")
    settings = request.settings()
    session = OwnedSession(spark, master, conf)
    spark = session.spark
    try:
        if naming.out_dir is not None:
            out = uris.restore_authority(naming.out_dir)
            naming = replace(naming, out_dir=out, out_target=uris.qualify(spark, out))
        listing = plan.list_inputs(spark, list(inputs), list(listed), naming, recursive=recursive)
        if out_format == "parquet":
            check_table(spark, naming.out_target, settings.force)
        with job_failures():
            plan.settle(spark, listing)
        total = listing.total
    except BaseException:
        session.close()
        raise
    token = uuid.uuid4().hex[:12]
    where = ledger.folder_for(_ledger_base(spark, naming, listing), token)
    task = tasks.CompressTask(listing.plan, settings, where, token, out_format == "parquet", hook)
    return total, session.closing(_run(spark, listing, task, request.shared, stop=stop, owns_session=session.created))


def _ledger_base(spark: SparkSession, naming: Naming, listing: plan.Listing) -> str:
    """Where the ledger goes: the out-dir, else the first folder input, else here."""
    if naming.out_target is not None:
        return naming.out_target
    for group in listing.plan.groups.values():
        return group.root
    return uris.qualify(spark, ".")


def check_table(spark: SparkSession, table: str | None, force: bool) -> None:
    """An existing table is replaced only with --force; a table a killed run left without
    its ``_SUCCESS`` marker is incomplete and is replaced."""
    assert table is not None
    fs, path = uris.hadoop(spark, table)
    if not fs.exists(path) or force:
        return
    marker = spark.sparkContext._jvm.org.apache.hadoop.fs.Path(table.rstrip("/") + "/_SUCCESS")
    if fs.exists(marker):
        raise InvalidOptionError(f"{table}: exists (use --force to replace the table)")


def _run(
    spark: SparkSession,
    listing: plan.Listing,
    task: tasks.CompressTask,
    shared_palette: bool,
    *,
    stop: Any,
    owns_session: bool,
) -> Iterator[CompressResult]:
    settings = task.settings
    for job in listing.early:
        yield run_job(job, settings).result
    if listing.frame is None:
        return
    if shared_palette:
        with job_failures():
            palette = _shared_palette(listing, settings)
        task = replace(task, settings=replace(settings, palette=palette))
    rows = listing.frame.mapInPandas(
        tasks.compress_partition(task), tasks.PARQUET_SCHEMA if task.parquet else tasks.RESULT_SCHEMA
    )
    yield from _stream(spark, rows, task, listing.plan.naming.out_target, stop, owns_session)


def _stream(
    spark: SparkSession, rows: DataFrame, task: tasks.CompressTask, table: str | None, stop: Any, owns_session: bool
) -> Iterator[CompressResult]:
    """Run the job on a thread; yield the ledger's rows while it runs; raise
    JobFailedError when it failed, after the rows that made it."""
    sc = spark.sparkContext
    group = f"quantcli-{task.token}"
    failure: list[BaseException] = []

    def action() -> None:
        sc.setJobGroup(group, "quantcli compress", interruptOnCancel=True)
        try:
            if task.parquet:
                rows.write.mode("overwrite").parquet(table)
            else:
                rows.write.format("noop").mode("overwrite").save()
        except BaseException as exc:
            failure.append(exc)

    if stop:
        return  # interrupted while planning: start nothing
    reader = ledger.Reader(task.ledger)
    worker = threading.Thread(target=action, name="quantcli-spark-job", daemon=True)
    worker.start()
    cancelled = False
    try:
        while worker.is_alive():
            worker.join(POLL_SECONDS)
            for row in reader.poll():
                yield tasks.result_of(row)
            if stop and not cancelled:
                _silence_log(sc)  # for the rest of the session: it is ending
                sc.cancelJobGroup(group)
                cancelled = True
    except BaseException:  # the consumer stopped (a second Ctrl-C, a closed pipe)
        if owns_session:
            _silence_log(sc)
        sc.cancelJobGroup(group)
        raise
    for row in reader.poll():
        yield tasks.result_of(row)
    if failure and not cancelled:
        raise JobFailedError(f"the Spark job failed: {_reason(failure[0])}")


def _silence_log(sc: Any) -> None:
    """Turn Spark's log off: a job cancelled on the user's word makes Spark log an error
    with a stack trace for each task it kills."""
    sc.setLogLevel("OFF")


@contextlib.contextmanager
def job_failures() -> Iterator[None]:
    """A Spark job that fails (its tasks out of retries) becomes one JobFailedError."""
    try:
        yield
    except (KeyboardInterrupt, JobFailedError):
        raise
    except Exception as exc:
        if type(exc).__module__.startswith(("py4j", "pyspark")):
            raise JobFailedError(f"the Spark job failed: {_reason(exc)}") from None
        raise


def _reason(exc: BaseException) -> str:
    """The cause a Spark failure carries, in one line: the Python error of a task when
    there is one, else the first line; never the JVM's stack."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith(("at ", "File ", "Traceback"))]
    for line in reversed(lines):
        if re.match(r"^[\w.]*(Error|Exception): ", line) and "Py4J" not in line:
            return line[:300]
    return lines[0][:300] if lines else type(exc).__name__


def _shared_palette(listing: plan.Listing, settings: Settings):
    """Pass 1 and one fit: the palette of the whole collection."""
    from ..palette import ColorHistogram, fit_shared_palette

    merged = pass1(listing, settings.max_pixels)
    hist = ColorHistogram.from_bytes(merged.colors, merged.counts) if merged is not None and merged.colors else None
    return fit_shared_palette(hist, settings.options)


def pass1(listing: plan.Listing, max_pixels: int | None) -> tasks.Pass1 | None:
    """Per-partition histograms, tree-merged (``treeAggregate``) into one; None when
    nothing was listed."""
    if listing.frame is None:
        return None
    rows = listing.frame.mapInPandas(tasks.histogram_partition(listing.plan, max_pixels), tasks.HISTOGRAM_SCHEMA)
    return rows.rdd.map(tasks.Pass1.of_row).treeAggregate(None, tasks.merge_pass1, tasks.merge_pass1, depth=2)


# ---------------------------------------------------------------------------------------
# choose-k


def choose_k(
    inputs: Sequence[str],
    *,
    choose: Any,
    quantize: Any,
    shared: bool = False,
    recursive: bool = False,
    spark: SparkSession | None = None,
    master: str | None = None,
    conf: Iterable[str] = (),
    max_pixels: int | None = None,
) -> Iterator[Any]:
    """Run ``choose-k`` on Spark: the local engine's outcomes, in its order.

    Per image, a ``mapInPandas`` calls :func:`quantcli.choosek.choose_k` on each decoded
    image. With ``shared``, pass 1 of the shared palette builds the collection's
    histogram and the driver runs :func:`quantcli.choosek.choose_k_histogram` on it.
    """
    session = OwnedSession(spark, master, conf)
    spark = session.spark
    try:
        # Output names mean nothing here: two inputs with one output name are both scored.
        naming = Naming(suffix=".png", out_dir="/", out_target="/")
        listing = plan.list_inputs(spark, list(inputs), [], naming, recursive=recursive)
        with job_failures():
            plan.settle(spark, listing)
        skips = {k: v for k, v in listing.plan.exceptions.items() if v == plan.SKIP}
        listing.plan = replace(listing.plan, exceptions=skips)
    except BaseException:
        session.close()
        raise
    return session.closing(_run_choose_k(listing, choose, quantize, shared, max_pixels))


def _run_choose_k(listing, choose, quantize, shared: bool, max_pixels) -> Iterator[Any]:
    from ..choosek import ChooseKError, choose_k_histogram

    for job in listing.early:
        yield ChooseKError(job.display, job.error or "")
    if listing.frame is None:
        return
    if shared:
        start = time.perf_counter()
        with job_failures():
            merged = pass1(listing, max_pixels)
        for path, error in () if merged is None else merged.errors:
            yield ChooseKError(path, error)
        if merged is None or not merged.colors:
            return
        from ..palette import ColorHistogram

        hist = ColorHistogram.from_bytes(merged.colors, merged.counts)
        name = f"shared ({merged.images} image{'s' if merged.images != 1 else ''})"
        result = choose_k_histogram(
            hist.colors, hist.counts, choose, quantize=quantize, channels=merged.channels, name=name
        )
        yield replace(result, images=merged.images, seconds=time.perf_counter() - start)
        return
    rows = listing.frame.mapInPandas(
        tasks.choose_k_partition(listing.plan, choose, quantize, max_pixels), tasks.CHOOSE_K_SCHEMA
    )
    with job_failures():
        for row in rows.orderBy("group", "sort").toLocalIterator():
            yield tasks.choose_k_outcome(row)


__all__ = ["choose_k", "compress", "pass1"]
