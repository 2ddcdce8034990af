"""Helpers of the ``quantcli serve`` tests: images, an app with users, signed-in clients,
and a real server started on 127.0.0.1."""

from __future__ import annotations

import contextlib
import io
import os
import re
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from conftest import cli_command, gradient_image
from PIL import Image

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch):
    """argon2's cheapest parameters in-process (the real ones cost about a second here)."""
    from argon2.profiles import CHEAPEST
    from quantcli.serve import accounts

    monkeypatch.setattr(accounts, "PASSWORD_PARAMETERS", CHEAPEST)


def png_bytes(h: int = 48, w: int = 64, seed: int = 0, alpha: bool = False) -> bytes:
    """A photo-like gradient as PNG bytes."""
    out = io.BytesIO()
    Image.fromarray(gradient_image(h, w, seed=seed, alpha=alpha)).save(out, "PNG")
    return out.getvalue()


def few_colours_png(colours: int = 12, h: int = 48, w: int = 64) -> bytes:
    """Stripes of ``colours`` colours as PNG bytes: every quality or PSNR target is reached
    with that many colours (a photo-like gradient of this size stays below quality 80)."""
    palette = np.random.default_rng(1).integers(0, 256, size=(colours, 3), dtype=np.uint8)
    stripes = (np.arange(w) * colours // w)[None, :].repeat(h, axis=0)
    out = io.BytesIO()
    Image.fromarray(palette[stripes]).save(out, "PNG")
    return out.getvalue()


def image_bytes(fmt: str, h: int = 40, w: int = 56, seed: int = 3) -> bytes:
    """A gradient in another format (TIFF, JPEG, ...)."""
    out = io.BytesIO()
    Image.fromarray(gradient_image(h, w, seed=seed)).save(out, fmt)
    return out.getvalue()


def huge_png_header(width: int = 60_000, height: int = 60_000) -> bytes:
    """A PNG whose header declares a huge image and whose data is a few bytes: reading
    its pixels would take gigabytes, reading its header costs nothing."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def decode(png: bytes) -> np.ndarray:
    """PNG bytes as an RGB(A) array, decoded by Pillow."""
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGBA" if "transparency" in image.info else "RGB"))


def colours(png: bytes) -> int:
    """Distinct colours of a PNG."""
    pixels = decode(png)
    return len(np.unique(pixels.reshape(-1, pixels.shape[2]), axis=0))


@contextlib.contextmanager
def app_client(tmp_path: Path, **config):
    """A TestClient on :func:`make_app`'s app, with its service as ``client.service``."""
    from fastapi.testclient import TestClient

    app, service = make_app(tmp_path, **config)
    with TestClient(app) as client:
        client.service = service
        yield client


def make_app(tmp_path: Path, **config):
    """(app, service) for a fresh data folder, with users alice and bob; their API keys
    are ``service.keys[name]``."""
    from quantcli.serve.accounts import add_user
    from quantcli.serve.app import create_app
    from quantcli.serve.config import ServeConfig
    from quantcli.serve.work import Service

    config.setdefault("workers", 2)
    cfg = ServeConfig(data_dir=str(tmp_path / "data"), **config)
    service = Service(cfg)
    service.keys = {name: add_user(service.db, name, PASSWORD) for name in ("alice", "bob")}
    return create_app(cfg, service), service


def stored_files(service) -> list[Path]:
    """Every file in a local store."""
    return [p for p in Path(service.store.root).rglob("*") if p.is_file()]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def form_token(html: str) -> str:
    """The CSRF token in a page's form."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no csrf_token field in the page"
    return match.group(1)


def sign_in(client, name: str = "alice", password: str = PASSWORD) -> str:
    """Sign ``client`` in through the form; returns the session's CSRF token."""
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"name": name, "password": password, "csrf_token": form_token(page.text), "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return re.search(r'data-csrf="([^"]+)"', client.get("/").text).group(1)


def wait_for(predicate, timeout: float = 60.0, step: float = 0.05):
    """Poll until ``predicate()`` is truthy (its value), or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(step)


def run_job(client, csrf: str, files: dict[str, bytes], timeout: float = 120.0, **fields: str) -> str:
    """Create a job through the page's requests, upload ``files``, start it, wait for it;
    returns the job id."""
    created = client.post("/jobs", data={"csrf_token": csrf, **fields})
    assert created.status_code == 201, created.text
    job = created.json()["id"]
    for name, data in files.items():
        sent = client.put(f"/jobs/{job}/images", params={"name": name}, content=data, headers={"X-CSRF-Token": csrf})
        assert sent.status_code == 201, sent.text
    started = client.post(f"/jobs/{job}/start", headers={"X-CSRF-Token": csrf})
    assert started.status_code == 202, started.text
    wait_for(lambda: client.get(f"/jobs/{job}/status").json()["status"] in ("done", "failed"), timeout=timeout)
    return job


# ---------------------------------------------------------------------------------------
# A real server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def add_user_cli(data: Path, name: str, password: str = PASSWORD) -> str:
    """``quantcli users add NAME --data DIR`` with the password on stdin; the API key."""
    proc = subprocess.run(
        [*cli_command(), "users", "add", name, "--data", str(data)],
        input=(password + "\n").encode(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout.decode().strip().splitlines()[-1]


class LiveServer:
    """``quantcli serve`` in a subprocess on 127.0.0.1, stopped on exit."""

    def __init__(self, data: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(data.parent / f"serve-{self.port}.log", "wb")  # noqa: SIM115 (closed in stop())
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [*cli_command(), "serve", "--data", str(data), "--port", str(self.port), "--log-level", "warning", *args],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            wait_for(self._healthy, timeout=60, step=0.1)
        except BaseException:
            self.stop()
            raise

    def _healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"quantcli serve exited with {self.proc.returncode}: {self.output()}")
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def peak_rss(self) -> int:
        """The server process's peak resident memory, in bytes (Linux)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmHWM")

    def rss(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
