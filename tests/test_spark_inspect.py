"""inspect on Spark (local[2]): the local engine's rows, as Parquet, for the same folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from conftest import gradient_image
from quantcli import inspect_local, inspection

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java (17 or newer) on PATH")
    from quantcli.spark.session import get_session

    session, _ = get_session("local[2]", {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "4"})
    yield session
    session.stop()


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """RGB, RGBA, grey, a JPEG in a subfolder, a corrupt file, an empty one, and the
    compressed outputs of some of them."""
    root = tmp_path_factory.mktemp("inspect") / "in"
    (root / "sub").mkdir(parents=True)
    iio.imwrite(root / "rgb.png", gradient_image(60, 80, seed=1))
    iio.imwrite(root / "rgba.png", gradient_image(40, 50, seed=2, alpha=True))
    iio.imwrite(root / "grey.png", (np.add.outer(np.arange(30), np.arange(70)) * 2 % 256).astype(np.uint8))
    iio.imwrite(root / "sub" / "photo.jpg", gradient_image(64, 48, seed=3), quality=90)
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (root / "empty.jpg").write_bytes(b"")
    return root


def local_rows(folder: Path, **plan) -> list[dict]:
    jobs = inspect_local.plan([str(folder)], recursive=True, **plan)
    return sorted(inspect_local.run(jobs, inspection.InspectOptions(k=6), workers=2), key=lambda r: r["path"])


def spark_rows(spark, folder: Path, table: Path, **plan) -> tuple[list[dict], list[str]]:
    pq = pytest.importorskip("pyarrow.parquet")
    from quantcli.spark.inspect import inspect

    count, errors = inspect(
        [str(folder)], inspection.InspectOptions(k=6), str(table), recursive=True, spark=spark, **plan
    )
    rows = sorted(pq.read_table(table).to_pylist(), key=lambda r: r["path"])
    assert count == len(rows)
    return rows, errors


def test_spark_rows_equal_local_rows(spark, folder, tmp_path):
    expected = local_rows(folder)
    rows, errors = spark_rows(spark, folder, tmp_path / "table")
    assert rows == expected
    assert len(rows) == 6 and sorted(errors) == sorted(r["error"] for r in expected if r["error"])


def test_spark_rows_equal_local_rows_against_outputs(spark, folder, tmp_path, run_cli):
    out = tmp_path / "out"
    run_cli("compress", folder, "-r", "-k", "16", "--out-dir", out, "-q", check_rc=1)
    (out / "rgba.png").unlink()  # a missing output is an error row in both engines
    expected = local_rows(folder, against=str(out))
    rows, _ = spark_rows(spark, folder, tmp_path / "table", against=str(out))
    assert rows == expected
    assert sum(r["wqs"] is not None for r in rows) == 3
    assert any(r["error"] and r["error"].endswith("rgba.png: no such file") for r in rows)


def test_inspect_frame_is_the_same_row(spark, folder):
    from quantcli.spark.inspect import inspect_frame

    frame = spark.read.format("binaryFile").load(str(folder / "rgb.png"))
    (row,) = [r.asDict(recursive=True) for r in inspect_frame(frame, inspection.InspectOptions(k=6)).collect()]
    expected = inspection.inspect_file(folder / "rgb.png", options=inspection.InspectOptions(k=6))
    assert row["path"].endswith("/rgb.png")
    assert {**row, "path": None} == {**expected, "path": None}
