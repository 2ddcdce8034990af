"""``quantcli compress``: the options, parsed and checked into pipeline settings; running
them is :mod:`quantcli.cli.compress_run`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..options import AUTO_QUALITY, DEFAULT_LEVEL, K_MAX, K_MIN, MAX_LEVEL
from .common import (
    DEFAULT_MAX_PIXELS,
    DEFAULTS,
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
    TolOption,
    usage,
)

EPILOG = (
    "Examples:\n\n"
    "  quantcli compress photo.jpg -k 64                 (writes photo-q64.png)\n\n"
    "  quantcli compress assets/ -r -k 32 --out-dir small/\n\n"
    "  find . -name '*.png' -print0 | quantcli compress --files-from - -0 -k 16 --json\n\n"
    "  cat in.png | quantcli compress - -k 8 > out.png\n\n"
    "Exit codes: 0 all written, 1 some inputs failed, 2 usage error, 3 the Spark job failed, "
    "130/143 interrupted (SIGINT/SIGTERM), 141 stdout closed."
)


ColorsOption = Annotated[
    str, typer.Option("-k", "--colors", metavar="K", help="Palette size K, 2 to 256, or auto: choose K per image.")
]
QualityOption = Annotated[
    str | None,
    typer.Option(
        "--quality",
        metavar="MIN-MAX",
        help="Fewest colours, up to -k, reaching MAX on a 0-100 scale that tracks SSIMULACRA2 (90 visually "
        "lossless, 70 high, 50 medium); an image that stays below MIN is not written (exit code 99). "
        "MAX alone means 0-MAX.",
    ),
]
MethodOption = Annotated[
    Method | None,
    typer.Option(
        "--method",
        help="With -k auto: choose K by a choose-k method instead of the default quality target "
        f"(--quality {AUTO_QUALITY[0]}-{AUTO_QUALITY[1]}).",
    ),
]
MinPsnrOption = Annotated[
    float, typer.Option("--min-psnr", metavar="DB", help="With -k auto --method quality: the PSNR target in dB.")
]
OutputOption = Annotated[
    str | None,
    typer.Option("-o", "--output", metavar="FILE", help="Output file, for a single input (- for stdout)."),
]
OutDirOption = Annotated[
    str | None, typer.Option("--out-dir", metavar="DIR", help="Write outputs here, mirroring the input folders.")
]
ExtOption = Annotated[
    str | None,
    typer.Option(
        "--ext",
        metavar="SUFFIX",
        help="Suffix replacing the input's extension, ending in .png ({K} is replaced by K). "
        "Default: -q{K}.png beside the input, .png in --out-dir. --ext .png --force replaces PNG inputs in place.",
        show_default=False,
    ),
]
FilesFromOption = Annotated[
    str | None,
    typer.Option(
        "--files-from",
        help="Read more input paths from FILE, one per line (- for stdin); literal paths, never globs. "
        "With --out-dir, listed files keep their relative paths, as rsync --files-from does.",
        metavar="FILE",
    ),
]
NullOption = Annotated[
    bool, typer.Option("-0", "--null", help="--files-from entries end with NUL, as find -print0 writes them.")
]
ForceOption = Annotated[bool, typer.Option("-f", "--force", help="Overwrite existing output files.")]
SkipExistingOption = Annotated[
    bool,
    typer.Option("--skip-existing", help="Leave existing outputs alone and count them as skipped (incremental runs)."),
]
SkipIfLargerOption = Annotated[
    bool,
    typer.Option(
        "--skip-if-larger",
        help="Keep the original when the result is not smaller: write nothing (stdout gets the input's bytes).",
    ),
]
DitherOption = Annotated[
    str,
    typer.Option(
        "--dither",
        metavar="auto|on|off|0..1",
        help="Error diffusion in smooth areas only: auto (the best quality per byte), on, off, or a strength "
        "from 0 to 1.",
    ),
]
LevelOption = Annotated[
    int,
    typer.Option(
        "--level",
        min=0,
        max=MAX_LEVEL,
        metavar=f"0-{MAX_LEVEL}",
        help="PNG effort: 0-9 zlib (fast, all cores), 10-12 libdeflate's near-optimal parser (smaller).",
    ),
]
JobsOption = Annotated[
    int | None,
    typer.Option(
        "-j",
        "--jobs",
        min=1,
        metavar="N",
        help="Files processed in parallel (default: all cores); big images wait while the ones in flight "
        "would need more than half the RAM.",
    ),
]
QuietOption = Annotated[bool, typer.Option("-q", "--quiet", help="No progress bar and no summary line.")]
PaletteOption = Annotated[
    str,
    typer.Option(
        "--palette",
        help="per-image (default): each image its own palette; shared: one palette fitted to all inputs "
        "(two passes); FILE.png: remap onto that image's palette, like pngquant --map (-k is then unused).",
        metavar="per-image|shared|FILE",
    ),
]
StdoutOkOption = Annotated[
    bool, typer.Option("--stdout", help="Allow writing the PNG to standard output when it is a terminal.")
]
OutFormatOption = Annotated[
    OutFormat,
    typer.Option(
        "--out-format",
        help="png: one file per input; parquet: one table in --out-dir (path, name, png bytes, metrics); "
        "parquet needs --engine spark.",
    ),
]
ReportOption = Annotated[
    str | None,
    typer.Option(
        "--report",
        help="Also write one self-contained HTML report of the batch: thumbnails before/after, bytes, PSNR, "
        "SSIM, SSIMULACRA2, WQS, palettes, sortable (see inspect for the definitions).",
        metavar="FILE.html",
    ),
]


def compress(
    inputs: InputsArgument = None,
    colors: ColorsOption = "256",
    quality: QualityOption = None,
    method: MethodOption = None,
    min_psnr: MinPsnrOption = 35.0,
    output: OutputOption = None,
    out_dir: OutDirOption = None,
    ext: ExtOption = None,
    recursive: RecursiveOption = False,
    files_from: FilesFromOption = None,
    null: NullOption = False,
    force: ForceOption = False,
    skip_existing: SkipExistingOption = False,
    skip_if_larger: SkipIfLargerOption = False,
    dither: DitherOption = "auto",
    seed: SeedOption = 0,
    level: LevelOption = DEFAULT_LEVEL,
    max_iter: MaxIterOption = DEFAULTS["max_iter"],
    tol: TolOption = DEFAULTS["tol"],
    run_margin: RunMarginOption = DEFAULTS["run_margin"],
    max_pixels: MaxPixelsOption = DEFAULT_MAX_PIXELS,
    jobs: JobsOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
    palette: PaletteOption = "per-image",
    stdout_ok: StdoutOkOption = False,
    engine: EngineOption = Engine.local,
    master: MasterOption = None,
    conf: ConfOption = None,
    out_format: OutFormatOption = OutFormat.png,
    report: ReportOption = None,
) -> None:
    """Quantize images to K colours and write them as palette PNGs.

    INPUT... are image files, folders (-r goes into subfolders) and globs (quote them: 'shots/**/*.png'; folder links are not followed), or - for stdin.

    Outputs are written atomically and never replace an existing file without --force. A bad input prints one error line and the batch goes on; the exit code is then 1.
    """  # noqa: E501 (one line per paragraph: Typer rewraps the help text)
    from .compress_run import check_report, naming_for, one_in_memory, run_local, run_spark

    settings = _settings(
        colors,
        quality,
        method,
        min_psnr,
        seed,
        dither,
        max_iter,
        tol,
        level,
        run_margin,
        palette,
        max_pixels,
        force=force,
        skip_existing=skip_existing,
        skip_if_larger=skip_if_larger,
    )
    names = list(inputs or [])
    listed = _read_list(files_from, null, names)
    if not names and not listed:
        usage("no input (give files, folders, globs, - or --files-from)")
    if output is not None and out_dir is not None:
        usage("use either -o/--output or --out-dir, not both")
    if report is not None:
        check_report(report, names, output, out_format, force)
    if engine is Engine.spark:
        run_spark(
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
        one_in_memory(None, settings, output, as_json, stdout_ok)
    auto = settings.choose is not None or settings.quality is not None
    naming = naming_for(ext, auto, settings.options.k, out_dir, output, force)
    run_local(names, listed, settings, naming, palette, recursive, jobs, as_json, quiet, stdout_ok, report)


def _settings(
    colors: str,
    quality: str | None,
    method: Method | None,
    min_psnr: float,
    seed: int,
    dither: str,
    max_iter: int,
    tol: float,
    level: int,
    run_margin: int,
    palette: str,
    max_pixels: int,
    *,
    force: bool,
    skip_existing: bool,
    skip_if_larger: bool,
):
    """The pipeline settings the options ask for; a usage error (exit 2) when they do not go together."""
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
    return Settings(
        options=options,
        quality=target,
        choose=choose,
        palette=fixed_palette,
        force=force,
        skip_if_larger=skip_if_larger,
        skip_existing=skip_existing,
        max_pixels=max_pixels or None,
    )


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
