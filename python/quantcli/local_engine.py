"""The local engine: every core of this machine, files in parallel, results in input order.

It finds the inputs on the local disk, plans their outputs (:mod:`quantcli.planner`),
and runs each job through the per-file pipeline (:func:`quantcli.pipeline.run_job`)
on a pool of threads (the C++ core releases the GIL, so threads use every core).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace

import numpy as np

from .interrupt import Interrupt
from .pipeline import CompressResult, Settings, run_job
from .planner import Job, Naming, Planner, expand_inputs, is_own_output


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


def run(
    jobs: Iterable[Job],
    settings: Settings,
    *,
    workers: int,
    stop: Interrupt | None = None,
) -> Iterator[CompressResult]:
    """Run every job through the pipeline on ``workers`` threads; yield results in order.

    At most a few jobs per worker are in flight, so a list of millions of files needs
    little memory. Unless ``settings.options.threads`` is set, the cores are shared out
    between the files processed at once (the bytes written do not depend on it). When
    ``stop`` becomes true, no new job starts; the ones in flight finish.
    """
    if settings.options.threads == 0 and workers > 1:
        threads = max(1, (os.cpu_count() or 1) // workers)
        settings = replace(settings, options=replace(settings.options, threads=threads))

    def one(job: Job) -> CompressResult:
        return run_job(job, settings).result

    if workers <= 1:
        for job in jobs:
            if stop:
                return
            yield one(job)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="quantcli") as pool:
        window: deque[Future[CompressResult]] = deque()
        for job in jobs:
            if stop:
                break
            window.append(pool.submit(one, job))
            if len(window) >= 4 * workers:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()


def shared_palette(jobs: Sequence[Job], settings: Settings, *, workers: int) -> np.ndarray:
    """Pass 1 of ``--palette shared``: the palette fitted to every readable input."""
    from .palette import collection_histogram, fit_shared_palette

    sources = [job.source for job in jobs if job.error is None]
    return fit_shared_palette(collection_histogram(sources, workers=workers), settings.options)
