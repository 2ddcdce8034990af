"""``quantcli compress``: running the parsed command on the local engine, on Spark, or on
one image in memory, then printing the results, writing ``--report`` and exiting with
the documented code."""

from __future__ import annotations

import os
import sys

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


def naming_for(ext: str | None, auto: bool, k: int, out_dir: str | None, output: str | None, force: bool):
    """The output-naming rule for these options; a bad ``--ext`` is a usage error."""
    from ..errors import InvalidOptionError
    from ..planner import Naming, output_suffix

    try:
        suffix = output_suffix(ext, "auto" if auto else str(k), out_dir is not None)
    except InvalidOptionError as exc:
        usage(str(exc))
    in_place = ext is not None and ext.lower() == ".png" and force and out_dir is None
    return Naming(suffix=suffix, out_dir=out_dir, output=output, in_place=in_place)


def _check_out_dir(out_dir: str | None) -> None:
    """An output folder that cannot be written is a usage error, found before any work."""
    if out_dir is None:
        return
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        usage(f"--out-dir {out_dir}: cannot create ({exc.strerror or exc})")
    if not os.access(out_dir, os.W_OK | os.X_OK):
        usage(f"--out-dir {out_dir}: not writable")


def run_local(
    names, listed, settings, naming, palette, recursive, jobs, as_json, quiet, stdout_ok, report=None, budget=None
) -> None:
    """--engine local: plan the outputs, fit a shared palette if asked, run every file, report."""
    from dataclasses import replace

    from .. import local_engine

    planned = list(local_engine.plan(names, naming, listed=listed, recursive=recursive))
    if naming.output is not None and len(planned) != 1:
        usage(f"-o/--output takes exactly one input, got {len(planned)}")
    if naming.output == "-":
        one_in_memory(planned[0], settings, None, as_json, stdout_ok)
    _check_out_dir(naming.out_dir)
    from ..targets import remove_stale_temporaries

    for folder in {os.path.dirname(job.target) or "." for job in planned if job.target is not None}:
        remove_stale_temporaries(folder)
    workers = min(jobs or os.cpu_count() or 1, max(1, len(planned)))
    if palette == "shared":
        settings = replace(settings, palette=local_engine.shared_palette(planned, settings, workers=workers))
    from ..interrupt import interruptible

    with interruptible() as stop:
        results = local_engine.run(planned, settings, workers=workers, stop=stop, budget=budget)
        _finish(results, len(planned), as_json, quiet, stop, report=report, settings=settings)


def _finish(results, total: int | None, as_json: bool, quiet: bool, stop=None, *, report=None, settings=None) -> None:
    """Report the results and exit with the documented code."""
    from ..errors import QuantcliError
    from .report import report_compress, summary_line

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
        code = max(code, _write_report(kept, report, settings, quiet))
    if stop:
        raise SystemExit(EXIT_SIGNAL_BASE + stop.signal)
    raise SystemExit(code)


# --- --report (the HTML report of quantcli.html_report) -------------------------------


def check_report(report: str, names: list[str], output: str | None, out_format: OutFormat, force: bool) -> None:
    """--report needs input and output files; an existing report is replaced only with --force."""
    if "-" in names or output == "-":
        usage("--report reads the inputs and outputs as files: not with - (stdin or stdout)")
    if out_format is not OutFormat.png:
        usage("--report shows PNG outputs: not with --out-format parquet")
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


def one_in_memory(job, settings, output: str | None, as_json: bool, stdout_ok: bool) -> None:
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


def run_spark(
    names,
    listed,
    settings,
    palette,
    out_dir,
    ext,
    recursive,
    output,
    out_format,
    master,
    conf,
    as_json,
    quiet,
    report=None,
):
    """--engine spark: the same inputs, names, bytes and report as the local engine."""

    if "-" in names or output is not None:
        usage("--engine spark writes to --out-dir or beside the inputs; - and -o are for the local engine")
    from ..errors import QuantcliError
    from ..interrupt import interruptible

    naming = naming_for(ext, settings.k_per_image, settings.options.k, out_dir, None, settings.force)
    try:
        from ..spark.session import get_session

        spark, created = get_session(master, conf or [])
    except QuantcliError as exc:
        usage(str(exc))
    try:
        # After the session starts: PySpark's own SIGINT handler raises KeyboardInterrupt.
        with interruptible() as stop:
            _spark_run(
                names, listed, settings, naming, palette, recursive, out_format, spark, as_json, quiet, stop, report
            )
    finally:
        if created:  # not a session that was running already (a notebook's, a test's)
            spark.stop()


def _spark_run(names, listed, settings, naming, palette, recursive, out_format, spark, as_json, quiet, stop, report):
    from ..errors import QuantcliError

    try:
        from ..spark import driver

        total, results = driver.compress(
            names,
            settings,
            naming,
            listed=listed,
            recursive=recursive,
            shared_palette=palette == "shared",
            out_format=out_format.value,
            spark=spark,
            stop=stop,
        )
    except QuantcliError as exc:
        if exc.exit_code == EXIT_USAGE:
            usage(str(exc))
        error_line(str(exc))  # the planning job failed (exit 3), or an input error before any work
        raise SystemExit(exc.exit_code) from None
    _finish(results, total, as_json, quiet, stop, report=report, settings=settings)
