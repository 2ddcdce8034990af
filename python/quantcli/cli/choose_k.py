"""``quantcli choose-k``: parse, call :mod:`quantcli.choosek` (or the Spark engine), print."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ..options import DEFAULT_LEVEL, DEFAULT_MAX_PIXELS, MAX_LEVEL
from .base import (
    EXIT_BROKEN_PIPE,
    EXIT_FAILED,
    EXIT_OK,
    Distance,
    Engine,
    Method,
    StdoutClosed,
    error_line,
    print_table,
    silence_stdout,
    usage,
    write_json_line,
)
from .common import (
    DEFAULTS,
    ConfOption,
    EngineOption,
    InputsArgument,
    JsonOption,
    MasterOption,
    MaxIterOption,
    MaxPixelsOption,
    RecursiveOption,
    RunMarginOption,
    SeedOption,
    TolOption,
)

EPILOG = (
    "Examples:\n\n"
    "  quantcli choose-k photo.jpg                  (a table: K 2..64, highest silhouette)\n\n"
    "  quantcli choose-k photo.jpg --k-max 12 --plot silhouette.png\n\n"
    "  quantcli choose-k shots/ --method elbow --json\n\n"
    "  quantcli choose-k photo.jpg --method quality --min-psnr 38\n\n"
    "  quantcli choose-k icons/ --shared --ks 4,8,16,32\n\n"
    "Exit codes: 0 every input scored, 1 some inputs failed, 2 usage error, 3 the Spark job failed."
)


MethodOption = Annotated[
    Method,
    typer.Option(
        "--method",
        help="silhouette: highest mean silhouette. elbow: knee of the MSE curve (Kneedle). "
        "quality: smallest K with PSNR >= --min-psnr.",
    ),
]
KMinOption = Annotated[int | None, typer.Option("--k-min", metavar="K", help="Smallest K tried (default 2).")]
KMaxOption = Annotated[
    int | None,
    typer.Option("--k-max", metavar="K", help="Largest K tried (default 64; 256 with --method quality)."),
]
KsOption = Annotated[
    str | None,
    typer.Option("--ks", metavar="K,K,...", help="Try exactly these K, comma-separated (2,4,8,16), not a range."),
]
DistanceOption = Annotated[
    Distance,
    typer.Option(
        "--distance",
        help="Silhouette distance. squared: every pixel, squared Euclidean (Spark MLlib's "
        "ClusteringEvaluator). euclidean: classic silhouette (scikit-learn), --sample pixels.",
    ),
]
SampleOption = Annotated[
    int, typer.Option("--sample", min=2, metavar="N", help="Pixels drawn (seeded) for --distance euclidean.")
]
MinPsnrOption = Annotated[
    float, typer.Option("--min-psnr", metavar="DB", help="PSNR target in dB for --method quality.")
]
SharedOption = Annotated[bool, typer.Option("--shared", help="One K for all inputs, chosen on their summed histogram.")]
PlotOption = Annotated[
    str | None,
    typer.Option(
        "--plot",
        help="Write the curves with the chosen K marked to FILE (.png, .svg or .pdf; needs matplotlib). "
        "An existing file is replaced only with --force.",
        metavar="FILE",
    ),
]
ForceOption = Annotated[bool, typer.Option("-f", "--force", help="Overwrite an existing --plot file.")]
BytesLevelOption = Annotated[
    int,
    typer.Option(
        "--bytes-level",
        min=0,
        max=MAX_LEVEL,
        metavar=f"0-{MAX_LEVEL}",
        help=f"PNG level of the image encoded per K for the bytes column ({DEFAULT_LEVEL}: compress's size).",
    ),
]
NoBytesOption = Annotated[bool, typer.Option("--no-bytes", help="Skip encoding; no bytes column.")]
ThreadsOption = Annotated[int, typer.Option("--threads", min=0, metavar="N", help="Threads per image; 0: all cores.")]


def choose_k(
    inputs: InputsArgument = None,
    method: MethodOption = Method.silhouette,
    k_min: KMinOption = None,
    k_max: KMaxOption = None,
    ks: KsOption = None,
    distance: DistanceOption = Distance.squared,
    sample: SampleOption = 10_000,
    min_psnr: MinPsnrOption = 35.0,
    shared: SharedOption = False,
    recursive: RecursiveOption = False,
    plot: PlotOption = None,
    force: ForceOption = False,
    bytes_level: BytesLevelOption = 1,
    no_bytes: NoBytesOption = False,
    seed: SeedOption = 0,
    max_iter: MaxIterOption = DEFAULTS["max_iter"],
    tol: TolOption = DEFAULTS["tol"],
    run_margin: RunMarginOption = DEFAULTS["run_margin"],
    threads: ThreadsOption = 0,
    max_pixels: MaxPixelsOption = DEFAULT_MAX_PIXELS,
    as_json: JsonOption = False,
    engine: EngineOption = Engine.local,
    master: MasterOption = None,
    conf: ConfOption = None,
) -> None:
    """Recommend a palette size K per image: by silhouette, elbow or a quality target.

    INPUT... are image files, folders (-r goes into subfolders) and globs, or - for stdin.

    Every candidate K is fitted on the image's colour histogram, built once, exactly as compress fits it, so the MSE and PSNR shown are those compress gives at that K.
    """  # noqa: E501 (one line per paragraph: Typer rewraps the help text)
    from ..choosek import ChooseKOptions
    from ..choosek_plot import plot_format
    from ..errors import InvalidOptionError, QuantcliError
    from ..options import K_MIN, QuantizeOptions

    try:
        candidates = None if ks is None else _parse_ks(ks)
        if candidates is not None and (k_min is not None or k_max is not None):
            raise InvalidOptionError("use either --ks or --k-min/--k-max, not both")
        choose = ChooseKOptions(
            method=method.value,
            k_min=K_MIN if k_min is None else k_min,
            k_max=k_max,
            ks=candidates,
            distance=distance.value,
            sample=sample,
            min_psnr=min_psnr,
            bytes_level=None if no_bytes else bytes_level,
        )
        fit = QuantizeOptions(seed=seed, max_iter=max_iter, tol=tol, threads=threads, run_margin=run_margin)
        if plot is not None:
            plot_format(plot)
            _require_matplotlib()
            _refuse_existing(plot, force)
    except QuantcliError as exc:
        usage(str(exc))
    names = list(inputs or [])
    if not names:
        usage("no input (give files, folders, globs or -)")
    if "-" in names and len(names) > 1:
        usage("- (stdin) must be the only input")
    outcomes = _outcomes(names, choose, fit, shared, recursive, max_pixels or None, engine, master, conf)
    raise typer.Exit(_report(outcomes, as_json=as_json, plot=plot, force=force))


def _outcomes(
    names: list[str], choose, fit, shared: bool, recursive: bool, max_pixels: int | None, engine, master, conf
):
    """The results and failures, from the engine asked for (a usage error exits 2 here)."""
    from ..errors import QuantcliError

    if engine is Engine.spark:
        if "-" in names:
            usage("--engine spark reads files, folders and URIs; - is for the local engine")
        try:
            from ..spark import driver

            outcomes = driver.choose_k(
                names,
                choose=choose,
                quantize=fit,
                shared=shared,
                recursive=recursive,
                master=master,
                conf=conf or [],
                max_pixels=max_pixels,
            )
        except QuantcliError as exc:
            usage(str(exc))
    else:
        if master is not None or conf:
            usage("--master and --conf need --engine spark")
        from ..choosek import choose_k_inputs

        stdin = sys.stdin.buffer.read() if names == ["-"] else None
        outcomes = choose_k_inputs(
            names, choose, quantize=fit, recursive=recursive, shared=shared, stdin=stdin, max_pixels=max_pixels
        )
    return outcomes


def _parse_ks(text: str) -> tuple[int, ...]:
    from ..errors import InvalidOptionError

    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise InvalidOptionError(f"--ks must be comma-separated whole numbers, got {text!r}") from None


def _require_matplotlib() -> None:
    from ..errors import InvalidOptionError

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InvalidOptionError(f"--plot needs matplotlib: {_install_hint('plot')}") from None


def _install_hint(extra: str) -> str:
    """How to install an extra, as quantcli itself was installed."""
    from ..errors import install_hint

    return install_hint(extra)


def _refuse_existing(plot: str, force: bool) -> None:
    import os

    from ..errors import OutputExistsError

    if not force and os.path.lexists(plot):
        raise OutputExistsError(f"--plot {plot}: exists (use --force to overwrite)")


def _report(outcomes, *, as_json: bool, plot: str | None, force: bool) -> int:
    """Print a table (or a JSON line) per result and an error line per failure; plot."""
    from ..choosek import ChooseKError
    from ..choosek_plot import plot_results
    from ..errors import QuantcliError

    results, failed = [], 0
    try:
        for outcome in outcomes:
            if isinstance(outcome, ChooseKError):
                failed += 1
                error_line(outcome.error)
            else:
                results.append(outcome)
            if as_json:
                write_json_line(outcome.to_json())
            elif not isinstance(outcome, ChooseKError):
                _print_table(outcome)
    except StdoutClosed:
        silence_stdout()
        return EXIT_BROKEN_PIPE
    except QuantcliError as exc:  # raised while the outcomes were produced (a Spark job)
        error_line(str(exc))
        return exc.exit_code
    if plot is not None and results:
        try:
            plot_results(results, plot, force=force)
        except QuantcliError as exc:
            error_line(str(exc))
            return exc.exit_code
    return EXIT_FAILED if failed else EXIT_OK


def _print_table(result) -> None:
    """One rich table: a row per K evaluated, the recommended one marked."""
    import math

    from rich.table import Table

    euclidean = result.sample is not None
    table = Table(title=f"{result.path}: K = {result.k}", title_justify="left", caption_justify="left")
    for name in ("K", "colours", "MSE", "PSNR dB", "silhouette (eucl.)" if euclidean else "silhouette"):
        table.add_column(name, justify="right")
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
    table.caption = (
        f"K = {result.k}: {_rule(result, euclidean)}; {result.unique_colors:,} distinct colours; {result.seconds:.2f} s"
    )
    print_table(table, soft_wrap=True)


def _rule(result, euclidean: bool) -> str:
    if result.method == "quality":
        if result.target_met:
            return f"smallest K with PSNR >= {result.min_psnr:g} dB"
        return f"no K reaches {result.min_psnr:g} dB; the largest K tried"
    if result.method == "elbow":
        return "knee of the MSE curve (Kneedle)"
    if euclidean:
        return f"highest Euclidean silhouette on {result.sample:,} sampled pixels"
    return f"highest squared-Euclidean silhouette over all {result.pixels:,} pixels"
