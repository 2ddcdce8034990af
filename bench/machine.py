"""The machine a benchmark ran on, for the header of its results file."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model(fallback: str | None = None) -> str:
    """The CPU's model name from /proc/cpuinfo; else ``fallback`` (default: the processor,
    or the machine type, that :mod:`platform` reports)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return fallback if fallback is not None else platform.processor() or platform.machine()


def ram_gib() -> float:
    """Physical memory in GiB."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


def header_lines(versions: str, shared: bool = False) -> list[str]:
    """Two lines for a results file: the CPU, its cores and the load average now, then the
    system and Python with ``versions`` (for example ``"numpy 2.4, quantcli 0.2"``)."""
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    note = ", shared with other jobs" if shared else ""
    return [
        f"- CPU: {cpu_model()}, {os.cpu_count()} logical cores{note}; load average at start {load}",
        f"- {platform.system()} {platform.release()}, Python {platform.python_version()}, {versions}",
    ]
