"""Targets: atomic writes on the local disk and on fsspec file systems."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from quantcli.errors import OutputExistsError, OutputWriteError
from quantcli.targets import FsspecTarget, LocalTarget, remove_stale_temporaries, write_atomic


def test_write_atomic_refuses_to_overwrite_and_leaves_nothing_else(tmp_path):
    target = tmp_path / "deep" / "a.png"
    write_atomic(target, b"one")
    assert target.read_bytes() == b"one"
    with pytest.raises(OutputExistsError):
        write_atomic(target, b"two")
    write_atomic(target, b"two", force=True)
    assert target.read_bytes() == b"two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.png"]
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_name_the_os_refuses_is_an_output_error(tmp_path):
    with pytest.raises(OutputWriteError, match="cannot write"):
        write_atomic(tmp_path / ("x" * 300 + ".png"), b"data")
    assert list(tmp_path.iterdir()) == []


def test_kill_9_mid_write_leaves_no_file(tmp_path):
    """A writer killed while it writes leaves nothing in the folder (O_TMPFILE), and a
    named temporary file of a dead process is removed by the next run."""
    # Killed after the bytes are written, just before the file gets its name.
    script = (
        "import os, sys\n"
        "from quantcli import targets\n"
        "def link(*args, **kwargs):\n"
        "    os.kill(os.getpid(), 9)\n"
        "os.link = link\n"
        "targets.write_atomic(sys.argv[1], b'x' * 100000)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path / "a.png")], check=False)
    assert proc.returncode == -9
    assert list(tmp_path.iterdir()) == []
    stale = tmp_path / ".a.png.quantcli-999999999-abcd.tmp"  # no such process
    stale.write_bytes(b"left by a killed run")
    mine = tmp_path / f".b.png.quantcli-{os.getpid()}-abcd.tmp"  # this (live) process
    mine.write_bytes(b"in flight")
    other = tmp_path / ".c.png.tmp"
    other.write_bytes(b"someone else's")
    assert remove_stale_temporaries(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, other.name])


def _has_unnamed_files(folder) -> bool:
    try:
        os.close(os.open(folder, os.O_TMPFILE | os.O_WRONLY))
    except (AttributeError, OSError):
        return False
    return os.path.isdir("/proc/self/fd")


def test_the_unnamed_file_route_is_the_one_that_runs(tmp_path, monkeypatch):
    """Where the kernel has O_TMPFILE, no named temporary file is ever made: not for a new
    output, not for --force (linkat through /proc/self/fd, AT_SYMLINK_FOLLOW; a plain
    link() of that path fails with EXDEV and used to fall back to named files)."""
    if not _has_unnamed_files(tmp_path):
        pytest.skip("this file system has no O_TMPFILE")
    from quantcli import targets

    def no_named_files(*args, **kwargs):
        raise AssertionError("fell back to a named temporary file")

    monkeypatch.setattr(targets, "_named_temporary", no_named_files)
    assert targets.unnamed_writes_work(tmp_path)
    target = tmp_path / "a.png"
    write_atomic(target, b"one")
    write_atomic(target, b"two", force=True)
    with pytest.raises(OutputExistsError):
        write_atomic(target, b"three")
    assert target.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


def test_local_target_reports_existence_and_reads(tmp_path):
    target = LocalTarget()
    path = tmp_path / "x.png"
    assert not target.exists(path)
    target.write(path, b"data")
    assert target.exists(path) and target.read(path) == b"data"


def test_fsspec_target_on_a_remote_style_file_system():
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    target = FsspecTarget(tag="t1")
    target.write("memory://out/x/a.png", b"png")
    assert fs.cat_file("/out/x/a.png") == b"png"
    with pytest.raises(OutputExistsError):
        target.write("memory://out/x/a.png", b"new")
    assert fs.ls("/out/x", detail=False) == ["/out/x/a.png"]
    fs.pipe_file("/out/x/.b.png.quantcli-t1.dead.tmp", b"left by a killed task")
    fs.pipe_file("/out/x/.b.png.other.tmp", b"someone else's")
    assert target.remove_leftovers({"memory://out/x"}) == 1
    assert sorted(fs.ls("/out/x", detail=False)) == ["/out/x/.b.png.other.tmp", "/out/x/a.png"]


def test_fsspec_target_on_local_uris_is_the_local_writer(tmp_path):
    uri = "file:" + str(tmp_path / "a.png")
    FsspecTarget().write(uri, b"one")
    with pytest.raises(OutputExistsError):
        FsspecTarget().write(uri, b"two")
    assert (tmp_path / "a.png").read_bytes() == b"one"
