"""What several commands share: exit codes, closed choices, option declarations, and the
way a usage error or an output error ends the command."""

from __future__ import annotations

import enum
import errno
import json
import sys
from typing import Annotated, Any, NoReturn

import typer

from ..options import DEFAULT_MAX_ITER, DEFAULT_RUN_MARGIN, DEFAULT_TOL

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
    """What compress writes."""

    png = "png"
    parquet = "parquet"


InputsArgument = Annotated[
    list[str] | None,
    typer.Argument(
        help="Image files, folders, globs (quote them: 'shots/**/*.png'), or - for stdin.",
        show_default=False,
        metavar="INPUT...",
        hidden=True,  # described in each command's help, without a type label
    ),
]
RecursiveOption = Annotated[bool, typer.Option("-r", "--recursive", help="Go into subfolders of folder inputs.")]
SeedOption = Annotated[
    int, typer.Option("--seed", min=0, metavar="N", help="Seed for random choices; same seed, same bytes.")
]
MaxIterOption = Annotated[int, typer.Option("--max-iter", min=0, metavar="N", help="Most k-means iterations.")]
TolOption = Annotated[
    float,
    typer.Option(
        "--tol",
        min=0.0,
        metavar="FRACTION",
        help="Stop k-means once an iteration improves the squared error by less than this fraction.",
    ),
]
RunMarginOption = Annotated[
    float,
    typer.Option(
        "--run-margin",
        min=0.0,
        metavar="M",
        help="Near-ties: a pixel may take its left/upper neighbour's colour when that costs at most this much "
        "more squared error; longer runs, smaller files. 0: every pixel gets its nearest colour.",
    ),
]
MaxPixelsOption = Annotated[
    int,
    typer.Option(
        "--max-pixels",
        min=0,
        metavar="PIXELS",
        help="Refuse images larger than this many pixels (width x height), checked from the header before "
        "decoding; 0: no limit.",
    ),
]
DEFAULT_MAX_PIXELS = 100_000_000  # quantcli.images.DEFAULT_MAX_PIXELS (a test keeps them equal)
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object per input on stdout.")]
EngineOption = Annotated[
    Engine, typer.Option("--engine", help="local: threads on this machine; spark: a Spark cluster.")
]
MasterOption = Annotated[
    str | None,
    typer.Option(
        "--master", metavar="URL", help="Spark master URL (local[*], spark://..., yarn, k8s://...). --engine spark."
    ),
]
ConfOption = Annotated[
    list[str] | None,
    typer.Option("--conf", help="Spark setting key=value; repeatable. --engine spark.", metavar="KEY=VALUE"),
]

DEFAULTS = {"max_iter": DEFAULT_MAX_ITER, "tol": DEFAULT_TOL, "run_margin": DEFAULT_RUN_MARGIN}


def usage(message: str) -> NoReturn:
    """End the command with a usage error: one line on stderr, exit code 2."""
    typer.echo(f"quantcli: error: {message}", err=True)
    raise typer.Exit(EXIT_USAGE)


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
    write_stdout((json.dumps(row) + "\n").encode(), stream)


def write_stdout(data: bytes, stream: Any = None) -> None:
    """Write bytes to stdout (or ``stream``), turning a closed pipe into StdoutClosed and
    any other failure into one error line and exit code 1."""
    out = stream if stream is not None else sys.stdout
    try:
        out.buffer.write(data) if hasattr(out, "buffer") else out.write(data.decode())
        out.flush()
    except BrokenPipeError:
        raise StdoutClosed from None
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            raise StdoutClosed from None
        name = "standard output" if out is sys.stdout else "standard error"
        error_line(f"cannot write to {name} ({exc.strerror or exc})")
        raise typer.Exit(EXIT_FAILED) from None


def silence_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null so that Python's exit flush is quiet."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
