"""Shared fixtures: small synthetic images, a way to run the installed CLI, headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


def crafting_helpers():
    """tests/data/make_bad_inputs.py as a module: the helpers that craft PNG chunks and bad files."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_bad_inputs", Path(__file__).parent / "data" / "make_bad_inputs.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


# Debian's chromium and chromium-driver, driven through selenium: nothing is downloaded.
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture
def chromium():
    """Start headless Chromium: ``chromium(window, downloads=None, browser_log=False)``
    returns a selenium driver (``window`` as "1600,2000"; ``downloads`` the folder downloads
    go to; ``browser_log`` keeps every console entry, not just errors), quit after the test.
    Skips without chromium, chromium-driver or selenium; fails instead on CI, which installs
    them (a skip there would hide a missing install step)."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        why = "needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    pytest.importorskip("selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    drivers = []

    def start(window: str, downloads: Path | None = None, browser_log: bool = False):
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={window}"):
            options.add_argument(arg)
        if downloads is not None:
            options.add_experimental_option(
                "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
            )
        if browser_log:
            options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        drivers.append(webdriver.Chrome(service=Service(CHROMEDRIVER), options=options))
        return drivers[-1]

    yield start
    for driver in drivers:
        driver.quit()


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


def perceptual_points(colors: np.ndarray) -> np.ndarray:
    """The documented perceptual space (cpp/perceptual.hpp) in float64: (n, 3|4) uint8 -> (n, 4).

    Oklab of the sRGB colour, premultiplied by alpha and scaled by 255, with A and B offset
    by 1/2; alpha as a fourth coordinate. An independent oracle for nearest-colour tests.
    """
    colors = np.asarray(colors)
    rgb = colors[:, :3].astype(np.float64) / 255.0
    a = colors[:, 3].astype(np.float64) if colors.shape[1] == 4 else np.full(len(colors), 255.0)
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    lms = np.cbrt(
        linear
        @ np.array(
            [
                [0.4122214708, 0.5363325363, 0.0514459929],
                [0.2119034982, 0.6806995451, 0.1073969566],
                [0.0883024619, 0.2817188376, 0.6299787005],
            ]
        ).T
    )
    lab = (
        lms
        @ np.array(
            [
                [0.2104542553, 0.7936177850, -0.0040720468],
                [1.9779984951, -2.4285922050, 0.4505937099],
                [0.0259040371, 0.7827717662, -0.8086757660],
            ]
        ).T
    )
    lab[:, 1:] += 0.5
    return np.concatenate([lab * a[:, None], a[:, None]], axis=1)


def perceptual_distances(pixels: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Squared perceptual distance from every pixel (h, w, c) to every palette entry: (h * w, n)."""
    x = perceptual_points(pixels.reshape(-1, pixels.shape[-1]))
    p = perceptual_points(palette)
    return ((x[:, None, :] - p[None, :, :]) ** 2).sum(-1)
