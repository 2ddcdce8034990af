"""``quantcli compress``: the options, declared for Typer. Checking them into one
compress request is :mod:`quantcli.cli.compress_settings`; handing it to an engine and
printing the results :mod:`quantcli.cli.compress_run`."""

from __future__ import annotations

from typing import Annotated

import typer

from ..options import AUTO_QUALITY, MAX_LEVEL, SPEED_MAX, SPEED_MIN
from .base import ImageFormat, Method, OutFormat
from .common import (
    ConfOption,
    EngineOption,
    InputsArgument,
    JsonOption,
    MasterOption,
    MaxPixelsOption,
    RecursiveOption,
    RunMarginOption,
    SeedOption,
)
from .compress_settings import COMPRESS_DEFAULTS as D

EPILOG = (
    "Examples:\n\n"
    "  quantcli compress photo.jpg -k 64                 (writes photo-q64.png)\n\n"
    "  quantcli compress assets/ -r -k 32 --out-dir small/\n\n"
    "  find assets -name '*.png' -print0 | quantcli compress --files-from - -0 -k 16 --out-dir small/ --json\n\n"
    "  cat in.png | quantcli compress - -k 8 > out.png\n\n"
    "Exit codes: 0 all written, 1 some inputs failed, 2 usage error, 3 the Spark job failed, "
    "99 an image below --quality's minimum, 130/143 interrupted (SIGINT/SIGTERM), 141 stdout closed."
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
    float | None,
    typer.Option("--min-psnr", metavar="DB", help="With -k auto --method quality: the PSNR target in dB (default 35)."),
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
        help="Suffix replacing the input's extension, ending in .png or, with --format webp, .webp ({K} is "
        "replaced by K). "
        "Default: -q{K}.png beside the input, .png in --out-dir (.webp with --format webp). --ext .png --force "
        "replaces PNG inputs in place.",
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
SkipOwnOutputsOption = Annotated[
    bool,
    typer.Option(
        "--skip-own-outputs",
        help="Leave inputs that quantcli wrote (its PNG marker) as they are, named ones too: status skipped. "
        "Makes an in-place run (--ext .png --force) a no-op the second time, as the pre-commit hook needs.",
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
    int | None,
    typer.Option(
        "--level",
        min=0,
        max=MAX_LEVEL,
        metavar=f"0-{MAX_LEVEL}",
        show_default=False,
        help="PNG effort: 0-9 zlib (fast, all cores), 10-12 libdeflate's near-optimal parser (smaller). "
        "Default: --speed's (10 at speed 3).",
    ),
]
SpeedOption = Annotated[
    int,
    typer.Option(
        "--speed",
        min=SPEED_MIN,
        max=SPEED_MAX,
        metavar=f"{SPEED_MIN}-{SPEED_MAX}",
        help="1: smallest files, slowest; 7: fastest, rough (as pngquant's --speed). Sets --level, --max-iter, "
        "--tol (unless given) and how many colours the palette is fitted to. Times, bytes and quality of "
        "each: README, 'Speed presets'.",
    ),
]
CompressMaxIterOption = Annotated[
    int | None,
    typer.Option(
        "--max-iter", min=0, metavar="N", show_default=False, help="Most k-means iterations (default: --speed's)."
    ),
]
CompressTolOption = Annotated[
    float | None,
    typer.Option(
        "--tol",
        min=0.0,
        metavar="FRACTION",
        show_default=False,
        help="Stop k-means once an iteration improves the squared error by less than this fraction "
        "(default: --speed's).",
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
        "would need more than --memory.",
    ),
]
MemoryOption = Annotated[
    str | None,
    typer.Option(
        "--memory",
        metavar="SIZE",
        help="Memory the images in flight may take at once, as 512M, 4G or 50% (default: half the RAM, or of "
        "the container's limit). Each image counts 24 bytes per pixel from its header (88 with an exact "
        "histogram: --speed 1-2, --palette, -k auto, --quality); an image that does not "
        "fit waits, and one image always runs.",
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
        help="files: one file per input (png: the same, its old name); parquet: one table in --out-dir (path, "
        "name, the image's bytes, metrics), needs --engine spark. The image codec is --format.",
    ),
]
FormatOption = Annotated[
    ImageFormat,
    typer.Option(
        "--format",
        help="The outputs' codec: png (palette PNG) or webp (lossless WebP of exactly the same pixels, alpha "
        "included; about 10% smaller, named .webp; --speed sets its effort, --level is PNG only).",
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
    inputs: InputsArgument = D["inputs"],
    colors: ColorsOption = D["colors"],
    quality: QualityOption = D["quality"],
    method: MethodOption = D["method"],
    min_psnr: MinPsnrOption = D["min_psnr"],
    output: OutputOption = D["output"],
    out_dir: OutDirOption = D["out_dir"],
    ext: ExtOption = D["ext"],
    recursive: RecursiveOption = D["recursive"],
    files_from: FilesFromOption = D["files_from"],
    null: NullOption = D["null"],
    force: ForceOption = D["force"],
    skip_existing: SkipExistingOption = D["skip_existing"],
    skip_if_larger: SkipIfLargerOption = D["skip_if_larger"],
    skip_own_outputs: SkipOwnOutputsOption = D["skip_own_outputs"],
    dither: DitherOption = D["dither"],
    seed: SeedOption = D["seed"],
    speed: SpeedOption = D["speed"],
    level: LevelOption = D["level"],
    max_iter: CompressMaxIterOption = D["max_iter"],
    tol: CompressTolOption = D["tol"],
    run_margin: RunMarginOption = D["run_margin"],
    max_pixels: MaxPixelsOption = D["max_pixels"],
    jobs: JobsOption = D["jobs"],
    memory: MemoryOption = D["memory"],
    as_json: JsonOption = D["as_json"],
    quiet: QuietOption = D["quiet"],
    palette: PaletteOption = D["palette"],
    stdout_ok: StdoutOkOption = D["stdout_ok"],
    engine: EngineOption = D["engine"],
    master: MasterOption = D["master"],
    conf: ConfOption = D["conf"],
    out_format: OutFormatOption = D["out_format"],
    image_format: FormatOption = D["image_format"],
    report: ReportOption = D["report"],
) -> None:
    """Quantize images to K colours and write them as palette PNGs (or lossless WebP: --format webp).

    INPUT... are image files, folders (-r goes into subfolders) and globs (quote them: 'shots/**/*.png'; folder links are not followed), or - for stdin.

    Outputs are written atomically and never replace an existing file without --force. A bad input prints one error line and the batch goes on; the exit code is then 1.

    Any format Pillow reads is taken (its first frame; EPS is not supported). Most (PNG, JPEG, WebP, TIFF, ...) decode in about 0.02 s per megapixel. Slow formats: JPEG 2000 (.jp2, .j2k, .jpf) takes 0.1 to 0.2 s per megapixel, and those Pillow decodes in Python 1 to 2.5 s: QOI, uncompressed DDS, XPM, BLP and plain-text PBM, PGM and PPM.
    """  # noqa: E501 (one line per paragraph: Typer rewraps the help text)
    params = dict(locals())  # the parameters, exactly: nothing else is defined yet
    from .compress_settings import execute

    execute(**params)
