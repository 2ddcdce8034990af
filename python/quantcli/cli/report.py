"""Printing a batch's results: JSON lines, error lines, a progress bar and the summary."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from typing import Any

from .base import EXIT_FAILED, EXIT_OK, error_line, write_json_line


def size_text(n: float) -> str:
    """A byte count as the summary line writes it: :func:`quantcli.units.format_size` with tenths."""
    from ..units import format_size

    return format_size(n, tenths=True)


class Progress:
    """A progress bar on stderr when it is a terminal (rich is imported only then)."""

    def __init__(self, total: int | None, *, enabled: bool, description: str) -> None:
        self._bar: Any = None
        if not (enabled and sys.stderr.isatty()):
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True, highlight=False, soft_wrap=True),
            transient=True,
        )
        self._task = self._bar.add_task(description, total=total)

    def __enter__(self) -> Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def advance(self) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)

    def print_error(self, message: str) -> None:
        """An error line that the bar does not overwrite."""
        if self._bar is not None:
            self._bar.console.print(f"quantcli: error: {message}", markup=False, highlight=False)
        else:
            error_line(message)


def report_compress(results: Iterable[Any], total: int | None, *, as_json: bool, quiet: bool) -> tuple[int, dict]:
    """Print each result (JSON line, error line, progress) and the summary line.

    Returns (exit code, counts by status): 0, 1 when an input failed, 99 when every
    failure is an image below ``--quality``'s minimum. Raises StdoutClosed when stdout
    goes away.
    """
    counts = {"written": 0, "skipped": 0, "error": 0, "missed": 0}
    codes: set[int] = set()
    bytes_in = bytes_out = 0
    start = time.perf_counter()
    with Progress(total, enabled=not quiet, description="compressing") as progress:
        for result in results:
            counts[result.status] += 1
            counts["missed"] += result.target_met is False
            if result.status == "error":
                codes.add(result.exit_code or EXIT_FAILED)
                progress.print_error(result.error or result.path)
            elif result.bytes_in is not None and result.bytes_out is not None:
                bytes_in += result.bytes_in
                bytes_out += result.bytes_out
            if as_json:
                write_json_line(result.to_json())
            progress.advance()
    counts["seconds"] = time.perf_counter() - start
    counts["bytes_in"], counts["bytes_out"] = bytes_in, bytes_out
    # 99 when every failure is an image below --quality's minimum, as pngquant; else 1.
    code = EXIT_OK if not codes else codes.pop() if len(codes) == 1 else EXIT_FAILED
    return code, counts


def summary_line(counts: dict, *, interrupted: bool = False) -> str:
    """``quantcli: 3 written, 0 skipped, 1 failed; 1.2 MB -> 300.0 kB (25.0%) in 0.42 s``,
    then ``; 2 below their target (the most colours allowed were used)`` when K was chosen
    for a quality or PSNR target that some images did not reach."""
    from ..units import format_percent

    saved = f"{size_text(counts['bytes_in'])} -> {size_text(counts['bytes_out'])}"
    if counts["bytes_in"]:
        saved += f" ({format_percent(counts['bytes_out'] / counts['bytes_in'])})"
    line = (
        f"quantcli: {counts['written']} written, {counts['skipped']} skipped, {counts['error']} failed; "
        f"{saved} in {counts['seconds']:.2f} s"
    )
    missed = counts.get("missed", 0)
    if missed:
        line += f"; {missed} below {'its' if missed == 1 else 'their'} target (the most colours allowed were used)"
    return line + ("; interrupted" if interrupted else "")
