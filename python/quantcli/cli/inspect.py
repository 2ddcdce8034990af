"""``quantcli inspect``: parse, call :mod:`quantcli.inspection` (or the Spark engine), print."""

from __future__ import annotations

import enum
import os
import sys
import time
from typing import Annotated, Any

import typer

from .base import (
    EXIT_BROKEN_PIPE,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_SIGNAL_BASE,
    Engine,
    StdoutClosed,
    error_line,
    print_table,
    silence_stdout,
    usage,
    write_json_line,
)
from .common import ConfOption, EngineOption, JsonOption, MasterOption, RecursiveOption

EPILOG = (
    "Examples:\n\n"
    "  quantcli inspect photo.jpg                          (a table: size, features, dominant colours)\n\n"
    "  quantcli inspect shots/ -r -k 5 --json > shots.jsonl\n\n"
    "  quantcli inspect shots/ -r --against small/         (PSNR, SSIM, ratio, WQS per file)\n\n"
    "  quantcli inspect 'hdfs:///photos/**' --engine spark --out-dir hdfs:///tables/photos\n\n"
    "Exit codes: 0 every input inspected, 1 some inputs failed, 2 usage error, 3 the Spark job failed, "
    "130/143 interrupted, 141 stdout closed."
)


InputsArgument = Annotated[
    list[str] | None,
    typer.Argument(
        help="Image files, folders, globs (quote them: 'shots/**/*.png'); URIs with --engine spark.",
        show_default=False,
        metavar="INPUT...",
    ),
]


class TableFormat(str, enum.Enum):
    """What inspect writes to --out-dir."""

    parquet = "parquet"


ColorsOption = Annotated[
    int,
    typer.Option(
        "-k", "--colors", min=2, max=256, metavar="K", help="Dominant colours per image (a K-colour palette)."
    ),
]
AgainstOption = Annotated[
    str | None,
    typer.Option(
        "--against",
        help="Compare each input with its compressed output: a folder (compress --out-dir; outputs found by "
        "compress's naming) or, for one input, a file. Adds psnr, ssim, ssimulacra2, compression_ratio, wqs.",
        metavar="DIR|FILE",
    ),
]
ExtOption = Annotated[
    str | None,
    typer.Option(
        "--ext",
        metavar="SUFFIX",
        help="The outputs' suffix, as given to compress (default .png in an --against folder; .webp for "
        "--format webp outputs); without "
        "--against, outputs beside the inputs, e.g. --ext -q64.png.",
    ),
]
WqsWeightsOption = Annotated[
    str,
    typer.Option(
        "--wqs-weights",
        help="Weights of WQS = a*PSNR + b*SSIM + c*compression_ratio - d*blurriness (of the output), as a,b,c,d.",
        metavar="A,B,C,D",
    ),
]
Ssimulacra2Option = Annotated[
    bool,
    typer.Option(
        "--ssimulacra2",
        help="With --against, also compute SSIMULACRA2 (needs the ssimulacra2 package, the inspect extra; "
        "about 15 times slower than the other scores). Otherwise the field is null.",
    ),
]
OutDirOption = Annotated[
    str | None,
    typer.Option("--out-dir", metavar="DIR", help="Write the rows as a Parquet table in this folder (needs pyarrow)."),
]
OutFormatOption = Annotated[TableFormat, typer.Option("--out-format", help="The --out-dir table's format.")]
ForceOption = Annotated[bool, typer.Option("-f", "--force", help="Replace a table already in --out-dir.")]
JobsOption = Annotated[
    int | None,
    typer.Option("-j", "--jobs", min=1, metavar="N", help="Images processed in parallel. Default: all cores."),
]
QuietOption = Annotated[bool, typer.Option("-q", "--quiet", help="No progress bar and no summary line.")]


def inspect(
    inputs: InputsArgument = None,
    colors: ColorsOption = 8,
    against: AgainstOption = None,
    ext: ExtOption = None,
    wqs_weights: WqsWeightsOption = "0.4,0.4,0.1,0.1",
    ssimulacra2: Ssimulacra2Option = False,
    recursive: RecursiveOption = False,
    as_json: JsonOption = False,
    out_dir: OutDirOption = None,
    out_format: OutFormatOption = TableFormat.parquet,
    force: ForceOption = False,
    jobs: JobsOption = None,
    quiet: QuietOption = False,
    engine: EngineOption = Engine.local,
    master: MasterOption = None,
    conf: ConfOption = None,
) -> None:
    """Describe images: size, brightness, edges, colourfulness, blurriness and dominant colours, one row per image; with --against, quality scores of their compressed outputs.

    Rows are a table on the terminal, JSON lines with --json, or a Parquet table with --out-dir (the same fields). A bad input prints one error line and the batch goes on; the exit code is then 1.
    """  # noqa: E501 (one line per paragraph: Typer rewraps the help text)
    from ..errors import QuantcliError
    from ..inspection import InspectOptions
    from ..metrics import Weights

    try:
        weights = Weights(*_parse_weights(wqs_weights))
        options = InspectOptions(k=colors, weights=weights, ssimulacra2=ssimulacra2)
    except QuantcliError as exc:
        usage(str(exc))
    names = list(inputs or [])
    if not names:
        usage("no input (give files, folders or globs)")
    if "-" in names:
        usage("inspect reads files, folders and globs; - (stdin) is not supported")
    if as_json and out_dir is not None:
        usage("use either --json or --out-dir, not both")
    if out_dir is not None:
        _require_pyarrow()
    if ssimulacra2:
        _require_ssimulacra2()
    if engine is Engine.spark:
        if out_dir is None:
            usage("--engine spark writes a Parquet table: give --out-dir")
        _spark(names, options, against, ext, recursive, out_dir, force, master, conf, quiet)
    if master is not None or conf:
        usage("--master and --conf need --engine spark")
    _local(names, options, against, ext, recursive, out_dir, force, jobs, as_json, quiet)


def _parse_weights(text: str) -> tuple[float, float, float, float]:
    from ..errors import InvalidOptionError

    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise InvalidOptionError(f"--wqs-weights must be four numbers a,b,c,d, got {text!r}") from None
    if len(values) != 4:
        raise InvalidOptionError(f"--wqs-weights must be four numbers a,b,c,d, got {text!r}")
    return values  # type: ignore[return-value]


def _require_pyarrow() -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        from ..errors import install_hint

        usage(f"--out-dir writes Parquet, which needs pyarrow: {install_hint('inspect')}")


def _require_ssimulacra2() -> None:
    from ..metrics import ssimulacra2_available

    if not ssimulacra2_available():
        from ..errors import install_hint

        usage(f"--ssimulacra2 needs the ssimulacra2 package: {install_hint('inspect')}")


def _local(names, options, against, ext, recursive, out_dir, force, jobs, as_json, quiet) -> None:
    from .. import inspect_local, inspect_table
    from ..errors import QuantcliError
    from ..interrupt import interruptible

    try:
        planned = inspect_local.plan(names, against=against, ext=ext, recursive=recursive)
        if out_dir is not None:
            inspect_table.check_table(out_dir, force)
    except QuantcliError as exc:
        usage(str(exc))
    workers = jobs or os.cpu_count() or 1
    start = time.perf_counter()
    with interruptible() as stop:
        rows = inspect_local.run(planned, options, workers=workers, stop=stop)
        if out_dir is not None:
            rows = inspect_table.write_table(rows, out_dir, force=force, stop=stop)
        try:
            table = out_dir is None and not as_json
            failed, done = _report(rows, len(planned), as_json=as_json, table=table, quiet=quiet)
        except StdoutClosed:
            silence_stdout()
            raise typer.Exit(EXIT_BROKEN_PIPE) from None
        except OSError as exc:
            error_line(f"--out-dir {out_dir}: cannot write the table ({exc.strerror or exc})")
            raise typer.Exit(EXIT_FAILED) from None
    if not quiet or stop:
        _summary(done, failed, time.perf_counter() - start, out_dir, interrupted=bool(stop))
    if stop:
        raise typer.Exit(EXIT_SIGNAL_BASE + stop.signal)
    raise typer.Exit(EXIT_FAILED if failed else EXIT_OK)


def _report(rows, total: int | None, *, as_json: bool, table: bool, quiet: bool) -> tuple[int, int]:
    """Print error lines, JSON lines or the table; returns (failed, done)."""
    from .report import Progress

    failed = done = 0
    kept: list[dict[str, Any]] = []
    with Progress(total, enabled=not quiet, description="inspecting") as progress:
        for row in rows:
            done += 1
            if row["error"] is not None:
                failed += 1
                progress.print_error(row["error"])
            elif table:
                kept.append(row)
            if as_json:
                write_json_line(row)
            progress.advance()
    if kept:
        _print_table(kept)
    return failed, done


def _summary(done: int, failed: int, seconds: float, out_dir: str | None, *, interrupted: bool) -> None:
    line = f"quantcli: {done - failed} inspected, {failed} failed in {seconds:.2f} s"
    if out_dir is not None:
        line += f"; table in {out_dir}"
    sys.stderr.write(line + ("; interrupted" if interrupted else "") + "\n")


def _print_table(rows: list[dict[str, Any]]) -> None:
    """One rich table, a row per image; the dominant colours as swatches."""
    from rich.table import Table
    from rich.text import Text

    compared = any(row["output"] is not None for row in rows)
    table = Table(title_justify="left", caption_justify="left", pad_edge=False)
    table.add_column("image", overflow="fold", ratio=1, min_width=12)
    # Features, or (--against) the comparison: both do not fit a terminal's width.
    compare_names = ("size", "PSNR", "SSIM", "S2", "ratio", "WQS")
    for name in compare_names if compared else ("size", "bright", "edges", "colour", "blur"):
        table.add_column(name, justify="right", no_wrap=True)
    if not compared:
        table.add_column("palette", no_wrap=True)
    for row in rows:
        cells: list[Any] = [row["path"], f"{row['width']}x{row['height']}" + ("A" if row["mode"] == "RGBA" else "")]
        if compared:
            cells += [
                _number(row["psnr"], ".1f", "inf"),  # with an output, only a lossless PSNR is null
                _number(row["ssim"], ".4f"),
                _number(row["ssimulacra2"], ".1f"),
                _number(row["compression_ratio"], ".2f"),
                _number(row["wqs"], ".2f"),
            ]
        else:
            swatches = Text()
            for entry in row["dominant"]:
                r, g, b = entry["rgb"]
                swatches.append("\u2588", style=f"#{r:02x}{g:02x}{b:02x}")
            cells += [
                f"{row['brightness']:.0f}",
                f"{row['edge_score']:.3f}",
                f"{row['colorfulness']:.0f}",
                f"{row['blurriness']:.2f}",
                swatches,
            ]
        table.add_row(*cells)
    if compared:
        table.caption = "PSNR in dB; S2: SSIMULACRA2 (- without --ssimulacra2); ratio: input bytes / output bytes"
    else:
        table.caption = (
            "bright: mean luma 0-255; edges: mean Sobel 0-1; colour: colourfulness; blur: 0 sharp to 1 flat; "
            "palette: dominant colours, largest first (shares with --json)"
        )
    print_table(table)


def _number(value: float | None, spec: str, missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


def _spark(names, options, against, ext, recursive, out_dir, force, master, conf, quiet) -> None:
    from ..errors import QuantcliError

    start = time.perf_counter()
    try:
        from ..spark import inspect as spark_inspect
        from ..spark.uris import has_scheme

        if not has_scheme(out_dir):  # a local table: refuse before starting Spark
            from ..inspect_table import check_table

            check_table(out_dir, force)

        done, errors = spark_inspect.inspect(
            names,
            options,
            out_dir,
            against=against,
            ext=ext,
            recursive=recursive,
            force=force,
            master=master,
            conf=conf or [],
        )
    except QuantcliError as exc:
        if exc.exit_code == 3:
            error_line(str(exc))
            raise typer.Exit(exc.exit_code) from None
        usage(str(exc))
    for message in errors:
        error_line(message)
    if not quiet:
        _summary(done, len(errors), time.perf_counter() - start, out_dir, interrupted=False)
    raise typer.Exit(EXIT_FAILED if errors else EXIT_OK)
