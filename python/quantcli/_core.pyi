"""Type stub for the compiled module quantcli._core (kept honest by tests/test_stub.py)."""

from typing import Any

import numpy as np
import numpy.typing as npt

def quantize(
    pixels: npt.NDArray[np.uint8],
    k: int,
    seed: int = 0,
    max_iter: int = 50,
    tol: float = 0.002,
    dither: float = 0.0,
    init: str = "median-cut",
    threads: int = 0,
    run_margin: float = 1.0,
) -> dict[str, Any]: ...
def smallest_k_for_error(
    pixels: npt.NDArray[np.uint8],
    k_max: int,
    max_mse: float,
    seed: int = 0,
    max_iter: int = 50,
    tol: float = 0.002,
    init: str = "median-cut",
    threads: int = 0,
) -> tuple[int, float, float]: ...
def remap(
    pixels: npt.NDArray[np.uint8],
    palette: npt.NDArray[np.uint8],
    dither: float = 0.0,
    threads: int = 0,
    run_margin: float = 0.0,
) -> dict[str, Any]: ...
def encode_png(labels: npt.NDArray[np.uint8], palette: npt.NDArray[np.uint8], level: int = 10) -> bytes: ...
def histogram(
    pixels: npt.NDArray[np.uint8],
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint64]]: ...
def merge_histograms(
    colors_a: npt.NDArray[np.uint8],
    counts_a: npt.NDArray[np.uint64],
    colors_b: npt.NDArray[np.uint8],
    counts_b: npt.NDArray[np.uint64],
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint64]]: ...
def fit_palette(
    colors: npt.NDArray[np.uint8],
    counts: npt.NDArray[np.uint64],
    k: int,
    seed: int = 0,
    max_iter: int = 50,
    tol: float = 0.002,
    init: str = "median-cut",
    threads: int = 0,
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int32], int]: ...
def kmeans(
    colors: npt.NDArray[np.uint8],
    counts: npt.NDArray[np.uint64],
    init: npt.NDArray[np.float32],
    n_fixed: int = 0,
    max_iter: int = 100,
    tol: float = 0.0,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int32], float, int]: ...
def initial_palette(
    colors: npt.NDArray[np.uint8],
    counts: npt.NDArray[np.uint64],
    k: int,
    seed: int = 0,
    init: str = "median-cut",
) -> npt.NDArray[np.float32]: ...
def choose_k_scan(
    colors: npt.NDArray[np.uint8],
    counts: npt.NDArray[np.uint64],
    ks: list[int],
    seed: int = 0,
    max_iter: int = 50,
    tol: float = 2e-3,
    init: str = "median-cut",
    sample: int = 0,
    sample_seed: int = 0,
    threads: int = 0,
) -> dict[str, npt.NDArray[Any]]: ...
def choose_k_scan_image(
    pixels: npt.NDArray[np.uint8],
    ks: list[int],
    seed: int = 0,
    max_iter: int = 50,
    tol: float = 2e-3,
    init: str = "median-cut",
    sample: int = 0,
    sample_seed: int = 0,
    threads: int = 0,
    png_level: int = -1,
    run_margin: float = 1.0,
) -> dict[str, Any]: ...
def squared_silhouette(
    colors: npt.NDArray[np.uint8], counts: npt.NDArray[np.uint64], labels: npt.NDArray[np.int32]
) -> float: ...
def euclidean_silhouette(points: npt.NDArray[np.uint8], labels: npt.NDArray[np.int32], threads: int = 0) -> float: ...
def sample_pixels(
    colors: npt.NDArray[np.uint8], counts: npt.NDArray[np.uint64], n: int, seed: int = 0
) -> npt.NDArray[np.uint32]: ...
