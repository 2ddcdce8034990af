"""Image features and quality metrics on decoded pixels, vectorised in NumPy.

Every function takes the 8-bit arrays :func:`quantcli.images.read_image` returns, so
features and scores are computed on the same pixels compress quantizes. Definitions
(also in ``docs/inspect.md``):

- **Luma** ``Y = 0.299 R + 0.587 G + 0.114 B`` (ITU-R BT.601 weights on the sRGB-encoded
  values, as JPEG, Pillow's ``convert("L")`` and OpenCV's ``COLOR_RGB2GRAY`` use), 0..255.
- **Composite**: features describe an image as it looks on a neutral background; RGBA is
  composited over mid grey (128, 128, 128) first, ``rgb * a + 128 * (1 - a)``.
- **Edge score**: the mean Sobel gradient magnitude of luma scaled to 0..1, with
  scikit-image's normalisation (``skimage.filters.sobel``): kernels divided by 4 and the
  magnitude ``sqrt((gx**2 + gy**2) / 2)``, so it lies in 0..1. Over interior pixels only
  (no border rule to choose).
- **Laplacian variance**: the variance of the 4-neighbour Laplacian
  (``[[0, 1, 0], [1, -4, 1], [0, 1, 0]]``, OpenCV's ``Laplacian`` with ``ksize=1``) of luma
  in 0..255, over interior pixels: low means few sharp transitions.
- **Blurriness**: ``100 / (100 + laplacian_variance)``, in 0..1, higher is blurrier. 100 is
  the usual "blurry below this" threshold for the Laplacian variance of 8-bit images, so a
  flat image scores 1, the threshold 0.5 and a sharp photo (variance ~1000) about 0.1;
  on this scale it sits beside SSIM in the weighted quality score.
- **Colourfulness**: Hasler and Suesstrunk's (2003) metric on 0..255 RGB:
  ``sqrt(std(rg)**2 + std(yb)**2) + 0.3 * sqrt(mean(rg)**2 + mean(yb)**2)`` with
  ``rg = R - G`` and ``yb = (R + G) / 2 - B``; 0 for grey images, ~100 for vivid ones.
- **SSIM**: Wang et al. (2004) with a Gaussian window (sigma 1.5, 11 taps), K1 0.01,
  K2 0.03, data range 255, population covariance, averaged over the interior (a 5-pixel
  border dropped) and over channels: exactly scikit-image's ``structural_similarity(a, b,
  gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255,
  channel_axis=-1)``.
- **PSNR**: ``10 log10(255**2 / MSE)`` over every channel sample; infinite when equal.
  For PSNR and SSIM the colour of fully transparent pixels counts as 0 in both images
  (it is invisible; compress's own PSNR counts it so too).
- **WQS**: ``0.4 PSNR + 0.4 SSIM + 0.1 ratio - 0.1 blurriness`` (weights configurable), with
  ratio = input bytes / output bytes and the blurriness of the output.
"""

from __future__ import annotations

import contextlib
import io
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from .errors import InvalidOptionError

LUMA_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601
BACKGROUND_GREY = 128  # RGBA is composited over this grey before features
BLUR_REFERENCE = 100.0  # Laplacian variance at which blurriness is 0.5
# SSIM constants (Wang et al. 2004; scikit-image's defaults).
SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5  # radius int(3.5 * 1.5 + 0.5) = 5: an 11-tap window, as scikit-image
SSIM_K1, SSIM_K2 = 0.01, 0.03
SSIM_WINDOW = 2 * int(SSIM_TRUNCATE * SSIM_SIGMA + 0.5) + 1  # 11: the smallest side SSIM takes
# SSIMULACRA2 of RGBA: composited on a dark and on a light grey; the lower score is kept.
SSIMULACRA2_GREYS = (26, 230)
# ssim() works on strips of this many output rows (buffers of ~15 * 8 * width * channels
# * (rows + 10) bytes, reused from strip to strip) and multiplies tiles of this many rows
# by the banded Gaussian matrix; both measured fastest on photos of 1 to 24 MP.
_SSIM_STRIP = 32
_SSIM_TILE = 16


def planes_over_grey(pixels: np.ndarray, grey: int = BACKGROUND_GREY) -> np.ndarray:
    """The colour planes, float32 of shape (3, h, w) in 0..255: RGBA composited over a flat
    grey, ``rgb * a + grey * (1 - a)``; RGB as is. Planar, so every later step reads
    contiguous memory."""
    planes = pixels[..., :3].transpose(2, 0, 1).astype(np.float32)
    if pixels.shape[2] == 4:
        alpha = pixels[..., 3].astype(np.float32) * np.float32(1 / 255)
        planes *= alpha
        planes += np.float32(grey) * (np.float32(1) - alpha)
    return planes


def luma(planes: np.ndarray) -> np.ndarray:
    """BT.601 luma of (3, h, w) colour planes, 0..255, float32 of shape (h, w)."""
    r, g, b = planes
    y = np.float32(LUMA_WEIGHTS[0]) * r
    y += np.float32(LUMA_WEIGHTS[1]) * g
    y += np.float32(LUMA_WEIGHTS[2]) * b
    return y


def mean_rgb(planes: np.ndarray) -> tuple[float, float, float]:
    """The mean of each of the (3, h, w) colour planes (accumulated in float64)."""
    r, g, b = (float(plane.mean(dtype=np.float64)) for plane in planes)
    return r, g, b


def edge_score(y: np.ndarray) -> float:
    """Mean Sobel gradient magnitude of luma ``y`` (0..255, shape (h, w)) over interior
    pixels, scaled to 0..1 as scikit-image's ``sobel`` of ``y / 255``; 0 below 3x3."""
    if y.shape[0] < 3 or y.shape[1] < 3:
        return 0.0
    smooth = y[:-2] + 2 * y[1:-1] + y[2:]  # [1, 2, 1] down the columns
    gx = smooth[:, 2:] - smooth[:, :-2]
    diff = y[2:] - y[:-2]
    gy = diff[:, :-2] + 2 * diff[:, 1:-1] + diff[:, 2:]
    magnitude = np.sqrt((gx * gx + gy * gy) * np.float32(0.5))
    return float(magnitude.mean(dtype=np.float64)) / (4 * 255)


def laplacian_variance(y: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of luma ``y`` (0..255, shape (h, w)) over
    interior pixels; 0 below 3x3."""
    if y.shape[0] < 3 or y.shape[1] < 3:
        return 0.0
    lap = y[:-2, 1:-1] + y[2:, 1:-1] + y[1:-1, :-2] + y[1:-1, 2:] - 4 * y[1:-1, 1:-1]
    return float(np.var(lap, dtype=np.float64))


def blurriness(laplacian_var: float) -> float:
    """The blurriness index of a Laplacian variance: ``100 / (100 + var)``, 0..1."""
    return BLUR_REFERENCE / (BLUR_REFERENCE + laplacian_var)


def colorfulness(planes: np.ndarray) -> float:
    """Hasler and Suesstrunk's colourfulness of (3, h, w) colour planes in 0..255."""
    r, g, b = planes
    rg = r - g
    yb = r + g
    yb *= np.float32(0.5)
    yb -= b
    std = math.sqrt(float(np.var(rg, dtype=np.float64)) + float(np.var(yb, dtype=np.float64)))
    mean = math.hypot(float(rg.mean(dtype=np.float64)), float(yb.mean(dtype=np.float64)))
    return std + 0.3 * mean


def psnr(reference: np.ndarray, distorted: np.ndarray) -> float:
    """PSNR in dB over every channel sample of two equal-shape uint8 images; ``inf`` when equal."""
    diff = (reference.astype(np.float64) - distorted).reshape(-1)
    mse = float(np.dot(diff, diff)) / diff.size  # exact: integer squares, sums below 2**53
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


@lru_cache(maxsize=1)
def _gaussian_window() -> np.ndarray:
    radius = int(SSIM_TRUNCATE * SSIM_SIGMA + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * x * x / SSIM_SIGMA**2)
    return w / w.sum()


@lru_cache(maxsize=8)
def _band(n: int) -> np.ndarray:
    """The (n, n + taps - 1) matrix whose product with a column is the valid correlation
    of n outputs with the Gaussian window."""
    w = _gaussian_window()
    band = np.zeros((n, n + len(w) - 1))
    for i in range(n):
        band[i, i : i + len(w)] = w
    band.flags.writeable = False
    return band


def _blur_rows(a: np.ndarray, out: np.ndarray) -> None:
    """``out[i] = sum_k w[k] * a[i + k]`` (a valid correlation down axis 0), as banded
    matrix products on tiles of rows, so BLAS does the arithmetic.

    ``a`` is (n + taps - 1, m) float64, ``out`` (n, m). Tiles overlap by taps - 1 rows.
    """
    n, taps = out.shape[0], SSIM_WINDOW
    tile = _SSIM_TILE
    full = n // tile
    if full:
        s0, s1 = a.strides
        tiles = np.lib.stride_tricks.as_strided(a, (full, tile + taps - 1, a.shape[1]), (tile * s0, s0, s1))
        np.matmul(_band(tile), tiles, out=out[: full * tile].reshape(full, tile, a.shape[1]))
    if n > full * tile:
        np.matmul(_band(n - full * tile), a[full * tile :], out=out[full * tile :])


def ssim(reference: np.ndarray, distorted: np.ndarray, data_range: float = 255.0) -> float:
    """Mean SSIM over channels (Gaussian window, sigma 1.5), as scikit-image computes it.

    Parameters
    ----------
    reference, distorted : ndarray of shape (h, w, c), dtype uint8
        Equal shapes, h and w at least 11 (the window).

    Returns
    -------
    float
        ``structural_similarity(reference, distorted, gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False, data_range=255, channel_axis=-1)``.

    Notes
    -----
    scikit-image filters the whole image with a reflected border and then drops a border
    of 5 pixels, so every value it keeps is a valid (unpadded) filter output; this
    computes only those, in strips of rows with buffers reused from strip to strip, the
    separable Gaussian as banded matrix products on one BLAS thread (several threads only
    contend on such small products; images are done in parallel instead), in float64
    (float32 moves the mean by ~1e-5).
    """
    if reference.shape != distorted.shape or reference.ndim != 3:
        shapes = f"{reference.shape} and {distorted.shape}"
        raise InvalidOptionError(f"ssim needs two (h, w, c) images of one shape, got {shapes}")
    h, w = reference.shape[:2]
    taps = SSIM_WINDOW
    if h < taps or w < taps:
        raise InvalidOptionError(f"ssim needs images of at least {taps}x{taps} pixels, got {w}x{h}")
    with _one_blas_thread():
        return _ssim(reference, distorted, data_range)


def _ssim(reference: np.ndarray, distorted: np.ndarray, data_range: float) -> float:
    h, w, channels = reference.shape
    taps = SSIM_WINDOW
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    out_h, out_w = h - taps + 1, w - taps + 1
    planes = 5 * channels  # x, y, x*x, y*y, x*y per channel
    strip = min(_SSIM_STRIP, out_h)
    # The strip's inputs as planes side by side, (rows + taps - 1, 5, channels, w); the
    # planes filtered down, (rows, planes * w); the same transposed, filtered across.
    stack = np.empty((strip + taps - 1, 5, channels, w))
    down = np.empty((strip, planes * w))
    across_in = np.empty((planes * w, strip))
    across = np.empty((planes * w, strip))
    work = np.empty((4, channels, out_w, strip))
    total = np.zeros(channels)
    for r0 in range(0, out_h, strip):
        rows = min(strip, out_h - r0)
        if rows < strip:  # the last strip: smaller buffers, once
            across_in, across, work = across_in[:, :rows].copy(), across[:, :rows].copy(), work[..., :rows].copy()
        part = stack[: rows + taps - 1]
        part[:, 0] = reference[r0 : r0 + rows + taps - 1].transpose(0, 2, 1)
        part[:, 1] = distorted[r0 : r0 + rows + taps - 1].transpose(0, 2, 1)
        np.multiply(part[:, 0], part[:, 0], out=part[:, 2])
        np.multiply(part[:, 1], part[:, 1], out=part[:, 3])
        np.multiply(part[:, 0], part[:, 1], out=part[:, 4])
        _blur_rows(part.reshape(rows + taps - 1, planes * w), down[:rows])
        # Across: the same down the transposed rows. Outputs that straddle two planes are
        # computed and dropped.
        np.copyto(across_in, down[:rows].T)
        _blur_rows(across_in, across[: planes * w - taps + 1])
        mu_x, mu_y, xx, yy, xy = across.reshape(5, channels, w, rows)[:, :, :out_w]
        num, den, mu_xx, mu_yy = work
        np.multiply(mu_x, mu_y, out=num)  # mu_x mu_y
        np.subtract(xy, num, out=den)  # covariance
        den *= 2
        den += c2
        num *= 2
        num += c1
        num *= den  # (2 mu_x mu_y + c1)(2 cov + c2)
        np.multiply(mu_x, mu_x, out=mu_xx)
        np.multiply(mu_y, mu_y, out=mu_yy)
        np.subtract(xx, mu_xx, out=den)
        den += yy
        den -= mu_yy
        den += c2  # var_x + var_y + c2
        mu_xx += mu_yy
        mu_xx += c1
        den *= mu_xx
        num /= den
        total += num.sum(axis=(1, 2))
    return float(np.mean(total / (out_h * out_w)))


_blas_lock = threading.Lock()
_blas_users = 0
_blas_limit: Any = None


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """BLAS limited to one thread while any ssim() runs (threadpoolctl, when installed);
    the caller's setting is restored when the last one ends."""
    global _blas_users, _blas_limit
    with _blas_lock:
        if _blas_users == 0:
            _blas_limit = _limit_blas()
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0 and _blas_limit is not None:
                _blas_limit.restore_original_limits()
                _blas_limit = None


def _limit_blas() -> Any:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(limits=1, user_api="blas")


def ssimulacra2_available() -> bool:
    """Whether the ``ssimulacra2`` package is installed (the ``inspect`` extra)."""
    try:
        import ssimulacra2  # noqa: F401
    except ImportError:
        return False
    return True


def ssimulacra2(reference: np.ndarray, distorted: np.ndarray) -> float | None:
    """SSIMULACRA2 of two uint8 RGB(A) images (the ``ssimulacra2`` package); None when it
    is not installed or an image is smaller than 8x8.

    RGBA (either image) is composited on a dark and on a light grey and the lower score is
    kept, as the project judges quality. The images go to the package as in-memory PPM
    files: its public function reads files, and its own reading would drop alpha.
    """
    try:
        from ssimulacra2 import compute_ssimulacra2
    except ImportError:
        return None
    if min(reference.shape[:2]) < 8:
        return None
    if reference.shape[2] == 3 and distorted.shape[2] == 3:
        return float(compute_ssimulacra2(_ppm(reference), _ppm(distorted)))
    scores = []
    for grey in SSIMULACRA2_GREYS:
        ref, dist = (np.rint(planes_over_grey(as_rgba(img), grey)).astype(np.uint8) for img in (reference, distorted))
        scores.append(float(compute_ssimulacra2(_ppm(ref.transpose(1, 2, 0)), _ppm(dist.transpose(1, 2, 0)))))
    return min(scores)


def invisible_zeroed(pixels: np.ndarray) -> np.ndarray:
    """RGBA with the colour of fully transparent pixels set to 0 (RGB as is): their colour
    is invisible, and compress keeps all of them as one entry, so it is no error."""
    if pixels.shape[2] != 4:
        return pixels
    clear = pixels[..., 3] == 0
    if not clear.any():
        return pixels
    out = pixels.copy()
    out[clear, :3] = 0
    return out


def as_rgba(pixels: np.ndarray) -> np.ndarray:
    """RGBA pixels: RGB gets an opaque alpha channel; RGBA comes back as is."""
    if pixels.shape[2] == 4:
        return pixels
    return np.concatenate([pixels, np.full((*pixels.shape[:2], 1), 255, np.uint8)], axis=2)


def _ppm(rgb: np.ndarray) -> io.BytesIO:
    h, w = rgb.shape[:2]
    return io.BytesIO(b"P6\n%d %d\n255\n" % (w, h) + np.ascontiguousarray(rgb[..., :3]).tobytes())


@dataclass(frozen=True)
class Weights:
    """The weights of the weighted quality score (WQS), each a finite number.

    ``wqs = psnr * PSNR + ssim * SSIM + ratio * compression_ratio - blurriness * blurriness``
    """

    psnr: float = 0.4
    ssim: float = 0.4
    ratio: float = 0.1
    blurriness: float = 0.1

    def __post_init__(self) -> None:
        for name in ("psnr", "ssim", "ratio", "blurriness"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise InvalidOptionError(f"WQS weight {name} must be a finite number, got {value!r}")


# PSNR of a lossless pair in the weighted score (the formula has no room for infinity).
WQS_PSNR_CAP = 100.0


def wqs(psnr_db: float, ssim_value: float, ratio: float, blur: float, weights: Weights | None = None) -> float:
    """The weighted quality score: ``0.4 PSNR + 0.4 SSIM + 0.1 ratio - 0.1 blurriness`` by
    default; PSNR above 100 dB (lossless: infinite) counts as 100."""
    weights = weights or Weights()
    return (
        weights.psnr * min(psnr_db, WQS_PSNR_CAP)
        + weights.ssim * ssim_value
        + weights.ratio * ratio
        - weights.blurriness * blur
    )
