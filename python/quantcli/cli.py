"""The ``quantcli`` command: parses options, calls the API, prints, maps exit codes.

Exit codes: 0 every input was written (or kept by --skip-if-larger), 1 at least one
input failed, 2 usage error (bad option, no input).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from . import __version__
from .api import CompressResult, compress_bytes
from .batch import default_ext, expand_inputs, plan_jobs, read_file_list, run_jobs
from .errors import InvalidOptionError, QuantcliError
from .options import DEFAULT_LEVEL, DEFAULT_MAX_ITER, DEFAULT_TOL, K_MAX, K_MIN, QuantizeOptions

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

app = typer.Typer(
    name="quantcli",
    help="Shrink images to K colours and write small palette PNGs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"quantcli {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Shrink images to K colours and write small palette PNGs."""


def _usage(message: str) -> typer.Exit:
    typer.echo(f"quantcli: error: {message}", err=True)
    return typer.Exit(EXIT_USAGE)


@app.command(
    epilog=(
        "Examples:\n\n"
        "  quantcli compress photo.jpg -k 64                 (writes photo-q64.png)\n\n"
        "  quantcli compress assets/ -r -k 32 --out-dir small/\n\n"
        "  find . -name '*.png' -print0 | quantcli compress --files-from - -0 -k 16 --json\n\n"
        "  cat in.png | quantcli compress - -k 8 > out.png\n\n"
        "Exit codes: 0 all written, 1 some inputs failed, 2 usage error."
    )
)
def compress(
    inputs: Annotated[
        list[str] | None,
        typer.Argument(
            help="Image files, folders, globs (quote them: 'shots/**/*.png'), or - for stdin.",
            show_default=False,
        ),
    ] = None,
    colors: Annotated[
        int, typer.Option("-k", "--colors", min=K_MIN, max=K_MAX, help="Palette size K, 2 to 256.")
    ] = 256,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Output file, for a single input (- for stdout).")
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out-dir", help="Write outputs here, mirroring the input folders.", file_okay=False),
    ] = None,
    ext: Annotated[
        str | None,
        typer.Option(
            "--ext",
            help="Suffix replacing the input's extension. Default: -q{K}.png beside the input, .png in --out-dir.",
            show_default=False,
        ),
    ] = None,
    recursive: Annotated[bool, typer.Option("-r", "--recursive", help="Go into subfolders of folder inputs.")] = False,
    files_from: Annotated[
        str | None,
        typer.Option("--files-from", help="Read more input paths from FILE, one per line (- for stdin)."),
    ] = None,
    null: Annotated[
        bool, typer.Option("-0", "--null", help="--files-from entries end with NUL, as find -print0 writes them.")
    ] = False,
    force: Annotated[bool, typer.Option("-f", "--force", help="Overwrite existing output files.")] = False,
    skip_if_larger: Annotated[
        bool, typer.Option("--skip-if-larger", help="Write nothing when the result is not smaller than the input.")
    ] = False,
    dither: Annotated[bool, typer.Option("--dither", help="Floyd-Steinberg dithering (off by default).")] = False,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed for random choices; same seed, same bytes.")] = 0,
    level: Annotated[
        int, typer.Option("--level", min=0, max=9, help="zlib compression level of the PNG (0 fast .. 9 small).")
    ] = DEFAULT_LEVEL,
    max_iter: Annotated[int, typer.Option("--max-iter", min=0, help="Most k-means iterations.")] = DEFAULT_MAX_ITER,
    tol: Annotated[
        float, typer.Option("--tol", min=0.0, help="Stop k-means once no colour moves more than this (0-255 units).")
    ] = DEFAULT_TOL,
    jobs: Annotated[
        int | None, typer.Option("-j", "--jobs", min=1, help="Files processed in parallel. Default: all cores.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object per input (path, output, sizes, PSNR, status, error).")
    ] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No progress bar and no summary line.")] = False,
    palette: Annotated[
        str,
        typer.Option(
            "--palette",
            help="per-image (default): each image its own palette; shared: one palette fitted to all inputs "
            "(two passes); FILE.png: remap onto that image's palette, like pngquant --map (-k is then unused).",
        ),
    ] = "per-image",
    engine: Annotated[
        str, typer.Option("--engine", help="local (default): threads on this machine; spark: a Spark cluster.")
    ] = "local",
    master: Annotated[
        str | None,
        typer.Option("--master", help="Spark master URL (local[*], spark://..., yarn, k8s://...). --engine spark."),
    ] = None,
    conf: Annotated[
        list[str] | None, typer.Option("--conf", help="Spark setting key=value; repeatable. --engine spark.")
    ] = None,
    out_format: Annotated[
        str,
        typer.Option("--out-format", help="png (default): one file per input; parquet: one table in --out-dir "
                     "(path, name, png bytes, metrics). parquet needs --engine spark."),
    ] = "png",
) -> None:
    """Quantize images to K colours and write them as palette PNGs.

    Outputs are written atomically (a temporary file, then a rename) and never replace
    an existing file without --force. A bad input prints one error line and the batch
    goes on; the exit code is then 1.
    """
    try:
        options = QuantizeOptions(k=colors, seed=seed, dither=dither, max_iter=max_iter, tol=tol, level=level)
    except InvalidOptionError as exc:
        raise _usage(str(exc)) from None
    names = list(inputs or [])
    if files_from is not None:
        try:
            if files_from == "-":
                if "-" in names:
                    raise _usage("stdin cannot hold both an image and --files-from")
                names += read_file_list(sys.stdin.buffer.read(), null=null)
            else:
                names += read_file_list(Path(files_from).read_bytes(), null=null)
        except OSError as exc:
            raise _usage(f"--files-from {files_from}: {exc.strerror or exc}") from None
    elif null:
        raise _usage("-0/--null needs --files-from")
    if not names:
        raise _usage("no input (give files, folders, globs, - or --files-from)")
    shared_palette = _palette_option(palette)
    if engine not in ("local", "spark") or out_format not in ("png", "parquet"):
        raise _usage(f"--engine takes local or spark, --out-format png or parquet; got {engine}, {out_format}")
    if engine == "spark":
        raise typer.Exit(_compress_spark(
            names, options, shared_palette, out_dir=out_dir, ext=ext, recursive=recursive, force=force,
            skip_if_larger=skip_if_larger, out_format=out_format, master=master, conf=conf or [],
            output=output, as_json=as_json, quiet=quiet,
        ))
    if master is not None or conf or out_format != "png":
        raise _usage("--master, --conf and --out-format parquet need --engine spark")
    if "-" in names:
        if len(names) > 1:
            raise _usage("- (stdin) must be the only input")
        if out_dir is not None:
            raise _usage("--out-dir does not apply to stdin; use -o or stdout")
        raise typer.Exit(_compress_stdin(options, output, force=force, as_json=as_json,
                                         palette=_fixed_palette(shared_palette)))
    if output is not None and out_dir is not None:
        raise _usage("use either -o/--output or --out-dir, not both")

    suffix = ext if ext is not None else default_ext(colors, out_dir is not None)
    suffix = suffix.replace("{K}", str(colors)).replace("{k}", str(colors))
    files = list(expand_inputs(names, recursive=recursive, skip_suffix=suffix))
    if output is not None and len(files) != 1:
        raise _usage(f"-o/--output takes exactly one input, got {len(files)}")
    if str(output) == "-":
        raise typer.Exit(_compress_one_to_stdout(files[0][0], options, as_json=as_json,
                                                 palette=_fixed_palette(shared_palette)))
    plan = plan_jobs(files, ext=suffix, out_dir=out_dir, output=output)
    workers = jobs or os.cpu_count() or 1
    compress_fn = _palette_compress(shared_palette, plan, options, workers)
    results = run_jobs(plan, options, workers=workers, force=force, skip_if_larger=skip_if_larger,
                       compress=compress_fn)
    raise typer.Exit(_report(results, len(plan), as_json=as_json, quiet=quiet))


def _report(results, total: int, *, as_json: bool, quiet: bool) -> int:
    """Print JSON lines, errors, progress and the summary; return the exit code."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    show_progress = not quiet and err.is_terminal
    counts = {"written": 0, "skipped": 0, "error": 0}
    bytes_in = bytes_out = 0
    start = time.perf_counter()
    progress = Progress(
        TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), console=err, transient=True, disable=not show_progress,
    )
    with progress:
        task = progress.add_task("compressing", total=total)
        for result in results:
            counts[result.status] += 1
            if result.status == "error":
                err.print(f"quantcli: error: {result.error}", markup=False)
            elif result.bytes_in is not None and result.bytes_out is not None:
                bytes_in += result.bytes_in
                bytes_out += result.bytes_out
            if as_json:
                sys.stdout.write(json.dumps(result.to_json()) + "\n")
                sys.stdout.flush()
            progress.advance(task)
    if not quiet:
        elapsed = time.perf_counter() - start
        saved = f"{_size(bytes_in)} -> {_size(bytes_out)}"
        if bytes_in:
            saved += f" ({100.0 * bytes_out / bytes_in:.1f}%)"
        err.print(
            f"quantcli: {counts['written']} written, {counts['skipped']} skipped, {counts['error']} failed; "
            f"{saved} in {elapsed:.2f} s",
            markup=False,
        )
    return EXIT_FAILED if counts["error"] else EXIT_OK


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000.0
    return f"{n} B"


def _emit(png: bytes, result: CompressResult, output: Path | None, *, force: bool, as_json: bool) -> int:
    from .images import write_atomic

    if output is None or str(output) == "-":
        sys.stdout.buffer.write(png)
        sys.stdout.buffer.flush()
        json_stream = sys.stderr  # stdout holds the image
    else:
        write_atomic(output, png, force=force)
        json_stream = sys.stdout
    if as_json:
        json_stream.write(json.dumps(result.to_json()) + "\n")
    return EXIT_OK


def _compress_stdin(options: QuantizeOptions, output: Path | None, *, force: bool, as_json: bool,
                    palette=None) -> int:
    data = sys.stdin.buffer.read()
    try:
        png, result = compress_bytes(data, options, name="<stdin>", palette=palette)
        if output is not None and str(output) != "-":
            result = _with_output(result, str(output), len(png))
        return _emit(png, result, output, force=force, as_json=as_json)
    except QuantcliError as exc:
        typer.echo(f"quantcli: error: {exc}", err=True)
        return exc.exit_code


def _compress_one_to_stdout(source: Path, options: QuantizeOptions, *, as_json: bool, palette=None) -> int:
    try:
        data = source.read_bytes()
    except OSError as exc:
        typer.echo(f"quantcli: error: {source}: {exc.strerror or exc}", err=True)
        return EXIT_FAILED
    try:
        png, result = compress_bytes(data, options, name=str(source), palette=palette)
        return _emit(png, result, None, force=False, as_json=as_json)
    except QuantcliError as exc:
        typer.echo(f"quantcli: error: {exc}", err=True)
        return exc.exit_code


def _with_output(result: CompressResult, output: str, size: int) -> CompressResult:
    from dataclasses import replace

    return replace(result, output=output, bytes_out=size)


def _palette_option(value: str):
    """--palette as "per-image", "shared", or the palette read from a file (usage error if bad)."""
    from .palette import PER_IMAGE, SHARED, read_palette

    if value in (PER_IMAGE, SHARED):
        return value
    try:
        return read_palette(value)
    except QuantcliError as exc:
        raise _usage(f"--palette {exc}") from None


def _fixed_palette(palette):
    """The palette array for a single image: a file's palette, else None (its own)."""
    return None if isinstance(palette, str) else palette


def _palette_compress(palette, plan, options: QuantizeOptions, workers: int):
    """compress_file, bound to a file's palette or to the collection's (pass 1 runs here)."""
    from functools import partial

    from .api import compress_file
    from .palette import PER_IMAGE, SHARED, collection_histogram, fit_shared_palette

    if isinstance(palette, str) and palette == PER_IMAGE:
        return compress_file
    if isinstance(palette, str) and palette == SHARED:
        sources = [job.source for job in plan if job.output is not None]
        palette = fit_shared_palette(collection_histogram(sources, workers=workers), options)
    return partial(compress_file, palette=palette)


def _compress_spark(names, options: QuantizeOptions, palette, *, out_dir, ext, recursive, force, skip_if_larger,
                    out_format, master, conf, output, as_json: bool, quiet: bool) -> int:
    """--engine spark: the same inputs, names, bytes and report as the local engine."""
    if "-" in names or output is not None:
        raise _usage("--engine spark writes to --out-dir or beside the inputs; - and -o are for the local engine")
    from .palette import PER_IMAGE

    if out_dir is not None and re.match(r"^(?!file:)[A-Za-z][A-Za-z0-9+.-]+:/[^/]", str(out_dir)):
        out_dir = re.sub(r":/", "://", str(out_dir), count=1)  # pathlib folded hdfs://host into hdfs:/host
    suffix = ext if ext is not None else default_ext(options.k, out_dir is not None)
    suffix = suffix.replace("{K}", str(options.k)).replace("{k}", str(options.k))
    try:
        from . import spark_engine

        total, results = spark_engine.compress(
            names, options=options, ext=suffix, recursive=recursive, out_dir=out_dir, force=force,
            skip_if_larger=skip_if_larger,
            palette=None if isinstance(palette, str) and palette == PER_IMAGE else palette,
            out_format=out_format, master=master, conf=conf, progress=not quiet and sys.stderr.isatty(),
        )
    except QuantcliError as exc:
        raise _usage(str(exc)) from None
    return _report(results, total, as_json=as_json, quiet=quiet)


def main() -> None:
    """Entry point of the ``quantcli`` script."""
    app()


if __name__ == "__main__":
    main()
