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
    "skip_own_outputs": False,
    "dither": "auto",
    "seed": 0,
    "speed": DEFAULT_SPEED,
    "level": None,  # None: the --speed preset's
    "max_iter": None,
    "tol": None,
    "run_margin": DEFAULT_RUN_MARGIN,
    "max_pixels": DEFAULT_MAX_PIXELS,
    "jobs": None,
    "memory": None,  # None: quantcli.memory.default_budget()
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
    skip_own_outputs: bool,
    dither: str,
    seed: int,
    speed: int,
    level: int | None,
    max_iter: int | None,
    tol: float | None,
    run_margin: float,
    max_pixels: int,
    jobs: int | None,
    memory: str | None,
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

    request = request_of(
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
        skip_own_outputs=skip_own_outputs,
    )
    settings = request.settings()
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
    budget = _memory_budget(memory)
    if engine is Engine.spark:
        if budget is not None:
            usage("--memory applies to --engine local: a Spark task holds one image at a time (README, Memory)")
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
    naming = naming_for(ext, request.k_per_image, settings.options.k, out_dir, output, force)
    run_local(names, listed, settings, naming, palette, recursive, jobs, as_json, quiet, stdout_ok, report, budget)


def _memory_budget(text: str | None) -> int | None:
    """``--memory``: the budget in bytes, or None for the default."""
    from ..errors import InvalidOptionError
    from ..memory import parse_memory

    if text is None:
        return None
    try:
        return parse_memory(text)
    except InvalidOptionError as exc:
        usage(f"--memory: {exc}")


# The CLI's words for each clash of quantcli.request.CONFLICTS.
_CONFLICT_WORDS = {
    "quality-and-method": "--quality and --method are two ways of choosing K; give one",
    "per-image-k-and-palette": (
        "-k auto and --quality pick K per image; they do not combine with --palette shared or FILE"
    ),
    "method-without-auto": "--method chooses K for -k auto; give -k auto with it",
    "min-psnr-without-quality-method": "--min-psnr is the target of -k auto --method quality; give those with it",
    "force-and-skip-existing": "use either --force or --skip-existing, not both",
}


def request_of(
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
    skip_own_outputs: bool = False,
):
    """The request the options stand for; a usage error (exit 2) when they do not go together."""
    from ..errors import QuantcliError
    from ..request import CompressRequest, RequestConflict

    try:
        request = CompressRequest(
            k="auto" if _parse_k(colors) else int(colors),
            quality=_parse_quality(quality, method),
            method=None if method is None else method.value,
            min_psnr=min_psnr,
            dither=_parse_dither(dither),
            seed=seed,
            speed=speed,
            level=level,
            max_iter=max_iter,
            tol=tol,
            run_margin=run_margin,
            palette=_palette_file(palette),
            force=force,
            skip_existing=skip_existing,
            skip_if_larger=skip_if_larger,
            skip_own_outputs=skip_own_outputs,
            max_pixels=max_pixels or None,
        )
        request.settings()  # every value checked now, before any work
    except RequestConflict as exc:
        usage(_CONFLICT_WORDS[exc.rule])
    except QuantcliError as exc:
        usage(str(exc))
    return request


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


def _parse_quality(text: str | None, method: Method | None):
    """``--quality`` as (min, max), or None."""
    if text is None:
        return None
    from ..errors import InvalidOptionError
    from ..quality import parse_quality

    if method is not None:  # said before a malformed value, as it always was
        raise InvalidOptionError(_CONFLICT_WORDS["quality-and-method"])
    try:
        return parse_quality(text)
    except InvalidOptionError as exc:
        raise InvalidOptionError(f"--quality: {exc}") from None


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
    """The palette of ``--palette FILE``; per-image and shared as they are."""
    if value in ("per-image", "shared"):
        return value
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
