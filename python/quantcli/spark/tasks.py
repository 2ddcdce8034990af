"""What runs on the executors: each partition of listed files through the per-file
pipeline, or through pass 1 of the shared palette, or through choose-k. No rule lives
here: naming is :class:`quantcli.spark.plan.SparkPlan`'s, the work is
:func:`quantcli.pipeline.run_job`'s or :func:`quantcli.choosek.choose_k`'s."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from ..errors import ImageReadError, QuantcliError
from ..per_file import guarded, read_input
from ..pipeline import CompressResult, Settings, run_job
from ..planner import Job, is_own_output_bytes
from ..targets import FsspecTarget
from . import ledger
from .frame import pandas_batch
from .plan import SparkPlan

RESULT_FIELDS = tuple(f.name for f in dataclasses.fields(CompressResult))
RESULT_SCHEMA = (
    "path string, output string, name string, k int, colors int, bytes_in long, bytes_out long, psnr double, "
    "seconds double, status string, error string"
)
PARQUET_SCHEMA = RESULT_SCHEMA + ", png binary"


@dataclass(frozen=True)
class CompressTask:
    """Everything a compress task needs; pickled into the ``mapInPandas`` function."""

    plan: SparkPlan
    settings: Settings
    ledger: str  # the run's ledger folder (URI)
    token: str  # this run's id, in temporary file names
    parquet: bool = False
    # Called on the executor after each file as hook(partition, attempt, job). Tests use
    # it to fail a task part-way; production runs pass None.
    hook: Callable[[int, int, Job], None] | None = None


def _context() -> tuple[int, int, int]:
    """(partition, attempt, cpus) of the running task."""
    from pyspark import TaskContext

    ctx = TaskContext.get()
    if ctx is None:
        return 0, 0, 1
    return ctx.partitionId(), ctx.attemptNumber(), max(1, ctx.cpus())


def _ignore_ctrl_c() -> None:
    """A Python worker shares the terminal's process group with a local driver: Ctrl-C
    is the driver's to handle (it cancels the job); a worker would die with a traceback."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def task_cpus() -> int:
    """The cores the running task holds (spark.task.cpus; 1 outside a task)."""
    return _context()[2]


def _with_task_threads(settings: Settings, cpus: int) -> Settings:
    """One image at a time per task: use the cores the task holds (spark.task.cpus)."""
    if settings.options.threads != 0:
        return settings
    return replace(settings, options=replace(settings.options, threads=cpus))


def reader(content: Any, uri: str, display: str) -> Callable[[], bytes]:
    """How a task reads a listed file: the bytes the listing carried, or from ``uri``."""
    if content is not None:
        return lambda: bytes(content)

    def read() -> bytes:
        try:
            return FsspecTarget().read(uri)
        except FileNotFoundError:
            raise ImageReadError(f"{display}: no such file") from None
        except IsADirectoryError:
            raise ImageReadError(f"{display}: is a folder, not an image") from None
        except OSError as exc:
            raise ImageReadError(f"{display}: cannot read ({exc.strerror or exc})") from None

    return read


class Listed(NamedTuple):
    """A listed file of a task's batch: its job, how to read it, and where it was found
    (``group``, ``uri``, ``relative``)."""

    job: Job
    read: Callable[[], bytes]
    group: int
    uri: str
    relative: str


def listed_jobs(plan: SparkPlan, batch: Any, *, skip_own: bool = False) -> Iterator[Listed]:
    """The jobs of one batch of listed files (columns group, path, display, relative,
    content): every task's loop over its input, written once. ``skip_own`` leaves out
    an earlier output of ours found in a folder or glob (by its bytes), as the local
    engine's listing does."""
    for group, uri, display, relative, content in zip(
        batch["group"], batch["path"], batch["display"], batch["relative"], batch["content"], strict=True
    ):
        group = int(group)
        if skip_own and content is not None and group in plan.groups and is_own_output_bytes(bytes(content[:64])):
            continue
        job = plan.job(group, uri, display, relative)
        if job is not None:
            yield Listed(job, reader(content, uri, job.display), group, uri, relative)


def compress_partition(task: CompressTask) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """The ``mapInPandas`` function of a compress job: a result row per file, each also
    written to the ledger (:class:`quantcli.spark.ledger.PartWriter`) as it is done."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        _ignore_ctrl_c()
        partition, attempt, cpus = _context()
        settings = _with_task_threads(task.settings, cpus)
        target = FsspecTarget(tag=task.token)
        columns = [c.split()[0] for c in (PARQUET_SCHEMA if task.parquet else RESULT_SCHEMA).split(", ")]
        record = ledger.PartWriter(task.ledger, partition)
        for batch in batches:
            rows = []
            for listed in listed_jobs(task.plan, batch, skip_own=True):
                job = listed.job
                if task.parquet:
                    job = replace(job, output=None if job.error else task.plan.naming.out_dir, target=None)
                outcome = run_job(job, settings, read=listed.read, target=target, retry=attempt > 0)
                row = {**outcome.result.to_json(), "name": job.name, "exit_code": outcome.result.exit_code}
                record.add(row)
                if task.parquet:
                    row = {**row, "png": outcome.payload if outcome.result.status == "written" else None}
                rows.append({c: row.get(c) for c in columns})
                if task.hook is not None:
                    task.hook(partition, attempt, job)
            yield pandas_batch(rows, columns)
        record.close()

    return run


def result_of(row: dict[str, Any]) -> CompressResult:
    """A CompressResult from a ledger row (a ``--json`` object)."""
    return CompressResult(**{name: row.get(name) for name in RESULT_FIELDS})


# ---------------------------------------------------------------------------------------
# Pass 1 of the shared palette: one merged histogram per partition.

HISTOGRAM_SCHEMA = (
    "colors binary, counts binary, images long, channels int, errors array<struct<path:string,error:string>>"
)


@dataclass(frozen=True)
class Pass1:
    """The histogram of a partition's images (or of all of them, merged), with how many
    images it counts, their most channels, and the files that could not be read."""

    colors: bytes
    counts: bytes
    images: int
    channels: int
    errors: tuple[tuple[str, str], ...]

    @classmethod
    def of_row(cls, row: Any) -> Pass1:
        return cls(bytes(row[0]), bytes(row[1]), int(row[2]), int(row[3]), tuple((e[0], e[1]) for e in row[4]))

    def merge(self, other: Pass1 | None) -> Pass1:
        """Both histograms added colour by colour (exact, so any merge order agrees)."""
        from ..palette import ColorHistogram

        if other is None:
            return self
        if not self.colors or not other.colors:
            colors, counts = (self.colors, self.counts) if self.colors else (other.colors, other.counts)
        else:
            merged = ColorHistogram.from_bytes(self.colors, self.counts).merge(
                ColorHistogram.from_bytes(other.colors, other.counts)
            )
            colors, counts = merged.to_bytes()
        return Pass1(
            colors, counts, self.images + other.images, max(self.channels, other.channels), self.errors + other.errors
        )


def merge_pass1(a: Pass1 | None, b: Pass1 | None) -> Pass1 | None:
    """``treeAggregate``'s combiner."""
    if a is None:
        return b
    return a.merge(b)


def histogram_partition(plan: SparkPlan, max_pixels: int | None) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """The ``mapInPandas`` function of pass 1."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        from ..images import read_image
        from ..palette import HistogramMerger, image_histogram

        merger = HistogramMerger()
        channels = 0
        errors: list[dict[str, str]] = []
        for batch in batches:
            for listed in listed_jobs(plan, batch):
                job = listed.job
                if job.error is not None:
                    continue
                name = job.display
                pixels = guarded(
                    name,
                    lambda read=listed.read, name=name: read_image(read(), name=name, max_pixels=max_pixels),
                    lambda message, _code, _seconds, name=name: errors.append({"path": name, "error": message}),
                )
                if pixels is not None:
                    merger.add(image_histogram(pixels))
                    channels = max(channels, pixels.shape[2])
        hist = merger.result()
        if hist is not None or errors:
            colors, counts = hist.to_bytes() if hist is not None else (b"", b"")
            columns = ["colors", "counts", "images", "channels", "errors"]
            yield pandas_batch([(colors, counts, merger.images, channels, errors)], columns)

    return run


# ---------------------------------------------------------------------------------------
# choose-k: one typed row per image.

SCORE_TYPE = (
    "struct<k:int,colors:int,mse:double,psnr:double,silhouette:double,silhouette_euclidean:double,"
    "png_bytes:long,iterations:int>"
)
CHOOSE_K_SCHEMA = (
    "group int, sort string, path string, k int, method string, distance string, min_psnr double, "
    "target_met boolean, images long, pixels long, unique_colors long, sample long, seconds double, "
    f"status string, error string, scores array<{SCORE_TYPE}>"
)


def choose_k_partition(
    plan: SparkPlan, choose: Any, quantize: Any, max_pixels: int | None
) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """The ``mapInPandas`` function of choose-k: :func:`quantcli.choosek.choose_k` per image."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        from ..choosek import choose_k_input

        cpus = task_cpus()
        fit = quantize if quantize.threads else replace(quantize, threads=cpus)
        columns = [c.split()[0] for c in CHOOSE_K_SCHEMA.split(", ")]
        for batch in batches:
            rows = []
            for listed in listed_jobs(plan, batch):
                job = listed.job
                outcome = choose_k_input(job.display, _pixels(job, listed.read, max_pixels), choose, fit)
                group = listed.group
                found = plan.groups[group].found(listed.uri).relative if group in plan.groups else listed.relative
                rows.append({"group": group, "sort": "\0".join(found.split("/")), **_choose_k_row(outcome)})
            yield pandas_batch(rows, columns)

    return run


def _pixels(job: Job, read: Callable[[], bytes], max_pixels: int | None) -> Callable[[], Any]:
    """How to decode a listed file for choose-k: a file refused while listing raises its error."""

    def load() -> Any:
        from ..images import read_image

        if job.error is not None:
            raise QuantcliError(job.error)
        return read_image(read_input(job.display, job.source, read), name=job.display, max_pixels=max_pixels)

    return load


_NOT_SHIPPED = ("scores", "palette")  # scores travel as a typed array; the palette stays on the executor


def _choose_k_row(outcome: Any) -> dict[str, Any]:
    from ..choosek import ChooseKError

    if isinstance(outcome, ChooseKError):
        return {
            "path": outcome.path,
            "status": "error",
            "error": outcome.error,
            "seconds": outcome.seconds,
            "scores": [],
        }
    row = {f.name: getattr(outcome, f.name) for f in dataclasses.fields(outcome) if f.name not in _NOT_SHIPPED}
    row["scores"] = [dataclasses.asdict(s) for s in outcome.scores]
    return {**row, "status": "ok", "error": None}


def choose_k_outcome(row: Any) -> Any:
    """The ChooseKResult or ChooseKError of a choose-k row."""
    from ..choosek import ChooseKError, ChooseKResult, KScore

    if row["status"] == "error":
        return ChooseKError(row["path"], row["error"], row["seconds"])
    names = [f.name for f in dataclasses.fields(ChooseKResult) if f.name not in _NOT_SHIPPED]
    scores = tuple(KScore(**s.asDict()) for s in row["scores"])
    return ChooseKResult(scores=scores, **{name: row[name] for name in names})
