"""The service's bounded worker pool: threads that run jobs and request work."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class Busy(Exception):
    """Every worker is busy and the queue is full."""


class MemoryBudget:
    """Admits image work while the estimated peak memory of the images in flight fits
    ``limit`` bytes; an image alone always fits. The command line's ``-j`` rule
    (:mod:`quantcli.local_engine`): each image costs ``width * height *``
    :data:`quantcli.images.PEAK_BYTES_PER_PIXEL`, and the default limit is half the RAM."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.waiting = 0  # images waiting for room
        self._room = threading.Condition()

    @staticmethod
    def cost(pixels: int) -> int:
        """The estimated peak bytes of an image of ``pixels`` pixels."""
        from ..images import PEAK_BYTES_PER_PIXEL

        return max(0, pixels) * PEAK_BYTES_PER_PIXEL

    @contextlib.contextmanager
    def admit(self, pixels: int) -> Iterator[None]:
        """Wait until an image of ``pixels`` pixels fits, hold its share while the block runs."""
        cost = self.cost(pixels)
        with self._room:
            self.waiting += 1
            try:
                while self.used and self.used + cost > self.limit:
                    self._room.wait()
            finally:
                self.waiting -= 1
            self.used += cost
        try:
            yield
        finally:
            with self._room:
                self.used -= cost
                self._room.notify_all()


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
