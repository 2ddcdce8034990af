"""``quantcli compress`` without Typer: the parsed options (:class:`CompressCommand`)
checked into one :class:`quantcli.request.CompressRequest` and handed to an engine.
:mod:`quantcli.cli.compress` declares the options for Typer; :mod:`quantcli.cli.fast`
parses the common short forms itself, for start-up time, and both end here."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from ..options import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_RUN_MARGIN,
    DEFAULT_SPEED,
    K_MAX,
    K_MIN,
)
from .base import Engine, ImageFormat, Method, OutFormat, usage

if TYPE_CHECKING:
    from ..request import CompressRequest


@dataclass(frozen=True)
class CompressCommand:
    """Every parameter of ``compress``, as Typer (or :mod:`quantcli.cli.fast`) parsed
    them, and its default: the Typer declaration takes its defaults from here."""

    inputs: list[str] | None = None
    colors: str = "256"
    quality: str | None = None
    method: Method | None = None
    min_psnr: float | None = None  # 35 dB (choose-k's default) when --method quality
    output: str | None = None
    out_dir: str | None = None
    ext: str | None = None
    recursive: bool = False
    files_from: str | None = None
    null: bool = False
    force: bool = False
    skip_existing: bool = False
    skip_if_larger: bool = False
    skip_own_outputs: bool = False
    dither: str = "auto"
    seed: int = 0
    speed: int = DEFAULT_SPEED
    level: int | None = None  # None: the --speed preset's
    max_iter: int | None = None
    tol: float | None = None
    run_margin: float = DEFAULT_RUN_MARGIN
    max_pixels: int = DEFAULT_MAX_PIXELS
    jobs: int | None = None
    memory: str | None = None  # None: quantcli.memory.default_budget()
    as_json: bool = False
    quiet: bool = False
    palette: str = "per-image"
    stdout_ok: bool = False
    engine: Engine = Engine.local
    master: str | None = None
    conf: list[str] | None = None
    out_format: OutFormat = OutFormat.files
    image_format: ImageFormat = ImageFormat.png
    report: str | None = None


COMPRESS_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(CompressCommand)}


def execute(**params: Any) -> NoReturn:
    """Run ``compress`` with these parameters (:class:`CompressCommand`'s); ends with
    SystemExit and the exit code."""
    from .compress_run import check_report, naming_for, one_in_memory, run_local, run_spark

    if params.get("out_format") is OutFormat.png:  # the old name of files
        params = {**params, "out_format": OutFormat.files}
    command = CompressCommand(**params)
    request = request_of(command)
    names = list(command.inputs or [])
    listed = _read_list(command.files_from, command.null, names)
    output = command.output
    if not names and not listed:
        usage("no input (give files, folders, globs, - or --files-from)")
    if output is not None and command.out_dir is not None:
        usage("use either -o/--output or --out-dir, not both")
    if output == "":
        usage("-o/--output needs a file name")
    if output is not None and output != "-" and (output.endswith("/") or os.path.isdir(output)):
        usage(f"-o/--output names a file, not a folder: {output!r} (use --out-dir for a folder)")
    if command.report is not None:
        check_report(command.report, names, output, command.out_format, command.force)
    budget = _memory_budget(command.memory)
    if command.engine is Engine.spark:
        if budget is not None:
            usage("--memory applies to --engine local: a Spark task holds one image at a time (README, Memory)")
        run_spark(command, request, names, listed)
    if command.master is not None or command.conf or command.out_format is not OutFormat.files:
        usage("--master, --conf and --out-format parquet need --engine spark")
    if "-" in names:
        if len(names) + len(listed) > 1:
            usage("- (stdin) must be the only input")
        if command.out_dir is not None:
            usage("--out-dir does not apply to stdin; use -o or stdout")
        one_in_memory(None, request.settings(), output, command.as_json, command.stdout_ok)
    run_local(command, request, names, listed, naming_for(command, request, output), budget)


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


def request_of(command: CompressCommand) -> CompressRequest:
    """The request the options stand for; a usage error (exit 2) when they do not go together."""
    from ..errors import QuantcliError
    from ..request import CompressRequest, RequestConflict

    c = command
    try:
        request = CompressRequest(
            k="auto" if _parse_k(c.colors) else int(c.colors),
            quality=_parse_quality(c.quality, c.method),
            method=None if c.method is None else c.method.value,
            min_psnr=c.min_psnr,
            dither=_parse_dither(c.dither),
            seed=c.seed,
            speed=c.speed,
            level=c.level,
            max_iter=c.max_iter,
            tol=c.tol,
            run_margin=c.run_margin,
            palette=_palette_file(c.palette),
            force=c.force,
            skip_existing=c.skip_existing,
            skip_if_larger=c.skip_if_larger,
            skip_own_outputs=c.skip_own_outputs,
            format=c.image_format.value,
            max_pixels=c.max_pixels or None,
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
