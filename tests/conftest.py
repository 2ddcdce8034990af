"""Shared fixtures: small synthetic images and a way to run the installed CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


def cli_command() -> list[str]:
    """The ``quantcli`` script installed beside this Python, else ``python -m quantcli``."""
    script = Path(sys.executable).parent / "quantcli"
    if script.exists():
        return [str(script)]
    found = shutil.which("quantcli")
    return [found] if found else [sys.executable, "-m", "quantcli"]


@pytest.fixture
def run_cli():
    """Run ``quantcli ARGS...`` as a subprocess; returns the CompletedProcess (bytes)."""

    def run(
        *args: str | os.PathLike[str], stdin: bytes | None = None, cwd: Path | None = None, check_rc: int | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run(
            [*cli_command(), *map(str, args)],
            input=stdin,
            capture_output=True,
            cwd=cwd,
            timeout=300,
            check=False,
        )
        if check_rc is not None:
            assert proc.returncode == check_rc, proc.stderr.decode(errors="replace")
        return proc

    return run


def gradient_image(h: int = 48, w: int = 64, seed: int = 0, alpha: bool = False) -> np.ndarray:
    """A smooth RGB(A) gradient with noise: many distinct colours, photo-like."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 / max(w - 1, 1), y * 255 / max(h - 1, 1), (x + y) * 127 / max(h + w - 2, 1)], -1)
    img = np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)
    if alpha:
        a = np.clip(rng.integers(0, 256, (h, w)), 0, 255).astype(np.uint8)
        a[: h // 4] = 0  # a band of fully transparent pixels
        a[h // 4 : h // 2] = 255
        img = np.concatenate([img, a[..., None]], axis=-1)
    return np.ascontiguousarray(img)


@pytest.fixture
def rgb_image() -> np.ndarray:
    return gradient_image()


@pytest.fixture
def rgba_image() -> np.ndarray:
    return gradient_image(alpha=True, seed=1)
