"""quantcli as a DataFrame function: plug the per-file pipeline into your own Spark job."""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..pipeline import Settings, run_job
from ..planner import Found, Job, Naming
from ..targets import FsspecTarget

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

FRAME_RESULT_SCHEMA = (
    "path string, output string, name string, k int, colors int, bytes_in long, bytes_out long, psnr double, "
    "seconds double, status string, error string, png binary"
)


def pandas_batch(rows: list[Any], columns: list[str]) -> Any:
    """A pandas DataFrame for ``mapInPandas`` to return: object columns, so that strings
    reach Arrow as plain arrays (pandas 3's Arrow-backed strings do not convert) and
    missing integers as nulls."""
    import pandas as pd

    return pd.DataFrame(rows, columns=columns, dtype=object)


def compress_frame(
    frame: DataFrame,
    settings: Settings | None = None,
    *,
    out_dir: str | None = None,
    suffix: str = ".png",
    path_col: str = "path",
    content_col: str = "content",
) -> DataFrame:
    """Compress every image of a DataFrame of ``(path, content)`` rows, lazily.

    Parameters
    ----------
    frame
        Any DataFrame with a string column of names and a binary column of encoded
        images, such as ``spark.read.format("binaryFile").load(...)``.
    settings
        How to compress (:class:`quantcli.pipeline.Settings`; default K=256).
    out_dir
        Write each PNG to ``out_dir/NAME`` (NAME: the input's file name with ``suffix``;
        a URI Spark's executors reach through fsspec), atomically; the ``png`` column is
        then null. Without it the ``png`` column holds the bytes.

    Returns
    -------
    DataFrame
        One row per input: path, output, name, k, colors, bytes_in, bytes_out, psnr,
        seconds, status ("written", "skipped" or "error"), error, png. A bad image is an
        error row, never a failed task.
    """
    naming = Naming(suffix=suffix, out_dir=out_dir, out_target=out_dir)
    rows = frame.select(frame[path_col].alias("path"), frame[content_col].alias("content"))
    return rows.mapInPandas(_compress_batches(settings or Settings(), naming), FRAME_RESULT_SCHEMA)


def _compress_batches(settings: Settings, naming: Naming) -> Callable[[Iterator[Any]], Iterator[Any]]:
    def run(batches: Iterator[Any]) -> Iterator[Any]:
        columns = [c.split()[0] for c in FRAME_RESULT_SCHEMA.split(", ")]
        target = FsspecTarget()
        for batch in batches:
            rows = []
            for path, content in zip(batch["path"], batch["content"], strict=True):
                data = b"" if content is None else bytes(content)
                found = Found(path, path, posixpath.basename(path))
                placed = naming.place(found, path) if naming.out_dir is not None else None
                if isinstance(placed, str):
                    job = Job(path, path, None, None, found.relative, placed)
                elif placed is None:
                    job = Job(path, path, None, None, found.relative)
                else:
                    job = Job(path, path, placed[0], placed[1], placed[2])
                outcome = run_job(job, settings, read=lambda d=data: d, target=target)
                png = outcome.payload if job.target is None and outcome.result.status == "written" else None
                rows.append({**outcome.result.to_json(), "name": job.name, "png": png})
            yield pandas_batch([{c: r.get(c) for c in columns} for r in rows], columns)

    return run
