"""Sizes and ratios for people, written once for the CLI, the HTML report and the web
service."""

from __future__ import annotations


def format_size(n: float, *, tenths: bool = False) -> str:
    """A byte count in powers of 1000: ``812 B``, ``1.2 kB``, ``50 MB``; with ``tenths``
    a whole number keeps its ``.0`` (``50.0 MB``), as the CLI's summary line writes it."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            text = f"{n / scale:.1f}"
            return f"{text if tenths else text.removesuffix('.0')} {unit}"
    return f"{n:.0f} B"


def format_percent(ratio: float) -> str:
    """bytes_out / bytes_in as a percentage: ``25.0%``."""
    return f"{100 * ratio:.1f}%"


def format_ratio(ratio: float) -> str:
    """bytes_out / bytes_in with the factor: ``70.7% (1.41 times smaller)``, ``328.5% (3.29
    times larger)`` or ``100.0% (the same size)``, with a multiplication sign for "times"."""
    percent = format_percent(ratio)
    if ratio <= 0:
        return percent
    factor = f"{1 / ratio if ratio < 1 else ratio:.2f}"
    if factor == "1.00":
        return f"{percent} (the same size)"
    return f"{percent} ({factor}\N{MULTIPLICATION SIGN} {'smaller' if ratio < 1 else 'larger'})"
