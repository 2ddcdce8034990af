"""The service's work: the jobs that run every stored image through the per-file pipeline
on the worker pool, and the uploads, curves and previews requests ask for.

Nothing here decodes, quantizes or encodes by itself: an image goes through
:func:`quantcli.pipeline.run_job`, as on the command line, and its result row is stored.
Jobs are database rows. A server claims a queued job with one conditional UPDATE before it
runs it, so servers sharing a database never run the same job, and renews its claim while
the job runs; a running job whose claim lapsed (its server stopped) is queued again.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError

from ..errors import InvalidOptionError
from ..pipeline import CompressResult, Settings
from .choices import Choices, choices_of, request_of, settings_for
from .compressing import Compressed, compress_data, curve_of, palette_counts, preview_png, public_error
from .config import ServeConfig
from .db import DONE, ERROR, FAILED, OPEN, PENDING, QUEUED, RUNNING, Database, Image, Job, new_id, utcnow
from .pool import Busy, MemoryBudget, WorkerPool
from .storage import OUTPUT, PREVIEW, StorageError, Store, private_folder, storage_error
from .uploads import check_quota, check_upload, label_of, web_media_type

log = logging.getLogger("quantcli.serve")

#: How long a server's claim on a running job holds without being renewed.
LEASE = timedelta(seconds=60)
#: How often a server renews its claims and looks for lapsed ones (seconds).
RENEW_EVERY = 15.0
#: How long a job whose upload was never started is kept (its page was closed mid-upload).
OPEN_JOB_LIFETIME = timedelta(days=1)


def _requeue(session: Any, job_id: str, condition: Any) -> bool:
    """Queue a running job again, unclaimed, if it still meets ``condition``, with its
    running images pending; whether it was."""
    done = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == RUNNING, condition)
        .values(status=QUEUED, owner=None, lease_until=None)
    )
    if done.rowcount != 1:
        return False
    session.execute(update(Image).where(Image.job_id == job_id, Image.status == RUNNING).values(status=PENDING))
    return True


# ---------------------------------------------------------------------------------------
# The service


@dataclass(frozen=True)
class StoredImage:
    """What a worker needs to know of an image row."""

    id: str
    user_id: int
    name: str
    source_key: str
    pixels: int = 0  # width x height, from the header: what the memory budget counts

    @classmethod
    def of(cls, row: Image) -> StoredImage:
        """The image of a database row."""
        return cls(row.id, row.user_id, row.name, row.source_key, row.width * row.height)

    @property
    def output_key(self) -> str:
        return Store.key(self.user_id, self.id, OUTPUT)


class Service:
    """The database, the store, the worker pool and the job scheduler of one server."""

    def __init__(self, config: ServeConfig, db: Database | None = None) -> None:
        self.config = config
        if db is None and config.db_url is None:
            private_folder(config.data_dir)
        self.db = db or Database(config.database_url)
        self.db.check_store(config.store_location)
        self.store = Store(config.store_root)
        self.pool = WorkerPool(config.workers, config.queue)
        self.memory = MemoryBudget(config.memory_budget)
        self.instance = new_id()  # this server, as the owner of the jobs it claims
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._in_flight: set[str] = set()
        self._curves: set[str] = set()
        self._lock = threading.Lock()
        self._quota_lock = threading.Lock()  # a user's concurrent uploads pass the quota one by one
        self._scheduler: threading.Thread | None = None
        self._spark: Any = None
        self._spark_owned = False
        self._spark_lock = threading.Lock()

    # -- life cycle

    def start(self) -> None:
        """Requeue the jobs of servers that stopped, forget expired sessions, and start the
        scheduler. Called once the server listens: a server that cannot start touches no job."""
        from sqlalchemy import delete

        from .db import LoginSession

        with self.db.session() as s:
            s.execute(delete(LoginSession).where(LoginSession.expires_at <= utcnow()))
        self.recover()
        self.expire_open_jobs()
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
        try:
            self._release()
        except Exception:  # the database is gone: the claims lapse by themselves
            log.exception("releasing jobs")
        if self._spark is not None and self._spark_owned:
            self._spark.stop()
        self.db.dispose()

    def wake(self) -> None:
        """Look for queued jobs now."""
        self._wake.set()

    def _schedule(self) -> None:
        import time

        renewed = time.monotonic()
        while not self._stopping.is_set():
            self._wake.wait(timeout=2.0)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                if time.monotonic() - renewed >= RENEW_EVERY:
                    renewed = time.monotonic()
                    self.renew()
                    self.recover()
                    self.expire_open_jobs()
                self.dispatch()
            except Exception:  # the database was unreachable a moment: try again later
                log.exception("scheduling jobs")

    # -- claims

    def claim(self, job_id: str) -> bool:
        """Take a queued job for this server, atomically; False when it is not queued (another
        server took it, or it was deleted)."""
        with self.db.session() as s:
            taken = s.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == QUEUED)
                .values(status=RUNNING, owner=self.instance, lease_until=utcnow() + LEASE)
            )
            return taken.rowcount == 1

    def renew(self) -> None:
        """Extend this server's claims on the jobs it runs."""
        with self.db.session() as s:
            s.execute(
                update(Job)
                .where(Job.owner == self.instance, Job.status == RUNNING)
                .values(lease_until=utcnow() + LEASE)
            )

    def recover(self) -> None:
        """Queue again the running jobs whose claim lapsed (their server stopped, or an older
        version left them without a claim), and their unfinished images."""
        lapsed = Job.lease_until.is_(None) | (Job.lease_until < utcnow())
        with self.db.session() as s:
            found = list(s.scalars(select(Job.id).where(Job.status == RUNNING, lapsed)))
            requeued = sum(_requeue(s, job_id, lapsed) for job_id in found)
        if requeued:
            log.info("queued again %d job(s) whose server stopped", requeued)

    def _release(self) -> None:
        """At a stop: queue this server's unfinished jobs again, for the next server."""
        mine = Job.owner == self.instance
        with self.db.session() as s:
            for job_id in list(s.scalars(select(Job.id).where(Job.status == RUNNING, mine))):
                _requeue(s, job_id, mine)

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
        except StorageError as exc:  # logged where it happened; the job says it plainly
            self._fail_job(job_id, str(exc))
        except Exception as exc:
            log.exception("job %s", job_id)
            self._fail_job(job_id, "internal error" if not isinstance(exc, InvalidOptionError) else str(exc))
        finally:
            with self._lock:
                self._in_flight.discard(job_id)
            self.wake()

    def _run_job_images(self, job_id: str) -> None:
        if not self.claim(job_id):
            return
        with self.db.session() as s:
            job = s.get(Job, job_id)
            if job is None:
                return
            choices = choices_of(job)
            every = [StoredImage.of(i) for i in job.images]
            todo = [StoredImage.of(i) for i in job.images if i.status == PENDING]
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
                    return  # stop() queues the job again for the next server
                if not self.process(image, settings):
                    return  # the job was deleted
        with self.db.session() as s:
            job = s.get(Job, job_id)
            if job is not None:
                failed = bool(job.images) and all(i.status == ERROR for i in job.images)
                job.status = FAILED if failed else DONE
                if failed:
                    job.error = "no image could be compressed (each says why)"
                job.finished_at = utcnow()
                job.owner = job.lease_until = None

    def _shared_palette(self, choices: Choices, images: list[StoredImage]) -> np.ndarray:
        """Pass 1 of a shared palette: every readable image's colours, one fit."""
        from ..images import read_image
        from ..palette import shared_palette

        names = {image.source_key: image.name for image in images}

        def read(key: str) -> np.ndarray:
            return read_image(self.store.read(key), names[key], max_pixels=self.config.max_pixels)

        return shared_palette(list(names), settings_for(choices).options, workers=1, read=read)

    def _fail_job(self, job_id: str, reason: str) -> None:
        with self.db.session() as s:
            job = s.get(Job, job_id)
            if job is None:
                return
            job.status = FAILED
            job.error = reason
            job.finished_at = utcnow()
            job.owner = job.lease_until = None
            for image in job.images:
                if image.status in (PENDING, RUNNING):
                    image.status = ERROR
                    image.error = f"the job failed: {reason}"

    def process(self, image: StoredImage, settings: Settings) -> bool:
        """Compress one stored image and record its result; False if its row is gone.

        Raises StorageError (after recording the image's error) when its output could not
        be stored."""
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
            output = self.store.location(image.output_key)
            with self.memory.admit(image.pixels):
                done = compress_data(data, image.name, settings, target=self.store.pipeline_target(), output=output)
        kept = self.record(image, done, image.output_key if done.ok else None)
        if done.storage is not None:
            raise done.storage  # the next image would fail too: the caller stops
        return kept

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
                row.quality = result.quality
                row.target_met = result.target_met
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
        request = request_of(choices, max_pixels=self.config.max_pixels)
        with self._spark_lock:  # one Spark job at a time on the server's session
            if self._spark is None:
                from ..spark.session import get_session

                self._spark, self._spark_owned = get_session(self.config.master, list(self.config.conf))
            with self.db.session() as s:
                s.execute(update(Image).where(Image.job_id == job_id, Image.status == PENDING).values(status=RUNNING))
            _, results = driver.compress(request, [], naming, listed=list(by_location), spark=self._spark)
            for result in results:
                image = by_location.get(result.path)
                if image is None:
                    continue
                if result.status != "written" or result.output is None:
                    self.record(image, Compressed(public_error(result, result.path), None, None), None)
                    continue
                key = self.store.key_of(result.output)
                png = self.store.read(key)
                self.record(image, Compressed(result, png, palette_counts(png)), key)

    # -- uploads

    def accept(self, user_id: int, data: bytes, name: str | None, *, job_id: str | None = None) -> StoredImage:
        """Check an upload's header and store it with a pending image row.

        Raises UploadRefused (nothing is stored: not an image, too many pixels, or over
        the user's quota) or InvalidOptionError (the job is not open for uploads or holds
        the most images a job may).
        """
        from .config import MAX_JOB_IMAGES
        from .storage import SOURCE

        label = label_of(name)
        width, height = check_upload(data, label, self.config.max_pixels)
        with self.db.session() as s:  # before storing anything; checked again with the row
            check_quota(s, user_id, len(data), self.config.user_quota)
        image_id = new_id()
        key = Store.key(user_id, image_id, SOURCE)
        self.store.write(key, data)
        try:
            with self._quota_lock, self.db.session() as s:
                check_quota(s, user_id, len(data), self.config.user_quota)
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
        except BaseException as exc:
            self.store.delete_folder(Store.folder(user_id, image_id))  # nothing half-stored stays
            if isinstance(exc, SQLAlchemyError):
                log.error("storing upload %s: %s", image_id, exc)
                raise storage_error(exc) from None
            raise
        return StoredImage(image_id, user_id, label, key, width * height)

    # -- work for requests

    def run_now(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run request work (an API compress, a curve, a preview) on the pool; Busy when full."""
        return self.pool.submit(fn, *args)

    def compress_upload(self, data: bytes, name: str, settings: Settings, pixels: int) -> Compressed:
        """Compress an upload that is not stored (the API's compress), within the memory
        budget (called on the pool)."""
        with self.memory.admit(pixels):
            return compress_data(data, name, settings)

    def curve(self, image: StoredImage, k: int) -> dict[str, Any]:
        """Compute and store an image's choose-k curve (called on the pool)."""
        from ..images import read_image

        try:
            with self.memory.admit(image.pixels):
                pixels = read_image(self.store.read(image.source_key), image.name, max_pixels=self.config.max_pixels)
                curve = curve_of(pixels, k, self.pool.threads_per_image)
                del pixels
        except Exception as exc:
            log.warning("choose-k curve of %s: %s", image.id, exc)
            curve = {"k": k, "scores": [], "error": "the curve could not be computed"}
        try:
            with self.db.session() as s:
                row = s.get(Image, image.id)
                if row is not None:
                    row.curve_json = json.dumps(curve)
        finally:  # a failed write is asked for again at the next poll
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
        with self.memory.admit(image.pixels):
            pixels = read_image(self.store.read(image.source_key), image.name, max_pixels=self.config.max_pixels)
            png = preview_png(pixels)
            del pixels
        self.store.write(key, png, force=True)
        return png

    def delete_image(self, user_id: int, image_id: str) -> tuple[bool, str | None]:
        """Delete one of the user's images, its result and files; a job left with no image
        goes too. Returns (whether the image was found, the id of its job if that remains)."""
        with self.db.session() as s:
            row = s.get(Image, image_id)
            if row is None or row.user_id != user_id:
                return False, None
            job_id, output_key = row.job_id, row.output_key
            s.delete(row)
            s.flush()
            emptied = False
            if job_id is not None:
                left = s.scalar(select(func.count()).select_from(Image).where(Image.job_id == job_id))
                if not left:
                    job = s.get(Job, job_id)
                    if job is not None:
                        s.delete(job)
                    emptied = True
        self.delete_image_files(user_id, image_id, output_key)
        if emptied:
            self.store.delete_folder(f"spark/{job_id}")
        return True, None if emptied else job_id

    def delete_job(self, user_id: int, job_id: str) -> bool:
        """Delete one of the user's jobs with its images and files; False when not found."""
        with self.db.session() as s:
            job = s.get(Job, job_id)
            if job is None or job.user_id != user_id:
                return False
            files = [(row.id, row.output_key) for row in job.images]
            s.delete(job)
        for image_id, output_key in files:
            self.delete_image_files(user_id, image_id, output_key)
        self.store.delete_folder(f"spark/{job_id}")
        return True

    def expire_open_jobs(self) -> int:
        """Delete the jobs whose upload was never started within :data:`OPEN_JOB_LIFETIME`
        (the page was closed mid-upload), with their stored files; returns how many."""
        with self.db.session() as s:
            stale = list(
                s.execute(
                    select(Job.id, Job.user_id).where(Job.status == OPEN, Job.created_at < utcnow() - OPEN_JOB_LIFETIME)
                )
            )
        for job_id, user_id in stale:
            self.delete_job(user_id, job_id)
        return len(stale)

    def delete_image_files(self, user_id: int, image_id: str, output_key: str | None) -> None:
        """Delete an image's stored files (its folder, and a Spark output kept elsewhere)."""
        folder = Store.folder(user_id, image_id)
        self.store.delete_folder(folder)
        if output_key and not output_key.startswith(folder + "/"):
            self.store.delete(output_key)
