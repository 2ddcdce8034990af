"""PSNR from a mean squared error, without NumPy (the pipeline's plain-PNG route needs it
before anything has imported NumPy)."""

from __future__ import annotations

import math


def psnr_from_mse(mse: float) -> float:
    """PSNR in dB for 8-bit samples: ``10 * log10(255**2 / mse)``; ``inf`` for mse 0."""
    return math.inf if mse <= 0 else 10.0 * math.log10(255.0**2 / mse)
