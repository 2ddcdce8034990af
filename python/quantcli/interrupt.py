"""Stopping a batch cleanly on SIGINT or SIGTERM: start nothing new, finish what is in
flight (every write is atomic), report what was done, exit 128 + the signal."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass
class Interrupt:
    """Set by SIGINT or SIGTERM while :func:`interruptible` is active: start nothing new."""

    signal: int | None = None

    def __bool__(self) -> bool:
        return self.signal is not None


@contextlib.contextmanager
def interruptible(flag: Interrupt | None = None) -> Iterator[Interrupt]:
    """While active, the first SIGINT or SIGTERM only sets the yielded flag (the engine
    then finishes the files in flight and stops); a second one interrupts at once.
    ``flag``: the one an engine was already handed (default: a new one)."""
    flag = Interrupt() if flag is None else flag
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handle(signum: int, frame: object) -> None:
        if flag.signal is not None:
            raise KeyboardInterrupt
        flag.signal = signum

    for sig in previous:
        signal.signal(sig, handle)
    try:
        yield flag
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
