"""The Spark engine on local[2]: the local engine's rows and bytes, retries, parquet, choose-k.

One SparkSession serves the in-process tests (the JVM starts once); the CLI tests run
``quantcli`` as a user would, each with its own JVM.
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
from quantcli.errors import InvalidOptionError
from quantcli.options import QuantizeOptions
from quantcli.pipeline import Settings
from quantcli.planner import Naming
from quantcli.request import CompressRequest

K = 16
pytestmark = pytest.mark.spark


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
    from quantcli.spark.session import get_session

    # local[2, 4]: two cores, and up to 4 attempts per task (plain local[2] never retries).
    session, _ = get_session("local[2,4]", {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "4"})
    yield session
    session.stop()


def tree(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` but the ledger."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "_quantcli" not in p.relative_to(root).parts
    }


def ledger_rows(root: Path) -> list[dict]:
    [run] = sorted((root / "_quantcli").iterdir())[-1:]
    return [json.loads(line) for part in sorted(run.iterdir()) for line in part.read_text().splitlines()]


def comparable(row: dict, out: Path) -> dict:
    """A row without its time, with the out-dir named OUT (the runs write to two)."""
    row = dict(row, seconds=None)
    if row["output"]:
        row["output"] = str(Path(row["output"]).relative_to(out))
    if row["error"]:
        row["error"] = row["error"].replace(str(out), "OUT")
    return row


def by_path(rows: list[dict], out: Path) -> list[dict]:
    return sorted((comparable(r, out) for r in rows), key=lambda r: (r["path"], r["error"] or ""))


def local_json(run_cli, *args, cwd=None) -> tuple[int, list[dict]]:
    proc = run_cli("compress", *args, "--json", cwd=cwd)
    return proc.returncode, [json.loads(line) for line in proc.stdout.splitlines()]


def spark_compress(spark, inputs, out: Path, *, listed=(), recursive=True, request=None, **kwargs) -> list[dict]:
    from quantcli.spark import driver

    naming = Naming(suffix=".png", out_dir=str(out))
    total, results = driver.compress(
        request or CompressRequest(k=K),
        inputs,
        naming,
        listed=listed,
        recursive=recursive,
        spark=spark,
        **kwargs,
    )
    rows = [r.to_json() for r in results]
    assert total == len(rows)
    return rows


def test_spark_writes_the_local_engines_bytes_and_rows(spark, folder, run_cli, tmp_path):
    code, want = local_json(run_cli, folder, "-r", "-k", K, "--out-dir", tmp_path / "local")
    assert code == 1  # the corrupt and the empty file
    got = spark_compress(spark, [str(folder)], tmp_path / "spark")
    assert tree(tmp_path / "spark") == tree(tmp_path / "local")
    assert len(tree(tmp_path / "local")) == 6
    assert by_path(got, tmp_path / "spark") == by_path(want, tmp_path / "local")
    errors = {r["path"]: r["error"] for r in got if r["status"] == "error"}
    assert set(errors) == {str(folder / "corrupt.png"), str(folder / "empty.jpg")}
    assert errors[str(folder / "corrupt.png")].endswith("corrupt image (bad PNG header)")
    # The ledger holds one row per file.
    assert sorted(r["path"] for r in ledger_rows(tmp_path / "spark")) == sorted(r["path"] for r in want)

    # A rerun with skip_existing resumes: the written files are skipped, the bad ones fail again.
    again = spark_compress(spark, [str(folder)], tmp_path / "spark", request=CompressRequest(k=K, skip_existing=True))
    assert sorted(r["status"] for r in again) == ["error", "error", *["skipped"] * 6]


def test_one_fixture_with_every_case_gives_identical_rows_and_files(spark, run_cli, tmp_path):
    """The parity test: RGB, RGBA, grey, corrupt, empty, skip-if-larger, a glob, a
    duplicate input, an output-name conflict and a pre-existing output."""
    from quantcli.cli import app
    from typer.testing import CliRunner

    src = make_folder(tmp_path / "in")
    iio.imwrite(src / "tiny.png", np.zeros((1, 1, 3), np.uint8))  # its output is larger
    iio.imwrite(src / "clash.png", gradient_image(10, 10, seed=7))
    iio.imwrite(src / "clash.jpg", gradient_image(10, 10, seed=8))  # the same output name
    runs = {}
    for engine in ("local", "spark"):
        out = tmp_path / engine
        out.mkdir()
        (out / "grey.png").write_bytes(b"there before")  # a pre-existing output
        args = [
            "compress",
            str(src),
            str(src / "sub" / "*.jpg"),
            str(src / "rgb.png"),
            "-k",
            str(K),
            "--out-dir",
            str(out),
            "--skip-if-larger",
            "--json",
        ]
        if engine == "spark":
            result = CliRunner().invoke(app, [*args, "--engine", "spark", "--master", "local[2]"])
            code, stdout = result.exit_code, result.stdout
        else:
            proc = run_cli(*args)
            code, stdout = proc.returncode, proc.stdout.decode()
        runs[engine] = code, by_path([json.loads(line) for line in stdout.splitlines()], out), tree(out)
    assert runs["spark"] == runs["local"]
    code, rows, files = runs["local"]
    assert code == 1
    status = {Path(r["path"]).name: (r["status"], r["error"]) for r in rows}
    assert status["tiny.png"] == ("skipped", None)
    assert "exists" in status["grey.png"][1]
    assert "also the output of" in status["clash.png"][1] or "also the output of" in status["clash.jpg"][1]
    assert [Path(r["path"]).name for r in rows].count("rgb.png") == 1  # the duplicate is done once
    assert "photo.png" in files  # from the glob


def test_mixed_inputs_report_like_the_local_engine(spark, folder, run_cli, tmp_path):
    """A folder (not recursive), a missing file and an explicit file."""
    inputs = [str(folder / "sub"), str(tmp_path / "nope.png"), str(folder / "rgb.png")]
    code, want = local_json(run_cli, *inputs, "-k", K, "--out-dir", tmp_path / "local")
    assert code == 1
    got = spark_compress(spark, inputs, tmp_path / "spark", recursive=False)
    assert by_path(got, tmp_path / "spark") == by_path(want, tmp_path / "local")
    assert f"{tmp_path / 'nope.png'}: no such file" in [r["error"] for r in got]
    assert tree(tmp_path / "spark") == tree(tmp_path / "local")


def test_files_from_keeps_the_tree_like_the_local_engine(spark, folder, run_cli, tmp_path, monkeypatch):
    listed = ["sub/photo.jpg", "./rgba.png", "sub/missing.png"]
    (tmp_path / "list.txt").write_text("\n".join(listed) + "\n")
    code, want = local_json(
        run_cli, "--files-from", tmp_path / "list.txt", "-k", K, "--out-dir", tmp_path / "local", cwd=folder
    )
    assert code == 1
    monkeypatch.chdir(folder)
    got = spark_compress(spark, [], tmp_path / "spark", listed=listed)
    assert by_path(got, tmp_path / "spark") == by_path(want, tmp_path / "local")
    assert sorted(tree(tmp_path / "spark")) == ["rgba.png", "sub/photo.png"]
    assert tree(tmp_path / "spark") == tree(tmp_path / "local")


def test_k_auto_picks_the_same_k_per_image(spark, folder, run_cli, tmp_path):
    for name, extra, request in (
        ("quality", [], CompressRequest(k="auto")),  # -k auto's default, AUTO_QUALITY
        ("silhouette", ["--method", "silhouette"], CompressRequest(k="auto", method="silhouette")),
    ):
        local, on_spark = tmp_path / f"local-{name}", tmp_path / f"spark-{name}"
        code, want = local_json(run_cli, folder / "sub", "-k", "auto", *extra, "--out-dir", local)
        assert code == 0
        got = spark_compress(spark, [str(folder / "sub")], on_spark, request=request, recursive=False)
        assert by_path(got, on_spark) == by_path(want, local)
        assert tree(on_spark) == tree(local)


def test_a_failed_attempt_is_retried_and_the_out_dir_is_complete(spark, folder, run_cli, tmp_path):
    local_json(run_cli, folder, "-r", "-k", K, "--out-dir", tmp_path / "local")

    def fail_first_attempt(partition: int, attempt: int, job) -> None:
        if attempt == 0 and job.error is None:
            raise RuntimeError("failing the first attempt on purpose, after one output")

    sc = spark.sparkContext
    rows = spark_compress(spark, [str(folder)], tmp_path / "spark", hook=fail_first_attempt)
    assert [r["status"] for r in rows].count("written") == 6
    assert len(rows) == 8  # one row per input: no duplicates from the retried tasks
    assert tree(tmp_path / "spark") == tree(tmp_path / "local")  # complete, no temp files
    del sc


def test_a_job_that_keeps_failing_is_a_job_failure(spark, folder, tmp_path):
    from quantcli.errors import JobFailedError

    def always_fail(partition: int, attempt: int, job) -> None:
        raise RuntimeError("broken executor")

    with pytest.raises(JobFailedError, match="Spark job failed"):
        spark_compress(spark, [str(folder)], tmp_path / "spark", hook=always_fail)


def test_parquet_table_round_trips(spark, folder, run_cli, tmp_path):
    import pyarrow.parquet as pq

    local_json(run_cli, folder, "-r", "-k", K, "--out-dir", tmp_path / "local")
    rows = spark_compress(spark, [str(folder)], tmp_path / "table", out_format="parquet")
    assert [r["status"] for r in rows].count("written") == 6
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
        spark_compress(spark, [str(folder)], tmp_path / "table", out_format="parquet")


def test_cli_shared_palette_equals_the_local_engines(folder, run_cli, tmp_path):
    """As a user runs it: its own JVM, --master local[2], --palette shared, --json."""
    args = ["-r", "-k", K, "--palette", "shared"]
    code, want = local_json(run_cli, folder, *args, "--out-dir", tmp_path / "local")
    proc = run_cli(
        "compress",
        folder,
        *args,
        "--out-dir",
        tmp_path / "spark",
        "--json",
        "--engine",
        "spark",
        "--master",
        "local[2]",
        "--conf",
        "spark.ui.enabled=false",
    )
    assert proc.returncode == code == 1, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]  # stdout holds JSON only
    assert by_path(rows, tmp_path / "spark") == by_path(want, tmp_path / "local")
    assert b"2 failed" in proc.stderr
    outputs = tree(tmp_path / "spark")
    assert outputs == tree(tmp_path / "local")
    palettes = set()
    for name, data in outputs.items():
        with Image.open(io.BytesIO(data)) as im:
            assert im.mode == "P", name
            palettes.add((bytes(im.getpalette("RGB")), im.info.get("transparency")))
    assert len(palettes) == 1  # every output has exactly the one shared palette


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
        on_spark = runner.invoke(app, [*args, *extra, "--engine", "spark", "--master", "local[2]"])
        assert on_spark.exit_code == 1, on_spark.output
        expected = rows(local.stdout.decode())
        assert rows(on_spark.stdout) == expected
        assert [r["k"] for r in expected] == ([None, 4] if extra else [None, 4, 3])


def test_compress_frame_plugs_into_a_dataframe_pipeline(spark, folder, tmp_path):
    from quantcli.spark import compress_frame

    frame = spark.read.format("binaryFile").load(str(folder / "rgb.png"))
    [row] = compress_frame(frame, Settings(QuantizeOptions(k=K))).collect()
    assert row.status == "written" and row.k == K and row.output is None
    with Image.open(io.BytesIO(row.png)) as im:
        assert im.mode == "P" and len(im.getcolors()) <= K
    [row] = compress_frame(frame, Settings(QuantizeOptions(k=K)), out_dir=str(tmp_path / "o")).collect()
    assert row.png is None and (tmp_path / "o" / "rgb.png").read_bytes()[:4] == b"\x89PNG"


def test_twenty_thousand_files_are_listed_without_a_task_per_file(spark, tmp_path):
    """Listing goes through Hadoop's FileSystem API on the driver: no Spark job lists, and the
    planning job and the compress job have tasks by the partition, not by the file."""
    from quantcli.spark import plan

    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(20_000):
        (folder / f"f{i:05d}.png").write_bytes(b"x")  # not empty, not an image
    sc = spark.sparkContext
    sc.setJobGroup("listing-test", "listing 20k files")
    try:
        naming = Naming(suffix=".png", out_dir=str(tmp_path / "out"), out_target="file:" + str(tmp_path / "out"))
        listing = plan.list_inputs(spark, [str(folder)], [], naming, recursive=False)
        plan.settle(spark, listing)
        partitions = listing.frame.rdd.getNumPartitions()
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
    assert listing.total == 20_000 and not listing.plan.exceptions
    tracker = sc.statusTracker()
    jobs = [tracker.getJobInfo(j) for j in tracker.getJobIdsForGroup("listing-test")]
    tasks = [tracker.getStageInfo(s).numTasks for job in jobs for s in job.stageIds if tracker.getStageInfo(s)]
    assert jobs, "the planning job ran in this group"
    assert max(tasks) <= 20_000 // 100, tasks  # no stage has a task per file, or per ten files
    assert sum(tasks) <= 20_000 // 20, tasks
    assert partitions <= 20_000 // 100  # files go to tasks by the hundred (openCostInBytes)


@pytest.mark.filterwarnings("ignore")
def test_without_pyspark_the_engine_says_how_to_install(monkeypatch):
    from quantcli.spark.session import get_session

    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(InvalidOptionError, match=r"pip install '.*\[spark\]'"):
        get_session()


# ---------------------------------------------------------------------------------------
# Interrupted and killed drivers, as a user meets them: the CLI in its own process group.


def slow_folder(root: Path, n: int) -> Path:
    """``n`` photo-like images that take a while each with -k auto."""
    root.mkdir()
    for i in range(n):
        iio.imwrite(root / f"img{i:03d}.png", gradient_image(96, 128, seed=i))
    return root


class Running:
    """``quantcli ARGS`` in a new process group, its stdout lines collected as they come."""

    def __init__(self, *args, env: dict[str, str] | None = None) -> None:
        import subprocess
        import threading

        from conftest import cli_command

        self.proc = subprocess.Popen(
            [*cli_command(), *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            env=env,
        )
        self.lines: list[bytes] = []
        self._reader = threading.Thread(target=lambda: self.lines.extend(self.proc.stdout), daemon=True)
        self._reader.start()

    def wait_for_lines(self, n: int, timeout: float = 600) -> None:
        import time

        deadline = time.monotonic() + timeout
        while len(self.lines) < n:
            assert self.proc.poll() is None, self.proc.stderr.read().decode(errors="replace")
            assert time.monotonic() < deadline, "no output in time"
            time.sleep(0.05)

    def signal_group(self, signum: int) -> None:
        import os

        os.killpg(self.proc.pid, signum)

    def finish(self, timeout: float = 300) -> tuple[int, list[dict], str]:
        code = self.proc.wait(timeout)
        self._reader.join(10)
        stderr = self.proc.stderr.read().decode(errors="replace")
        self.proc.stdout.close()
        self.proc.stderr.close()
        return code, [json.loads(line) for line in self.lines], stderr


SPARK_ARGS = ["--engine", "spark", "--master", "local[2]", "--conf", "spark.ui.enabled=false"]
# Several small tasks, so that a job is still running when the test steps in.
MANY_TASKS = ["--conf", "spark.sql.files.maxPartitionBytes=20000", "--conf", "spark.sql.files.openCostInBytes=10000"]


def test_ctrl_c_prints_what_finished_and_exits_130(tmp_path):
    import signal

    src = slow_folder(tmp_path / "in", 40)
    run = Running("compress", src, "-k", "auto", "--out-dir", tmp_path / "out", "--json", *SPARK_ARGS, *MANY_TASKS)
    run.wait_for_lines(1)
    run.signal_group(signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group
    code, rows, stderr = run.finish()
    assert code == 130, stderr
    assert "Traceback" not in stderr and "Exception" not in stderr, stderr
    assert stderr.rstrip().endswith("interrupted"), stderr
    assert 1 <= len(rows) < 40
    assert all(r["status"] == "written" for r in rows)
    written = {p.name for p in (tmp_path / "out").glob("*.png")}
    assert {Path(r["output"]).name for r in rows} <= written  # every row printed is a file there
    assert not [p for p in (tmp_path / "out").rglob("*") if ".quantcli-" in p.name]


def test_a_driver_killed_during_a_parquet_write_does_not_block_the_rerun(tmp_path):
    import signal

    import pyarrow.parquet as pq

    src = slow_folder(tmp_path / "in", 24)
    table = tmp_path / "table"
    args = ["compress", src, "-k", "auto", "--out-dir", table, "--out-format", "parquet", "--json", *SPARK_ARGS]
    run = Running(*args, *MANY_TASKS)
    run.wait_for_lines(1)
    run.signal_group(signal.SIGKILL)
    run.finish()
    assert table.is_dir() and not (table / "_SUCCESS").exists()
    run = Running(*args)
    code, rows, stderr = run.finish()
    assert code == 0, stderr
    assert len(rows) == 24
    assert sorted(r["name"] for r in pq.read_table(table).to_pylist()) == [f"img{i:03d}.png" for i in range(24)]
