"""CI mode of the fuzz harness (fuzz/): a fixed number of inputs from a fixed seed.

A longer run is ``python fuzz/run.py decode --runs 0`` (see fuzz/run.py)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"


def fuzz(target: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(FUZZ / "run.py"), target, "--runs", "400", "--seed", "1", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("target", ["decode", "api"])
@pytest.mark.parametrize("engine", ["auto", "mutate"])  # auto: atheris when installed
def test_fuzz_target_finds_nothing(target, engine, tmp_path):
    proc = fuzz(target, "--engine", engine, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert not list(tmp_path.glob("crash-*"))


def test_mutation_loop_reports_a_finding(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("fuzz_run", FUZZ / "run.py")
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    monkeypatch.chdir(tmp_path)

    def target(data: bytes) -> None:
        if data.startswith(b"PNG"):  # needs a mutation of the seed to get there
            raise AssertionError("found")

    assert run.run_mutation_loop(target, [b"PNF-seed"], runs=20000, seed=1) == 1
    (crash,) = tmp_path.glob("crash-*")
    assert crash.read_bytes().startswith(b"PNG")
