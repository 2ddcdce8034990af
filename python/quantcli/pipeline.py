"""The per-file pipeline: one input's whole journey, the same for every front end.

read -> decode -> choose K (``-k auto``) -> quantize -> encode -> skip-if-larger check
-> atomic write to a target. The local engine, the Spark tasks and the web service call
:func:`run_job`; the Python API (:func:`compress_file`, :func:`compress_bytes`) takes
the same route but raises where run_job gives an error row. A front end only decides
which files, and where their outputs go. A failure of any
kind becomes an error row by :func:`quantcli.per_file.guarded`, the contract of
every per-file front end.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from .errors import OutputExistsError
from .options import DEFAULT_MAX_PIXELS, QuantizeOptions
from .per_file import guarded, read_input
from .planner import Job, is_own_output_bytes
from .targets import LocalTarget, Target

if TYPE_CHECKING:  # NumPy is imported only when an image needs it (not for a plain PNG)
    import numpy as np

Status = Literal["written", "skipped", "error"]


@dataclass(frozen=True)
class CompressResult:
    """What happened to one input file.

    ``status`` is "written", "skipped" (``skip_if_larger`` kept the original, or
    ``skip_existing`` found the output there) or "error" (``error`` says why). Sizes are
    in bytes; ``psnr`` is None when lossless, skipped or unknown.

    When K was chosen for a target, ``target_met`` says whether the K used reaches it
    (False: even the largest K allowed stays below it, and that K was used) and the value
    reached is given: ``quality`` (0-100) for a quality target, ``psnr`` for a PSNR target
    (``min_psnr``). Both are None without a target.
    """

    path: str
    output: str | None
    k: int | None  # None only for an error row of ``-k auto``
    colors: int | None = None
    bytes_in: int | None = None
    bytes_out: int | None = None
    psnr: float | None = None
    seconds: float = 0.0
    status: Status = "written"
    error: str | None = None
    # The exit code an error row stands for (1, or 99 for --quality below its minimum);
    # not part of the JSON line.
    exit_code: int = 0
    quality: float | None = None
    target_met: bool | None = None
    # The output holds the input's own PNG chunks (IHDR, PLTE, tRNS, IDAT, IEND): the image
    # had at most K colours, so it is reproduced exactly, and those were no larger than
    # quantcli's PNG (see _run).
    kept_input: bool = False

    @property
    def ratio(self) -> float | None:
        """Output size over input size."""
        if self.bytes_in and self.bytes_out is not None:
            return self.bytes_out / self.bytes_in
        return None

    def to_json(self) -> dict[str, Any]:
        """The result as one JSON object (the CLI's ``--json`` line)."""
        ratio = self.ratio
        return {
            "path": self.path,
            "output": self.output,
            "k": self.k,
            "colors": self.colors,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "ratio": None if ratio is None else round(ratio, 6),
            "psnr": None if self.psnr is None else round(self.psnr, 4),
            "quality": None if self.quality is None else round(self.quality, 2),
            "target_met": self.target_met,
            "kept_input": self.kept_input,
            "seconds": round(self.seconds, 6),
            "status": self.status,
            "error": self.error,
        }


@dataclass(frozen=True)
class Settings:
    """Everything the pipeline needs besides the file: how to compress and what to do
    with existing and larger outputs. Small and picklable (Spark ships it to tasks).

    ``quality`` (min, max) on the 0-100 scale of :mod:`quantcli.quality` takes the fewest
    colours, up to ``options.k``, that reach max (an image below min is an error, exit
    code 99); ``choose`` (a :class:`quantcli.ChooseKOptions`) picks K per image by a
    choose-k method instead; ``palette`` remaps onto a palette chosen elsewhere instead of
    fitting one.
    """

    options: QuantizeOptions = field(default_factory=QuantizeOptions)
    quality: tuple[float, float] | None = None
    choose: Any = None
    palette: np.ndarray | None = None
    force: bool = False
    skip_if_larger: bool = False
    skip_existing: bool = False
    skip_own_outputs: bool = False  # an input quantcli wrote is left as it is (status "skipped")
    max_pixels: int | None = DEFAULT_MAX_PIXELS  # None: no limit

    @property
    def k_per_image(self) -> bool:
        """Whether K is chosen per image (a quality target or a choose-k method); with a
        given palette, that palette's size is the K instead."""
        return self.palette is None and (self.choose is not None or self.quality is not None)

    @property
    def error_k(self) -> int | None:
        """The ``k`` of an error row: unknown when K is chosen per image, the palette's
        size with a given palette."""
        if self.palette is not None:
            return len(self.palette)
        return None if self.k_per_image else self.options.k


@dataclass(frozen=True)
class Outcome:
    """A job's result row, and the bytes its output holds (the PNG; the input's own bytes
    when skip-if-larger kept it; None on error or when the output already existed)."""

    result: CompressResult
    payload: bytes | None = None


class Encoded(NamedTuple):
    """An image compressed by :func:`encode_image`: the PNG (or WebP, as
    ``options.format`` asks), its palette entries, its PSNR,
    the K used, and for a target the quality reached (quality targets) and whether the
    target was met (None without a target)."""

    png: bytes
    colors: int
    psnr: float
    k: int
    quality: float | None = None
    target_met: bool | None = None
    plain: bool = False  # the core's plain-PNG route (its strict decoder accepted the file)


def encode_image(data: bytes, settings: Settings, name: str) -> Encoded:
    """Decode encoded image bytes and compress them (see :class:`Encoded`).

    A plain PNG (``cpp/png_decoder.hpp``) with a fixed K takes one call into the core,
    which gives the same bytes as the general route below without Pillow or NumPy
    (tests/test_plain_png.py holds the two together); every other input, a bad one
    included, takes the general route.
    """
    if settings.palette is None and not settings.k_per_image and settings.options.format == "png":
        from . import _core
        from .psnr import psnr_from_mse

        plain = _core.compress_plain_png(data, settings.options, settings.max_pixels or 0)
        if plain is not None:
            png, colors, sse, samples = plain
            return Encoded(png, colors, psnr_from_mse(sse / samples), settings.options.k, plain=True)
    from .api import compress_pixels, encode_quantized
    from .images import read_image

    pixels = read_image(data, name=name, max_pixels=settings.max_pixels)
    options = settings.options
    quality, met = None, None
    if settings.palette is None and settings.quality is not None:
        from .quality import QualityTooLowError, choose_k_for_quality

        try:
            k, quality = choose_k_for_quality(pixels, options, settings.quality)
        except QualityTooLowError as exc:
            raise QualityTooLowError(f"{name}: {exc}") from None
        met = quality >= settings.quality[1]
        options = replace(options, k=k)
    elif settings.palette is None and settings.choose is not None:
        from .choosek import quantize_chosen

        # The chosen K's fit, remapped as quantize remaps it: not fitted a second time.
        result, q = quantize_chosen(pixels, settings.choose, options, name)
        return Encoded(encode_quantized(q, options), len(q.palette), q.psnr, result.k, None, result.target_met)
    png, q = compress_pixels(pixels, options, settings.palette)
    k = len(settings.palette) if settings.palette is not None else options.k
    return Encoded(png, len(q.palette), q.psnr, k, quality, met)


def run_job(
    job: Job,
    settings: Settings,
    *,
    read: Callable[[], bytes] | None = None,
    target: Target | None = None,
    retry: bool = False,
) -> Outcome:
    """Run one input through the pipeline; never raises for a bad input or output.

    Parameters
    ----------
    job
        The input and its planned output (:class:`quantcli.planner.Job`).
    read
        Returns the input's bytes (default: read ``job.source`` from the local disk).
    target
        Where ``job.target`` is written (default: the local disk). None with
        ``job.target`` None: nothing is written, the outcome carries the bytes (stdout,
        Parquet, the web service).
    retry
        This is a retried attempt (Spark): an output with exactly the bytes this attempt
        makes was written by an earlier attempt and counts as written.
    """
    start = time.perf_counter()
    return guarded(
        job.display,
        lambda: _run(job, settings, read, target, retry, start),
        lambda message, code, _: Outcome(error_row(job, message, settings, start, code)),
    )


def error_row(
    job: Job, message: str, settings: Settings, start: float | None = None, exit_code: int = 1
) -> CompressResult:
    """The result row of an input that failed: the one shape of every error."""
    return CompressResult(
        path=job.display,
        output=job.output,
        k=settings.error_k,
        seconds=0.0 if start is None else time.perf_counter() - start,
        status="error",
        error=message,
        exit_code=exit_code,
    )


def _run(
    job: Job, settings: Settings, read: Callable[[], bytes] | None, target: Target | None, retry: bool, start: float
) -> Outcome:
    if job.error is not None:
        return Outcome(error_row(job, job.error, settings, start))
    writes = job.target is not None
    if writes:
        target = target or LocalTarget()
    if writes and not settings.force and not retry and target.exists(job.target):
        if settings.skip_existing:
            row = CompressResult(job.display, job.output, settings.error_k, status="skipped")
            return Outcome(replace(row, seconds=time.perf_counter() - start))
        raise OutputExistsError(f"{job.output}: exists (use --force to overwrite)")
    data = read_input(job.display, job.source, read)
    if settings.skip_own_outputs and is_own_output_bytes(data):
        # Already ours: compressing it again would change nothing worth a write, so an
        # in-place run (the pre-commit hook) leaves it alone and a second run is a no-op.
        row = CompressResult(job.display, None, settings.error_k, bytes_in=len(data), bytes_out=len(data))
        return Outcome(replace(row, status="skipped", seconds=time.perf_counter() - start), data)
    encoded = encode_image(data, settings, job.display)
    png, colors, psnr, k, quality, met = encoded[:6]
    row = CompressResult(
        path=job.display, output=job.output, k=k, colors=colors, bytes_in=len(data), quality=quality, target_met=met
    )
    if settings.skip_if_larger and len(png) >= len(data):
        # The original is kept, so what the user ends up with is the input's size.
        row = replace(row, output=None, bytes_out=len(data), status="skipped")
        return Outcome(replace(row, seconds=time.perf_counter() - start), data)
    own = pixel_chunks_png(data) if encoded.plain and psnr == math.inf else None
    if own is not None and len(own) <= len(png):
        # Every colour kept (at most K), and the input is a PNG the core's strict decoder
        # read: its own pixel chunks are the smaller file.
        png = own
        row = replace(row, kept_input=True)
    if writes:
        _write(target, job, png, settings.force, retry)
    row = replace(row, bytes_out=len(png), psnr=_finite(psnr))
    return Outcome(replace(row, seconds=time.perf_counter() - start), png)


# The chunks of a PNG that hold its pixels. Its other chunks are left out, as they are of
# every output (colour management, text, times), unless the file cannot stand for its
# pixels without them: an eXIf orientation turns the image as it is read, and an APNG
# (acTL) has more frames.
_PIXEL_CHUNKS = (b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND")
_PIXELS_NEED = (b"eXIf", b"acTL")


def pixel_chunks_png(data: bytes) -> bytes | None:
    """The PNG ``data`` with only its IHDR, PLTE, tRNS, IDAT and IEND chunks, as they are;
    None when it is no such PNG, or needs another chunk (see ``_PIXELS_NEED``)."""
    import struct

    signature = b"\x89PNG\r\n\x1a\n"
    if not data.startswith(signature):
        return None
    kept, pos = [signature], 8
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, end = data[pos + 4 : pos + 8], pos + 12 + length
        if end > len(data) or kind in _PIXELS_NEED:
            return None
        if kind in _PIXEL_CHUNKS:
            kept.append(data[pos:end])
        elif not kind[0] & 0x20:
            return None  # an unknown critical chunk
        pos = end
        if kind == b"IEND":
            return b"".join(kept)
    return None


def _write(target: Target, job: Job, png: bytes, force: bool, retry: bool) -> None:
    try:
        target.write(job.target, png, force=force)
    except OutputExistsError:
        if not retry or not _holds(target, job.target, png):
            raise
        # Written by an earlier or a speculative attempt of this task: the same bytes.


def _holds(target: Target, path: str, data: bytes) -> bool:
    try:
        return target.read(path) == data
    except OSError:
        return False


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


# ---------------------------------------------------------------------------------------
# The pipeline as a Python API, for one file or one image in memory.


def compress_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    force: bool = False,
    skip_if_larger: bool = False,
    options: QuantizeOptions | None = None,
    quality: tuple[float, float] | None = None,
    choose: Any = None,
    palette: np.ndarray | None = None,
    **option_values: Any,
) -> CompressResult:
    """Compress one image file to a palette PNG (or lossless WebP: ``format="webp"``), written atomically.

    Parameters
    ----------
    src : path
        Any image quantcli reads (PNG, JPEG, GIF, BMP, TIFF, WebP, ...).
    dst : path
        Where to write the PNG or WebP (a temporary file, then a rename; never replacing
        a file unless ``force``).
    force : bool
        Replace ``dst`` if it exists.
    skip_if_larger : bool
        Write nothing when the output would not be smaller than ``src``; the result's
        status is then "skipped".
    options : QuantizeOptions, optional
        Or pass its fields as keywords (``k=16, dither=True, format="webp"``).
    quality : (min, max), optional
        The fewest colours, up to ``options.k``, whose quality (0-100, see
        :mod:`quantcli.quality`) reaches max; below min nothing is written and
        :class:`quantcli.quality.QualityTooLowError` is raised.
    choose : ChooseKOptions, optional
        Choose K per image by a choose-k method; the result's ``k`` is the K chosen.
    palette : ndarray of shape (n, 3) or (n, 4), dtype uint8, optional
        Remap onto this palette (shared by a collection) instead of fitting one.

    Returns
    -------
    CompressResult

    Raises
    ------
    ImageReadError, OutputExistsError, OutputWriteError, InvalidOptionError
    """
    settings = Settings(
        options=_options(options, option_values),
        quality=quality,
        choose=choose,
        palette=palette,
        force=force,
        skip_if_larger=skip_if_larger,
    )
    job = Job(str(src), str(src), str(dst), str(dst), os.path.basename(dst))
    start = time.perf_counter()
    outcome = _run(job, settings, None, None, False, start)
    return outcome.result


def compress_bytes(
    data: bytes | bytearray | memoryview,
    options: QuantizeOptions | None = None,
    name: str = "<stdin>",
    *,
    quality: tuple[float, float] | None = None,
    choose: Any = None,
    palette: np.ndarray | None = None,
) -> tuple[bytes, CompressResult]:
    """Compress an encoded image held in memory: (PNG bytes, or WebP with
    ``options.format="webp"``, and its result row).

    Raises ImageReadError (and InvalidOptionError) as :func:`compress_file` does.
    """
    settings = Settings(options=options or QuantizeOptions(), quality=quality, choose=choose, palette=palette)
    blob = bytes(data)
    job = Job(name, name, None, None, name)
    outcome = _run(job, settings, lambda: blob, None, False, time.perf_counter())
    result = outcome.result
    if result.status == "written":
        assert outcome.payload is not None
        return outcome.payload, result
    raise AssertionError("compress_bytes never skips")  # pragma: no cover


def _options(options: QuantizeOptions | None, values: dict[str, Any]) -> QuantizeOptions:
    if options is not None and values:
        raise TypeError("pass either options or option keywords, not both")
    return options if options is not None else QuantizeOptions(**values)
