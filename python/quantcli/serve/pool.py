"""The service's bounded worker pool: threads that run jobs and request work."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ..memory import MemoryBudget

__all__ = ["Busy", "MemoryBudget", "WorkerPool"]


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
