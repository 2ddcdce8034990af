"""The Spark engine on a real standalone cluster: a master and two single-core workers on
127.0.0.1, started from PySpark's own ``spark-class`` and stopped by PID.

Each run is the ``quantcli`` CLI as a user runs it (its own driver JVM), so a test can kill
the driver or a worker in the middle of a job.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from test_spark import Running, slow_folder, tree

pytestmark = [pytest.mark.spark, pytest.mark.cluster]
N = 24  # images per test folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    """A running standalone cluster: its master URL, and its processes by PID."""

    home: Path  # SPARK_HOME: the pyspark package
    base: Path  # work dirs and logs
    port: int
    ui: int
    env: dict[str, str]
    master: subprocess.Popen | None = None
    workers: dict[int, subprocess.Popen] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"spark://127.0.0.1:{self.port}"

    def state(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ui}/json/", timeout=10) as reply:
            return json.load(reply)

    def spawn(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.base / f"{name}.log", "ab")  # noqa: SIM115 (the process keeps it)
        try:
            return subprocess.Popen(
                [str(self.home / "bin" / "spark-class"), *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        finally:
            log.close()

    def start_master(self) -> None:
        self.master = self.spawn(
            "master",
            "org.apache.spark.deploy.master.Master",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--webui-port",
            str(self.ui),
        )
        self.wait(lambda s: s.get("status") == "ALIVE", "the master")

    def start_worker(self, i: int) -> None:
        work = self.base / f"worker{i}"
        work.mkdir(exist_ok=True)
        args = ["--host", "127.0.0.1", "--cores", "1", "--memory", "1g", "--work-dir", str(work)]
        self.workers[i] = self.spawn(
            f"worker{i}", "org.apache.spark.deploy.worker.Worker", *args, "--webui-port", str(free_port()), self.url
        )
        self.wait(lambda s: self.alive_workers(s) >= len(self.workers), f"worker {i}")

    @staticmethod
    def alive_workers(state: dict) -> int:
        return sum(1 for w in state.get("workers", []) if w["state"] == "ALIVE")

    def wait(self, ready, what: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if ready(self.state()):
                    return
            except OSError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in self.base.glob("*.log"))
                raise AssertionError(f"{what} did not come up in {timeout} s:\n{logs}")
            time.sleep(0.5)

    def wait_idle(self) -> None:
        """Until no application runs (a killed driver's executors are gone)."""
        self.wait(lambda s: not s.get("activeapps"), "the end of the last application")

    def kill_worker(self, i: int) -> None:
        """SIGKILL worker ``i`` (its executor follows, watching its worker)."""
        proc = self.workers.pop(i)
        proc.kill()
        proc.wait()

    def stop(self) -> None:
        for proc in [*self.workers.values(), self.master]:
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for proc in [*self.workers.values(), self.master]:
            if proc is None:
                continue
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    pyspark = pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java (17 or newer) on PATH")
    home = Path(pyspark.__file__).parent
    base = tmp_path_factory.mktemp("cluster")
    env = {
        **os.environ,
        "SPARK_HOME": str(home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOG_DIR": str(base),
        "SPARK_WORKER_DIR": str(base),
        "SPARK_DAEMON_MEMORY": "256m",
    }
    cluster = Cluster(home, base, free_port(), free_port(), env)
    try:
        cluster.start_master()
        cluster.start_worker(0)
        cluster.start_worker(1)
        yield cluster
    finally:
        cluster.stop()


def on_cluster(cluster: Cluster) -> list[str]:
    """The CLI options of a run on the cluster: small executors, several tasks per job."""
    return [
        "--engine",
        "spark",
        "--master",
        cluster.url,
        *("--conf", "spark.driver.host=127.0.0.1"),
        *("--conf", "spark.driver.bindAddress=127.0.0.1"),
        *("--conf", "spark.executor.memory=512m"),
        *("--conf", "spark.ui.enabled=false"),
        *("--conf", "spark.sql.files.maxPartitionBytes=60000"),
        *("--conf", "spark.sql.files.openCostInBytes=20000"),
    ]


def cli_env() -> dict[str, str]:
    return {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}


def no_temporaries(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if ".quantcli-" in p.name or p.name.endswith(".tmp")]


def ledger_rows(out: Path) -> list[dict]:
    """The rows of the newest run's ledger."""
    from quantcli.spark.ledger import read_rows

    runs = sorted((out / "_quantcli").iterdir())
    return list(read_rows(str(runs[-1])))


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    return slow_folder(tmp_path_factory.mktemp("images") / "in", N)


@pytest.fixture(scope="module")
def local_outputs(images, tmp_path_factory, run_cli_module) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("local") / "out"
    proc = run_cli_module("compress", images, "-k", "auto", "--out-dir", out)
    assert proc.returncode == 0, proc.stderr
    return tree(out)


@pytest.fixture(scope="module")
def run_cli_module():
    from conftest import cli_command

    def run(*args, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*cli_command(), *map(str, args)], capture_output=True, env=cli_env(), timeout=timeout, check=False
        )

    return run


def test_compress_on_the_cluster_is_byte_identical_to_local(cluster, images, local_outputs, run_cli_module, tmp_path):
    out = tmp_path / "out"
    proc = run_cli_module("compress", images, "-k", "auto", "--out-dir", out, "--json", *on_cluster(cluster))
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    rows = [json.loads(line) for line in proc.stdout.splitlines()]  # stdout holds only JSON lines
    assert len(rows) == N and {r["status"] for r in rows} == {"written"}
    assert tree(out) == local_outputs
    assert sorted(r["path"] for r in ledger_rows(out)) == sorted(r["path"] for r in rows)


def test_a_killed_driver_then_skip_existing_completes_the_out_dir(
    cluster, images, local_outputs, run_cli_module, tmp_path
):
    out = tmp_path / "out"
    args = ["compress", images, "-k", "auto", "--out-dir", out, "--json", *on_cluster(cluster)]
    run = Running(*args, env=cli_env())
    run.wait_for_lines(1)
    run.signal_group(signal.SIGKILL)  # the driver, Python and JVM, with no time to clean up
    _, printed, _ = run.finish()
    assert 1 <= len(printed) < N
    cluster.wait_idle()  # the master has taken the dead driver's executors away
    proc = run_cli_module(*args, "--skip-existing")
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == N and {r["status"] for r in rows} <= {"written", "skipped"}
    assert [r["status"] for r in rows].count("skipped") >= len(printed)
    assert tree(out) == local_outputs  # complete, and no temporary files
    ledger = ledger_rows(out)
    assert sorted(r["path"] for r in ledger) == sorted(str(images / f"img{i:03d}.png") for i in range(N))


def test_a_killed_worker_costs_a_retry_not_a_file(cluster, images, local_outputs, tmp_path):
    out = tmp_path / "out"
    run = Running("compress", images, "-k", "auto", "--out-dir", out, "--json", *on_cluster(cluster), env=cli_env())
    try:
        run.wait_for_lines(1)
        cluster.kill_worker(0)
        code, rows, stderr = run.finish()
    finally:
        cluster.wait_idle()
        cluster.start_worker(0)  # for the tests after this one
    assert code == 0, stderr
    assert len(rows) == N and len({r["path"] for r in rows}) == N  # no duplicates
    assert {r["status"] for r in rows} == {"written"}
    assert not no_temporaries(out)
    assert tree(out) == local_outputs
    assert len(ledger_rows(out)) == N


@pytest.fixture(scope="module")
def packed(tmp_path_factory) -> Path:
    """examples/spark/pack.sh as the deployment docs run it: the wheel and the executor archive."""
    for module in ("auditwheel", "venv_pack"):
        pytest.importorskip(module)
    repo = Path(__file__).resolve().parent.parent
    out = tmp_path_factory.mktemp("dist")
    env = {**os.environ, "PYTHON": sys.executable}
    proc = subprocess.run(
        ["bash", "examples/spark/pack.sh", str(out)], cwd=repo, env=env, capture_output=True, timeout=1200, check=False
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
    return out


def test_spark_submit_with_the_packed_archive(cluster, packed, images, local_outputs, tmp_path):
    """The deployment recipe, literally: spark-submit --archives with the executor archive."""
    [wheel] = packed.glob("quantcli-*-manylinux_*_x86_64.whl")
    archive = packed / "quantcli-executor.tar.gz"
    assert wheel.stat().st_size < 5_000_000
    assert archive.stat().st_size < 300_000_000  # no PySpark (the cluster has it)
    import tarfile

    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert not [n for n in names if "site-packages/pyspark/" in n]
    assert [n for n in names if n.endswith("site-packages/quantcli/spark/submit.py")]

    from quantcli.spark import submit

    out = tmp_path / "out"
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "spark-submit"),
            *("--master", cluster.url, "--deploy-mode", "client"),
            *("--archives", f"{archive}#environment"),
            *("--conf", "spark.pyspark.python=./environment/bin/python"),
            *("--conf", f"spark.pyspark.driver.python={sys.executable}"),
            *("--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.driver.bindAddress=127.0.0.1"),
            *("--conf", "spark.executor.memory=512m", "--conf", "spark.ui.enabled=false"),
            submit.__file__,
            *("compress", str(images), "-k", "auto", "--out-dir", str(out), "--json", "--engine", "spark"),
        ],
        capture_output=True,
        env=cli_env(),
        timeout=900,
        check=False,
    )
    stderr = proc.stderr.decode(errors="replace")
    assert proc.returncode == 0, stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]  # stdout: JSON lines only
    assert len(rows) == N and {r["status"] for r in rows} == {"written"}
    assert f"quantcli: {N} written" in stderr
    # Spark logs at WARN once the context starts; before that it says its version, OS and Java.
    assert stderr.count(" INFO ") <= 3, stderr
    assert tree(out) == local_outputs
    # The executors ran the archive's Python: Spark unpacked it in their work dirs.
    assert list(cluster.base.glob("worker*/app-*/*/environment/bin/python"))
