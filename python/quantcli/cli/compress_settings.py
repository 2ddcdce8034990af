"""``quantcli compress`` without Typer: the parsed options (as the command's parameters)
checked into pipeline settings and run. :mod:`quantcli.cli.compress` declares the options
for Typer; :mod:`quantcli.cli.fast` parses the common short forms itself, for start-up
time, and both end here."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from ..options import (
    AUTO_QUALITY,
    DEFAULT_MAX_PIXELS,
    DEFAULT_RUN_MARGIN,
    DEFAULT_SPEED,
    K_MAX,
    K_MIN,
)
from .base import Engine, Method, OutFormat, usage

# Every parameter of ``compress`` and its default: the Typer declaration takes its
# defaults from here, and the fast path starts from here.
COMPRESS_DEFAULTS: dict[str, Any] = {
    "inputs": None,
    "colors": "256",
    "quality": None,
    "method": None,
    "min_psnr": None,  # 35 dB (choose-k's default) when --method quality
    "output": None,
    "out_dir": None,
    "ext": None,
    "recursive": False,
    "files_from": None,
    "null": False,
    "force": False,
    "skip_existing": False,
    "skip_if_larger": False,
    "dither": "auto",
    "seed": 0,
    "speed": DEFAULT_SPEED,
    "level": None,  # None: the --speed preset's
    "max_iter": None,
    "tol": None,
    "run_margin": DEFAULT_RUN_MARGIN,
    "max_pixels": DEFAULT_MAX_PIXELS,
    "jobs": None,
    "as_json": False,
    "quiet": False,
    "palette": "per-image",
    "stdout_ok": False,
    "engine": Engine.local,
    "master": None,
    "conf": None,
    "out_format": OutFormat.png,
    "report": None,
}


def execute(
    inputs: list[str] | None,
    colors: str,
    quality: str | None,
    method: Method | None,
    min_psnr: float | None,
    output: str | None,
    out_dir: str | None,
    ext: str | None,
    recursive: bool,
    files_from: str | None,
    null: bool,
    force: bool,
    skip_existing: bool,
    skip_if_larger: bool,
    dither: str,
    seed: int,
    speed: int,
    level: int | None,
    max_iter: int | None,
    tol: float | None,
    run_margin: float,
    max_pixels: int,
    jobs: int | None,
    as_json: bool,
    quiet: bool,
    palette: str,
    stdout_ok: bool,
    engine: Engine,
    master: str | None,
    conf: list[str] | None,
    out_format: OutFormat,
    report: str | None,
) -> None:
    """Run ``compress`` with these parameters; ends with SystemExit and the exit code."""
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
        speed=speed,
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
    if output == "":
        usage("-o/--output needs a file name")
    if output is not None and output != "-" and (output.endswith("/") or os.path.isdir(output)):
        usage(f"-o/--output names a file, not a folder: {output!r} (use --out-dir for a folder)")
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
    min_psnr: float | None,
    seed: int,
    dither: str,
    max_iter: int | None,
    tol: float | None,
    level: int | None,
    run_margin: int,
    palette: str,
    max_pixels: int,
    *,
    speed: int,
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

            psnr = {} if min_psnr is None else {"min_psnr": min_psnr}
            choose = ChooseKOptions(method=method.value, bytes_level=None, **psnr)
        options = QuantizeOptions(
            k=K_MAX if auto else int(colors),
            seed=seed,
            dither=_parse_dither(dither),
            max_iter=max_iter,
            tol=tol,
            level=level,
            run_margin=run_margin,
            speed=speed,
        )
        fixed_palette = _palette_file(palette)
    except QuantcliError as exc:
        usage(str(exc))
    if (auto or target is not None) and palette != "per-image":
        usage("-k auto and --quality pick K per image; they do not combine with --palette shared or FILE")
    if method is not None and not auto:
        usage("--method chooses K for -k auto; give -k auto with it")
    if min_psnr is not None and (method is None or method.value != "quality"):
        usage("--min-psnr is the target of -k auto --method quality; give those with it")
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
    if text is not None:
        from ..errors import InvalidOptionError
        from ..quality import parse_quality

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
