"""The local engine: every core of this machine, files in parallel, results in input order.

It finds the inputs on the local disk, plans their outputs (:mod:`quantcli.planner`),
and runs each job through the per-file pipeline (:func:`quantcli.pipeline.run_job`)
on a pool of threads (the C++ core releases the GIL, so threads use every core).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

from .errors import InvalidOptionError
from .interrupt import Interrupt
from .memory import EXACT_PEAK_BYTES_PER_PIXEL, MemoryBudget, image_cost, peak_bytes_per_pixel
from .pipeline import CompressResult, Settings, run_job
from .planner import Job, Naming, Planner, expand_inputs, is_own_output

if TYPE_CHECKING:
    import numpy as np

    from .request import CompressRequest

T = TypeVar("T")


def compress(
    request: CompressRequest,
    inputs: Sequence[str],
    naming: Naming,
    *,
    listed: Sequence[str] = (),
    recursive: bool = False,
    workers: int | None = None,
    stop: Interrupt | None = None,
    budget: int | None = None,
) -> tuple[int, Iterator[CompressResult]]:
    """Run ``compress`` on this machine: (number of inputs, their results in input order),
    as :func:`quantcli.spark.driver.compress` runs it on Spark.

    The inputs are planned and the output folder checked before this returns (raising
    InvalidOptionError); the work, pass 1 of a shared palette included, runs as the
    results are consumed, on ``workers`` threads (default: every core). ``stop`` and
    ``budget``: see :func:`map_ordered`.
    """
    jobs = _planned(inputs, naming, listed, recursive)
    _check_out_dir(naming.out_dir)
    from .targets import remove_stale_temporaries

    for folder in {os.path.dirname(job.target) or "." for job in jobs if job.target is not None}:
        remove_stale_temporaries(folder)
    count = min(workers or os.cpu_count() or 1, max(1, len(jobs)))
    return len(jobs), _compress(request, jobs, count, stop, budget)


def single_job(inputs: Sequence[str], naming: Naming, *, listed: Sequence[str] = (), recursive: bool = False) -> Job:
    """The one job of ``-o``: InvalidOptionError unless the inputs are exactly one file."""
    return _planned(inputs, naming, listed, recursive)[0]


def _planned(inputs: Sequence[str], naming: Naming, listed: Sequence[str], recursive: bool) -> list[Job]:
    jobs = list(plan(inputs, naming, listed=listed, recursive=recursive))
    if naming.output is not None and len(jobs) != 1:
        raise InvalidOptionError(f"-o/--output takes exactly one input, got {len(jobs)}")
    return jobs


def _compress(
    request: CompressRequest, jobs: list[Job], workers: int, stop: Interrupt | None, budget: int | None
) -> Iterator[CompressResult]:
    settings = request.settings()
    if request.shared:
        settings = request.settings(palette=shared_palette(jobs, settings, workers=workers))
    yield from run(jobs, settings, workers=workers, stop=stop, budget=budget)


def _check_out_dir(out_dir: str | None) -> None:
    """An output folder that cannot be written is refused before any work."""
    if out_dir is None:
        return
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise InvalidOptionError(f"--out-dir {out_dir}: cannot create ({exc.strerror or exc})") from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise InvalidOptionError(f"--out-dir {out_dir}: not writable")


def plan(
    inputs: Sequence[str],
    naming: Naming,
    *,
    listed: Sequence[str] = (),
    recursive: bool = False,
) -> Iterator[Job]:
    """The jobs for command-line ``inputs`` and ``--files-from`` entries (``listed``),
    in input order; see :func:`quantcli.planner.expand_inputs` for what is found."""
    find = dict(recursive=recursive, skip_suffix=naming.suffix, out_dir=naming.out_dir, is_own_output=is_own_output)
    planner = Planner(naming)
    yield from planner.plan_all(expand_inputs(inputs, **find))
    yield from planner.plan_all(expand_inputs(listed, literal=True, **find))


def peak_bytes(job: Job, per_pixel: int) -> int:
    """A job's estimated peak memory (:func:`quantcli.memory.image_cost` of its pixel
    count, from the header, at ``per_pixel`` bytes); 0 when the header cannot be read (the job then fails on its
    own)."""
    from .errors import QuantcliError
    from .images import image_size

    if job.error is not None:
        return 0
    try:
        width, height = image_size(job.source)
    except (QuantcliError, OSError):
        return 0
    return image_cost(width * height, per_pixel)


def run(
    jobs: Iterable[Job],
    settings: Settings,
    *,
    workers: int,
    stop: Interrupt | None = None,
    budget: int | None = None,
) -> Iterator[CompressResult]:
    """Run every job through the pipeline on ``workers`` threads; yield results in order.

    Unless ``settings.options.threads`` is set, the cores are shared out between the files
    processed at once (the bytes written do not depend on it). See :func:`map_ordered`
    for the window, the memory budget and ``stop``.
    """
    if settings.options.threads == 0 and workers > 1:
        threads = max(1, (os.cpu_count() or 1) // workers)
        settings = replace(settings, options=replace(settings.options, threads=threads))

    def work(job: Job) -> CompressResult:
        return run_job(job, settings).result

    per_pixel = peak_bytes_per_pixel(settings)
    yield from map_ordered(work, jobs, workers=workers, stop=stop, budget=budget, per_pixel=per_pixel)


def map_ordered(
    work: Callable[[Job], T],
    jobs: Iterable[Job],
    *,
    workers: int,
    stop: Interrupt | None = None,
    budget: int | None = None,
    per_pixel: int = EXACT_PEAK_BYTES_PER_PIXEL,
) -> Iterator[T]:
    """``work(job)`` for every job on ``workers`` threads, yielded in input order.

    At most a few jobs per worker are in flight, so a list of millions of files needs
    little memory, and a big image starts only while the estimated peak memory of the
    images in flight (:func:`peak_bytes`, ``per_pixel`` bytes per pixel) fits ``budget`` bytes (default
    :func:`quantcli.memory.default_budget`, half the RAM), so ``-j`` never runs more big
    images at once than the machine holds (the rule of :mod:`quantcli.memory`). When
    ``stop`` becomes true, no new job starts; the ones in flight finish.
    """
    if workers <= 1:
        for job in jobs:
            if stop:
                return
            yield work(job)
        return
    from concurrent.futures import Future, ThreadPoolExecutor  # not needed for one file: start-up time

    admit = MemoryBudget(budget)

    def one(job: Job, cost: int) -> T:
        try:
            return work(job)
        finally:
            admit.release(cost)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="quantcli") as pool:
        window: deque[Future[T]] = deque()
        for job in jobs:
            cost = peak_bytes(job, per_pixel)
            if stop or not admit.acquire(cost, stop):
                break
            window.append(pool.submit(one, job, cost))
            while window and (len(window) >= 4 * workers or window[0].done()):
                yield window.popleft().result()
        while window:
            yield window.popleft().result()


def shared_palette(jobs: Sequence[Job], settings: Settings, *, workers: int) -> np.ndarray:
    """Pass 1 of ``--palette shared``: the palette fitted to every readable input."""
    import functools

    from .images import read_image
    from .palette import shared_palette as fit

    read = functools.partial(read_image, max_pixels=settings.max_pixels)
    return fit([job.source for job in jobs if job.error is None], settings.options, workers=workers, read=read)
