"""quantcli: shrink images to K colours and write small palette PNGs.

The names below are loaded on first use, so that ``import quantcli`` (and the command
line's start-up) costs only what is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

# Public name -> the module that defines it.
_EXPORTS = {
    "Quantized": "api",
    "compress_pixels": "api",
    "encode_png": "api",
    "psnr_from_mse": "api",
    "quantize": "api",
    "remap": "api",
    "CompressResult": "pipeline",
    "compress_bytes": "pipeline",
    "compress_file": "pipeline",
    "ChooseKError": "choosek",
    "ChooseKOptions": "choosek",
    "ChooseKResult": "choosek",
    "KScore": "choosek",
    "choose_k": "choosek",
    "choose_k_file": "choosek",
    "choose_k_histogram": "choosek",
    "choose_k_shared": "choosek",
    "ImageReadError": "errors",
    "InvalidOptionError": "errors",
    "JobFailedError": "errors",
    "OutputExistsError": "errors",
    "OutputWriteError": "errors",
    "QuantcliError": "errors",
    "read_image": "images",
    "to_rgb8": "colour",
    "write_atomic": "targets",
    "QuantizeOptions": "options",
    "QualityTooLowError": "quality",
    "compress_to_quality": "quality",
    "quantize_to_quality": "quality",
    "quantize_image": "pillow",
    "save": "pillow",
}

__all__ = [
    "ChooseKError",
    "ChooseKOptions",
    "ChooseKResult",
    "CompressResult",
    "ImageReadError",
    "InvalidOptionError",
    "JobFailedError",
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
    "psnr_from_mse",
    "quantize",
    "quantize_image",
    "quantize_to_quality",
    "read_image",
    "remap",
    "save",
    "to_rgb8",
    "write_atomic",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'quantcli' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # for type checkers and editors: the same names, eagerly
    from .api import Quantized, compress_pixels, encode_png, psnr_from_mse, quantize, remap
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
    from .colour import to_rgb8
    from .errors import (
        ImageReadError,
        InvalidOptionError,
        JobFailedError,
        OutputExistsError,
        OutputWriteError,
        QuantcliError,
    )
    from .images import read_image
    from .options import QuantizeOptions
    from .pillow import quantize_image, save
    from .pipeline import CompressResult, compress_bytes, compress_file
    from .quality import QualityTooLowError, compress_to_quality, quantize_to_quality
    from .targets import write_atomic
