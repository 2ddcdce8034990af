"""The Spark engine on local[2]: same bytes as the local engine, shared palette, retries, parquet.

One SparkSession serves every test (the JVM starts once); one test runs the CLI as a
user would, which starts its own.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from conftest import gradient_image
from PIL import Image
from quantcli import spark_engine
from quantcli.errors import InvalidOptionError, OutputExistsError
from quantcli.options import QuantizeOptions

K = 16


def make_folder(root: Path) -> Path:
    """RGB, RGBA, grey, JPEG, a subfolder, a corrupt file and an empty one."""
    root.mkdir()
    (root / "sub").mkdir()
    (root / "a b").mkdir()
    iio.imwrite(root / "rgb.png", gradient_image(60, 80, seed=1))
    iio.imwrite(root / "rgba.png", gradient_image(40, 50, seed=2, alpha=True))
    grey = (np.add.outer(np.arange(30), np.arange(70)) * 2 % 256).astype(np.uint8)
    iio.imwrite(root / "grey.png", grey)
    iio.imwrite(root / "sub" / "photo.jpg", gradient_image(64, 48, seed=3), quality=90)
    iio.imwrite(root / "a b" / "ic ön.png", gradient_image(20, 20, seed=4))
    iio.imwrite(root / "sub" / "few.png", np.zeros((8, 8, 3), np.uint8))
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (root / "empty.jpg").write_bytes(b"")
    (root / "notes.txt").write_text("not an image, not listed")
    return root


@pytest.fixture(scope="session")
def folder(tmp_path_factory) -> Path:
    return make_folder(tmp_path_factory.mktemp("spark") / "in")


@pytest.fixture(scope="session")
def spark():
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java (17 or newer) on PATH")
    # local[2, 4]: two cores, and up to 4 attempts per task (plain local[2] never retries).
    session, _ = spark_engine.get_session(
        "local[2,4]", {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "4"}
    )
    yield session
    session.stop()


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def local_run(run_cli, folder: Path, out: Path, *extra: str) -> list[dict]:
    proc = run_cli("compress", folder, "-r", "-k", K, "--out-dir", out, "--json", *extra)
    assert proc.returncode == 1, proc.stderr  # the corrupt and the empty file
    return [json.loads(line) for line in proc.stdout.splitlines()]


def spark_run(spark, folder: Path, out: Path, **kwargs) -> list:
    total, results = spark_engine.compress(
        [str(folder)],
        options=QuantizeOptions(k=K),
        ext=".png",
        recursive=True,
        out_dir=str(out),
        spark=spark,
        **kwargs,
    )
    results = list(results)
    assert total == len(results)
    return results


def comparable(row: dict, out: Path) -> dict:
    row = dict(row, seconds=None)
    if row["output"]:
        row["output"] = str(Path(row["output"]).relative_to(out))
    return row


@pytest.mark.spark
def test_spark_writes_the_local_engines_bytes(spark, folder, run_cli, tmp_path):
    want = local_run(run_cli, folder, tmp_path / "local")
    got = spark_run(spark, folder, tmp_path / "spark")
    assert tree(tmp_path / "spark") == tree(tmp_path / "local")
    assert len(tree(tmp_path / "local")) == 6
    rows = [r.to_json() for r in got]
    assert [comparable(r, tmp_path / "spark") for r in rows] == [comparable(r, tmp_path / "local") for r in want]
    errors = {r["path"]: r["error"] for r in rows if r["status"] == "error"}
    assert set(errors) == {str(folder / "corrupt.png"), str(folder / "empty.jpg")}
    assert errors[str(folder / "corrupt.png")].endswith("corrupt image (bad PNG header)")

    # A second run refuses to overwrite, file by file, as the local engine does.
    again = spark_run(spark, folder, tmp_path / "spark")
    assert {r.status for r in again} == {"error"}
    assert all("exists" in r.error or "corrupt" in r.error or "empty" in r.error for r in again)


@pytest.mark.spark
def test_mixed_inputs_report_like_the_local_engine(spark, folder, run_cli, tmp_path):
    """A folder (not recursive), a missing file and an explicit file, in that order."""
    inputs = [str(folder / "sub"), str(tmp_path / "nope.png"), str(folder / "rgb.png")]
    proc = run_cli("compress", *inputs, "-k", K, "--out-dir", tmp_path / "local", "--json")
    assert proc.returncode == 1
    want = [json.loads(line) for line in proc.stdout.splitlines()]
    total, results = spark_engine.compress(
        inputs,
        options=QuantizeOptions(k=K),
        ext=".png",
        out_dir=str(tmp_path / "spark"),
        spark=spark,
    )
    got = [r.to_json() for r in results]
    assert total == len(got) == 4
    assert [comparable(r, tmp_path / "spark") for r in got] == [comparable(r, tmp_path / "local") for r in want]
    assert got[2]["error"] == f"{tmp_path / 'nope.png'}: no such file"
    assert tree(tmp_path / "spark") == tree(tmp_path / "local")


@pytest.mark.spark
def test_files_from_keeps_the_tree_like_the_local_engine(spark, folder, run_cli, tmp_path, monkeypatch):
    listed = ["sub/photo.jpg", "./rgba.png", "sub/missing.png"]
    (tmp_path / "list.txt").write_text("\n".join(listed) + "\n")
    proc = run_cli(
        "compress",
        "--files-from",
        tmp_path / "list.txt",
        "-k",
        K,
        "--out-dir",
        tmp_path / "local",
        "--json",
        cwd=folder,
    )
    assert proc.returncode == 1
    want = [json.loads(line) for line in proc.stdout.splitlines()]
    monkeypatch.chdir(folder)
    _, results = spark_engine.compress(
        [],
        listed=listed,
        options=QuantizeOptions(k=K),
        ext=".png",
        out_dir=str(tmp_path / "spark"),
        spark=spark,
    )
    got = [r.to_json() for r in results]
    assert [comparable(r, tmp_path / "spark") for r in got] == [comparable(r, tmp_path / "local") for r in want]
    assert sorted(tree(tmp_path / "spark")) == ["rgba.png", "sub/photo.png"]
    assert tree(tmp_path / "spark") == tree(tmp_path / "local")


@pytest.mark.spark
def test_k_auto_picks_the_same_k_per_image(spark, folder, run_cli, tmp_path):
    from quantcli.cli import DEFAULT_MIN_PSNR, _parse_k

    _, pick_k = _parse_k("auto", "silhouette", DEFAULT_MIN_PSNR)  # the CLI defaults
    proc = run_cli("compress", folder / "sub", "-k", "auto", "--out-dir", tmp_path / "local", "--json")
    assert proc.returncode == 0, proc.stderr
    want = [json.loads(line) for line in proc.stdout.splitlines()]
    _, results = spark_engine.compress(
        [str(folder / "sub")],
        options=QuantizeOptions(),
        ext=".png",
        out_dir=str(tmp_path / "spark"),
        spark=spark,
        pick_k=pick_k,
    )
    got = [r.to_json() for r in results]
    assert [comparable(r, tmp_path / "spark") for r in got] == [comparable(r, tmp_path / "local") for r in want]
    assert tree(tmp_path / "spark") == tree(tmp_path / "local")


@pytest.mark.spark
def test_first_attempt_of_a_task_fails_and_the_retry_completes_the_out_dir(
    spark, folder, run_cli, tmp_path, monkeypatch
):
    local_run(run_cli, folder, tmp_path / "local")
    monkeypatch.setenv(spark_engine.FAULT_ENV, "0")
    sc = spark.sparkContext
    sc.setJobGroup("fault-test", "first attempt of partition 0 fails")
    try:
        results = spark_run(spark, folder, tmp_path / "spark")
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
    stages = [
        sc.statusTracker().getStageInfo(s)
        for j in sc.statusTracker().getJobIdsForGroup("fault-test")
        for s in sc.statusTracker().getJobInfo(j).stageIds
    ]
    assert sum(s.numFailedTasks for s in stages if s) >= 1, "the fault did not fire"
    assert [r.status for r in results].count("written") == 6
    assert len(results) == 8  # one row per input: no duplicates from the retried task
    assert tree(tmp_path / "spark") == tree(tmp_path / "local")  # complete, no temp files


@pytest.mark.spark
def test_parquet_table_round_trips(spark, folder, run_cli, tmp_path):
    import pyarrow.parquet as pq

    local_run(run_cli, folder, tmp_path / "local")
    results = spark_run(spark, folder, tmp_path / "table", out_format="parquet")
    assert [r.status for r in results].count("written") == 6
    table = pq.read_table(tmp_path / "table").to_pylist()
    assert len(table) == 8  # the empty file too, as an error row
    expected = tree(tmp_path / "local")
    for row in table:
        if row["status"] == "error":
            assert row["png"] is None
            continue
        assert row["png"] == expected[row["name"]]
        decoded = np.asarray(Image.open(io.BytesIO(row["png"])).convert("RGBA"))
        local = np.asarray(Image.open(tmp_path / "local" / row["name"]).convert("RGBA"))
        np.testing.assert_array_equal(decoded, local)
        assert row["bytes_out"] == len(row["png"])
    with pytest.raises(InvalidOptionError, match="exists"):
        spark_run(spark, folder, tmp_path / "table", out_format="parquet")


@pytest.mark.spark
def test_cli_shared_palette_equals_the_local_engines(folder, run_cli, tmp_path):
    """As a user runs it: its own JVM, --master local[2], --palette shared, --json."""
    want = local_run(run_cli, folder, tmp_path / "local", "--palette", "shared")
    proc = run_cli(
        "compress",
        folder,
        "-r",
        "-k",
        K,
        "--out-dir",
        tmp_path / "spark",
        "--json",
        "--palette",
        "shared",
        "--engine",
        "spark",
        "--master",
        "local[2]",
        "--conf",
        "spark.ui.enabled=false",
    )
    assert proc.returncode == 1, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]  # stdout holds JSON only
    assert [comparable(r, tmp_path / "spark") for r in rows] == [comparable(r, tmp_path / "local") for r in want]
    assert b"2 failed" in proc.stderr
    outputs = tree(tmp_path / "spark")
    assert outputs == tree(tmp_path / "local")
    palettes = set()
    for name, data in outputs.items():
        with Image.open(io.BytesIO(data)) as im:
            assert im.mode == "P", name
            palettes.add((bytes(im.getpalette("RGB")), im.info.get("transparency")))
            used = {tuple(p) for p in np.asarray(im.convert("RGBA")).reshape(-1, 4)}
            rgb = np.asarray(im.getpalette("RGB"), np.uint8).reshape(-1, 3)
            assert len(used) <= len(rgb) == K
    assert len(palettes) == 1  # every output has exactly the one shared palette


@pytest.mark.spark
def test_choose_k_on_spark_prints_the_local_engines_rows(spark, run_cli, tmp_path):
    from quantcli.cli import app
    from test_choosek import blob_image
    from typer.testing import CliRunner

    folder = tmp_path / "blobs"
    folder.mkdir()
    iio.imwrite(folder / "three.png", blob_image(3, seed=1))
    iio.imwrite(folder / "four.png", blob_image(4, seed=2))
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")

    def rows(text: str) -> list[dict]:
        return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in text.splitlines()]

    args = ["choose-k", str(folder), "--json", "--ks", "2,3,4,5"]
    runner = CliRunner()
    for extra in ([], ["--shared"]):
        local = run_cli(*args, *extra)
        assert local.returncode == 1  # the corrupt file
        # The session fixture's SparkContext serves --master local[2] in-process.
        on_spark = runner.invoke(app, [*args, *extra, "--engine", "spark", "--master", "local[2]"])
        assert on_spark.exit_code == 1, on_spark.output
        expected = rows(local.stdout.decode())
        assert rows(on_spark.stdout) == expected
        # corrupt.png, four.png, three.png; or the error, then the set's one K.
        assert [r["k"] for r in expected] == ([None, 4] if extra else [None, 4, 3])


def test_without_pyspark_the_engine_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(InvalidOptionError, match=r"pip install 'quantcli\[spark\]'"):
        spark_engine.get_session()


def test_write_output_is_atomic_and_refuses_to_overwrite(tmp_path):
    target = tmp_path / "deep" / "a.png"
    uri = "file:" + str(target)
    spark_engine.write_output(uri, b"one", force=False, tmp_tag="quantcli-t-p0a0")
    assert target.read_bytes() == b"one"
    with pytest.raises(OutputExistsError):
        spark_engine.write_output(uri, b"two", force=False, tmp_tag="quantcli-t-p0a0")
    spark_engine.write_output(uri, b"two", force=True, tmp_tag="quantcli-t-p0a0")
    assert target.read_bytes() == b"two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.png"]  # no temp files
    (target.parent / ".a.png.quantcli-t-p1a0.x.tmp").write_bytes(b"left by a killed task")
    (target.parent / ".a.png.other.tmp").write_bytes(b"someone else's")
    assert spark_engine.remove_leftovers([str(target.parent)], "quantcli-t") == 1
    assert sorted(p.name for p in target.parent.iterdir()) == [".a.png.other.tmp", "a.png"]


def test_write_output_through_fsspec_on_a_remote_style_file_system():
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    spark_engine.write_output("memory://out/x/a.png", b"png", force=False, tmp_tag="quantcli-m")
    assert fs.cat_file("/out/x/a.png") == b"png"
    with pytest.raises(OutputExistsError):
        spark_engine.write_output("memory://out/x/a.png", b"new", force=False, tmp_tag="quantcli-m")
    assert fs.ls("/out/x", detail=False) == ["/out/x/a.png"]
