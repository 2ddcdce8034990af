"""The command line's fast path (quantcli.cli.fast): the short forms of compress parsed
without Typer must reach the same parameters, and the same outputs, exit codes and
messages, as through Typer; anything else must go to Typer."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import cli_command
from PIL import Image
from quantcli.cli import app, compress_settings
from quantcli.cli.fast import parse_compress
from typer.testing import CliRunner

ACCEPTED = [
    [],
    ["icon.png"],
    ["icon.png", "-k", "16", "-o", "out.png"],
    ["-k16", "icon.png"],
    ["--colors=8", "a.png", "b.png"],
    ["--colors", "auto", "x.png"],
    ["-k", "300", "x.png"],  # out of range: execute words the error, as through Typer
    ["-k", "16", "-k", "32", "x.png"],  # the last one counts
    ["x.png", "-o", "-"],
    ["-ox.png", "y.png"],
    ["--output=o.png", "x.png"],
    ["--output", "o.png", "x.png"],
    ["x.png", "-f", "-q", "--json"],
    ["--force", "--quiet", "x.png"],
    ["-"],
    ["a b.png", "-o", "c d.png"],
]

DECLINED = [
    ["--help"],
    ["-h"],
    ["x.png", "--level", "3"],
    ["x.png", "--dither", "off"],
    ["-fq", "x.png"],
    ["x.png", "-k"],
    ["x.png", "-o", "-f"],  # a value that looks like an option: Typer decides
    ["--json=1", "x.png"],
    ["--forc", "x.png"],
    ["--", "-x.png"],
    ["x.png", "--out-dir", "o"],
]


def typer_parameters(args: list[str], monkeypatch: pytest.MonkeyPatch) -> dict:
    """What Typer passes on to execute for ``quantcli compress ARGS``."""
    seen: list[dict] = []
    monkeypatch.setattr(compress_settings, "execute", lambda **params: seen.append(params))
    result = CliRunner().invoke(app, ["compress", *args])
    assert result.exit_code == 0, result.output
    (params,) = seen
    return params


@pytest.mark.parametrize("args", ACCEPTED, ids=" ".join)
def test_short_forms_parse_to_what_typer_gives(args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_compress(args) == typer_parameters(args, monkeypatch)


@pytest.mark.parametrize("args", DECLINED, ids=" ".join)
def test_other_forms_are_left_to_typer(args: list[str]) -> None:
    assert parse_compress(args) is None


def test_defaults_are_the_declared_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every parameter of compress, with its default: one table for both paths.
    assert typer_parameters(["x.png"], monkeypatch) == {**compress_settings.COMPRESS_DEFAULTS, "inputs": ["x.png"]}


@pytest.fixture
def icon(tmp_path: Path) -> Path:
    y, x = np.mgrid[0:48, 0:40]
    rgba = np.stack([x * 6, y * 5, 255 - (x + y) * 2, np.clip(255 - np.hypot(x - 20, y - 24) * 9, 0, 255)], -1)
    path = tmp_path / "icon.png"
    Image.fromarray(rgba.astype(np.uint8), "RGBA").save(path)
    return path


LOADED = "import sys; print(sorted(m for m in ('typer', 'click', 'numpy', 'PIL', 'rich') if m in sys.modules))"


def run_main_then(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run quantcli's main() in a fresh interpreter, then print which heavy modules it loaded."""
    code = f"import sys\nfrom quantcli.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass\n{LOADED}"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, check=False)


def test_a_plain_png_runs_without_typer_numpy_or_pillow(icon: Path) -> None:
    proc = run_main_then(["compress", "icon.png", "-k", "16", "-o", "out.png"], icon.parent)
    assert proc.stdout.strip() == "[]", proc.stderr
    with Image.open(icon.parent / "out.png") as out:
        assert out.mode == "P" and out.size == (40, 48)
    assert run_main_then(["--version"], icon.parent).stdout.splitlines()[-1] == "[]"


def test_a_jpeg_takes_the_general_route(icon: Path) -> None:
    Image.open(icon).convert("RGB").save(icon.parent / "photo.jpg", quality=90)
    proc = run_main_then(["compress", "photo.jpg", "-k", "16"], icon.parent)
    assert "numpy" in proc.stdout and "PIL" in proc.stdout and "typer" not in proc.stdout
    assert (icon.parent / "photo-q16.png").exists()


TYPER_ONLY = "import sys\nfrom quantcli.cli import _run_typer\nsys.argv[0] = 'quantcli'\nsys.exit(_run_typer() or 0)"


def run_both(args: list[str], folder: Path, prepare) -> list[tuple]:
    """(exit code, stdout, stderr without timings, files) of ``quantcli compress ARGS``
    through the fast path and through Typer, each from the same starting folder."""
    outcomes = []
    for command in (cli_command(), [sys.executable, "-c", TYPER_ONLY]):
        work = folder / ("fast" if command == cli_command() else "typer")
        work.mkdir()
        prepare(work)
        proc = subprocess.run([*command, "compress", *args], cwd=work, capture_output=True, check=False, timeout=120)
        stderr = re.sub(rb"in [0-9.]+ s", b"in T s", proc.stderr)
        stderr = re.sub(rb'"seconds": [0-9.e-]+', b'"seconds": T', stderr)
        stdout = re.sub(rb'"seconds": [0-9.e-]+', b'"seconds": T', proc.stdout)
        files = {p.name: p.read_bytes() for p in sorted(work.iterdir())}
        outcomes.append((proc.returncode, stdout, stderr, files))
    return outcomes


CASES = {
    "written": ["icon.png", "-k", "16", "-o", "out.png"],
    "default name": ["icon.png", "-k", "8"],
    "exists": ["icon.png", "-k", "16", "-o", "old.png"],
    "exists, forced": ["icon.png", "-k", "16", "-o", "old.png", "-f"],
    "no such file": ["missing.png", "-k", "16"],
    "not an image": ["notes.png", "-k", "16", "--json"],
    "bad K": ["icon.png", "-k", "1"],
    "K auto": ["icon.png", "-k", "auto", "-q"],
    "two inputs, one output": ["icon.png", "grey.png", "-o", "out.png"],
    "own input as output": ["icon.png", "-o", "icon.png", "-f"],
    "grey and json": ["grey.png", "-k", "4", "--json"],
    "no input": ["-k", "16"],
}


@pytest.mark.parametrize("args", CASES.values(), ids=CASES.keys())
def test_fast_path_and_typer_agree(args: list[str], icon: Path, tmp_path: Path) -> None:
    def prepare(work: Path) -> None:
        (work / "icon.png").write_bytes(icon.read_bytes())
        Image.open(icon).convert("L").save(work / "grey.png")
        (work / "notes.png").write_text("not a picture\n")
        (work / "old.png").write_bytes(b"old")

    fast, typer = run_both(args, tmp_path, prepare)
    assert fast == typer


def test_stdout_output_agrees(icon: Path, tmp_path: Path) -> None:
    fast, typer = run_both(
        ["icon.png", "-k", "16", "-o", "-"], tmp_path, lambda w: (w / "icon.png").write_bytes(icon.read_bytes())
    )
    assert fast == typer and fast[0] == 0 and fast[1].startswith(b"\x89PNG")
