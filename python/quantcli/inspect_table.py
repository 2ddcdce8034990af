"""``inspect`` tables: rows as one Parquet file with the row's types, laid out as Spark
lays out a table."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

from .errors import InvalidOptionError
from .inspection import DOMINANT_TYPE, ROW_FIELDS


def arrow_schema() -> Any:
    """The rows' pyarrow schema (the Arrow form of :data:`ROW_FIELDS`)."""
    import pyarrow as pa

    dominant = pa.struct(
        [("rgb", pa.list_(pa.int32())), ("alpha", pa.int32()), ("count", pa.int64()), ("share", pa.float64())]
    )
    types = {
        "string": pa.string(),
        "int": pa.int32(),
        "bigint": pa.int64(),
        "double": pa.float64(),
        "array<double>": pa.list_(pa.float64()),
        f"array<{DOMINANT_TYPE}>": pa.list_(dominant),
    }
    return pa.schema([(name, types[kind]) for name, kind in ROW_FIELDS])


PART_NAME = "part-00000.parquet"


def check_table(folder: str, force: bool) -> None:
    """A table folder is written only when it holds no table yet, or with ``force``.

    Raises InvalidOptionError when ``folder`` holds a table (a ``_SUCCESS`` marker or
    Parquet files) and ``force`` is false, or is not a folder.
    """
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise InvalidOptionError(f"--out-dir {folder}: not a folder")
    if force or not os.path.isdir(folder):
        return
    names = os.listdir(folder)
    if "_SUCCESS" in names or any(n.endswith(".parquet") for n in names):
        raise InvalidOptionError(f"{folder}: holds a table (use --force to replace it)")


def write_table(
    rows: Iterable[dict[str, Any]], folder: str, *, force: bool = False, stop: Any = None, batch: int = 256
) -> Iterator[dict[str, Any]]:
    """Write rows to ``folder`` as one Parquet file (``part-00000.parquet``) and a
    ``_SUCCESS`` marker, as Spark lays out a table; yields each row once it is buffered.

    The file is written under a temporary name and renamed when complete; the marker is
    left out when ``stop`` became true (an interrupted run wrote part of the rows). With
    ``force`` the Parquet files and marker a previous run left are removed first.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    check_table(folder, force)
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name == "_SUCCESS" or name.endswith(".parquet"):
            os.unlink(os.path.join(folder, name))
    schema = arrow_schema()
    final = os.path.join(folder, PART_NAME)
    tmp = os.path.join(folder, f".{PART_NAME}.{os.getpid()}.tmp")
    pending: list[dict[str, Any]] = []
    try:
        with pq.ParquetWriter(tmp, schema) as writer:
            for row in rows:
                pending.append(row)
                yield row
                if len(pending) >= batch:
                    writer.write_table(pa.Table.from_pylist(pending, schema=schema))
                    pending = []
            if pending:
                writer.write_table(pa.Table.from_pylist(pending, schema=schema))
        os.replace(tmp, final)
        if not stop:
            with open(os.path.join(folder, "_SUCCESS"), "wb"):
                pass
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
