"""What every command shares that needs no Typer (so that the compress fast path of
:mod:`quantcli.cli.fast` can run without importing it): exit codes, closed choices, and
the way a usage error or an output error ends the command."""

from __future__ import annotations

import enum
import errno
import sys
from typing import Any, NoReturn

# The documented exit codes (README, "Exit codes").
EXIT_OK = 0
EXIT_FAILED = 1  # some inputs failed; the others were done
EXIT_USAGE = 2  # bad option or value, no input, an unusable output folder
EXIT_JOB_FAILED = 3  # the job itself failed (a Spark job aborted), not an input
EXIT_QUALITY = 99  # --quality: an image could not reach the minimum
EXIT_BROKEN_PIPE = 141  # standard output was closed (as a process killed by SIGPIPE)
EXIT_SIGNAL_BASE = 128  # interrupted by signal N: 128 + N (130 for Ctrl-C, 143 for TERM)


class Engine(str, enum.Enum):
    """Where the work runs."""

    local = "local"
    spark = "spark"


class Method(str, enum.Enum):
    """How choose-k (and -k auto) picks K."""

    silhouette = "silhouette"
    elbow = "elbow"
    quality = "quality"


class Distance(str, enum.Enum):
    """The silhouette's distance."""

    squared = "squared"
    euclidean = "euclidean"


class OutFormat(str, enum.Enum):
    """What compress writes: one file per input, or one Spark table (``png``: the old
    spelling of ``files``, still accepted)."""

    files = "files"
    parquet = "parquet"
    png = "png"


class ImageFormat(str, enum.Enum):
    """The codec of compress's outputs."""

    png = "png"
    webp = "webp"


def usage(message: str) -> NoReturn:
    """End the command with a usage error: one line on stderr, exit code 2."""
    sys.stderr.write(f"quantcli: error: {message}\n")
    sys.stderr.flush()
    raise SystemExit(EXIT_USAGE)


def escape(text: str) -> str:
    """``text`` with control characters escaped, safe to print on one terminal line."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def error_line(message: str) -> None:
    """Print ``quantcli: error: MESSAGE`` on stderr, control characters escaped."""
    sys.stderr.write(f"quantcli: error: {escape(message)}\n")
    sys.stderr.flush()


class StdoutClosed(Exception):
    """Standard output went away (a closed pipe): stop quietly."""


def write_json_line(row: dict[str, Any], stream: Any = None) -> None:
    """One JSON object on one line of ``stream`` (stdout), flushed."""
    import json  # not for a call without --json: start-up time

    write_stdout((json.dumps(row) + "\n").encode(), stream)


def write_stdout(data: bytes, stream: Any = None) -> None:
    """Write bytes to stdout (or ``stream``), turning a closed pipe into StdoutClosed and
    any other failure into one error line and exit code 1."""
    out = stream if stream is not None else sys.stdout
    try:
        if hasattr(out, "buffer"):
            # A pipe closed mid-write gives a short count, not an error: the rest is
            # written again, and that write raises EPIPE.
            view = memoryview(data)
            while view:
                written = out.buffer.write(view)
                if not written:
                    raise OSError(errno.EAGAIN, "nothing written")
                view = view[written:]
        else:
            out.write(data.decode())
        out.flush()
    except BrokenPipeError:
        raise StdoutClosed from None
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            raise StdoutClosed from None
        name = "standard output" if out is sys.stdout else "standard error"
        error_line(f"cannot write to {name} ({exc.strerror or exc})")
        raise SystemExit(EXIT_FAILED) from None


def print_table(table: Any, *, soft_wrap: bool = False) -> None:
    """Print a rich table on stdout, a closed pipe raising StdoutClosed (rich itself
    would exit with 1)."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise StdoutClosed

    try:
        _Console(highlight=False, soft_wrap=soft_wrap).print(table)
        sys.stdout.flush()
    except BrokenPipeError:
        raise StdoutClosed from None


def silence_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null so that Python's exit flush is quiet."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
