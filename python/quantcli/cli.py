"""The ``quantcli`` command: parses options, calls the API, prints, maps exit codes.

Exit codes: 0 every input was written (or kept by --skip-if-larger), 1 at least one
input failed, 2 usage error (bad option, no input).
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from . import __version__
from .api import CompressResult, compress_bytes, compress_file
from .batch import default_ext, expand_inputs, plan_jobs, read_file_list, run_jobs
from .choosek import DEFAULT_MIN_PSNR, DEFAULT_SAMPLE, PickK
from .errors import InvalidOptionError, QuantcliError
from .options import (
    DEFAULT_LEVEL,
    DEFAULT_MAX_ITER,
    DEFAULT_RUN_MARGIN,
    DEFAULT_TOL,
    K_MAX,
    K_MIN,
    QuantizeOptions,
)

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


# The Spark options, shared by compress and choose-k.
# k-means options shared by compress and choose-k.
MaxIterOption = Annotated[int, typer.Option("--max-iter", min=0, help="Most k-means iterations.")]
TolOption = Annotated[
    float,
    typer.Option(
        "--tol", min=0.0, help="Stop k-means once an iteration improves the squared error by less than this fraction."
    ),
]
EngineOption = Annotated[
    str, typer.Option("--engine", help="local (default): threads on this machine; spark: a Spark cluster.")
]
MasterOption = Annotated[
    str | None,
    typer.Option("--master", help="Spark master URL (local[*], spark://..., yarn, k8s://...). --engine spark."),
]
ConfOption = Annotated[
    list[str] | None, typer.Option("--conf", help="Spark setting key=value; repeatable. --engine spark.")
]


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
        str, typer.Option("-k", "--colors", help="Palette size K, 2 to 256, or auto: choose K per image.")
    ] = "256",
    method: Annotated[
        str, typer.Option("--method", help="With -k auto: silhouette, elbow or quality (see choose-k).")
    ] = "silhouette",
    min_psnr: Annotated[
        float, typer.Option("--min-psnr", help="With -k auto --method quality: the PSNR target in dB.")
    ] = DEFAULT_MIN_PSNR,
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
        typer.Option(
            "--files-from",
            help="Read more input paths from FILE, one per line (- for stdin). "
            "With --out-dir, listed files keep their relative paths, as rsync --files-from does.",
        ),
    ] = None,
    null: Annotated[
        bool, typer.Option("-0", "--null", help="--files-from entries end with NUL, as find -print0 writes them.")
    ] = False,
    force: Annotated[bool, typer.Option("-f", "--force", help="Overwrite existing output files.")] = False,
    skip_if_larger: Annotated[
        bool,
        typer.Option(
            "--skip-if-larger",
            help="Keep the original when the result is not smaller: write nothing (stdout gets the input's bytes).",
        ),
    ] = False,
    dither: Annotated[bool, typer.Option("--dither", help="Floyd-Steinberg dithering (off by default).")] = False,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed for random choices; same seed, same bytes.")] = 0,
    level: Annotated[
        int, typer.Option("--level", min=0, max=9, help="zlib compression level of the PNG (0 fast .. 9 small).")
    ] = DEFAULT_LEVEL,
    max_iter: MaxIterOption = DEFAULT_MAX_ITER,
    tol: TolOption = DEFAULT_TOL,
    run_margin: Annotated[
        float,
        typer.Option(
            "--run-margin",
            min=0.0,
            help="Near-ties: a pixel may take its left/upper neighbour's colour when that costs at most this much "
            "more squared error; longer runs, smaller files. 0: every pixel gets its nearest colour.",
        ),
    ] = DEFAULT_RUN_MARGIN,
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
    engine: EngineOption = "local",
    master: MasterOption = None,
    conf: ConfOption = None,
    out_format: Annotated[
        str,
        typer.Option(
            "--out-format",
            help="png (default): one file per input; parquet: one table in --out-dir "
            "(path, name, png bytes, metrics). parquet needs --engine spark.",
        ),
    ] = "png",
) -> None:
    """Quantize images to K colours and write them as palette PNGs.

    Outputs are written atomically (a temporary file, then a rename) and never replace an existing file without --force. A bad input prints one error line and the batch goes on; the exit code is then 1.
    """  # noqa: E501 (one line per paragraph: Typer rewraps the help text)
    try:
        k, pick_k = _parse_k(colors, method, min_psnr)
        options = QuantizeOptions(
            k=k, seed=seed, dither=dither, max_iter=max_iter, tol=tol, level=level, run_margin=run_margin
        )
    except InvalidOptionError as exc:
        raise _usage(str(exc)) from None
    names = list(inputs or [])
    listed: list[str] = []  # --files-from entries: literal paths, never "-" for stdin
    if files_from is not None:
        try:
            if files_from == "-":
                if "-" in names:
                    raise _usage("stdin cannot hold both an image and --files-from")
                listed = read_file_list(sys.stdin.buffer.read(), null=null)
            else:
                listed = read_file_list(Path(files_from).read_bytes(), null=null)
        except OSError as exc:
            raise _usage(f"--files-from {files_from}: {exc.strerror or exc}") from None
    elif null:
        raise _usage("-0/--null needs --files-from")
    if not names and not listed:
        raise _usage("no input (give files, folders, globs, - or --files-from)")
    shared_palette = _palette_option(palette)
    if pick_k is not None and palette != "per-image":
        raise _usage("-k auto picks K per image; it does not combine with --palette shared or FILE")
    if engine not in ("local", "spark") or out_format not in ("png", "parquet"):
        raise _usage(f"--engine takes local or spark, --out-format png or parquet; got {engine}, {out_format}")
    if engine == "spark":
        raise typer.Exit(
            _compress_spark(
                names,
                options,
                shared_palette,
                out_dir=out_dir,
                ext=ext,
                recursive=recursive,
                listed=listed,
                force=force,
                skip_if_larger=skip_if_larger,
                out_format=out_format,
                master=master,
                conf=conf or [],
                output=output,
                as_json=as_json,
                quiet=quiet,
                pick_k=pick_k,
            )
        )
    if master is not None or conf or out_format != "png":
        raise _usage("--master, --conf and --out-format parquet need --engine spark")
    if "-" in names:
        if len(names) + len(listed) > 1:
            raise _usage("- (stdin) must be the only input")
        if out_dir is not None:
            raise _usage("--out-dir does not apply to stdin; use -o or stdout")
        code = _compress_stdin(
            options,
            output,
            force=force,
            skip_if_larger=skip_if_larger,
            as_json=as_json,
            pick_k=pick_k,
            palette=_fixed_palette(shared_palette),
        )
        raise typer.Exit(code)
    if output is not None and out_dir is not None:
        raise _usage("use either -o/--output or --out-dir, not both")

    k_text = "auto" if pick_k else str(k)
    suffix = ext if ext is not None else default_ext(k_text, out_dir is not None)
    suffix = suffix.replace("{K}", k_text).replace("{k}", k_text)
    expand = dict(recursive=recursive, skip_suffix=suffix, out_dir=out_dir)
    files = [*expand_inputs(names, **expand), *expand_inputs(listed, keep_relative=True, **expand)]
    if output is not None and len(files) != 1:
        raise _usage(f"-o/--output takes exactly one input, got {len(files)}")
    if str(output) == "-":
        code = _compress_one_to_stdout(
            files[0][0],
            options,
            skip_if_larger=skip_if_larger,
            as_json=as_json,
            pick_k=pick_k,
            palette=_fixed_palette(shared_palette),
        )
        raise typer.Exit(code)
    plan = plan_jobs(files, ext=suffix, out_dir=out_dir, output=output)
    workers = jobs or os.cpu_count() or 1
    one = compress_file if pick_k is None else functools.partial(compress_file, pick_k=pick_k)
    one = _palette_compress(shared_palette, plan, options, workers, one)
    results = run_jobs(
        plan,
        options,
        workers=workers,
        force=force,
        skip_if_larger=skip_if_larger,
        compress=one,
        k_per_file=pick_k is not None,
    )
    raise typer.Exit(_report(results, len(plan), as_json=as_json, quiet=quiet))


def _report(results, total: int, *, as_json: bool, quiet: bool) -> int:
    """Print JSON lines, errors, progress and the summary; return the exit code."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    # Ask the stream itself: rich takes FORCE_COLOR for a terminal, which would draw the
    # bar into CI logs and pipes.
    show_progress = not quiet and sys.stderr.isatty()
    counts = {"written": 0, "skipped": 0, "error": 0}
    bytes_in = bytes_out = 0
    start = time.perf_counter()
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not show_progress,
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


def _emit(
    data: bytes,
    png: bytes,
    result: CompressResult,
    output: Path | None,
    *,
    force: bool,
    skip_if_larger: bool,
    as_json: bool,
) -> int:
    """Write one in-memory result to ``output`` (None or - for stdout) and its JSON line."""
    from dataclasses import replace

    from .images import write_atomic

    to_stdout = output is None or str(output) == "-"
    if skip_if_larger and len(png) >= len(data):
        # Keep the original: a pipe still gets an image (the input's bytes); a file gets nothing.
        result = replace(result, output=None, bytes_out=len(data), status="skipped")
        payload: bytes | None = data if to_stdout else None
    else:
        payload = png
        if not to_stdout:
            result = replace(result, output=str(output))
    if to_stdout:
        sys.stdout.buffer.write(payload or b"")
        sys.stdout.buffer.flush()
        json_stream = sys.stderr  # stdout holds the image
    else:
        if payload is not None:
            write_atomic(output, payload, force=force)
        json_stream = sys.stdout
    if as_json:
        json_stream.write(json.dumps(result.to_json()) + "\n")
    return EXIT_OK


def _compress_stdin(
    options: QuantizeOptions,
    output: Path | None,
    *,
    force: bool,
    skip_if_larger: bool,
    as_json: bool,
    pick_k: PickK | None = None,
    palette=None,
) -> int:
    data = sys.stdin.buffer.read()
    try:
        png, result = compress_bytes(data, options, name="<stdin>", pick_k=pick_k, palette=palette)
        return _emit(data, png, result, output, force=force, skip_if_larger=skip_if_larger, as_json=as_json)
    except QuantcliError as exc:
        typer.echo(f"quantcli: error: {exc}", err=True)
        return exc.exit_code


def _compress_one_to_stdout(
    source: Path,
    options: QuantizeOptions,
    *,
    skip_if_larger: bool,
    as_json: bool,
    pick_k: PickK | None = None,
    palette=None,
) -> int:
    try:
        data = source.read_bytes()
    except OSError as exc:
        typer.echo(f"quantcli: error: {source}: {exc.strerror or exc}", err=True)
        return EXIT_FAILED
    try:
        png, result = compress_bytes(data, options, name=str(source), pick_k=pick_k, palette=palette)
        return _emit(data, png, result, None, force=False, skip_if_larger=skip_if_larger, as_json=as_json)
    except QuantcliError as exc:
        typer.echo(f"quantcli: error: {exc}", err=True)
        return exc.exit_code


def _parse_k(text: str, method: str, min_psnr: float) -> tuple[int, PickK | None]:
    """``-k``: a palette size, or ``auto`` with a chooser. Raises InvalidOptionError."""
    from .choosek import ChooseKOptions, k_chooser

    if text.strip().lower() == "auto":
        return K_MAX, k_chooser(ChooseKOptions(method=method, min_psnr=min_psnr))
    try:
        k = int(text)
    except ValueError:
        raise InvalidOptionError(
            f"-k/--colors must be a number from {K_MIN} to {K_MAX} or auto, got {text!r}"
        ) from None
    if not K_MIN <= k <= K_MAX:
        raise InvalidOptionError(f"-k/--colors must be from {K_MIN} to {K_MAX} or auto, got {k}")
    return k, None


@app.command(
    "choose-k",
    epilog=(
        "Examples:\n\n"
        "  quantcli choose-k photo.jpg                  (a table: K 2..64, highest silhouette)\n\n"
        "  quantcli choose-k photo.jpg --k-max 12 --plot silhouette.png\n\n"
        "  quantcli choose-k shots/ --method elbow --json\n\n"
        "  quantcli choose-k photo.jpg --method quality --min-psnr 38\n\n"
        "  quantcli choose-k icons/ --shared --ks 4,8,16,32\n\n"
        "Exit codes: 0 every input scored, 1 some inputs failed, 2 usage error."
    ),
)
def choose_k(
    inputs: Annotated[
        list[str] | None,
        typer.Argument(help="Image files, folders, globs, or - for stdin.", show_default=False),
    ] = None,
    method: Annotated[
        str,
        typer.Option(
            "--method",
            help="silhouette: highest mean silhouette. elbow: knee of the MSE curve (Kneedle). "
            "quality: smallest K with PSNR >= --min-psnr.",
        ),
    ] = "silhouette",
    k_min: Annotated[int | None, typer.Option("--k-min", help="Smallest K tried (default 2).")] = None,
    k_max: Annotated[
        int | None,
        typer.Option("--k-max", help="Largest K tried (default 64; 256 with --method quality)."),
    ] = None,
    ks: Annotated[
        str | None,
        typer.Option("--ks", help="Try exactly these K, comma-separated (2,4,8,16), not a range."),
    ] = None,
    distance: Annotated[
        str,
        typer.Option(
            "--distance",
            help="Silhouette distance. squared: every pixel, squared Euclidean (Spark MLlib's "
            "ClusteringEvaluator). euclidean: classic silhouette (scikit-learn), --sample pixels.",
        ),
    ] = "squared",
    sample: Annotated[
        int, typer.Option("--sample", min=2, help="Pixels drawn (seeded) for --distance euclidean.")
    ] = DEFAULT_SAMPLE,
    min_psnr: Annotated[
        float, typer.Option("--min-psnr", help="PSNR target in dB for --method quality.")
    ] = DEFAULT_MIN_PSNR,
    shared: Annotated[
        bool,
        typer.Option("--shared", help="One K for all inputs, chosen on their summed histogram."),
    ] = False,
    recursive: Annotated[bool, typer.Option("-r", "--recursive", help="Go into subfolders of folder inputs.")] = False,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            help="Write a PNG of the curves with the chosen K marked (needs matplotlib).",
            dir_okay=False,
        ),
    ] = None,
    bytes_level: Annotated[
        int,
        typer.Option(
            "--bytes-level",
            min=0,
            max=9,
            help="zlib level of the PNG encoded per K for the bytes column (6: as compress).",
        ),
    ] = 1,
    no_bytes: Annotated[bool, typer.Option("--no-bytes", help="Skip encoding; no bytes column.")] = False,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed for the fits and the pixel sample.")] = 0,
    max_iter: MaxIterOption = DEFAULT_MAX_ITER,
    tol: TolOption = DEFAULT_TOL,
    run_margin: Annotated[
        float,
        typer.Option(
            "--run-margin",
            min=0.0,
            help="As for compress: the near-tie margin of the remap whose MSE and bytes are shown.",
        ),
    ] = DEFAULT_RUN_MARGIN,
    threads: Annotated[int, typer.Option("--threads", min=0, help="Threads per image; 0: all cores.")] = 0,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print one JSON object per input (or per shared set) instead of tables."),
    ] = False,
    engine: EngineOption = "local",
    master: MasterOption = None,
    conf: ConfOption = None,
) -> None:
    """Recommend a palette size K per image: by silhouette, elbow or a quality target.

    Every candidate K is fitted on the image's colour histogram, built once, exactly as
    compress fits it, so the MSE and PSNR shown are those compress gives at that K.
    """
    from .choosek import ChooseKError, ChooseKOptions, choose_k_file, choose_k_shared
    from .choosek import choose_k as choose_k_pixels
    from .images import read_image

    try:
        candidates = None if ks is None else _parse_ks(ks)
        if candidates is not None and (k_min is not None or k_max is not None):
            raise InvalidOptionError("use either --ks or --k-min/--k-max, not both")
        choose = ChooseKOptions(
            method=method,
            k_min=K_MIN if k_min is None else k_min,
            k_max=k_max,
            ks=candidates,
            distance=distance,
            sample=sample,
            min_psnr=min_psnr,
            bytes_level=None if no_bytes else bytes_level,
        )
        fit = QuantizeOptions(seed=seed, max_iter=max_iter, tol=tol, threads=threads, run_margin=run_margin)
        if plot is not None:
            _require_matplotlib()
    except InvalidOptionError as exc:
        raise _usage(str(exc)) from None
    names = list(inputs or [])
    if not names:
        raise _usage("no input (give files, folders, globs or -)")
    if "-" in names and len(names) > 1:
        raise _usage("- (stdin) must be the only input")
    if engine not in ("local", "spark"):
        raise _usage(f"--engine takes local or spark; got {engine}")
    if engine == "spark":
        if "-" in names:
            raise _usage("--engine spark reads files, folders and URIs; - is for the local engine")
        try:
            from . import spark_engine

            outcomes = spark_engine.choose_k(
                names,
                choose=choose,
                quantize=fit,
                shared=shared,
                recursive=recursive,
                master=master,
                conf=conf or [],
                progress=sys.stderr.isatty(),
            )
        except QuantcliError as exc:
            raise _usage(str(exc)) from None
        raise typer.Exit(_report_choose_k(outcomes, as_json=as_json, plot=plot))
    if master is not None or conf:
        raise _usage("--master and --conf need --engine spark")
    sources: list[str | bytes] = (
        [sys.stdin.buffer.read()]
        if names == ["-"]
        else [str(path) for path, _ in expand_inputs(names, recursive=recursive)]
    )
    if not sources:
        raise _usage("no image found in the inputs")

    def one(source: str | bytes):
        start = time.perf_counter()
        name = "<stdin>" if isinstance(source, bytes) else source
        try:
            if isinstance(source, bytes):
                return choose_k_pixels(read_image(source, name=name), choose, quantize=fit, name=name)
            return choose_k_file(source, choose, quantize=fit)
        except QuantcliError as exc:
            return ChooseKError(name, str(exc), time.perf_counter() - start)

    if shared and names != ["-"]:  # stdin is a set of one: no merging to do
        result, errors = choose_k_shared([str(s) for s in sources], choose, quantize=fit)
        outcomes = [*errors, *([result] if result is not None else [])]
    else:
        outcomes = (one(source) for source in sources)
    raise typer.Exit(_report_choose_k(outcomes, as_json=as_json, plot=plot))


def _parse_ks(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise InvalidOptionError(f"--ks must be comma-separated whole numbers, got {text!r}") from None


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InvalidOptionError("--plot needs matplotlib: pip install 'quantcli[plot]'") from None


def _report_choose_k(outcomes, *, as_json: bool, plot: Path | None) -> int:
    """Print a table (or a JSON line) per result and an error line per failure; plot."""
    from rich.console import Console

    from .choosek import ChooseKError, plot_results

    out = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    results, failed = [], 0
    for outcome in outcomes:
        if isinstance(outcome, ChooseKError):
            failed += 1
            err.print(f"quantcli: error: {outcome.error}", markup=False)
        else:
            results.append(outcome)
        if as_json:
            sys.stdout.write(json.dumps(outcome.to_json()) + "\n")
            sys.stdout.flush()
        elif not isinstance(outcome, ChooseKError):
            out.print(_choose_k_table(outcome))
    if plot is not None and results:
        try:
            plot_results(results, plot)
        except QuantcliError as exc:
            err.print(f"quantcli: error: {exc}", markup=False)
            return exc.exit_code
    return EXIT_FAILED if failed else EXIT_OK


def _choose_k_table(result):
    """One rich table: a row per K evaluated, the recommended one marked."""
    import math

    from rich.table import Table

    euclidean = result.sample is not None
    table = Table(title=f"{result.path}: K = {result.k}", title_justify="left", caption_justify="left")
    table.add_column("K", justify="right")
    table.add_column("colours", justify="right")
    table.add_column("MSE", justify="right")
    table.add_column("PSNR dB", justify="right")
    table.add_column("silhouette (eucl.)" if euclidean else "silhouette", justify="right")
    has_bytes = any(s.png_bytes is not None for s in result.scores)
    if has_bytes:
        table.add_column("PNG bytes", justify="right")
    table.add_column("")
    for s in result.scores:
        sil = s.silhouette_euclidean if euclidean else s.silhouette
        row = [
            str(s.k),
            str(s.colors),
            f"{s.mse:.2f}",
            "lossless" if math.isinf(s.psnr) else f"{s.psnr:.2f}",
            "-" if sil is None or math.isnan(sil) else f"{sil:.4f}",
        ]
        if has_bytes:
            row.append("-" if s.png_bytes is None else f"{s.png_bytes:,}")
        row.append("<- chosen" if s.k == result.k else "")
        table.add_row(*row, style="bold" if s.k == result.k else None)
    if result.method == "quality":
        rule = (
            f"smallest K with PSNR >= {result.min_psnr:g} dB"
            if result.target_met
            else f"no K reaches {result.min_psnr:g} dB; the largest K tried"
        )
    elif result.method == "elbow":
        rule = "knee of the MSE curve (Kneedle)"
    elif euclidean:
        rule = f"highest Euclidean silhouette on {result.sample:,} sampled pixels"
    else:
        rule = f"highest squared-Euclidean silhouette over all {result.pixels:,} pixels"
    table.caption = f"K = {result.k}: {rule}; {result.unique_colors:,} distinct colours; {result.seconds:.2f} s"
    return table


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


def _palette_compress(palette, plan, options: QuantizeOptions, workers: int, one):
    """``one`` (compress_file), bound to a file's palette or to the collection's (pass 1 runs here)."""
    from .palette import PER_IMAGE, SHARED, collection_histogram, fit_shared_palette

    if isinstance(palette, str) and palette == PER_IMAGE:
        return one
    if isinstance(palette, str) and palette == SHARED:
        sources = [job.source for job in plan if job.output is not None]
        palette = fit_shared_palette(collection_histogram(sources, workers=workers), options)
    return functools.partial(one, palette=palette)


def _compress_spark(
    names,
    options: QuantizeOptions,
    palette,
    *,
    out_dir,
    ext,
    recursive,
    force,
    skip_if_larger,
    out_format,
    master,
    conf,
    output,
    as_json: bool,
    quiet: bool,
    pick_k=None,
    listed=(),
) -> int:
    """--engine spark: the same inputs, names, bytes and report as the local engine."""
    if "-" in names or output is not None:
        raise _usage("--engine spark writes to --out-dir or beside the inputs; - and -o are for the local engine")
    from .palette import PER_IMAGE

    if out_dir is not None and re.match(r"^(?!file:)[A-Za-z][A-Za-z0-9+.-]+:/[^/]", str(out_dir)):
        out_dir = re.sub(r":/", "://", str(out_dir), count=1)  # pathlib folded hdfs://host into hdfs:/host
    k_text = "auto" if pick_k else str(options.k)
    suffix = ext if ext is not None else default_ext(k_text, out_dir is not None)
    suffix = suffix.replace("{K}", k_text).replace("{k}", k_text)
    try:
        from . import spark_engine

        total, results = spark_engine.compress(
            names,
            options=options,
            ext=suffix,
            recursive=recursive,
            out_dir=out_dir,
            force=force,
            skip_if_larger=skip_if_larger,
            palette=None if isinstance(palette, str) and palette == PER_IMAGE else palette,
            out_format=out_format,
            master=master,
            conf=conf,
            progress=not quiet and sys.stderr.isatty(),
            pick_k=pick_k,
            listed=listed,
        )
    except QuantcliError as exc:
        raise _usage(str(exc)) from None
    return _report(results, total, as_json=as_json, quiet=quiet)


def main() -> None:
    """Entry point of the ``quantcli`` script."""
    app()


if __name__ == "__main__":
    main()
