"""The ledger: each finished partition's result rows, stored next to the outputs.

A task appends its rows as one JSON-lines part, ``part-NNNNN.jsonl``, written atomically
when the partition is done (a retried attempt replaces it with the same rows). The driver
polls the folder while the job runs and prints each part's rows as it appears, so a
killed driver loses at most the rows of the partitions in flight, and the ledger of a run
has one row per file.
"""

from __future__ import annotations

import json
import posixpath
import time
from collections.abc import Iterator
from typing import Any

from ..targets import FsspecTarget, fs_and_path

PART = "part-{:05d}.jsonl"


def folder_for(base: str, token: str) -> str:
    """A new run's ledger folder below ``base`` (``_quantcli`` in the out-dir): named by
    the UTC time and the run's token, so runs sort by time."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return base.rstrip("/") + f"/_quantcli/ledger-{stamp}-{token}"


def write_part(folder: str, partition: int, rows: list[dict[str, Any]]) -> None:
    """Write a partition's rows (executor side); replaces an earlier attempt's part."""
    data = "".join(json.dumps(row) + "\n" for row in rows).encode()
    FsspecTarget(tag="ledger").write(posixpath.join(folder, PART.format(partition)), data, force=True)


class Reader:
    """Reads a ledger's parts as they appear (driver side), each part once."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self._seen: set[str] = set()

    def poll(self) -> Iterator[dict[str, Any]]:
        """The rows of the parts that appeared since the last call."""
        fs, path = fs_and_path(self.folder)
        try:
            names = sorted(fs.ls(path, detail=False))
        except (FileNotFoundError, NotADirectoryError):
            return
        for name in names:
            base = posixpath.basename(name)
            if not (base.startswith("part-") and base.endswith(".jsonl")) or base in self._seen:
                continue
            self._seen.add(base)
            with fs.open(name, "rb") as f:
                for line in f:
                    if line.strip():
                        yield json.loads(line)

    @property
    def parts(self) -> int:
        """How many parts were read."""
        return len(self._seen)
