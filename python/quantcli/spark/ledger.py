"""The ledger: every file's result row, stored next to the outputs while the job runs.

A task writes its partition's rows as JSON-lines parts named by the partition and the
range of rows they hold, ``part-PPPPP-SSSSSSS-EEEEEEE.jsonl`` (rows S to E-1), each part
written atomically: one after the partition's first file, then one at most every
:data:`FLUSH_SECONDS` (so progress is per file, not per task), and when the partition is
done one part with all its rows, which replaces the others. A finished run's ledger thus
holds one part per partition and one row per file; a retried attempt writes the same
rows again, and its final part replaces whatever the failed attempt left.

The driver polls the folder (:class:`Reader`) and keeps, per partition, only how many
rows it has passed on, so a part that repeats rows (a retry, the final part) yields only
the new ones. A killed driver loses at most the rows of its last second.
"""

from __future__ import annotations

import contextlib
import json
import posixpath
import re
import time
from collections.abc import Iterator
from typing import Any

from ..targets import FsspecTarget, fs_and_path

PART = "part-{:05d}-{:07d}-{:07d}.jsonl"
_PART = re.compile(r"^part-(\d{5,})-(\d{7,})-(\d{7,})\.jsonl$")
FLUSH_SECONDS = 1.0  # the most time a finished file's row waits in a running task


def folder_for(base: str, token: str) -> str:
    """A new run's ledger folder below ``base`` (``_quantcli`` in the out-dir): named by
    the UTC time and the run's token, so runs sort by time."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return base.rstrip("/") + f"/_quantcli/ledger-{stamp}-{token}"


class PartWriter:
    """A task's side of the ledger: add each row as its file is done, close at the end."""

    def __init__(self, folder: str, partition: int, flush_seconds: float = FLUSH_SECONDS) -> None:
        self.folder = folder
        self.partition = partition
        self.flush_seconds = flush_seconds
        self._rows: list[str] = []
        self._written = 0  # rows already in a part
        self._last = 0.0

    def add(self, row: dict[str, Any]) -> None:
        """One file's row; written out now if it is the first or the last part is old."""
        self._rows.append(json.dumps(row) + "\n")
        if self._written == 0 or time.monotonic() - self._last >= self.flush_seconds:
            self._write(self._written)

    def close(self) -> None:
        """Write the part with every row of the partition and remove the partial ones."""
        final = self._write(0)
        fs, path = fs_and_path(self.folder)
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            for name in fs.glob(posixpath.join(path, f"part-{self.partition:05d}-*.jsonl")):
                if posixpath.basename(name) != final:
                    with contextlib.suppress(FileNotFoundError):
                        fs.rm_file(name)

    def _write(self, start: int) -> str:
        end = len(self._rows)
        name = PART.format(self.partition, start, end)
        data = "".join(self._rows[start:end]).encode()
        FsspecTarget(tag="ledger").write(posixpath.join(self.folder, name), data, force=True)
        self._written, self._last = end, time.monotonic()
        return name


class Reader:
    """The driver's side: the rows of a ledger's parts as they appear, each row once.

    It keeps one number per partition (the rows passed on), never the rows or the
    part names.
    """

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self._passed: dict[int, int] = {}

    def poll(self) -> Iterator[dict[str, Any]]:
        """The rows that appeared since the last call."""
        fs, path = fs_and_path(self.folder)
        try:
            names = fs.ls(path, detail=False)
        except (FileNotFoundError, NotADirectoryError):
            return
        parts = []
        for name in names:
            match = _PART.match(posixpath.basename(name))
            if match is not None:
                parts.append((int(match[1]), int(match[2]), int(match[3]), name))
        del names
        parts.sort()
        for partition, start, end, name in parts:
            passed = self._passed.get(partition, 0)
            if end <= passed or start > passed:
                continue  # rows passed on already, or a part after one not seen yet
            try:
                with fs.open(name, "rb") as f:
                    lines = f.read().splitlines()
            except FileNotFoundError:
                continue  # replaced by the partition's final part, read on a later poll
            if len(lines) != end - start:
                continue
            for offset in range(passed - start, end - start):
                self._passed[partition] = start + offset + 1
                yield json.loads(lines[offset])

    @property
    def rows(self) -> int:
        """How many rows were passed on."""
        return sum(self._passed.values())


def read_rows(folder: str) -> Iterator[dict[str, Any]]:
    """Every row of a ledger, once (a finished run's, or what a killed one left)."""
    yield from Reader(folder).poll()
