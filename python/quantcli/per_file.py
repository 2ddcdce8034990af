"""One input's contract, the same for compress, inspect and choose-k on every engine:
read it, run it, and turn a failure of any kind into that input's error row.

:func:`guarded` is the one place where an exception becomes a row (a bug included: it
must cost one file, not the rest of the batch or a whole Spark task); :func:`read_input`
the one place where an input's bytes are read and an empty file refused. Each engine
wraps these once: :func:`quantcli.local_engine.map_ordered` on threads, and
:func:`quantcli.spark.tasks.listed_jobs` in a Spark task.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from .errors import ImageReadError, QuantcliError

T = TypeVar("T")


def guarded(display: str, work: Callable[[], T], error: Callable[[str, int, float], T]) -> T:
    """``work()``; when it raises, ``error(message, exit_code, seconds)``: the input's
    error row, with the line and exit code of :func:`failure` and the seconds spent."""
    start = time.perf_counter()
    try:
        return work()
    except Exception as exc:  # a bug must cost one file, not the rest of the batch
        message, code = failure(display, exc)
    return error(message, code, time.perf_counter() - start)


def failure(display: str, exc: BaseException) -> tuple[str, int]:
    """The error line and exit code of an input whose work raised ``exc``."""
    if isinstance(exc, QuantcliError):
        return str(exc), exc.exit_code
    if isinstance(exc, MemoryError):
        return f"{display}: out of memory", 1
    return f"{display}: internal error ({type(exc).__name__}: {exc})", 1


def read_input(display: str, source: str, read: Callable[[], bytes] | None = None) -> bytes:
    """An input's bytes, from ``read()`` or else the local file ``source``; an empty
    input is an ImageReadError naming ``display``."""
    data = read() if read is not None else read_local(source)
    if not data:
        raise ImageReadError(f"{display}: empty file (0 bytes)")
    return data


def read_local(path: str) -> bytes:
    """The bytes of a local input file; ImageReadError with a plain reason otherwise."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        reason = "no such file"
    except IsADirectoryError:
        reason = "is a folder, not an image"
    except PermissionError:
        reason = "permission denied"
    except OSError as exc:
        reason = f"cannot read ({exc.strerror or exc})"
    from .images import display_name

    raise ImageReadError(f"{display_name(path)}: {reason}")
