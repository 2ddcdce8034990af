"""``inspect`` on the local engine: which files, paired with which outputs (compress's
naming rule), and their rows in input order on all cores."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from .errors import InvalidOptionError
from .inspection import InspectOptions, inspect_job
from .planner import Found, Job, Naming, Planner, expand_inputs, is_own_output


def plan(
    inputs: Sequence[str],
    *,
    against: str | None = None,
    ext: str | None = None,
    recursive: bool = False,
) -> list[Job]:
    """The jobs for command-line ``inputs``, in input order, each file once.

    Without ``against`` and ``ext``, every image found is inspected (quantcli's own
    outputs too). ``against`` a folder, or ``ext``, pairs every input with its output by
    compress's naming rule (:class:`quantcli.planner.Naming`: ``--out-dir against``,
    ``--ext ext``; default ``.png`` in a folder), and leaves outputs out of the inputs.
    ``against`` a file pairs it with the one input.

    Raises
    ------
    InvalidOptionError
        ``against`` does not exist, or is a file while there is not exactly one input.
    """
    if against is not None and not os.path.exists(against):
        raise InvalidOptionError(f"--against {against}: no such file or folder")
    if against is not None and not os.path.isdir(against):
        if ext is not None:
            raise InvalidOptionError("--ext applies to an --against folder, not a file")
        jobs = _plain(inputs, recursive)
        if len(jobs) != 1:
            raise InvalidOptionError(f"--against FILE takes exactly one input, got {len(jobs)}")
        (job,) = jobs
        return [Job(job.source, job.display, against, against, job.name, job.error)]
    if against is None and ext is None:
        return _plain(inputs, recursive)
    from .planner import output_suffix, suffix_format

    if ext is not None and "{" in ext:
        raise InvalidOptionError(f"--ext {ext}: write K out (as the outputs are named), e.g. -q64.png")
    naming = Naming(suffix=output_suffix(ext, "", against is not None, suffix_format(ext)), out_dir=against)
    find = dict(recursive=recursive, skip_suffix=naming.suffix, out_dir=against, is_own_output=is_own_output)
    return list(Planner(naming).plan_all(expand_inputs(inputs, **find)))


def _plain(inputs: Sequence[str], recursive: bool) -> list[Job]:
    """Every input found, once, with no output."""
    seen: set[str] = set()
    jobs = []
    for found in expand_inputs(inputs, recursive=recursive):
        key = os.path.normpath(os.path.abspath(found.source))
        if key in seen:
            continue
        seen.add(key)
        jobs.append(_job(found))
    return jobs


def _job(found: Found) -> Job:
    return Job(found.source, found.display, None, None, os.path.basename(found.relative), found.error)


def run(jobs: Iterable[Job], options: InspectOptions, *, workers: int, stop: Any = None) -> Iterator[dict[str, Any]]:
    """Every job's row, computed on ``workers`` threads, yielded in input order (see
    :func:`quantcli.local_engine.map_ordered`). Unless ``options.threads`` is set, the
    cores are shared out between the images processed at once."""
    from .local_engine import map_ordered

    if options.threads == 0 and workers > 1:
        from dataclasses import replace

        options = replace(options, threads=max(1, (os.cpu_count() or 1) // workers))
    yield from map_ordered(lambda job: inspect_job(job, options), jobs, workers=workers, stop=stop)
