"""Image quality scores shared by the benchmarks: SSIMULACRA2 (alpha composited on dark and light grey) and PSNR.

SSIMULACRA2 comes from the ``ssimulacra2`` package, its steps called on arrays instead of paths
so that alpha can be composited the way ``shared/CORPUS.md`` asks (its path API drops alpha):
an RGBA pair is scored over a dark grey (26) and over a light grey (230), and the lower score is
kept. Higher is better: 90 visually lossless, 70 high, 50 medium.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

# The greys RGBA images are composited on before scoring; the lower score is kept.
BACKGROUNDS = (26, 230)
# PSNR of identical images is infinite; a mean over images counts it as this.
PSNR_CAP = 100.0


class Reference:
    """SSIMULACRA2 of distorted images against one RGB reference, its half of the work done once."""

    def __init__(self, rgb: np.ndarray) -> None:
        import ssimulacra2.ssimulacra2 as s2

        self._s2 = s2
        self._scales = []
        linear = s2.srgb_to_linear(rgb.astype(np.float64))
        for scale in range(s2.kNumScales):
            if linear.shape[0] < 8 or linear.shape[1] < 8:
                break
            xyb = s2.make_positive_xyb(s2.linear_rgb_to_xyb(linear))
            self._scales.append((xyb, s2.blur_image(xyb * xyb), s2.blur_image(xyb)))
            if scale < s2.kNumScales - 1:
                linear = s2.downsample(linear, 2, 2)

    def score(self, rgb: np.ndarray) -> float:
        """SSIMULACRA2 of an (h, w, 3) uint8 image of the reference's shape."""
        s2 = self._s2
        msssim = s2.Msssim()
        linear = s2.srgb_to_linear(rgb.astype(np.float64))
        for xyb1, sigma11, mu1 in self._scales:
            xyb2 = s2.make_positive_xyb(s2.linear_rgb_to_xyb(linear))
            data = s2.MsssimScale()
            mu2 = s2.blur_image(xyb2)
            data.avg_ssim = s2.ssim_map(mu1, mu2, sigma11, s2.blur_image(xyb2 * xyb2), s2.blur_image(xyb1 * xyb2))
            data.avg_edgediff = s2.edge_diff_map(xyb1, mu1, xyb2, mu2)
            msssim.scales.append(data)
            linear = s2.downsample(linear, 2, 2)
        return float(msssim.score())


def composite(rgba: np.ndarray, grey: int) -> np.ndarray:
    """RGBA over a flat grey, as RGB uint8."""
    a = rgba[..., 3:4].astype(np.float64) / 255.0
    return np.rint(rgba[..., :3] * a + grey * (1.0 - a)).astype(np.uint8)


def ssimulacra2_score(reference: np.ndarray, distorted: np.ndarray) -> float:
    """SSIMULACRA2 of two (h, w, 3|4) uint8 images; RGBA: the lower of dark and light grey backgrounds."""
    if reference.shape[2] == 3 and distorted.shape[2] == 3:
        return Reference(reference).score(distorted)
    ref, dist = rgba(reference), rgba(distorted)
    return min(Reference(composite(ref, g)).score(composite(dist, g)) for g in BACKGROUNDS)


def rgba(img: np.ndarray) -> np.ndarray:
    """An (h, w, 3|4) uint8 image as (h, w, 4), opaque where it had no alpha."""
    if img.shape[2] == 4:
        return img
    return np.concatenate([img, np.full((*img.shape[:2], 1), 255, np.uint8)], axis=2)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB over every pixel and channel of two uint8 arrays (inf when equal)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def decode(path: Path) -> np.ndarray:
    """A file's pixels as (h, w, 3) uint8 RGB (alpha dropped)."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def decode_rgba(data: bytes | Path) -> np.ndarray:
    """An encoded image's pixels as (h, w, 4) uint8 RGBA, whatever its colour type."""
    import io

    with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as im:
        return np.ascontiguousarray(np.asarray(im.convert("RGBA")))


class Scorer:
    """SSIMULACRA2 and PSNR of outputs against one source, the source's share of the work kept.

    ``source`` is (h, w, 4) uint8 RGBA. Where source and output are both opaque they are scored
    as RGB; otherwise both are composited on each of ``BACKGROUNDS`` and the lower SSIMULACRA2
    and the lower PSNR are kept.
    """

    def __init__(self, source: np.ndarray) -> None:
        self.source = rgba(source)
        self.opaque = bool(self.source[..., 3].min() == 255)
        self._refs: dict[int | None, Reference] = {}

    def _ref(self, grey: int | None) -> Reference:
        if grey not in self._refs:
            self._refs[grey] = Reference(self.source[..., :3] if grey is None else composite(self.source, grey))
        return self._refs[grey]

    def score(self, output: np.ndarray) -> tuple[float, float]:
        """(SSIMULACRA2, PSNR dB) of an (h, w, 4) uint8 output of the source's shape."""
        out = rgba(output)
        if out.shape != self.source.shape:
            raise ValueError(f"output shape {out.shape} differs from the source's {self.source.shape}")
        if self.opaque and out[..., 3].min() == 255:
            return self._ref(None).score(out[..., :3]), psnr(self.source[..., :3], out[..., :3])
        scores = [
            (self._ref(g).score(composite(out, g)), psnr(composite(self.source, g), composite(out, g)))
            for g in BACKGROUNDS
        ]
        return min(s for s, _ in scores), min(p for _, p in scores)
