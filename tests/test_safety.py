"""The command line on hostile inputs, paths and signals: each case of the safety audit."""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from conftest import cli_command, gradient_image

DATA = Path(__file__).parent / "data"
BAD_INPUTS = json.loads((DATA / "bad_inputs.json").read_text())


def save(path: Path, seed: int = 0, size: int = 24) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, gradient_image(size, size + 8, seed=seed))
    return path


def files_below(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def error_lines(proc) -> list[str]:
    return [line for line in proc.stderr.decode().splitlines() if line.startswith("quantcli: error:")]


def test_the_bad_input_corpus_fails_file_by_file(run_cli, tmp_path):
    """Every bad file: one error line with its reason, exit 1; only the good outputs are written."""
    src = tmp_path / "in"
    src.mkdir()
    names = {}  # a.png and a.jpg would share an output name: give every file its own stem
    for name in BAD_INPUTS:
        stem, ext = name.rsplit(".", 1)
        names[name] = f"{stem}-{ext}.{ext}"
        shutil.copyfile(DATA / "corpus" / name, src / names[name])
    out = tmp_path / "out"
    proc = run_cli("compress", *sorted(names.values()), "-k", "16", "--out-dir", out, "--json", cwd=src)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr.decode()
    rows = {r["path"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert sorted(rows) == sorted(names.values())
    for name, reason in BAD_INPUTS.items():
        row = rows[names[name]]
        if reason is None:
            assert row["status"] == "written", row
        else:
            assert row["status"] == "error" and row["error"] == f"{names[name]}: {reason}", row
    assert len(error_lines(proc)) == sum(r is not None for r in BAD_INPUTS.values())
    good = {Path(names[n]).stem + ".png" for n, r in BAD_INPUTS.items() if r is None}
    assert files_below(out) == good


def test_a_decompression_bomb_is_refused_from_its_header_with_little_memory(tmp_path):
    """The 20 kB PNG declaring 13000x13000 pixels: refused before decoding; the child's
    peak memory stays far below the 169 MP it declares."""
    code = (
        "import resource, subprocess, sys\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True)\n"
        "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "sys.stderr.buffer.write(p.stderr)\n"
    )
    argv = [*cli_command(), "compress", str(DATA / "corpus" / "bomb.png"), "-o", str(tmp_path / "x.png")]
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, check=True)
    returncode, peak_kb = map(int, proc.stdout.split())
    assert returncode == 1
    assert "image too large: 13000x13000 (169 MP) exceeds --max-pixels 100 MP" in proc.stderr.decode()
    assert peak_kb < 300_000  # 169 MP would take over 500 MB decoded
    assert not (tmp_path / "x.png").exists()


def test_max_pixels_is_an_option(run_cli, tmp_path):
    src = save(tmp_path / "a.png", size=40)  # 40 x 48 = 1920 pixels
    proc = run_cli("compress", src, "--max-pixels", "1000", "-k", "8", check_rc=1)
    assert "exceeds --max-pixels" in error_lines(proc)[0]
    run_cli("compress", src, "--max-pixels", "2000", "-k", "8", check_rc=0)


def test_a_glob_does_not_follow_folder_links(run_cli, tmp_path):
    """``t/**/*.jpg`` with two links to ``.``: it used to run forever."""
    t = tmp_path / "t"
    t.mkdir()
    iio.imwrite(t / "a.jpg", gradient_image(16, 16), quality=90)
    os.symlink(".", t / "l1")
    os.symlink(".", t / "l2")
    os.symlink("..", t / "up")
    proc = run_cli("compress", str(t / "**" / "*.jpg"), "-k", "8", "--out-dir", tmp_path / "out", "--json")
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line)["path"] for line in proc.stdout.splitlines()] == [str(t / "a.jpg")]
    assert files_below(tmp_path / "out") == {"a.png"}
    proc = run_cli("compress", t, "-r", "-k", "8", "--out-dir", tmp_path / "out2", check_rc=0)
    assert files_below(tmp_path / "out2") == {"a.png"}


def test_no_output_is_written_outside_the_out_dir(run_cli, tmp_path):
    w = tmp_path / "w"
    save(w / "sub1" / "x.png")
    save(tmp_path / "other" / "x.png", seed=1)
    before = files_below(tmp_path)
    proc = run_cli("compress", "sub*/../../other/*.png", "-k", "8", "--out-dir", "out", cwd=w)
    assert proc.returncode in (0, 1)
    written = files_below(tmp_path) - before
    assert all(p.startswith("w/out/") for p in written), written
    # --files-from entries are literal paths, never globs, and cannot climb out either.
    (tmp_path / "list.txt").write_text("sub*/x.png\n../other/x.png\n")
    proc = run_cli(
        "compress", "--files-from", tmp_path / "list.txt", "-k", "8", "--out-dir", "out2", "-f", "--json", cwd=w
    )
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert rows[0]["status"] == "error" and rows[0]["error"].endswith("sub*/x.png: no such file")
    assert rows[1]["output"] == "out2/x.png"
    assert all(p.startswith(("w/out/", "w/out2/")) for p in files_below(tmp_path) - before - {"list.txt"})


def test_an_output_never_replaces_its_input_except_in_place_on_request(run_cli, tmp_path):
    src = save(tmp_path / "a.png")
    original = src.read_bytes()
    proc = run_cli("compress", ".", "--out-dir", ".", "-f", "-k", "8", cwd=tmp_path, check_rc=1)
    assert "would replace the input" in error_lines(proc)[0]
    assert src.read_bytes() == original
    proc = run_cli("compress", src, "--ext", ".jpg", "-f", "-k", "8", check_rc=2)
    assert "--ext must end in .png" in error_lines(proc)[0]
    run_cli("compress", src, "--ext", ".png", "--force", "-k", "8", check_rc=0)  # the pngquant idiom
    assert src.read_bytes() != original and src.read_bytes()[:4] == b"\x89PNG"


def test_o_never_names_its_own_input(run_cli, tmp_path):
    """-o is never the in-place route: not by the same name, nor through a link, nor
    with -f, on the short form and through Typer (--seed), for a PNG and a JPEG."""
    src = save(tmp_path / "a.png")
    (tmp_path / "alias.png").symlink_to("a.png")
    jpeg = tmp_path / "r.jpg"
    iio.imwrite(jpeg, gradient_image(24, 32, seed=3)[..., :3])
    originals = {p: p.read_bytes() for p in (src, jpeg)}
    for args in (
        ("a.png", "-o", "a.png", "-f"),
        ("a.png", "-o", "a.png", "-f", "--seed", "0"),
        ("alias.png", "-o", "a.png", "-f"),
        ("a.png", "-o", "alias.png", "-f"),
        ("r.jpg", "-o", "r.jpg", "-f"),
    ):
        proc = run_cli("compress", *args, "-k", "8", cwd=tmp_path, check_rc=1)
        assert len(error_lines(proc)) == 1 and "would replace the input" in error_lines(proc)[0], args
        assert all(p.read_bytes() == data for p, data in originals.items()), args
    assert (tmp_path / "alias.png").is_symlink()


def test_earlier_outputs_are_recognised_whatever_made_them(run_cli, tmp_path):
    src = tmp_path / "icons"
    save(src / "icon.png")
    save(src / "deep" / "small.png", seed=1)
    run_cli("compress", src, "-r", "-k", "16", check_rc=0)  # icon-q16.png beside each input
    run_cli("compress", src, "-r", "-k", "16", "--out-dir", src / "small16", check_rc=0)
    proc = run_cli("compress", src, "-r", "-k", "32", "--out-dir", src / "small32", "--json", check_rc=0)
    done = sorted(Path(json.loads(line)["path"]).relative_to(src).as_posix() for line in proc.stdout.splitlines())
    assert done == ["deep/small.png", "icon.png"]


def test_skip_existing_makes_a_clean_incremental_run(run_cli, tmp_path):
    save(tmp_path / "in" / "a.png")
    save(tmp_path / "in" / "b.png", seed=1)
    run_cli("compress", tmp_path / "in", "-k", "8", "--out-dir", tmp_path / "out", check_rc=0)
    save(tmp_path / "in" / "c.png", seed=2)
    proc = run_cli("compress", tmp_path / "in", "-k", "8", "--out-dir", tmp_path / "out", "--skip-existing", "--json")
    assert proc.returncode == 0
    status = {Path(r["path"]).name: (r["status"], r["psnr"]) for r in map(json.loads, proc.stdout.splitlines())}
    assert status["a.png"] == ("skipped", None) and status["c.png"][0] == "written"


def test_plot_follows_the_no_overwrite_rule_and_its_suffix(run_cli, tmp_path):
    src = save(tmp_path / "a.png", size=40)
    original = src.read_bytes()
    proc = run_cli("choose-k", src, "--ks", "2,4", "--plot", src, check_rc=2)
    assert "exists (use --force to overwrite)" in error_lines(proc)[0]
    assert src.read_bytes() == original
    proc = run_cli("choose-k", src, "--ks", "2,4", "--plot", tmp_path / "c.gif", check_rc=2)
    assert ".png, .svg or .pdf" in error_lines(proc)[0]
    run_cli("choose-k", src, "--ks", "2,4", "--plot", tmp_path / "c.svg", check_rc=0)
    assert (tmp_path / "c.svg").read_text().lstrip().startswith("<?xml")


def test_sigint_finishes_files_in_flight_and_reports_what_was_done(tmp_path):
    for i in range(40):
        save(tmp_path / "in" / f"{i:02}.png", seed=i, size=200)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [*cli_command(), "compress", tmp_path / "in", "-k", "256", "-j", "1", "--out-dir", out, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not (out.exists() and any(out.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    rows = [json.loads(line) for line in stdout.splitlines()]
    assert 0 < len(rows) < 40
    assert files_below(out) == {Path(r["output"]).name for r in rows if r["status"] == "written"}
    assert stderr.decode().rstrip().endswith("interrupted")
    assert "Traceback" not in stderr.decode()


def test_sigterm_exits_143(tmp_path):
    for i in range(20):
        save(tmp_path / "in" / f"{i:02}.png", seed=i, size=200)
    proc = subprocess.Popen(
        [*cli_command(), "compress", tmp_path / "in", "-k", "256", "-j", "1", "--out-dir", tmp_path / "out"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode in (143, 0), stderr  # 0 only if it finished first
    assert "Traceback" not in stderr.decode()


def test_stdout_errors_are_one_line(tmp_path):
    for i in range(30):
        save(tmp_path / "in" / f"{i:02}.png", seed=i)
    argv = [*map(str, cli_command()), "compress", str(tmp_path / "in"), "-k", "8", "--json", "-j", "1"]
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([*argv, "--out-dir", str(tmp_path / "o1")], stdout=full, stderr=subprocess.PIPE)
    assert proc.returncode == 1
    assert proc.stderr.decode().splitlines() == [
        "quantcli: error: cannot write to standard output (No space left on device)"
    ]
    # A closed pipe (| head -1) stops the batch quietly.
    shell = subprocess.run(
        " ".join(f"'{a}'" for a in [*argv, "--out-dir", str(tmp_path / "o2")]) + " | head -n 1",
        shell=True,
        capture_output=True,
    )
    assert len(shell.stdout.splitlines()) == 1
    assert "Traceback" not in shell.stderr.decode() and "Broken pipe" not in shell.stderr.decode()


def test_a_pipe_closed_mid_image_exits_141(tmp_path):
    """A PNG larger than the pipe's buffer, its reader gone after 10 bytes: the short
    write is not taken for success (exit 141, nothing on stderr)."""
    rng = np.random.default_rng(0)
    iio.imwrite(tmp_path / "noise.png", rng.integers(0, 256, (400, 400, 3), dtype=np.uint8))
    argv = [*map(str, cli_command()), "compress", str(tmp_path / "noise.png"), "-k", "256", "-o", "-"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert len(proc.stdout.read(10)) == 10
    proc.stdout.close()
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 141, stderr
    assert stderr == b""


@pytest.mark.parametrize("command", ["choose-k", "inspect"])
def test_a_table_to_a_closed_pipe_exits_141(tmp_path, command):
    save(tmp_path / "a.png")
    argv = [*map(str, cli_command()), command, str(tmp_path / "a.png")]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # closed before the table is written
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 141, stderr
    assert b"Traceback" not in stderr and b"Broken pipe" not in stderr


def test_nothing_to_do_answers_the_same_everywhere(run_cli, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "x.png").mkdir()  # a folder named like an image
    for arg, kind in ((tmp_path / "empty", "folder"), (tmp_path / "x.png", "folder"), (tmp_path / "*.jpg", "pattern")):
        proc = run_cli("compress", arg, "-k", "8", check_rc=1)
        assert error_lines(proc) == [f"quantcli: error: {arg}: no image found in this {kind}"]


def test_control_characters_in_names_are_escaped(run_cli, tmp_path):
    bad = tmp_path / "evil\x1b[31m\nname.png"
    bad.write_bytes(b"not an image")
    proc = run_cli("compress", bad, "-k", "8", check_rc=1)
    [line] = error_lines(proc)
    assert "\x1b" not in line and "\\x1b" in line and "\\n" in line


def test_png_to_a_terminal_is_refused_unless_asked(tmp_path):
    src = save(tmp_path / "a.png")
    pid, fd = pty.fork()
    if pid == 0:  # the child: stdout is a terminal
        os.execv(cli_command()[0], [*cli_command(), "compress", str(src), "-o", "-", "-k", "8"])
    output = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 2
    assert b"refusing to write a PNG to a terminal" in output and b"\x89PNG" not in output


def test_json_names_the_palette_size_with_a_palette_file(run_cli, tmp_path):
    pal = tmp_path / "pal.png"
    iio.imwrite(pal, np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0]]], np.uint8))
    src = save(tmp_path / "a.png")
    proc = run_cli("compress", src, "--palette", pal, "--json", "-o", tmp_path / "o.png", check_rc=0)
    assert json.loads(proc.stdout)["k"] == 3


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a shell")
def test_help_shows_flags_and_arguments_plainly(run_cli):
    text = run_cli("compress", "--help").stdout.decode()
    assert "INPUT..." in text and "--force" in text
    assert "<bool>" not in text and "list[str]" not in text
    # Every command's options show a named value (K, N, DIR...), never Click's type names.
    commands = ["compress", "choose-k", "inspect", "similar", "serve", "users add", "users passwd", "users list"]
    for command in commands:
        text = run_cli(*command.split(), "--help", check_rc=0).stdout.decode()
        assert not re.search(r"<(int|float|str|text|integer|int range|float range|path)>", text), command


def test_a_listed_folder_keeps_its_path_below_the_out_dir(run_cli, tmp_path):
    save(tmp_path / "sk" / "a.png")
    save(tmp_path / "sk" / "b.png", seed=1)
    save(tmp_path / "c.png", seed=2)
    run_cli(
        "compress",
        "--files-from",
        "-",
        "-k",
        "8",
        "--out-dir",
        "X",
        stdin=b"sk/a.png\nsk\nc.png\n",
        cwd=tmp_path,
        check_rc=0,
    )
    assert files_below(tmp_path / "X") == {"sk/a.png", "sk/b.png", "c.png"}
