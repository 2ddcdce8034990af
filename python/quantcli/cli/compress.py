"""``quantcli compress``: parse, call an engine, print, map the exit code."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from ..options import DEFAULT_LEVEL, K_MAX, K_MIN, MAX_LEVEL
from .common import (
    DEFAULT_MAX_PIXELS,
    DEFAULTS,
    EXIT_BROKEN_PIPE,
    EXIT_SIGNAL_BASE,
    EXIT_USAGE,
    ConfOption,
    Engine,
    EngineOption,
    InputsArgument,
    JsonOption,
    MasterOption,
    MaxIterOption,
    MaxPixelsOption,
    Method,
    OutFormat,
    RecursiveOption,
    RunMarginOption,
    SeedOption,
    StdoutClosed,
    TolOption,
    error_line,
    silence_stdout,
    usage,
    write_json_line,
    write_stdout,
)

AUTO_QUALITY = (0, 80)  # -k auto's default target: 79 SSIMULACRA2 at 0.72x pngquant's bytes (bench)

EPILOG = (
    "Examples:\n\n"
    "  quantcli compress photo.jpg -k 64                 (writes photo-q64.png)\n\n"
    "  quantcli compress assets/ -r -k 32 --out-dir small/\n\n"
    "  find . -name '*.png' -print0 | quantcli compress --files-from - -0 -k 16 --json\n\n"
    "  cat in.png | quantcli compress - -k 8 > out.png\n\n"
    "Exit codes: 0 all written, 1 some inputs failed, 2 usage error, 3 the Spark job failed, "
    "130/143 interrupted (SIGINT/SIGTERM), 141 stdout closed."
)


def compress(
    inputs: InputsArgument = None,
    colors: Annotated[
        str, typer.Option("-k", "--colors", metavar="K", help="Palette size K, 2 to 256, or auto: choose K per image.")
    ] = "256",
    quality: Annotated[
        str | None,
        typer.Option(
            "--quality",
            metavar="MIN-MAX",
            help="Fewest colours, up to -k, reaching MAX on a 0-100 scale that tracks SSIMULACRA2 (90 visually "
            "lossless, 70 high, 50 medium); an image that stays below MIN is not written (exit code 99). "
            "MAX alone means 0-MAX.",
        ),
    ] = None,
    method: Annotated[
        Method | None,
        typer.Option(
            "--method",
            help="With -k auto: choose K by a choose-k method instead of the default quality target "
            f"(--quality {AUTO_QUALITY[0]}-{AUTO_QUALITY[1]}).",
        ),
    ] = None,
    min_psnr: Annotated[
        float, typer.Option("--min-psnr", metavar="DB", help="With -k auto --method quality: the PSNR target in dB.")
    ] = 35.0,
    output: Annotated[
        str | None,
        typer.Option("-o", "--output", metavar="FILE", help="Output file, for a single input (- for stdout)."),
    ] = None,
    out_dir: Annotated[
        str | None, typer.Option("--out-dir", metavar="DIR", help="Write outputs here, mirroring the input folders.")
    ] = None,
    ext: Annotated[
        str | None,
        typer.Option(
            "--ext",
            metavar="SUFFIX",
            help="Suffix replacing the input's extension, ending in .png ({K} is replaced by K). "
            "Default: -q{K}.png beside the input, .png in --out-dir. --ext .png --force replaces PNG inputs in place.",
            show_default=False,
        ),
    ] = None,
    recursive: RecursiveOption = False,
    files_from: Annotated[
        str | None,
        typer.Option(
            "--files-from",
            help="Read more input paths from FILE, one per line (- for stdin); literal paths, never globs. "
            "With --out-dir, listed files keep their relative paths, as rsync --files-from does.",
            metavar="FILE",
        ),
    ] = None,
    null: Annotated[
        bool, typer.Option("-0", "--null", help="--files-from entries end with NUL, as find -print0 writes them.")
    ] = False,
    force: Annotated[bool, typer.Option("-f", "--force", help="Overwrite existing output files.")] = False,
    skip_existing: Annotated[
        bool,
        typer.Option(
            "--skip-existing", help="Leave existing outputs alone and count them as skipped (incremental runs)."
        ),
    ] = False,
    skip_if_larger: Annotated[
        bool,
        typer.Option(
            "--skip-if-larger",
            help="Keep the original when the result is not smaller: write nothing (stdout gets the input's bytes).",
        ),
    ] = False,
    dither: Annotated[
        str,
        typer.Option(
            "--dither",
            metavar="auto|on|off|0..1",
            help="Error diffusion in smooth areas only: auto (the best quality per byte), on, off, or a strength "
            "from 0 to 1.",
        ),
    ] = "auto",
    seed: SeedOption = 0,
    level: Annotated[
        int,
        typer.Option(
            "--level",
            min=0,
            max=MAX_LEVEL,
            metavar=f"0-{MAX_LEVEL}",
            help="PNG effort: 0-9 zlib (fast, all cores), 10-12 libdeflate's near-optimal parser (smaller).",
        ),
    ] = DEFAULT_LEVEL,
    max_iter: MaxIterOption = DEFAULTS["max_iter"],
    tol: TolOption = DEFAULTS["tol"],
    run_margin: RunMarginOption = DEFAULTS["run_margin"],
    max_pixels: MaxPixelsOption = DEFAULT_MAX_PIXELS,
    jobs: Annotated[
        int | None,
        typer.Option(
            "-j",
            "--jobs",
            min=1,
            metavar="N",
            help="Files processed in parallel (default: all cores); big images wait while the ones in flight "
            "would need more than half the RAM.",
        ),
    ] = None,
    as_json: JsonOption = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No progress bar and no summary line.")] = False,
    palette: Annotated[
        str,
        typer.Option(
            "--palette",
            help="per-image (default): each image its own palette; shared: one palette fitted to all inputs "
            "(two passes); FILE.png: remap onto that image's palette, like pngquant --map (-k is then unused).",
            metavar="per-image|shared|FILE",
        ),
    ] = "per-image",
    stdout_ok: Annotated[
        bool, typer.Option("--stdout", help="Allow writing the PNG to standard output when it is a terminal.")
    ] = False,
    engine: EngineOption = Engine.local,
    master: MasterOption = None,
    conf: ConfOption = None,
    out_format: Annotated[
        OutFormat,
        typer.Option(
            "--out-format",
            help="png: one file per input; parquet: one table in --out-dir (path, name, png bytes, metrics); "
            "parquet needs --engine spark.",
        ),
    ] = OutFormat.png,
    report: Annotated[
        str | None,
        typer.Option(
            "--report",
            help="Also write one self-contained HTML report of the batch: thumbnails before/after, bytes, PSNR, "
            "SSIM, SSIMULACRA2, WQS, palettes, sortable (see inspect for the definitions).",
            metavar="FILE.html",
        ),
    ] = None,
) -> None:
    """Quantize images to K colours and write them as palette PNGs.

    INPUT... are image files, folders (-r goes into subfolders) and globs (quote them: 'shots/**/*.png'; folder links are not followed), or - for stdin.

    Outputs are written atomically and never replace an existing file without --force. A bad input prints one error line and the batch goes on; the exit code is then 1.
    """  # noqa: E501 (one line per paragraph: Typer rewraps the help text)
    from ..errors import QuantcliError
    from ..options import QuantizeOptions
    from ..pipeline import Settings

    try:
        auto = _parse_k(colors)
        target = _parse_quality(quality, auto, method)
        choose = None
        if auto and method is not None:
            from ..choosek import ChooseKOptions

            choose = ChooseKOptions(method=method.value, min_psnr=min_psnr, bytes_level=None)
        options = QuantizeOptions(
            k=K_MAX if auto else int(colors),
            seed=seed,
            dither=_parse_dither(dither),
            max_iter=max_iter,
            tol=tol,
            level=level,
            run_margin=run_margin,
        )
        fixed_palette = _palette_file(palette)
    except QuantcliError as exc:
        usage(str(exc))
    if (auto or target is not None) and palette != "per-image":
        usage("-k auto and --quality pick K per image; they do not combine with --palette shared or FILE")
    if method is not None and not auto:
        usage("--method chooses K for -k auto; give -k auto with it")
    if force and skip_existing:
        usage("use either --force or --skip-existing, not both")
    settings = Settings(
        options=options,
        quality=target,
        choose=choose,
        palette=fixed_palette,
        force=force,
        skip_if_larger=skip_if_larger,
        skip_existing=skip_existing,
        max_pixels=max_pixels or None,
    )
    names = list(inputs or [])
    listed = _read_list(files_from, null, names)
    if not names and not listed:
        usage("no input (give files, folders, globs, - or --files-from)")
    if output is not None and out_dir is not None:
        usage("use either -o/--output or --out-dir, not both")
    if report is not None:
        _check_report(report, names, output, out_format, force)
    if engine is Engine.spark:
        _spark(
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
            report,
        )
    if master is not None or conf or out_format is not OutFormat.png:
        usage("--master, --conf and --out-format parquet need --engine spark")
    if "-" in names:
        if len(names) + len(listed) > 1:
            usage("- (stdin) must be the only input")
        if out_dir is not None:
            usage("--out-dir does not apply to stdin; use -o or stdout")
        _one_in_memory(None, settings, output, as_json, stdout_ok)
    naming = _naming(ext, auto or target is not None, options.k, out_dir, output, force)
    _local(names, listed, settings, naming, palette, recursive, jobs, as_json, quiet, stdout_ok, report)


def _parse_k(text: str) -> bool:
    """``-k``: False for a palette size (checked by QuantizeOptions), True for ``auto``."""
    from ..errors import InvalidOptionError

    if text.strip().lower() == "auto":
        return True
    try:
        k = int(text)
    except ValueError:
        raise InvalidOptionError(
            f"-k/--colors must be a number from {K_MIN} to {K_MAX} or auto, got {text!r}"
        ) from None
    if not K_MIN <= k <= K_MAX:
        raise InvalidOptionError(f"-k/--colors must be from {K_MIN} to {K_MAX} or auto, got {k}")
    return False


def _parse_quality(text: str | None, auto: bool, method: Method | None):
    """``--quality`` as (min, max); ``-k auto`` without a method means the default target."""
    from ..errors import InvalidOptionError
    from ..quality import parse_quality

    if text is not None:
        if method is not None:
            raise InvalidOptionError("--quality and --method are two ways of choosing K; give one")
        try:
            return parse_quality(text)
        except InvalidOptionError as exc:
            raise InvalidOptionError(f"--quality: {exc}") from None
    return AUTO_QUALITY if auto and method is None else None


def _parse_dither(text: str):
    """``--dither``: auto, on, off, or a strength from 0 to 1."""
    from ..errors import InvalidOptionError

    if text in ("auto", "on", "off"):
        return text
    try:
        return float(text)
    except ValueError:
        raise InvalidOptionError(f"--dither takes auto, on, off or a number from 0 to 1, got {text!r}") from None


def _palette_file(value: str):
    """The palette of ``--palette FILE``; None for per-image and shared."""
    if value in ("per-image", "shared"):
        return None
    from ..errors import QuantcliError
    from ..palette import read_palette

    try:
        return read_palette(value)
    except QuantcliError as exc:
        raise type(exc)(f"--palette {exc}") from None


def _read_list(files_from: str | None, null: bool, names: list[str]) -> list[str]:
    """The ``--files-from`` entries (literal paths)."""
    from ..planner import read_file_list

    if files_from is None:
        if null:
            usage("-0/--null needs --files-from")
        return []
    if files_from == "-" and "-" in names:
        usage("stdin cannot hold both an image and --files-from")
    try:
        data = sys.stdin.buffer.read() if files_from == "-" else Path(files_from).read_bytes()
    except OSError as exc:
        usage(f"--files-from {files_from}: {exc.strerror or exc}")
    return read_file_list(data, null=null)


def _naming(ext: str | None, auto: bool, k: int, out_dir: str | None, output: str | None, force: bool):
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


def _local(names, listed, settings, naming, palette, recursive, jobs, as_json, quiet, stdout_ok, report=None) -> None:
    from dataclasses import replace

    from .. import local_engine

    planned = list(local_engine.plan(names, naming, listed=listed, recursive=recursive))
    if naming.output is not None and len(planned) != 1:
        usage(f"-o/--output takes exactly one input, got {len(planned)}")
    if naming.output == "-":
        _one_in_memory(planned[0], settings, None, as_json, stdout_ok)
    _check_out_dir(naming.out_dir)
    from ..targets import remove_stale_temporaries

    for folder in {os.path.dirname(job.target) or "." for job in planned if job.target is not None}:
        remove_stale_temporaries(folder)
    workers = min(jobs or os.cpu_count() or 1, max(1, len(planned)))
    if palette == "shared":
        settings = replace(settings, palette=local_engine.shared_palette(planned, settings, workers=workers))
    from ..interrupt import interruptible

    with interruptible() as stop:
        results = local_engine.run(planned, settings, workers=workers, stop=stop)
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
        raise typer.Exit(EXIT_BROKEN_PIPE) from None
    except QuantcliError as exc:  # raised while the results were produced (a Spark job)
        error_line(str(exc))
        raise typer.Exit(exc.exit_code) from None
    if not quiet or stop:
        sys.stderr.write(summary_line(counts, interrupted=bool(stop)) + "\n")
    if report is not None and kept:
        code = max(code, _write_report(kept, report, settings, quiet))
    if stop:
        raise typer.Exit(EXIT_SIGNAL_BASE + stop.signal)
    raise typer.Exit(code)


# --- --report (the HTML report of quantcli.html_report) -------------------------------


def _check_report(report: str, names: list[str], output: str | None, out_format: OutFormat, force: bool) -> None:
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


def _one_in_memory(job, settings, output: str | None, as_json: bool, stdout_ok: bool) -> None:
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
        raise typer.Exit(EXIT_BROKEN_PIPE) from None
    raise typer.Exit(result.exit_code if result.status == "error" else 0)


def _spark(
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

    auto = settings.choose is not None or settings.quality is not None
    naming = _naming(ext, auto, settings.options.k, out_dir, None, settings.force)
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
        raise typer.Exit(exc.exit_code) from None
    _finish(results, total, as_json, quiet, stop, report=report, settings=settings)
