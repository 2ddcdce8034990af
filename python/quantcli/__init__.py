"""quantcli: shrink images to K colours and write small palette PNGs."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .api import (
    CompressResult,
    Quantized,
    compress_bytes,
    compress_file,
    compress_pixels,
    encode_png,
    psnr_from_mse,
    quantize,
    remap,
)
from .choosek import (
    ChooseKError,
    ChooseKOptions,
    ChooseKResult,
    KScore,
    choose_k,
    choose_k_file,
    choose_k_histogram,
    choose_k_shared,
)
from .errors import (
    ImageReadError,
    InvalidOptionError,
    OutputExistsError,
    OutputWriteError,
    QuantcliError,
)
from .images import read_image, to_rgb8, write_atomic
from .options import QuantizeOptions
from .quality import QualityTooLowError, compress_to_quality, k_for_quality, quantize_to_quality

try:
    __version__ = version("quantcli")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "ChooseKError",
    "ChooseKOptions",
    "ChooseKResult",
    "CompressResult",
    "ImageReadError",
    "InvalidOptionError",
    "KScore",
    "OutputExistsError",
    "OutputWriteError",
    "QualityTooLowError",
    "QuantcliError",
    "QuantizeOptions",
    "Quantized",
    "__version__",
    "choose_k",
    "choose_k_file",
    "choose_k_histogram",
    "choose_k_shared",
    "compress_bytes",
    "compress_file",
    "compress_pixels",
    "compress_to_quality",
    "encode_png",
    "k_for_quality",
    "psnr_from_mse",
    "quantize",
    "quantize_to_quality",
    "read_image",
    "remap",
    "to_rgb8",
    "write_atomic",
]
