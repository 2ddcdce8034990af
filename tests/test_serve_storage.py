"""``quantcli serve`` when its storage fails (a full disk, a full database): every such
answer is a plain 503 naming no path or user id, and nothing half-written stays."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import sqlite3
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient
from quantcli import targets
from quantcli.serve.storage import OUT_OF_STORAGE
from serve_support import (
    PASSWORD,
    app_client,
    bearer,
    cheap_password_hashes,  # noqa: F401 (an autouse fixture)
    form_token,
    png_bytes,
    run_job,
    sign_in,
    stored_files,
)

ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def full_disk_for(monkeypatch, role: str) -> None:
    """Local writes of stored files whose name starts with ``role`` fail as on a full disk,
    inside quantcli.targets (which turns the OSError into its own error with the path)."""
    real = targets._write_unnamed

    def write(target: Path, data: bytes, *, force: bool) -> bool:
        if target.name.startswith(role):
            raise OSError(ENOSPC.errno, ENOSPC.strerror)
        return real(target, data, force=force)

    monkeypatch.setattr(targets, "_write_unnamed", write)


def assert_plain(response, tmp_path: Path) -> None:
    """503, the one plain message, Retry-After, and no path or user folder in the body."""
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "60"
    assert str(tmp_path) not in response.text and "/u1" not in response.text and "u1/" not in response.text
    assert "No space" not in response.text and "Errno" not in response.text


@pytest.fixture
def served(tmp_path):
    with app_client(tmp_path) as client:
        yield client


def test_a_failed_output_write_is_503_and_keeps_nothing(served, tmp_path, monkeypatch):
    full_disk_for(monkeypatch, "output")
    response = served.post("/api/v1/images?k=8", content=png_bytes(), headers=bearer(served.service.keys["alice"]))
    assert_plain(response, tmp_path)
    assert response.json() == {"detail": OUT_OF_STORAGE}
    assert stored_files(served.service) == []  # the source went with its image
    assert served.get("/api/v1/images", headers=bearer(served.service.keys["alice"])).json() == {"images": []}


def test_a_job_whose_output_cannot_be_written_fails_plainly(served, tmp_path, monkeypatch):
    csrf = sign_in(served)
    full_disk_for(monkeypatch, "output")
    job = run_job(served, csrf, {"a.png": png_bytes(seed=1), "b.png": png_bytes(seed=2)}, k="8")
    status = served.get(f"/jobs/{job}/status").json()
    assert status["status"] == "failed" and status["error"] == OUT_OF_STORAGE
    page = served.get(f"/jobs/{job}").text
    assert f"The job failed: {OUT_OF_STORAGE}" in page
    assert str(tmp_path) not in page and "u1/" not in page and "No space" not in page
    for image in re.findall(r'<a class="name" href="/images/([^"/]+)">', page):
        assert "No space" not in served.get(f"/images/{image}").text
    assert not [p for p in stored_files(served.service) if p.name == "output.png"]
    assert not [p for p in stored_files(served.service) if ".quantcli-" in p.name]  # no temporaries


def test_a_failed_source_write_is_503_and_keeps_nothing(served, tmp_path, monkeypatch):
    full_disk_for(monkeypatch, "source")
    response = served.post("/api/v1/images?k=8", content=png_bytes(), headers=bearer(served.service.keys["alice"]))
    assert_plain(response, tmp_path)
    assert response.json() == {"detail": OUT_OF_STORAGE}
    csrf = sign_in(served)
    job = served.post("/jobs", data={"csrf_token": csrf, "k": "8"}).json()["id"]
    sent = served.put(
        f"/jobs/{job}/images",
        params={"name": "a.png"},
        content=png_bytes(),
        headers={"X-CSRF-Token": csrf, "Accept": "application/json"},  # as the page's script
    )
    assert_plain(sent, tmp_path)
    assert sent.json() == {"detail": OUT_OF_STORAGE}
    assert OUT_OF_STORAGE in served.get(f"/jobs/{job}").text  # listed as refused, and why
    assert stored_files(served.service) == []


def test_an_upload_whose_database_row_cannot_be_written_keeps_no_file(served, tmp_path):
    refuse_sql(served.service, "INSERT INTO images")
    response = served.post("/api/v1/images?k=8", content=png_bytes(), headers=bearer(served.service.keys["alice"]))
    assert_plain(response, tmp_path)
    assert response.json() == {"detail": OUT_OF_STORAGE}
    assert stored_files(served.service) == []


def test_sign_in_with_a_full_database_is_503(served, tmp_path):
    refuse_sql(served.service, "INSERT INTO sessions")
    page = served.get("/login")
    response = served.post(
        "/login",
        data={"name": "alice", "password": PASSWORD, "csrf_token": form_token(page.text), "next": "/"},
        follow_redirects=False,
    )
    assert_plain(response, tmp_path)
    assert OUT_OF_STORAGE in response.text and "Traceback" not in response.text


def refuse_sql(service, statement: str) -> None:
    """Make the database fail ``statement`` as SQLite does on a full disk."""
    from sqlalchemy import event

    def before(conn, cursor, sql, parameters, context, executemany):
        if sql.lstrip().upper().startswith(statement.upper()):
            raise sqlite3.OperationalError("database or disk is full")

    event.listen(service.db.engine, "before_cursor_execute", before)


def test_spark_rows_that_name_a_path_are_made_plain():
    from quantcli.pipeline import CompressResult
    from quantcli.serve.compressing import public_error

    row = CompressResult(
        "a.png", None, 8, status="error", error="/srv/data/images/spark/j/a.png: cannot write (Disk quota exceeded)"
    )
    assert public_error(row, "a.png").error == OUT_OF_STORAGE


# ---------------------------------------------------------------------------------------
# A real full file system: a small tmpfs mounted for the test


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs at tmp_path/small (skipped where this process cannot mount one)."""
    mount = tmp_path / "small"
    mount.mkdir()
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mount)],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot mount a tmpfs here: {exc}")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, timeout=30, check=False)


def fill(folder: Path) -> None:
    """Write a file in ``folder`` until the file system is full."""
    with open(folder / "filler", "wb") as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 65536)
            f.flush()


def test_a_full_file_system_answers_503_and_keeps_nothing(small_disk, tmp_path):
    from quantcli.serve.accounts import add_user
    from quantcli.serve.app import create_app
    from quantcli.serve.config import ServeConfig
    from quantcli.serve.work import Service

    config = ServeConfig(data_dir=str(small_disk / "data"), workers=1)
    service = Service(config)
    key = add_user(service.db, "alice", PASSWORD)
    with TestClient(create_app(config, service), raise_server_exceptions=False) as client:
        fill(small_disk)
        response = client.post("/api/v1/images?k=8", content=png_bytes(h=96, w=128), headers=bearer(key))
        assert_plain(response, small_disk)
        assert response.json() == {"detail": OUT_OF_STORAGE}
        assert [p for p in Path(service.store.root).rglob("*") if p.is_file()] == []
        page = client.get("/login")
        signed = client.post(
            "/login",
            data={"name": "alice", "password": PASSWORD, "csrf_token": form_token(page.text), "next": "/"},
            follow_redirects=False,
        )
        # SQLite may still have room in its write-ahead log; if not, the answer is plain.
        assert signed.status_code in (303, 503)
        if signed.status_code == 503:
            assert_plain(signed, small_disk)
        (small_disk / "filler").unlink()
        again = client.post("/api/v1/images?k=8", content=png_bytes(h=96, w=128), headers=bearer(key))
        assert again.status_code == 201, again.text  # space again: the server works on
