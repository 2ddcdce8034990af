"""The local engine: every core of this machine, files in parallel, results in input order.

It finds the inputs on the local disk, plans their outputs (:mod:`quantcli.planner`),
and runs each job through the per-file pipeline (:func:`quantcli.pipeline.run_job`)
on a pool of threads (the C++ core releases the GIL, so threads use every core).
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

from .interrupt import Interrupt
from .pipeline import CompressResult, Settings, run_job
from .planner import Job, Naming, Planner, expand_inputs, is_own_output

if TYPE_CHECKING:
    import numpy as np

T = TypeVar("T")


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


def memory_budget() -> int:
    """Bytes the images in flight may take at once: half of this machine's RAM."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):
        return 8 << 30


class _Budget:
    """Admits jobs while their estimated peak memory fits the budget; one job always fits."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._lock = threading.Condition()

    def acquire(self, cost: int, stop: Interrupt | None) -> bool:
        with self._lock:
            while self.used and self.used + cost > self.limit:
                if stop:
                    return False
                self._lock.wait(0.2)
            self.used += cost
            return True

    def release(self, cost: int) -> None:
        with self._lock:
            self.used -= cost
            self._lock.notify_all()


def peak_bytes(job: Job) -> int:
    """A job's estimated peak memory: its pixel count (from the header) times
    :data:`quantcli.images.PEAK_BYTES_PER_PIXEL`; 0 when the header cannot be read (the
    job then fails on its own)."""
    from .errors import QuantcliError
    from .images import PEAK_BYTES_PER_PIXEL, image_size

    if job.error is not None:
        return 0
    try:
        width, height = image_size(job.source)
    except (QuantcliError, OSError):
        return 0
    return width * height * PEAK_BYTES_PER_PIXEL


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
    yield from map_ordered(lambda job: run_job(job, settings).result, jobs, workers=workers, stop=stop, budget=budget)


def map_ordered(
    work: Callable[[Job], T],
    jobs: Iterable[Job],
    *,
    workers: int,
    stop: Interrupt | None = None,
    budget: int | None = None,
) -> Iterator[T]:
    """``work(job)`` for every job on ``workers`` threads, yielded in input order.

    At most a few jobs per worker are in flight, so a list of millions of files needs
    little memory, and a big image starts only while the estimated peak memory of the
    images in flight (:func:`peak_bytes`) fits ``budget`` bytes (default
    :func:`memory_budget`, half the RAM), so ``-j`` never runs more big images at once
    than the machine holds. When ``stop`` becomes true, no new job starts; the ones in
    flight finish.
    """
    if workers <= 1:
        for job in jobs:
            if stop:
                return
            yield work(job)
        return
    from concurrent.futures import Future, ThreadPoolExecutor  # not needed for one file: start-up time

    admit = _Budget(memory_budget() if budget is None else budget)

    def one(job: Job, cost: int) -> T:
        try:
            return work(job)
        finally:
            admit.release(cost)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="quantcli") as pool:
        window: deque[Future[T]] = deque()
        for job in jobs:
            cost = peak_bytes(job)
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
    from .palette import collection_histogram, fit_shared_palette

    sources = [job.source for job in jobs if job.error is None]
    read = functools.partial(read_image, max_pixels=settings.max_pixels)
    return fit_shared_palette(collection_histogram(sources, workers=workers, read=read), settings.options)
