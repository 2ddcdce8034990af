"""The pre-commit hook (.pre-commit-hooks.yaml) under the real pre-commit, in a scratch git repository.

pre-commit would install a remote hook repository by cloning it and pip-installing it
(C++ build included); here the hook's own definition is copied into a ``repo: local`` hook
run by the quantcli installed beside this Python, so nothing is fetched.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import quantcli
import yaml
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
HOOKS = ROOT / ".pre-commit-hooks.yaml"


def _hook() -> dict:
    (hook,) = yaml.safe_load(HOOKS.read_text())
    return hook


def _photo_png(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:96, 0:128]
    rgb = np.stack([x * 2, y * 2, (x + y)], axis=2) + rng.integers(-20, 21, (96, 128, 3))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True, env=_env(repo))


def _env(repo: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            "PRE_COMMIT_HOME": str(repo.parent / "pre-commit-home"),
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.invalid",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.invalid",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
        }
    )
    return env


def _commit(repo: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "commit", "-q", "-m", "images"], cwd=repo, capture_output=True, text=True, env=_env(repo), timeout=300
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("needs git")
    repo = tmp_path / "site"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    local = dict(_hook(), language="system")  # the published hook, run by this quantcli
    config = {"repos": [{"repo": "local", "hooks": [local]}]}
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    subprocess.run(
        [sys.executable, "-m", "pre_commit", "install"], cwd=repo, check=True, capture_output=True, env=_env(repo)
    )
    return repo


def test_hook_definition_uses_the_in_place_idiom():
    hook = _hook()
    assert hook["id"] == "quantcli" and hook["language"] == "python"
    entry = hook["entry"].split()
    assert entry[:2] == ["quantcli", "compress"]
    assert {"--ext", ".png", "--force", "--skip-own-outputs", "--skip-if-larger"} <= set(entry)
    assert hook["files"] == r"\.png$"


def test_hook_compresses_staged_pngs_once(repo: Path):
    photos = {f"img/photo{i}.png": _photo_png(i) for i in range(2)}
    ours, _ = quantcli.compress_bytes(_photo_png(9), quantcli.QuantizeOptions(k=32))
    files = {
        **photos,
        "img/already.png": ours,  # a quantcli output: left alone
        "img/SHOUT.PNG": _photo_png(5),  # not .png: --ext .png would write beside it
        "notes.txt": b"not an image\n",
        "img/data.bin": _photo_png(6),  # PNG bytes under another name: not picked
    }
    for name, data in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_bytes(data)
    _git(repo, "add", ".")

    first = _commit(repo)
    assert first.returncode != 0, first.stdout + first.stderr  # pre-commit: the hook changed files
    assert "files were modified by this hook" in first.stdout + first.stderr
    for name, data in files.items():
        now = (repo / name).read_bytes()
        if name in photos:
            assert now != data and len(now) < len(data) and now[37:41] == b"quNT"
            before = np.asarray(Image.open(io.BytesIO(data)))
            after = np.asarray(Image.open(io.BytesIO(now)).convert("RGB"))
            assert after.shape == before.shape
        else:
            assert now == data, name
    assert sorted(p.name for p in (repo / "img").iterdir()) == ["SHOUT.PNG", "already.png", "data.bin"] + [
        f"photo{i}.png" for i in range(2)
    ]

    written = {name: (repo / name).read_bytes() for name in files}
    _git(repo, "add", ".")
    second = _commit(repo)
    assert second.returncode == 0, second.stdout + second.stderr
    for name, data in written.items():
        assert (repo / name).read_bytes() == data, name
    assert _git(repo, "status", "--porcelain").stdout == ""

    # Once committed, a run over every file changes nothing either.
    again = subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--all-files"],
        cwd=repo,
        capture_output=True,
        text=True,
        env=_env(repo),
        timeout=300,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert _git(repo, "status", "--porcelain").stdout == ""


def test_hook_fails_on_a_broken_png_and_leaves_it(repo: Path):
    (repo / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)
    _git(repo, "add", ".")
    result = _commit(repo)
    assert result.returncode != 0
    assert "quantcli: error: broken.png: corrupt image" in result.stdout + result.stderr
    assert (repo / "broken.png").read_bytes() == b"\x89PNG\r\n\x1a\n" + b"\x00" * 10


def test_skip_own_outputs_leaves_named_outputs_alone(tmp_path: Path, run_cli):
    ours, _ = quantcli.compress_bytes(_photo_png(3), quantcli.QuantizeOptions(k=16))
    (tmp_path / "ours.png").write_bytes(ours)
    (tmp_path / "theirs.png").write_bytes(_photo_png(4))
    args = ("compress", "ours.png", "theirs.png", "--ext", ".png", "--force", "--json", "-q")
    rows = [
        json.loads(line) for line in run_cli(*args, "--skip-own-outputs", cwd=tmp_path, check_rc=0).stdout.splitlines()
    ]
    assert [(r["path"], r["status"], r["output"]) for r in rows] == [
        ("ours.png", "skipped", None),
        ("theirs.png", "written", "theirs.png"),
    ]
    assert rows[0]["bytes_in"] == rows[0]["bytes_out"] == len(ours)
    assert (tmp_path / "ours.png").read_bytes() == ours
    # Without it, a file named on the command line is taken as given, outputs included.
    rows = [json.loads(line) for line in run_cli(*args, cwd=tmp_path, check_rc=0).stdout.splitlines()]
    assert [r["status"] for r in rows] == ["written", "written"]
