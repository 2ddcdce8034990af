"""``quantcli compress``: running the parsed command on the local engine, on Spark, or on
one image in memory, then printing the results, writing ``--report`` and exiting with
the documented code."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, NoReturn

from .base import (
    EXIT_BROKEN_PIPE,
    EXIT_SIGNAL_BASE,
    EXIT_USAGE,
    OutFormat,
    StdoutClosed,
    error_line,
    silence_stdout,
    usage,
    write_json_line,
    write_stdout,
)

if TYPE_CHECKING:
    from ..pipeline import CompressResult
    from ..planner import Naming
    from ..request import CompressRequest
    from .compress_settings import CompressCommand


def naming_for(command: CompressCommand, request: CompressRequest, output: str | None) -> Naming:
    """The output-naming rule for these options; a bad ``--ext`` is a usage error."""
    from ..errors import InvalidOptionError
    from ..planner import Naming, in_place_suffix, output_suffix

    ext, out_dir, codec = command.ext, command.out_dir, request.format
    try:
        suffix = output_suffix(ext, "auto" if request.k_per_image else str(request.k), out_dir is not None, codec)
    except InvalidOptionError as exc:
        usage(str(exc))
    in_place = in_place_suffix(ext, codec) and command.force and out_dir is None
    return Naming(suffix=suffix, out_dir=out_dir, output=output, in_place=in_place)


def run_local(
    command: CompressCommand,
    request: CompressRequest,
    names: list[str],
    listed: list[str],
    naming: Naming,
    budget: int | None = None,
) -> NoReturn:
    """--engine local: run the batch on this machine, report, exit."""
    from .. import local_engine
    from ..errors import QuantcliError
    from ..interrupt import Interrupt, interruptible

    stop = Interrupt()
    try:
        if naming.output == "-":
            job = local_engine.single_job(names, naming, listed=listed, recursive=command.recursive)
            one_in_memory(job, request.settings(), None, command.as_json, command.stdout_ok)
        total, results = local_engine.compress(
            request,
            names,
            naming,
            listed=listed,
            recursive=command.recursive,
            workers=command.jobs,
            stop=stop,
            budget=budget,
        )
    except QuantcliError as exc:
        usage(str(exc))
    with interruptible(stop):
        _finish(results, total, command, request, stop)


def _finish(
    results: Iterator[CompressResult], total: int | None, command: CompressCommand, request: CompressRequest, stop
) -> NoReturn:
    """Report the results and exit with the documented code."""
    from ..errors import QuantcliError
    from .report import report_compress, summary_line

    as_json, quiet, report = command.as_json, command.quiet, command.report
    kept: list = []
    if report is not None:
        results = _keeping(results, kept)
    try:
        code, counts = report_compress(results, total, as_json=as_json, quiet=quiet)
    except StdoutClosed:
        silence_stdout()
        raise SystemExit(EXIT_BROKEN_PIPE) from None
    except QuantcliError as exc:  # raised while the results were produced (a Spark job)
        error_line(str(exc))
        raise SystemExit(exc.exit_code) from None
    if not quiet or stop:
        sys.stderr.write(summary_line(counts, interrupted=bool(stop)) + "\n")
    if report is not None and kept:
        code = max(code, _write_report(kept, report, request.settings(), quiet))
    if stop:
        raise SystemExit(EXIT_SIGNAL_BASE + stop.signal)
    raise SystemExit(code)


# --- --report (the HTML report of quantcli.html_report) -------------------------------


def check_report(report: str, names: list[str], output: str | None, out_format: OutFormat, force: bool) -> None:
    """--report needs input and output files; an existing report is replaced only with --force."""
    if "-" in names or output == "-":
        usage("--report reads the inputs and outputs as files: not with - (stdin or stdout)")
    if out_format is OutFormat.parquet:
        usage("--report shows the output files: not with --out-format parquet")
    if not report.lower().endswith((".html", ".htm")):
        usage(f"--report {report}: give a file name ending in .html")
    if os.path.lexists(report) and not force:
        usage(f"--report {report}: exists (use --force to overwrite)")


def _keeping(results, kept: list):
    """The results, each also appended to ``kept`` (for the report)."""
    for result in results:
        kept.append(result)
        yield result


def _write_report(results: list, report: str, settings, quiet: bool) -> int:
    """Write the HTML report; the exit code it adds (1 when it could not be written)."""
    from ..errors import QuantcliError
    from ..html_report import write_report

    try:
        write_report(results, report, settings=settings)
    except QuantcliError as exc:
        error_line(f"--report {exc}")
        return 1
    if not quiet:
        sys.stderr.write(f"quantcli: report in {report}\n")
    return 0


# --- end of --report ----------------------------------------------------------------


def one_in_memory(job, settings, output: str | None, as_json: bool, stdout_ok: bool) -> NoReturn:
    """One image to stdout (or to ``-o FILE`` when read from stdin): the PNG, or with
    ``--skip-if-larger`` the input's own bytes, and its JSON line (on stderr when stdout
    holds the image)."""
    from ..pipeline import run_job
    from ..planner import Job

    to_stdout = output is None or output == "-"
    if to_stdout and sys.stdout.isatty() and not stdout_ok:
        usage("refusing to write a PNG to a terminal: redirect stdout, give -o FILE, or add --stdout")
    if job is None:  # stdin
        data = sys.stdin.buffer.read()
        target = None if to_stdout else output
        job = Job("<stdin>", "<stdin>", target, target, os.path.basename(target or "<stdin>"))
        outcome = run_job(job, settings, read=lambda: data)
    else:
        outcome = run_job(Job(job.source, job.display, None, None, job.name), settings)
    result = outcome.result
    try:
        if result.status == "error":
            error_line(result.error or result.path)
        elif to_stdout:
            write_stdout(outcome.payload or b"")
        if as_json:
            write_json_line(result.to_json(), sys.stderr if to_stdout else sys.stdout)
    except StdoutClosed:
        silence_stdout()
        raise SystemExit(EXIT_BROKEN_PIPE) from None
    raise SystemExit(result.exit_code if result.status == "error" else 0)


def run_spark(command: CompressCommand, request: CompressRequest, names: list[str], listed: list[str]) -> NoReturn:
    """--engine spark: the same inputs, names, bytes and report as the local engine."""
    if "-" in names or command.output is not None:
        usage("--engine spark writes to --out-dir or beside the inputs; - and -o are for the local engine")
    from ..errors import QuantcliError
    from ..interrupt import interruptible

    naming = naming_for(command, request, None)
    try:
        from ..spark.session import OwnedSession

        session = OwnedSession(None, command.master, command.conf or [])
    except QuantcliError as exc:
        usage(str(exc))
    # After the session starts: PySpark's own SIGINT handler raises KeyboardInterrupt.
    with session as spark, interruptible() as stop:
        try:
            from ..spark import driver

            total, results = driver.compress(
                request,
                names,
                naming,
                listed=listed,
                recursive=command.recursive,
                out_format=command.out_format.value,
                spark=spark,
                stop=stop,
            )
        except QuantcliError as exc:
            if exc.exit_code == EXIT_USAGE:
                usage(str(exc))
            error_line(str(exc))  # the planning job failed (exit 3), or an input error before any work
            raise SystemExit(exc.exit_code) from None
        _finish(results, total, command, request, stop)
