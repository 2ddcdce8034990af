"""The memory budget: how many images may be in flight at once.

One rule for every engine that runs several images at once (``compress -j``, the web
service's workers): an image costs its ``width * height`` (read from its header before
it is decoded) times the bytes per pixel its settings peak at
(:func:`peak_bytes_per_pixel`); a new image starts only while the images in flight plus
it fit the budget, and an image alone always starts, so a budget smaller than one image
slows a batch down but never stops it. The default budget is half of the
memory this process may use: the machine's RAM, or the container's limit (cgroup) when
that is lower. A Spark task holds one image at a time, the same rule with one slot.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import InvalidOptionError

#: Peak memory of one image through the whole compress path (decode, convert, quantize,
#: encode) at a fixed K and ``--speed`` 3 or more, in bytes per pixel: the core then fits
#: its palette to a histogram of at most 2^20 colours (a coarser grid above that), which
#: caps its tables. The worst case measured: 16.7 MP holding every colour once, 12.5
#: (``tests/test_speed.py`` holds it to 24); an RGB photo 12-13, an RGBA photo whose every
#: pixel is a distinct colour 16; reading alone 4, 8 for a progressive JPEG. See
#: ``bench/results/peak_memory.md``.
PEAK_BYTES_PER_PIXEL = 24
#: The same with an exact histogram of every colour: ``--speed`` 1 and 2, a shared or
#: given palette, and K chosen per image (``-k auto``, ``--quality``): 16.7 MP of distinct
#: colours peaks at 87 bytes per pixel.
EXACT_PEAK_BYTES_PER_PIXEL = 88

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?", re.IGNORECASE)
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%")


def image_cost(pixels: int, per_pixel: int = EXACT_PEAK_BYTES_PER_PIXEL) -> int:
    """The estimated peak bytes of compressing an image of ``pixels`` pixels, at
    ``per_pixel`` bytes each (see :func:`peak_bytes_per_pixel`)."""
    return max(0, pixels) * per_pixel


def peak_bytes_per_pixel(settings: object) -> int:
    """Bytes per pixel that an image takes under ``settings`` (a
    :class:`quantcli.pipeline.Settings`): :data:`PEAK_BYTES_PER_PIXEL` when the core's
    histogram is capped, else :data:`EXACT_PEAK_BYTES_PER_PIXEL`."""
    options = getattr(settings, "options", None)
    capped = (
        options is not None
        and options.max_colors > 0
        and getattr(settings, "palette", None) is None
        and getattr(settings, "quality", None) is None
        and getattr(settings, "choose", None) is None
    )
    return PEAK_BYTES_PER_PIXEL if capped else EXACT_PEAK_BYTES_PER_PIXEL


def available_memory() -> int:
    """Bytes this process may use: the physical RAM, or the cgroup's memory limit
    (a container's) when that is lower."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        total = 16 << 30
    limit = _cgroup_limit()
    return min(total, limit) if limit else total


def _cgroup_limit() -> int | None:
    """The cgroup v2 (or v1) memory limit of this process, or None when there is none."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path, encoding="ascii") as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:  # v1 says "no limit" with a huge number
            return int(text)
    return None


def default_budget() -> int:
    """The budget when none is given: half of :func:`available_memory`."""
    return available_memory() // 2


def parse_memory(text: str) -> int:
    """A budget as a user writes it: bytes with an optional binary unit (``512M``,
    ``4G``, ``1.5GiB``) or a share of :func:`available_memory` (``50%``).

    Raises
    ------
    InvalidOptionError
        When the text is neither, or is zero.
    """
    spelled = text.strip()
    percent = _PERCENT.fullmatch(spelled)
    if percent:
        share = float(percent.group(1))
        if not 0 < share <= 100:
            raise InvalidOptionError(f"memory budget {text!r}: a share must be above 0% and at most 100%")
        return max(1, int(available_memory() * share / 100))
    size = _SIZE.fullmatch(spelled)
    if not size:
        raise InvalidOptionError(f"memory budget {text!r}: give bytes with a unit (512M, 4G) or a share (50%)")
    value = int(float(size.group(1)) * _UNITS[size.group(2).lower()])
    if value <= 0:
        raise InvalidOptionError(f"memory budget {text!r}: must be more than 0 bytes")
    return value


class MemoryBudget:
    """Admits images while the estimated peak memory of those in flight fits ``limit``
    bytes (:func:`image_cost` each, which callers pass to :meth:`acquire`); an image
    alone always fits. Thread-safe."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = default_budget() if limit is None else limit
        self.used = 0
        self.waiting = 0  # images waiting for room
        self._room = threading.Condition()

    cost = staticmethod(image_cost)

    def acquire(self, cost: int, stop: object = None) -> bool:
        """Wait until ``cost`` bytes fit, then hold them. With ``stop`` (anything true
        once the work should end, such as :class:`quantcli.interrupt.Interrupt`), False
        as soon as it is true instead of waiting on."""
        with self._room:
            self.waiting += 1
            try:
                while self.used and self.used + cost > self.limit:
                    if stop:
                        return False
                    self._room.wait(0.2 if stop is not None else None)
            finally:
                self.waiting -= 1
            self.used += cost
            return True

    def release(self, cost: int) -> None:
        """Give back what :meth:`acquire` held."""
        with self._room:
            self.used -= cost
            self._room.notify_all()

    @contextmanager
    def admit(self, pixels: int, per_pixel: int = EXACT_PEAK_BYTES_PER_PIXEL) -> Iterator[None]:
        """Hold the cost of an image of ``pixels`` pixels while the block runs."""
        cost = image_cost(pixels, per_pixel)
        self.acquire(cost)
        try:
            yield
        finally:
            self.release(cost)
