"""Batches of files for the local engine: which inputs, which outputs, run in parallel.

The CLI parses options and prints; this module decides what each input is and where
its output goes, and runs :func:`quantcli.api.compress_file` on all cores.
"""

from __future__ import annotations

import glob
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from .api import CompressResult, compress_file
from .errors import QuantcliError
from .images import IMAGE_EXTENSIONS
from .options import QuantizeOptions

_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Job:
    """One input and where its output goes (``output`` is None after a planning error)."""

    source: Path
    output: Path | None
    error: str | None = None


def default_ext(k: int | str, out_dir: bool) -> str:
    """The output suffix: ``.png`` inside an out-dir, else ``-q{K}.png`` beside the input."""
    return ".png" if out_dir else f"-q{k}.png"


def expand_inputs(
    inputs: Iterable[str],
    *,
    recursive: bool,
    skip_suffix: str | None = None,
    out_dir: Path | None = None,
    keep_relative: bool = False,
) -> Iterator[tuple[Path, Path]]:
    """Yield ``(file, relative path)`` for files, folders and globs, in a stable order.

    Folders and globs yield only files with an image extension, sorted by path; with
    ``recursive``, folders are walked into subfolders. The relative path is what
    ``--out-dir`` mirrors: the path below the folder, or below a glob's fixed prefix, or
    the bare name for a file (with ``keep_relative``, used for ``--files-from`` lists,
    a relative file path that stays below the current folder is kept whole, so that
    ``find . -print0`` lists mirror their tree). Names ending in ``skip_suffix`` (our
    own earlier outputs) are left out of folders and globs, and so is everything below
    ``out_dir`` when the folder or glob starts outside it (``compress . -r --out-dir
    small``, run twice, must not compress ``small/`` again). A path that does not
    exist, or a glob that matches nothing, is yielded as is, so that it fails, with its
    name, like any unreadable file.
    """
    for item in inputs:
        path = Path(item)
        if any(ch in item for ch in _GLOB_CHARS) and not path.exists():
            base = _glob_base(item)
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                yield path, Path(path.name)  # fails with its name, as a shell's "no such file"
            excluded = _excluded_below(base, out_dir)
            for match in matches:
                p = Path(match)
                if p.is_file() and _is_image(p, skip_suffix) and not _is_below(p, excluded):
                    yield p, _relative(p, base)
        elif path.is_dir():
            excluded = _excluded_below(path, out_dir)
            walk = path.rglob("*") if recursive else path.glob("*")
            for p in sorted(walk):
                if p.is_file() and _is_image(p, skip_suffix) and not _is_below(p, excluded):
                    yield p, p.relative_to(path)
        elif keep_relative and not path.is_absolute() and ".." not in path.parts:
            yield path, path
        else:
            yield path, Path(path.name)


def _is_image(path: Path, skip_suffix: str | None) -> bool:
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        return False
    return not (skip_suffix and skip_suffix != ".png" and path.name.endswith(skip_suffix))


def _excluded_below(root: Path, out_dir: Path | None) -> Path | None:
    """``out_dir`` as an absolute path when it lies inside ``root``, else None."""
    if out_dir is None:
        return None
    out_abs, root_abs = Path(os.path.abspath(out_dir)), Path(os.path.abspath(root))
    return out_abs if out_abs != root_abs and out_abs.is_relative_to(root_abs) else None


def _is_below(path: Path, folder: Path | None) -> bool:
    return folder is not None and Path(os.path.abspath(path)).is_relative_to(folder)


def _glob_base(pattern: str) -> Path:
    parts = Path(pattern).parts
    fixed: list[str] = []
    for part in parts:
        if any(ch in part for ch in _GLOB_CHARS):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def _relative(path: Path, base: Path) -> Path:
    try:
        return path.relative_to(base)
    except ValueError:
        return Path(path.name)


def read_file_list(stream: Iterable[bytes] | bytes, *, null: bool) -> list[str]:
    """Paths from ``--files-from``: newline-separated, or NUL-separated with ``null``."""
    data = stream if isinstance(stream, bytes) else b"".join(stream)
    sep = b"\0" if null else b"\n"
    names = [entry.rstrip(b"\r") if not null else entry for entry in data.split(sep)]
    return [os.fsdecode(name) for name in names if name]


def plan_jobs(
    files: Iterable[tuple[Path, Path]],
    *,
    ext: str,
    out_dir: Path | None = None,
    output: Path | None = None,
) -> list[Job]:
    """Decide every output path; two inputs that would write the same file are an error.

    With ``output`` there must be exactly one input. With ``out_dir`` the relative paths
    are mirrored below it; otherwise each output sits beside its input. ``ext`` replaces
    the input's extension.
    """
    jobs: list[Job] = []
    seen: dict[Path, Path] = {}
    sources: set[Path] = set()
    for source, relative in files:
        key = Path(os.path.abspath(source))
        if key in sources:
            continue  # the same file named twice (a folder and a glob, say)
        sources.add(key)
        if output is not None:
            target = output
        elif out_dir is not None:
            target = out_dir / relative.parent / (relative.stem + ext)
        else:
            target = source.parent / (source.stem + ext)
        resolved = Path(os.path.abspath(target))
        if resolved in seen:
            jobs.append(
                Job(
                    source,
                    None,
                    f"{source}: output {target} is also the output of {seen[resolved]}",
                )
            )
            continue
        seen[resolved] = source
        jobs.append(Job(source, target))
    return jobs


def run_jobs(
    jobs: list[Job],
    options: QuantizeOptions,
    *,
    workers: int,
    force: bool = False,
    skip_if_larger: bool = False,
    compress: Callable[..., CompressResult] = compress_file,
    k_per_file: bool = False,
) -> Iterator[CompressResult]:
    """Compress every job on ``workers`` threads; yield results in input order.

    With ``k_per_file`` (``-k auto``) K is chosen per file, so an error row has no K.

    The C++ core releases the GIL, so threads use every core. At most a few jobs per
    worker are in flight, so a list of millions of files needs little memory. A failure
    becomes a result with status "error"; the batch goes on. Unless ``options.threads``
    is set, the cores are shared out: each of the ``workers`` files gets an equal share
    (the bytes written do not depend on it).
    """
    if options.threads == 0 and workers > 1:
        options = replace(options, threads=max(1, (os.cpu_count() or 1) // workers))

    error_k = None if k_per_file else options.k

    def one(job: Job) -> CompressResult:
        start = time.perf_counter()
        if job.output is None:
            return _error(job, job.error or "no output", error_k, start)
        try:
            return compress(job.source, job.output, force=force, skip_if_larger=skip_if_larger, options=options)
        except QuantcliError as exc:
            return _error(job, str(exc), error_k, start)
        except MemoryError:
            return _error(job, f"{job.source}: out of memory", error_k, start)
        except Exception as exc:  # a bug must cost one file, not the rest of the batch
            return _error(job, f"{job.source}: internal error ({type(exc).__name__}: {exc})", error_k, start)

    if workers <= 1:
        for job in jobs:
            yield one(job)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="quantcli") as pool:
        window: deque[Future[CompressResult]] = deque()
        pending = iter(jobs)
        for job in pending:
            window.append(pool.submit(one, job))
            if len(window) >= 4 * workers:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()


def _error(job: Job, message: str, k: int | None, start: float) -> CompressResult:
    return CompressResult(
        path=str(job.source),
        output=None if job.output is None else str(job.output),
        k=k,
        seconds=time.perf_counter() - start,
        status="error",
        error=message,
    )
