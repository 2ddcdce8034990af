"""The service's work: the user's choices as pipeline settings, a bounded worker pool,
and the jobs that run every stored image through the per-file pipeline.

Nothing here decodes, quantizes or encodes by itself: an image goes through
:func:`quantcli.pipeline.run_job`, as on the command line, and its result row is stored.
Jobs are database rows, so a job that a stopped server left queued or running is picked
up again when the server starts.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select, update

from ..errors import InvalidOptionError
from ..options import K_MAX, K_MIN, QuantizeOptions
from ..pipeline import CompressResult, Settings, run_job
from ..planner import Job as PipelineJob
from .config import ServeConfig
from .db import DONE, ERROR, FAILED, PENDING, QUEUED, RUNNING, Database, Image, Job, utcnow
from .storage import OUTPUT, PREVIEW, Store

log = logging.getLogger("quantcli.serve")

#: K values of the choose-k curve on the result page (the image's own K is added).
CURVE_KS = (2, 4, 8, 16, 32, 64, 128, 256)
#: Media types browsers show, by magic number; other formats get a PNG preview.
_WEB_FORMATS = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
)


def web_media_type(head: bytes) -> str | None:
    """The media type of an image a browser can show, from its first bytes; else None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    for magic, media_type in _WEB_FORMATS:
        if head.startswith(magic):
            return media_type
    return None


# ---------------------------------------------------------------------------------------
# The user's choices


@dataclass(frozen=True)
class Choices:
    """How the user asked for an image to be compressed, checked.

    ``k`` is a palette size or ``"auto"`` (the smallest K reaching ``min_psnr``, default
    35 dB, as ``compress -k auto --method quality``); ``shared`` fits one palette to the
    whole job; ``quality`` goes to :class:`QuantizeOptions` when this quantcli has it.
    """

    k: str = str(K_MAX)
    dither: bool = False
    shared: bool = False
    quality: str | None = None
    min_psnr: float | None = None

    @property
    def auto(self) -> bool:
        """Whether K is chosen per image."""
        return self.k == "auto"


def quality_supported() -> bool:
    """Whether this quantcli's QuantizeOptions takes a ``quality`` target."""
    return "quality" in {f.name for f in dataclasses.fields(QuantizeOptions)}


_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


def parse_bool(name: str, value: str | bool | None) -> bool:
    """A yes/no parameter: 1/0, true/false, yes/no, on/off (absent: no)."""
    if value is None or isinstance(value, bool):
        return bool(value)
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidOptionError(f"{name} must be true or false, got {value!r}")


def parse_choices(
    k: str | None = None,
    dither: str | bool | None = None,
    shared: str | bool | None = None,
    quality: str | None = None,
    min_psnr: str | float | None = None,
) -> Choices:
    """Check the parameters of an upload (form fields or query parameters).

    Raises
    ------
    InvalidOptionError
        With a one-line message naming the parameter and the value.
    """
    text = (k or str(K_MAX)).strip().lower()
    if text != "auto":
        try:
            number = int(text)
        except ValueError:
            raise InvalidOptionError(f"k must be a number from {K_MIN} to {K_MAX} or auto, got {k!r}") from None
        if not K_MIN <= number <= K_MAX:
            raise InvalidOptionError(f"k must be from {K_MIN} to {K_MAX} or auto, got {number}")
        text = str(number)
    is_shared = parse_bool("shared", shared)
    if text == "auto" and is_shared:
        raise InvalidOptionError("k=auto picks K per image; it does not combine with a shared palette")
    target = None
    if min_psnr not in (None, ""):
        if text != "auto":
            raise InvalidOptionError("min_psnr is the target of k=auto; give k=auto with it")
        try:
            target = float(min_psnr)
        except (TypeError, ValueError):
            raise InvalidOptionError(f"min_psnr must be a number of dB, got {min_psnr!r}") from None
        if not (math.isfinite(target) and 1 <= target <= 100):
            raise InvalidOptionError(f"min_psnr must be from 1 to 100 dB, got {min_psnr!r}")
    if quality in ("", None):
        quality = None
    elif not quality_supported():
        raise InvalidOptionError("quality is not available in this version of quantcli (use k=auto with min_psnr)")
    elif len(quality) > 32:
        raise InvalidOptionError("quality is too long")
    choices = Choices(k=text, dither=parse_bool("dither", dither), shared=is_shared, quality=quality, min_psnr=target)
    settings_for(choices)  # every check the options object makes, now rather than in a worker
    return choices


def choices_of(job: Job) -> Choices:
    """The choices a job was created with."""
    return Choices(k=job.k, dither=job.dither, shared=job.shared, quality=job.quality, min_psnr=job.min_psnr)


def settings_for(
    choices: Choices, *, threads: int = 0, palette: np.ndarray | None = None, max_pixels: int | None = None
) -> Settings:
    """The pipeline settings for the choices; outputs are overwritten (a job that is
    resumed after a restart writes its outputs again)."""
    values: dict[str, Any] = {"k": K_MAX if choices.auto else int(choices.k), "dither": choices.dither}
    values["threads"] = threads
    if choices.quality is not None:
        values["quality"] = _quality_value(choices.quality)
    choose = None
    if choices.auto:
        from ..choosek import DEFAULT_MIN_PSNR, ChooseKOptions

        target = DEFAULT_MIN_PSNR if choices.min_psnr is None else choices.min_psnr
        choose = ChooseKOptions(method="quality", min_psnr=target, bytes_level=None)
    extra: dict[str, Any] = {}
    if max_pixels is not None and "max_pixels" in {f.name for f in dataclasses.fields(Settings)}:
        extra["max_pixels"] = max_pixels
    return Settings(options=QuantizeOptions(**values), choose=choose, palette=palette, force=True, **extra)


def _quality_value(text: str) -> Any:
    """``quality`` as QuantizeOptions takes it: a number when it reads as one."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


# ---------------------------------------------------------------------------------------
# One image through the pipeline


@dataclass(frozen=True)
class Compressed:
    """An image's result: the pipeline's row, its PNG, and the palette with pixel counts."""

    result: CompressResult
    png: bytes | None
    palette: list[dict[str, Any]] | None

    @property
    def ok(self) -> bool:
        return self.result.status == "written"


def compress_data(data: bytes, name: str, settings: Settings, *, target: Any = None, output: str | None = None):
    """Run encoded image bytes through the pipeline; write the PNG to ``output`` on
    ``target`` when given. Never raises for bad input: the result row says why."""
    job = PipelineJob(source=name, display=name, output=output, target=output, name=name)
    outcome = run_job(job, settings, read=lambda: data, target=target)
    result = outcome.result
    if result.status == "error":
        return Compressed(_public_error(result, name), None, None)
    png = outcome.payload
    return Compressed(result, png, palette_counts(png) if png else None)


def _public_error(result: CompressResult, name: str) -> CompressResult:
    """The result with a reason fit for the client: the pipeline's one line without the
    file's name; the text of an internal error is logged, not shown."""
    message = result.error or "failed"
    reason = message[len(name) + 2 :] if message.startswith(name + ": ") else message
    if reason.startswith("internal error"):
        log.error("compressing %s: %s", name, reason)
        reason = "internal error"
    return dataclasses.replace(result, error=reason)


def palette_counts(png: bytes) -> list[dict[str, Any]]:
    """The palette of a PNG that quantcli wrote, dominant colour first: ``rgb`` (three
    0-255 values), ``alpha`` and ``count`` (pixels), read back from the file itself."""
    from PIL import Image as PILImage

    from ..palette import read_palette

    colours = read_palette(png)
    with PILImage.open(io.BytesIO(png)) as image:
        labels = np.asarray(image)
    counts = np.bincount(labels.ravel(), minlength=len(colours))[: len(colours)]
    order = np.argsort(-counts, kind="stable")
    return [
        {
            "rgb": [int(v) for v in colours[i, :3]],
            "alpha": int(colours[i, 3]) if colours.shape[1] == 4 else 255,
            "count": int(counts[i]),
        }
        for i in order
        if counts[i] > 0
    ]


def curve_of(pixels: np.ndarray, k: int, threads: int = 0) -> dict[str, Any]:
    """The choose-k curve of an image: silhouette and PSNR at :data:`CURVE_KS` and ``k``,
    each K fitted as ``compress`` fits it."""
    from ..choosek import ChooseKOptions, choose_k

    ks = tuple(sorted({*CURVE_KS, k}))
    result = choose_k(pixels, ChooseKOptions(ks=ks, bytes_level=None), quantize=QuantizeOptions(threads=threads))
    return {"k": k, "scores": [s.to_json() for s in result.scores]}


def preview_png(pixels: np.ndarray) -> bytes:
    """A lossless PNG of decoded pixels, for sources a browser cannot show (TIFF, PPM...)."""
    from PIL import Image as PILImage

    out = io.BytesIO()
    PILImage.fromarray(pixels).save(out, "PNG", compress_level=1)
    return out.getvalue()


# ---------------------------------------------------------------------------------------
# Uploads


class UploadRefused(Exception):
    """An upload that is not stored: ``status`` 422 (not an image) or 413 (too many pixels)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def label_of(name: str | None) -> str:
    """An uploaded file's name as a label: its last path part, printable, at most 200
    characters; ``upload`` when empty."""
    from ..images import display_name

    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    return display_name(base)[:200] or "upload"


def check_upload(data: bytes, label: str, max_pixels: int) -> tuple[int, int]:
    """(width, height) from the image's header, before any pixel is decoded.

    Raises
    ------
    UploadRefused
        422 with the reason when the bytes are not an image quantcli reads, 413 when it
        has more than ``max_pixels`` pixels.
    """
    from ..errors import ImageReadError
    from ..images import image_size

    try:
        width, height = image_size(data, label)
    except ImageReadError as exc:
        message = str(exc)
        raise UploadRefused(422, message.removeprefix(label + ": ")) from None
    if width * height > max_pixels:
        raise UploadRefused(
            413,
            f"image too large: {width}x{height} ({width * height / 1e6:.1f} MP) "
            f"exceeds --max-pixels {max_pixels / 1e6:g} MP",
        )
    return width, height


# ---------------------------------------------------------------------------------------
# The worker pool


class Busy(Exception):
    """Every worker is busy and the queue is full."""


class WorkerPool:
    """Threads that run work, with at most ``workers + queue`` tasks waiting or running.

    The C++ core releases the GIL, so threads use every core; each image is given
    ``cores // workers`` threads of its own.
    """

    def __init__(self, workers: int, queue: int) -> None:
        self.workers = workers
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="quantcli-serve")
        self._slots = threading.BoundedSemaphore(workers + queue)

    @property
    def threads_per_image(self) -> int:
        """Core threads for one image while every worker is busy."""
        return max(1, (os.cpu_count() or 1) // self.workers)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run ``fn(*args)`` on a worker; Busy when the queue is full."""
        if not self._slots.acquire(blocking=False):
            raise Busy
        try:
            future = self._executor.submit(fn, *args)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _: self._slots.release())
        return future

    def shutdown(self) -> None:
        """Drop the queued tasks and wait for the running ones."""
        self._executor.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------------------------------
# The service


@dataclass(frozen=True)
class StoredImage:
    """What a worker needs to know of an image row."""

    id: str
    user_id: int
    name: str
    source_key: str

    @property
    def output_key(self) -> str:
        return Store.key(self.user_id, self.id, OUTPUT)


class Service:
    """The database, the store, the worker pool and the job scheduler of one server."""

    def __init__(self, config: ServeConfig, db: Database | None = None) -> None:
        self.config = config
        if db is None and config.db_url is None:
            os.makedirs(config.data_dir, exist_ok=True)
        self.db = db or Database(config.database_url)
        self.db.check_store(config.store_location)
        self.store = Store(config.store_root)
        self.pool = WorkerPool(config.workers, config.queue)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._in_flight: set[str] = set()
        self._curves: set[str] = set()
        self._lock = threading.Lock()
        self._scheduler: threading.Thread | None = None
        self._spark: Any = None
        self._spark_owned = False
        self._spark_lock = threading.Lock()

    # -- life cycle

    def start(self) -> None:
        """Requeue the work a stopped server left, forget expired sessions, and start the
        scheduler."""
        from sqlalchemy import delete

        from .db import LoginSession

        with self.db.session() as s:
            s.execute(delete(LoginSession).where(LoginSession.expires_at <= utcnow()))
            s.execute(update(Job).where(Job.status == RUNNING).values(status=QUEUED))
            s.execute(update(Image).where(Image.status == RUNNING).values(status=PENDING))
        self._scheduler = threading.Thread(target=self._schedule, name="quantcli-serve-scheduler", daemon=True)
        self._scheduler.start()
        self.wake()

    def stop(self) -> None:
        """Stop scheduling; running images finish, their jobs resume at the next start."""
        self._stopping.set()
        self.wake()
        if self._scheduler is not None:
            self._scheduler.join(timeout=10)
        self.pool.shutdown()
        if self._spark is not None and self._spark_owned:
            self._spark.stop()
        self.db.dispose()

    def wake(self) -> None:
        """Look for queued jobs now."""
        self._wake.set()

    def _schedule(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(timeout=2.0)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                self.dispatch()
            except Exception:  # the database was unreachable a moment: try again later
                log.exception("scheduling jobs")

    def dispatch(self) -> None:
        """Hand queued jobs to the pool, oldest first, while it has room."""
        with self.db.session() as s:
            queued = list(s.scalars(select(Job.id).where(Job.status == QUEUED).order_by(Job.created_at)))
        for job_id in queued:
            with self._lock:
                if job_id in self._in_flight:
                    continue
                self._in_flight.add(job_id)  # before submitting: the job may end at once
                try:
                    self.pool.submit(self._run_job, job_id)
                except Busy:
                    self._in_flight.discard(job_id)
                    return

    # -- page jobs

    def _run_job(self, job_id: str) -> None:
        try:
            self._run_job_images(job_id)
        except Exception as exc:
            log.exception("job %s", job_id)
            self._fail_job(job_id, "internal error" if not isinstance(exc, InvalidOptionError) else str(exc))
        finally:
            with self._lock:
                self._in_flight.discard(job_id)
            self.wake()

    def _run_job_images(self, job_id: str) -> None:
        with self.db.session() as s:
            job = s.get(Job, job_id)
            if job is None or job.status not in (QUEUED, RUNNING):
                return
            job.status = RUNNING
            choices = choices_of(job)
            every = [StoredImage(i.id, i.user_id, i.name, i.source_key) for i in job.images]
            todo = [StoredImage(i.id, i.user_id, i.name, i.source_key) for i in job.images if i.status == PENDING]
            use_spark = self.config.engine == "spark" and len(todo) >= self.config.spark_min_images
            if use_spark:
                job.engine = "spark"
        if use_spark:
            self._run_on_spark(job_id, choices, todo)
        else:
            palette = self._shared_palette(choices, every) if choices.shared else None
            settings = settings_for(
                choices, threads=self.pool.threads_per_image, palette=palette, max_pixels=self.config.max_pixels
            )
            for image in todo:
                if self._stopping.is_set():
                    return  # the job stays running; the next start queues it again
                if not self.process(image, settings):
                    return  # the job was deleted
        with self.db.session() as s:
            job = s.get(Job, job_id)
            if job is not None:
                job.status = DONE
                job.finished_at = utcnow()

    def _shared_palette(self, choices: Choices, images: list[StoredImage]) -> np.ndarray:
        """Pass 1 of a shared palette: every readable image's colours, one fit."""
        from ..images import read_image
        from ..palette import collection_histogram, fit_shared_palette

        names = {image.source_key: image.name for image in images}

        def read(key: str) -> np.ndarray:
            return read_image(self.store.read(key), names[key], max_pixels=self.config.max_pixels)

        hist = collection_histogram(list(names), workers=1, read=read)
        return fit_shared_palette(hist, settings_for(choices).options)

    def _fail_job(self, job_id: str, reason: str) -> None:
        with self.db.session() as s:
            job = s.get(Job, job_id)
            if job is None:
                return
            job.status = FAILED
            job.error = reason
            job.finished_at = utcnow()
            for image in job.images:
                if image.status in (PENDING, RUNNING):
                    image.status = ERROR
                    image.error = f"the job failed: {reason}"

    def process(self, image: StoredImage, settings: Settings) -> bool:
        """Compress one stored image and record its result; False if its row is gone."""
        with self.db.session() as s:
            row = s.get(Image, image.id)
            if row is None:
                return False
            row.status = RUNNING
        try:
            data = self.store.read(image.source_key)
        except OSError as exc:
            log.error("reading %s: %s", image.source_key, exc)
            done = Compressed(
                CompressResult(image.name, None, None, status="error", error="source missing"), None, None
            )
        else:
            done = compress_data(
                data, image.name, settings, target=self.store.target, output=self.store.location(image.output_key)
            )
        return self.record(image, done, image.output_key if done.ok else None)

    def record(self, image: StoredImage, done: Compressed, output_key: str | None) -> bool:
        """Store an image's result; when the row was deleted meanwhile, delete its files."""
        result = done.result
        with self.db.session() as s:
            row = s.get(Image, image.id)
            if row is not None:
                row.status = DONE if done.ok else ERROR
                row.error = result.error
                row.k = result.k
                row.colors = result.colors
                row.bytes_out = result.bytes_out
                row.psnr = result.psnr
                row.seconds = result.seconds
                row.output_key = output_key
                row.palette_json = None if done.palette is None else json.dumps(done.palette)
                return True
        self.store.delete_folder(Store.folder(image.user_id, image.id))
        return False

    # -- Spark

    def _run_on_spark(self, job_id: str, choices: Choices, images: list[StoredImage]) -> None:
        """A big job on Spark: the same pipeline in Spark tasks, outputs in the store."""
        from ..planner import Naming
        from ..spark import driver

        by_location = {self.store.location(image.source_key): image for image in images}
        naming = Naming(suffix=".png", out_dir=self.store.location(f"spark/{job_id}"))
        settings = settings_for(choices, max_pixels=self.config.max_pixels)
        with self._spark_lock:  # one Spark job at a time on the server's session
            if self._spark is None:
                from ..spark.session import get_session

                self._spark, self._spark_owned = get_session(self.config.master, list(self.config.conf))
            with self.db.session() as s:
                s.execute(update(Image).where(Image.job_id == job_id, Image.status == PENDING).values(status=RUNNING))
            _, results = driver.compress(
                [], settings, naming, listed=list(by_location), shared_palette=choices.shared, spark=self._spark
            )
            for result in results:
                image = by_location.get(result.path)
                if image is None:
                    continue
                if result.status != "written" or result.output is None:
                    self.record(image, Compressed(_public_error(result, result.path), None, None), None)
                    continue
                key = self.store.key_of(result.output)
                png = self.store.read(key)
                self.record(image, Compressed(result, png, palette_counts(png)), key)

    # -- uploads

    def accept(self, user_id: int, data: bytes, name: str | None, *, job_id: str | None = None) -> StoredImage:
        """Check an upload's header and store it with a pending image row.

        Raises UploadRefused (nothing is stored) or InvalidOptionError (the job is not
        open for uploads or holds the most images a job may).
        """
        from .config import MAX_JOB_IMAGES
        from .db import OPEN, new_id
        from .storage import SOURCE

        label = label_of(name)
        width, height = check_upload(data, label, self.config.max_pixels)
        image_id = new_id()
        key = Store.key(user_id, image_id, SOURCE)
        self.store.write(key, data)
        try:
            with self.db.session() as s:
                position = 0
                if job_id is not None:
                    job = s.get(Job, job_id)
                    if job is None or job.user_id != user_id or job.status != OPEN:
                        raise InvalidOptionError("this job takes no more uploads")
                    position = len(job.images)
                    if position >= MAX_JOB_IMAGES:
                        raise InvalidOptionError(f"a job holds at most {MAX_JOB_IMAGES} images")
                s.add(
                    Image(
                        id=image_id,
                        user_id=user_id,
                        job_id=job_id,
                        position=position,
                        name=label,
                        media_type=web_media_type(data[:16]),
                        width=width,
                        height=height,
                        source_key=key,
                        bytes_in=len(data),
                    )
                )
        except BaseException:
            self.store.delete_folder(Store.folder(user_id, image_id))
            raise
        return StoredImage(image_id, user_id, label, key)

    # -- work for requests

    def run_now(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run request work (an API compress, a curve, a preview) on the pool; Busy when full."""
        return self.pool.submit(fn, *args)

    def curve(self, image: StoredImage, k: int) -> dict[str, Any]:
        """Compute and store an image's choose-k curve (called on the pool)."""
        from ..images import read_image

        try:
            pixels = read_image(self.store.read(image.source_key), image.name, max_pixels=self.config.max_pixels)
            curve = curve_of(pixels, k, self.pool.threads_per_image)
        except Exception as exc:
            log.warning("choose-k curve of %s: %s", image.id, exc)
            curve = {"k": k, "scores": [], "error": "the curve could not be computed"}
        with self.db.session() as s:
            row = s.get(Image, image.id)
            if row is not None:
                row.curve_json = json.dumps(curve)
        with self._lock:
            self._curves.discard(image.id)
        return curve

    def request_curve(self, image: StoredImage, k: int) -> bool:
        """Start computing a curve unless it is already being computed; False when busy."""
        with self._lock:
            if image.id in self._curves:
                return True
            self._curves.add(image.id)
            try:
                self.pool.submit(self.curve, image, k)
            except Busy:
                self._curves.discard(image.id)
                return False
        return True

    def preview(self, image: StoredImage) -> bytes:
        """A PNG of the source for browsers that cannot show its format; kept in the store."""
        from ..images import read_image

        key = Store.key(image.user_id, image.id, PREVIEW)
        try:
            return self.store.read(key)
        except OSError:
            pass
        pixels = read_image(self.store.read(image.source_key), image.name, max_pixels=self.config.max_pixels)
        png = preview_png(pixels)
        self.store.write(key, png, force=True)
        return png

    def delete_image_files(self, user_id: int, image_id: str, output_key: str | None) -> None:
        """Delete an image's stored files (its folder, and a Spark output kept elsewhere)."""
        folder = Store.folder(user_id, image_id)
        self.store.delete_folder(folder)
        if output_key and not output_key.startswith(folder + "/"):
            self.store.delete(output_key)
