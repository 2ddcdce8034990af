"""``similar``: loading an index, an ``inspect`` table in JSON lines or Parquet (a file,
or a folder of part files as ``--out-dir`` and the Spark engine write it), into the
arrays :mod:`quantcli.similar` searches. Rows with an error are left out."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from .errors import InvalidOptionError
from .similar import FEATURES, Index, Palettes, feature_vector

_COLUMNS = ("path", "error", "brightness", "edge_score", "colorfulness", "mean_rgb", "blurriness", "dominant")


def load_index(path: str | os.PathLike[str]) -> Index:
    """Read an inspect table: a Parquet file or folder, or JSON lines.

    Raises
    ------
    InvalidOptionError
        The file is missing, unreadable, not a table of inspect rows, or holds no usable row.
    """
    name = str(path)
    if not os.path.exists(name):
        raise InvalidOptionError(f"--index {name}: no such file or folder")
    try:
        if os.path.isdir(name) or name.lower().endswith((".parquet", ".pq")):
            columns = _parquet_columns(name)
        else:
            columns = _json_columns(name)
    except InvalidOptionError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidOptionError(f"--index {name}: not an inspect table ({_first_line(exc)})") from None
    if not columns["paths"]:
        raise InvalidOptionError(f"--index {name}: no image rows (every row is an error, or the table is empty)")
    return _index(columns)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def _parquet_columns(name: str) -> dict[str, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        from .errors import install_hint

        raise InvalidOptionError(f"reading a Parquet index needs pyarrow: {install_hint('inspect')}") from None
    try:
        table = pq.read_table(name, columns=list(_COLUMNS))
    except pa.ArrowException as exc:
        raise InvalidOptionError(f"--index {name}: not an inspect table ({_first_line(exc)})") from None
    columns = _table_columns(table)
    if columns is None:
        raise InvalidOptionError(f"--index {name}: not an inspect table (a row lacks inspect's fields)")
    return columns


def _json_columns(name: str) -> dict[str, Any]:
    """JSON lines through pyarrow's parser (with the rows' schema) when it is installed;
    through Python's, which names the first bad line, otherwise or when pyarrow's fails."""
    try:
        import pyarrow as pa
        import pyarrow.json as pj

        from .inspect_table import arrow_schema
    except ImportError:
        return _python_json_columns(name)
    options = pj.ParseOptions(explicit_schema=arrow_schema(), unexpected_field_behavior="ignore")
    try:
        table = pj.read_json(name, parse_options=options).select(list(_COLUMNS))
    except pa.ArrowException:
        return _python_json_columns(name)
    columns = _table_columns(table)
    return columns if columns is not None else _python_json_columns(name)


def _table_columns(table: Any) -> dict[str, Any] | None:
    """The search columns of an Arrow table of inspect rows; None when a row without an
    error lacks a field (the caller says which)."""
    import pyarrow.compute as pc

    table = table.filter(pc.is_null(table.column("error")))
    needed = ("path", "dominant", "mean_rgb", "brightness", "edge_score", "colorfulness", "blurriness")
    if any(table.column(c).null_count for c in needed):
        return None
    dominant = table.column("dominant").combine_chunks()
    lengths = pc.list_value_length(dominant).to_numpy(zero_copy_only=False).astype(np.int64)
    entries = dominant.flatten()
    rgb = entries.field("rgb").flatten().to_numpy(zero_copy_only=False)
    mean_rgb = table.column("mean_rgb").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    if len(rgb) != 3 * len(entries) or len(mean_rgb) != 3 * len(table) or entries.null_count:
        return None
    alpha = entries.field("alpha").fill_null(255).to_numpy(zero_copy_only=False)
    share = entries.field("share").to_numpy(zero_copy_only=False)
    return {
        "paths": table.column("path").to_pylist(),
        "lengths": lengths,
        "rgb": rgb.reshape(-1, 3).astype(np.float64),
        "alpha": alpha.astype(np.float64),
        "share": share.astype(np.float64),
        "features": np.column_stack(
            [
                _floats(table.column("brightness")),
                _floats(table.column("edge_score")),
                _floats(table.column("colorfulness")),
                mean_rgb.reshape(-1, 3).astype(np.float64),
                _floats(table.column("blurriness")),
            ]
        ),
    }


def _floats(column: Any) -> np.ndarray:
    return column.to_numpy().astype(np.float64)


def _python_json_columns(name: str) -> dict[str, Any]:
    paths, lengths, rgb, alpha, share, features = [], [], [], [], [], []
    with open(name, "rb") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                raise InvalidOptionError(f"--index {name}: line {number} is not JSON") from None
            if not isinstance(row, dict) or "path" not in row:
                raise InvalidOptionError(f"--index {name}: line {number} is not an inspect row")
            if row.get("error") is not None:
                continue
            try:
                dominant = row["dominant"]
                vector = feature_vector(row)
                entries = [(d["rgb"], d.get("alpha", 255), d["share"]) for d in dominant]
            except (KeyError, TypeError):
                raise InvalidOptionError(f"--index {name}: line {number} lacks inspect's fields") from None
            if len(vector) != len(FEATURES) or any(len(e[0]) != 3 for e in entries):
                raise InvalidOptionError(f"--index {name}: line {number} lacks inspect's fields")
            paths.append(str(row["path"]))
            lengths.append(len(entries))
            for colour, a, s in entries:
                rgb.append(colour)
                alpha.append(a)
                share.append(s)
            features.append(vector)
    return {
        "paths": paths,
        "lengths": np.asarray(lengths, dtype=np.int64),
        "rgb": np.asarray(rgb, dtype=np.float64).reshape(-1, 3),
        "alpha": np.asarray(alpha, dtype=np.float64),
        "share": np.asarray(share, dtype=np.float64),
        "features": np.asarray(features, dtype=np.float64).reshape(-1, len(FEATURES)),
    }


def _index(columns: dict[str, Any]) -> Index:
    """Pad the flat palette entries into (n, m) arrays."""
    lengths = columns["lengths"]
    n, m = len(lengths), max(1, int(lengths.max(initial=0)))
    row = np.repeat(np.arange(n), lengths)
    starts = np.cumsum(lengths) - lengths
    slot = np.arange(len(row)) - np.repeat(starts, lengths)
    rgb = np.zeros((n, m, 3))
    weights = np.zeros((n, m))
    rgb[row, slot] = columns["rgb"]
    weights[row, slot] = columns["share"] * columns["alpha"] / 255.0
    features = columns["features"]
    if not np.isfinite(features).all():
        raise InvalidOptionError("--index: a row has a missing or non-finite feature")
    return Index(list(columns["paths"]), Palettes.build(rgb, weights), features, m)
