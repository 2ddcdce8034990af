"""The ``quantcli compress`` command, run as a shell user runs it, plus in-process parsing.

Most tests start the CLI as a subprocess (``run_cli``) on small images in a temporary
folder, then check what a user would: which files exist, that each decodes (Pillow) as a
palette PNG with at most K colours, stdout/stderr line by line, and the exit code.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import cli_command, gradient_image
from PIL import Image
from quantcli.cli import app
from typer.testing import CliRunner

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JSON_KEYS = {
    "path",
    "output",
    "k",
    "colors",
    "bytes_in",
    "bytes_out",
    "ratio",
    "psnr",
    "quality",
    "target_met",
    "kept_input",
    "seconds",
    "status",
    "error",
}


# --- helpers ---------------------------------------------------------------------------


def save(path: Path, seed: int = 0, *, h: int = 32, w: int = 48) -> Path:
    """Write a photo-like gradient to ``path`` (format from the extension); return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(gradient_image(h, w, seed=seed)).save(path)
    return path


def save_tiny(path: Path) -> Path:
    """An 8x8 two-colour checkerboard saved as an optimised 1-bit PNG: no K can shrink it."""
    checker = (np.indices((8, 8)).sum(0) % 2 * 255).astype(np.uint8)
    Image.fromarray(checker).convert("1").save(path, optimize=True)
    return path


def decode_colors(source: Path | bytes) -> tuple[tuple[int, int], int]:
    """Decode a PNG with Pillow; return (size, number of distinct RGBA colours)."""
    data = source if isinstance(source, bytes) else source.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "PNG"
        assert im.mode in ("P", "1", "L")  # a palette (or 1-bit) image, not truecolour
        im.load()
        colors = im.convert("RGBA").getcolors(maxcolors=1 << 16)
        return im.size, len(colors)


def assert_png(source: Path | bytes, k: int, size: tuple[int, int] = (48, 32)) -> None:
    """``source`` is a valid PNG of ``size`` (w, h) with at most ``k`` colours."""
    got_size, n = decode_colors(source)
    assert got_size == size
    assert 1 <= n <= k


def files_under(root: Path) -> set[str]:
    """Every regular file below ``root``, as POSIX paths relative to it."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def snapshot(root: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every file below ``root``."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def temp_leftovers(root: Path) -> list[Path]:
    """Temporary files an atomic write could leave behind (``.NAME.XXXX.tmp``)."""
    return [p for p in root.rglob(".*.tmp")]


def error_lines(proc) -> list[str]:
    """The ``quantcli: error: ...`` lines of a finished run's stderr."""
    return [line for line in proc.stderr.decode().splitlines() if line.startswith("quantcli: error:")]


def json_rows(text: bytes | str) -> list[dict]:
    """Parse one JSON object per non-empty line."""
    if isinstance(text, bytes):
        text = text.decode()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """src/ with images at three depths, a JPEG, and a text file the CLI must ignore."""
    src = tmp_path / "src"
    save(src / "a.png", 0)
    save(src / "b.png", 1)
    save(src / "sub" / "c.png", 2)
    save(src / "sub" / "deep" / "d.jpg", 3)
    (src / "notes.txt").write_text("not an image\n")
    return src


# --- folders, --recursive, --out-dir, naming -------------------------------------------


def test_recursive_out_dir_mirrors_tree(run_cli, tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    before = snapshot(tree)
    run_cli("compress", tree, "--recursive", "-k", "16", "--out-dir", out, check_rc=0)
    assert files_under(out) == {"a.png", "b.png", "sub/c.png", "sub/deep/d.png"}
    for name in files_under(out):
        assert_png(out / name, 16)
    assert snapshot(tree) == before  # inputs untouched, nothing written beside them


def test_folder_without_recursive_does_top_level_only(run_cli, tree: Path) -> None:
    run_cli("compress", tree, "-k", "16", check_rc=0)
    made = files_under(tree) - {"a.png", "b.png", "sub/c.png", "sub/deep/d.jpg", "notes.txt"}
    assert made == {"a-q16.png", "b-q16.png"}
    assert_png(tree / "a-q16.png", 16)


def test_default_name_beside_input(run_cli, tmp_path: Path) -> None:
    photo = save(tmp_path / "photo.jpg")
    run_cli("compress", photo, "-k", "16", check_rc=0)
    assert_png(tmp_path / "photo-q16.png", 16)
    assert files_under(tmp_path) == {"photo.jpg", "photo-q16.png"}


@pytest.mark.parametrize(("ext", "expected"), [(".small.png", "a.small.png"), ("_k{K}.png", "a_k8.png")])
def test_ext_names_the_output(run_cli, tmp_path: Path, ext: str, expected: str) -> None:
    save(tmp_path / "a.png")
    run_cli("compress", tmp_path / "a.png", "-k", "8", "--ext", ext, check_rc=0)
    assert files_under(tmp_path) == {"a.png", expected}
    assert_png(tmp_path / expected, 8)


def test_ext_applies_in_out_dir(run_cli, tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_cli("compress", tree, "-r", "-k", "4", "--out-dir", out, "--ext", ".q.png", check_rc=0)
    assert files_under(out) == {"a.q.png", "b.q.png", "sub/c.q.png", "sub/deep/d.q.png"}


def test_rerun_beside_input_does_not_compress_own_outputs(run_cli, tree: Path) -> None:
    run_cli("compress", tree, "-k", "16", check_rc=0)
    first = snapshot(tree)
    proc = run_cli("compress", tree, "-k", "16", "--force", check_rc=0)
    assert snapshot(tree) == first  # no a-q16-q16.png, same bytes again
    assert b"2 written" in proc.stderr


@pytest.mark.parametrize("source", [".", "**/*.png"])
def test_rerun_into_out_dir_inside_input_tree_does_not_nest(run_cli, tree: Path, source: str) -> None:
    # `quantcli compress . -r --out-dir small/` twice must not compress small/ into small/small/.
    run_cli("compress", source, "-r", "-k", "8", "--out-dir", "small", cwd=tree, check_rc=0)
    first = snapshot(tree)
    run_cli("compress", source, "-r", "-k", "8", "--out-dir", "small", "--force", cwd=tree, check_rc=0)
    assert snapshot(tree) == first
    assert not (tree / "small" / "small").exists()


def test_glob_mirrors_below_its_fixed_prefix(run_cli, tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_cli("compress", f"{tree}/**/*.png", "-k", "8", "--out-dir", out, check_rc=0)
    assert files_under(out) == {"a.png", "b.png", "sub/c.png"}  # d.jpg does not match


def test_glob_matching_nothing_is_an_error(run_cli, tmp_path: Path) -> None:
    pattern = f"{tmp_path}/nothing/*.png"
    proc = run_cli("compress", pattern, "-k", "8", check_rc=1)
    [line] = error_lines(proc)
    assert pattern in line


# --- every input format the conversion rule covers -------------------------------------


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def test_input_formats_come_out_close_to_the_original(run_cli, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    photo = Image.fromarray(gradient_image(32, 48, seed=5))
    photo.convert("CMYK").save(src / "cmyk.jpg", quality=95)
    photo.convert("L").save(src / "grey.png")
    grey16 = np.asarray(photo.convert("L")).astype(np.uint16) * 257
    Image.fromarray(grey16).save(src / "grey16.png")
    photo.convert("LA").save(src / "greyalpha.png")
    photo.save(src / "pal.gif")
    photo.save(src / "bmp.bmp")
    photo.save(src / "webp.webp", lossless=True)
    photo.save(src / "tiff.tiff")
    photo.save(src / "ppm.ppm")
    out = tmp_path / "out"
    proc = run_cli("compress", src, "-k", "8", "--out-dir", out, "--json", check_rc=0)
    rows = json_rows(proc.stdout)
    assert len(rows) == 9
    for row in rows:
        name = Path(row["path"]).name
        assert row["status"] == "written" and row["colors"] == 8, name
        with Image.open(row["path"]) as original, Image.open(row["output"]) as result:
            # Pillow clips 16-bit grey to 8 bits instead of scaling it: use the 8-bit source.
            reference = photo.convert("L") if name == "grey16.png" else original
            want = np.asarray(reference.convert("RGBA"))
            got = np.asarray(result.convert("RGBA"))
        assert got.shape == want.shape, name
        assert _psnr(got, want) > 18, name  # a CMYK K channel read as alpha fails this


# --- never overwrite without --force ---------------------------------------------------


def _existing(path: Path) -> tuple[bytes, int]:
    path.write_bytes(b"precious, not a PNG")
    os.utime(path, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    return path.read_bytes(), path.stat().st_mtime_ns


def _assert_unchanged(path: Path, state: tuple[bytes, int]) -> None:
    assert (path.read_bytes(), path.stat().st_mtime_ns) == state


def test_refuses_to_overwrite_beside_input_then_force(run_cli, tmp_path: Path) -> None:
    src = save(tmp_path / "a.png")
    target = tmp_path / "a-q16.png"
    state = _existing(target)
    proc = run_cli("compress", src, "-k", "16", check_rc=1)
    _assert_unchanged(target, state)
    [line] = error_lines(proc)
    assert str(target) in line and "--force" in line
    assert temp_leftovers(tmp_path) == []

    run_cli("compress", src, "-k", "16", "--force", check_rc=0)
    assert_png(target, 16)


def test_refuses_to_overwrite_output_file(run_cli, tmp_path: Path) -> None:
    src = save(tmp_path / "a.png")
    target = tmp_path / "result.png"
    state = _existing(target)
    proc = run_cli("compress", src, "-k", "8", "-o", target, check_rc=1)
    _assert_unchanged(target, state)
    [line] = error_lines(proc)
    assert str(target) in line
    run_cli("compress", src, "-k", "8", "-o", target, "-f", check_rc=0)
    assert_png(target, 8)


def test_refuses_to_overwrite_in_out_dir_but_writes_the_rest(run_cli, tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    state = _existing(out / "b.png")
    proc = run_cli("compress", tree, "-k", "8", "--out-dir", out, check_rc=1)
    _assert_unchanged(out / "b.png", state)
    [line] = error_lines(proc)
    assert str(out / "b.png") in line
    assert_png(out / "a.png", 8)


def test_two_inputs_with_one_output_name(run_cli, tmp_path: Path) -> None:
    # x/a.png and y/a.jpg both map to out/a.png: the first wins, the second is an error.
    first, second = save(tmp_path / "x" / "a.png", 0), save(tmp_path / "y" / "a.jpg", 1)
    out = tmp_path / "out"
    proc = run_cli("compress", first, second, "-k", "8", "--out-dir", out, check_rc=1)
    [line] = error_lines(proc)
    assert str(second) in line and str(out / "a.png") in line
    assert files_under(out) == {"a.png"}
    run_cli("compress", first, "-k", "8", "-o", tmp_path / "ref.png", check_rc=0)
    assert (out / "a.png").read_bytes() == (tmp_path / "ref.png").read_bytes()


def test_stdin_refuses_to_overwrite_output_file(run_cli, tmp_path: Path) -> None:
    data = save(tmp_path / "a.png").read_bytes()
    target = tmp_path / "result.png"
    state = _existing(target)
    proc = run_cli("compress", "-", "-k", "8", "-o", target, stdin=data, check_rc=1)
    _assert_unchanged(target, state)
    assert len(error_lines(proc)) == 1
    run_cli("compress", "-", "-k", "8", "-o", target, "--force", stdin=data, check_rc=0)
    assert_png(target, 8)


# --- no partial outputs ----------------------------------------------------------------


def test_corrupt_input_leaves_no_output_and_no_temp_file(run_cli, tmp_path: Path) -> None:
    good = save(tmp_path / "in" / "good.png")
    bad = tmp_path / "in" / "bad.png"
    bad.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    out = tmp_path / "out"
    proc = run_cli("compress", bad, "-k", "8", "--out-dir", out, check_rc=1)
    assert not (out / "bad.png").exists()
    assert temp_leftovers(tmp_path) == []
    [line] = error_lines(proc)
    assert str(bad) in line


def test_output_parent_is_a_file_fails_cleanly(run_cli, tree: Path, tmp_path: Path) -> None:
    # Works as root too: mkdir under a regular file fails whatever the permissions.
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"a file, not a folder")
    proc = run_cli(
        "compress",
        tree / "a.png",
        tree / "b.png",
        "-k",
        "8",
        "--out-dir",
        blocker / "out",
        check_rc=2,
    )
    # Found before any work: one line naming the out-dir, not one per image.
    [line] = error_lines(proc)
    assert f"--out-dir {blocker / 'out'}: cannot create" in line
    assert blocker.read_bytes() == b"a file, not a folder"
    assert temp_leftovers(tmp_path) == []


def test_output_name_too_long_fails_that_file_only(run_cli, tmp_path: Path) -> None:
    # A 254-byte input name is fine; "-q8.png" pushes its output past NAME_MAX (255).
    long_name = save(tmp_path / ("x" * 250 + ".png"))
    save(tmp_path / "short.png")
    proc = run_cli("compress", tmp_path, "-k", "8", "--jobs", "1", check_rc=1)
    assert "Traceback" not in proc.stderr.decode()
    [line] = error_lines(proc)
    assert long_name.stem in line
    assert_png(tmp_path / "short-q8.png", 8)
    assert temp_leftovers(tmp_path) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes through chmod 0o500")
def test_unwritable_out_dir_fails_cleanly(run_cli, tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o500)
    try:
        proc = run_cli("compress", tree / "a.png", "-k", "8", "--out-dir", out, check_rc=2)
        assert list(out.iterdir()) == []
    finally:
        out.chmod(0o700)
    [line] = error_lines(proc)
    assert f"--out-dir {out}: not writable" in line


# --- stdin and stdout ------------------------------------------------------------------


def test_stdin_to_stdout(run_cli, tmp_path: Path) -> None:
    src = save(tmp_path / "a.png")
    proc = run_cli("compress", "-", "-k", "8", stdin=src.read_bytes(), check_rc=0)
    assert_png(proc.stdout, 8)
    # The same bytes as compressing the file to a file.
    run_cli("compress", src, "-k", "8", "-o", tmp_path / "file.png", check_rc=0)
    assert proc.stdout == (tmp_path / "file.png").read_bytes()
    assert files_under(tmp_path) == {"a.png", "file.png"}


def test_stdin_jpeg_to_output_file(run_cli, tmp_path: Path) -> None:
    data = save(tmp_path / "a.jpg").read_bytes()
    proc = run_cli("compress", "-", "-k", "4", "-o", tmp_path / "out.png", stdin=data, check_rc=0)
    assert proc.stdout == b""
    assert_png(tmp_path / "out.png", 4)


def test_file_to_stdout_with_dash_output(run_cli, tmp_path: Path) -> None:
    src = save(tmp_path / "a.png")
    proc = run_cli("compress", src, "-k", "8", "-o", "-", check_rc=0)
    assert_png(proc.stdout, 8)
    assert files_under(tmp_path) == {"a.png"}


def test_json_goes_to_stderr_when_stdout_holds_the_image(run_cli, tmp_path: Path) -> None:
    src = save(tmp_path / "a.png")
    proc = run_cli("compress", "-", "-k", "8", "--json", stdin=src.read_bytes(), check_rc=0)
    assert_png(proc.stdout, 8)  # nothing but the PNG on stdout
    [row] = [json.loads(line) for line in proc.stderr.decode().splitlines() if line.startswith("{")]
    assert set(row) == JSON_KEYS
    assert row["status"] == "written" and row["bytes_out"] == len(proc.stdout)


def test_stdin_not_an_image(run_cli) -> None:
    proc = run_cli("compress", "-", "-k", "8", stdin=b"hello, world\n", check_rc=1)
    assert proc.stdout == b""
    [line] = error_lines(proc)
    assert "<stdin>" in line


def test_stdin_skip_if_larger_passes_the_original_through(run_cli, tmp_path: Path) -> None:
    tiny = save_tiny(tmp_path / "tiny.png").read_bytes()
    proc = run_cli("compress", "-", "-k", "2", "--skip-if-larger", stdin=tiny, check_rc=0)
    assert proc.stdout == tiny  # the pipe still carries an image: the original


def test_file_to_stdout_skip_if_larger_passes_the_original_through(run_cli, tmp_path: Path) -> None:
    tiny = save_tiny(tmp_path / "tiny.png")
    proc = run_cli("compress", tiny, "-k", "2", "-o", "-", "--skip-if-larger", "--json", check_rc=0)
    assert proc.stdout == tiny.read_bytes()
    [row] = json_rows(proc.stderr.decode().splitlines()[0])
    assert row["status"] == "skipped"


def test_stdin_skip_if_larger_writes_no_output_file(run_cli, tmp_path: Path) -> None:
    tiny = save_tiny(tmp_path / "tiny.png").read_bytes()
    proc = run_cli(
        "compress",
        "-",
        "-k",
        "2",
        "--skip-if-larger",
        "--json",
        "-o",
        tmp_path / "o.png",
        stdin=tiny,
        check_rc=0,
    )
    assert not (tmp_path / "o.png").exists()
    [row] = json_rows(proc.stdout)
    assert row["status"] == "skipped" and row["output"] is None


# --- --files-from ----------------------------------------------------------------------


def test_files_from_newline_list(run_cli, tmp_path: Path) -> None:
    save(tmp_path / "one.png", 0)
    save(tmp_path / "two words.png", 1)
    save(tmp_path / "skipped.png", 2)
    (tmp_path / "list.txt").write_bytes(b"one.png\r\n\ntwo words.png\n")  # CRLF and a blank line
    run_cli("compress", "--files-from", "list.txt", "-k", "8", cwd=tmp_path, check_rc=0)
    assert_png(tmp_path / "one-q8.png", 8)
    assert_png(tmp_path / "two words-q8.png", 8)
    assert not (tmp_path / "skipped-q8.png").exists()


def test_files_from_stdin_nul_separated_mirrors_like_rsync(run_cli, tmp_path: Path) -> None:
    # As `find . -name '*.*' -print0` writes it; with --out-dir the listed tree is mirrored,
    # so same-named files in two folders do not collide.
    names = [
        "with space.png",
        "färg bild.png",
        "-dash.png",
        "./sub dir/x.jpg",
        "a/img.png",
        "b/img.png",
    ]
    for i, name in enumerate(names):
        save(tmp_path / name, i)
    listing = b"".join(os.fsencode(name) + b"\0" for name in names)
    args = ["--files-from", "-", "-0", "-k", "8", "--out-dir", "out", "--json"]
    proc = run_cli("compress", *args, stdin=listing, cwd=tmp_path, check_rc=0)
    rows = json_rows(proc.stdout)
    assert [r["path"] for r in rows] == [str(Path(name)) for name in names]
    expected = {
        "with space.png",
        "färg bild.png",
        "-dash.png",
        "sub dir/x.png",
        "a/img.png",
        "b/img.png",
    }
    assert files_under(tmp_path / "out") == expected
    for name in expected:
        assert_png(tmp_path / "out" / name, 8)


def test_files_from_entries_are_literal_paths(run_cli, tmp_path: Path) -> None:
    # A listed "-" is a file named "-", not stdin; a listed "[1].png" is not a glob.
    save(tmp_path / "dash.png").rename(tmp_path / "-")
    save(tmp_path / "[1].png", 1)
    (tmp_path / "list.txt").write_text("-\n[1].png\n")
    run_cli("compress", "--files-from", "list.txt", "-k", "8", cwd=tmp_path, stdin=b"", check_rc=0)
    assert_png(tmp_path / "--q8.png", 8)
    assert_png(tmp_path / "[1]-q8.png", 8)


def test_files_from_missing_list_is_a_usage_error(run_cli, tmp_path: Path) -> None:
    proc = run_cli("compress", "--files-from", tmp_path / "nope.txt", "-k", "8", check_rc=2)
    assert "nope.txt" in proc.stderr.decode()


def test_files_from_names_a_missing_file(run_cli, tmp_path: Path) -> None:
    save(tmp_path / "ok.png")
    (tmp_path / "list.txt").write_text("ok.png\ngone.png\n")
    proc = run_cli("compress", "--files-from", "list.txt", "-k", "8", cwd=tmp_path, check_rc=1)
    [line] = error_lines(proc)
    assert "gone.png" in line
    assert_png(tmp_path / "ok-q8.png", 8)


# --- --json ----------------------------------------------------------------------------


def test_json_rows_for_written_skipped_and_error(run_cli, tmp_path: Path) -> None:
    src = tmp_path / "src"
    save(src / "a.png")
    save_tiny(src / "b.png")
    (src / "c.png").write_bytes(b"")
    out = tmp_path / "out"
    proc = run_cli("compress", src, "-k", "8", "--out-dir", out, "--json", "--skip-if-larger", check_rc=1)
    rows = json_rows(proc.stdout)
    assert [r["path"] for r in rows] == [str(src / n) for n in ("a.png", "b.png", "c.png")]
    for row in rows:
        assert set(row) == JSON_KEYS
        assert row["k"] == 8
    written, skipped, failed = rows
    assert written["status"] == "written" and written["error"] is None
    assert written["output"] == str(out / "a.png")
    assert written["bytes_in"] == (src / "a.png").stat().st_size
    assert written["bytes_out"] == (out / "a.png").stat().st_size
    assert written["ratio"] == pytest.approx(written["bytes_out"] / written["bytes_in"], rel=1e-5)
    assert written["colors"] == 8 and written["psnr"] > 15 and written["seconds"] >= 0
    assert skipped["status"] == "skipped" and skipped["output"] is None and skipped["error"] is None
    assert skipped["bytes_out"] == skipped["bytes_in"]  # the original is what remains
    assert failed["status"] == "error" and "c.png" in failed["error"]
    assert files_under(out) == {"a.png"}  # the skipped file wrote nothing


def test_skip_if_larger_alone_exits_zero(run_cli, tmp_path: Path) -> None:
    tiny = save_tiny(tmp_path / "tiny.png")
    proc = run_cli("compress", tiny, "-k", "2", "--skip-if-larger", "--json", check_rc=0)
    [row] = json_rows(proc.stdout)
    assert row["status"] == "skipped"
    assert files_under(tmp_path) == {"tiny.png"}
    assert "1 skipped" in proc.stderr.decode()


def test_json_and_summary_say_whether_the_quality_target_was_met(run_cli, tmp_path: Path) -> None:
    src = tmp_path / "src"
    save(src / "a.png", 1)
    save(src / "b.png", 2)
    # Eight colours cannot reach 99: K is the cap, and the rows and the summary say so.
    proc = run_cli("compress", src, "-k", "8", "--quality", "99", "--out-dir", tmp_path / "out", "--json", check_rc=0)
    rows = json_rows(proc.stdout)
    assert [(r["k"], r["target_met"]) for r in rows] == [(8, False), (8, False)]
    assert all(0 <= r["quality"] < 99 for r in rows)
    assert proc.stderr.decode().splitlines()[-1].endswith("; 2 below their target (the most colours allowed were used)")
    proc = run_cli("compress", src / "a.png", "-k", "64", "--quality", "20", "-o", tmp_path / "met.png", "--json")
    [row] = json_rows(proc.stdout)
    assert row["target_met"] is True and row["quality"] >= 20 and row["k"] < 64
    assert "target" not in proc.stderr.decode()
    proc = run_cli("compress", src / "a.png", "-k", "8", "-o", tmp_path / "fixed.png", "--json")
    [row] = json_rows(proc.stdout)
    assert row["target_met"] is None and row["quality"] is None  # no target


def test_json_says_whether_the_psnr_target_was_met(run_cli, tmp_path: Path) -> None:
    src = save(tmp_path / "a.png", 1)
    args = ["compress", src, "-k", "auto", "--method", "quality", "--json", "--force"]
    [missed] = json_rows(run_cli(*args, "--min-psnr", "90", check_rc=0).stdout)
    assert missed["target_met"] is False and missed["k"] == 256 and missed["psnr"] < 90
    assert missed["quality"] is None  # a PSNR target: psnr is the value reached
    [met] = json_rows(run_cli(*args, "--min-psnr", "20", check_rc=0).stdout)
    assert met["target_met"] is True and met["psnr"] >= 20 and met["k"] < 256


def test_lossless_input_has_null_psnr(run_cli, tmp_path: Path) -> None:
    tiny = save_tiny(tmp_path / "tiny.png")
    proc = run_cli("compress", tiny, "-k", "2", "--json", check_rc=0)
    [row] = json_rows(proc.stdout)
    assert row["colors"] == 2 and row["psnr"] is None  # JSON has no Infinity


# --- exit codes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["-k", "1", "{a}"], id="k-too-small"),
        pytest.param(["-k", "300", "{a}"], id="k-too-large"),
        pytest.param(["{a}", "{b}", "-o", "{dir}/x.png"], id="output-with-two-inputs"),
        pytest.param([], id="no-input"),
        pytest.param(["-0", "{a}"], id="null-without-files-from"),
        pytest.param(["-", "{a}"], id="stdin-plus-files"),
    ],
)
def test_usage_errors_exit_2_and_write_nothing(run_cli, tmp_path: Path, args: list[str]) -> None:
    a, b = save(tmp_path / "a.png", 0), save(tmp_path / "b.png", 1)
    before = files_under(tmp_path)
    argv = [arg.format(a=a, b=b, dir=tmp_path) for arg in args]
    proc = run_cli("compress", *argv, stdin=b"", check_rc=2)
    assert proc.stderr.strip()
    assert proc.stdout == b""
    assert files_under(tmp_path) == before


def test_exit_0_when_all_written_and_1_when_some_fail(run_cli, tmp_path: Path) -> None:
    good = save(tmp_path / "good.png")
    run_cli("compress", good, "-k", "8", check_rc=0)
    run_cli("compress", good, tmp_path / "missing.png", "-k", "8", "--force", check_rc=1)


# --- a folder with corrupt files ----------------------------------------------------


def test_folder_with_corrupt_files(run_cli, tmp_path: Path) -> None:
    src = tmp_path / "src"
    good = save(src / "good.png", 0)
    save(src / "good2.jpg", 1)
    (src / "zero.png").write_bytes(b"")
    (src / "truncated.png").write_bytes(good.read_bytes()[:200])
    (src / "text.png").write_text("this is text, not a PNG\n")
    (src / "notimage.jpg").write_bytes(b"\x00\x01binary junk" * 20)
    out = tmp_path / "out"
    proc = run_cli("compress", src, "-k", "8", "--out-dir", out, "--jobs", "2", check_rc=1)
    lines = error_lines(proc)
    bad = ["notimage.jpg", "text.png", "truncated.png", "zero.png"]
    assert len(lines) == len(bad)
    for name in bad:
        [line] = [line for line in lines if f"{src / name}:" in line]
        assert "Traceback" not in line
    assert "Traceback" not in proc.stderr.decode()
    assert files_under(out) == {"good.png", "good2.png"}
    assert_png(out / "good.png", 8)
    assert_png(out / "good2.png", 8)
    assert temp_leftovers(tmp_path) == []
    summary = proc.stderr.decode().splitlines()[-1]
    assert "2 written" in summary and "4 failed" in summary


# --- determinism -----------------------------------------------------------------------


def test_same_bytes_for_any_jobs_and_every_run(run_cli, tmp_path: Path) -> None:
    src = tmp_path / "src"
    for i in range(6):
        save(src / f"sub{i % 2}" / f"img{i}.png", i)
    outs = []
    for jobs in ("1", "2", "2"):
        out = tmp_path / f"out-{len(outs)}"
        run_cli(
            "compress",
            src,
            "-r",
            "-k",
            "12",
            "--dither",
            "on",
            "--seed",
            "7",
            "--jobs",
            jobs,
            "--out-dir",
            out,
            check_rc=0,
        )
        outs.append(snapshot(out))
    assert len(outs[0]) == 6
    assert outs[0] == outs[1] == outs[2]


def test_json_order_follows_inputs_whatever_jobs(run_cli, tree: Path, tmp_path: Path) -> None:
    def rows(jobs: str) -> list[tuple]:
        proc = run_cli(
            "compress",
            tree,
            "-r",
            "-k",
            "8",
            "--jobs",
            jobs,
            "--json",
            "--out-dir",
            tmp_path / f"o{jobs}",
            check_rc=0,
        )
        return [(r["path"], r["bytes_out"], r["psnr"]) for r in json_rows(proc.stdout)]

    assert rows("1") == rows("2")


# --- progress and summary on stderr ----------------------------------------------------


def test_no_progress_bar_when_stderr_is_not_a_terminal(
    run_cli, tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # FORCE_COLOR asks for colour, not for a progress bar in a log file.
    monkeypatch.setenv("FORCE_COLOR", "1")
    proc = run_cli("compress", tree, "-r", "-k", "8", "--out-dir", tmp_path / "out", check_rc=0)
    assert proc.stdout == b""
    stderr = proc.stderr.decode()
    assert "\x1b" not in stderr and "\r" not in stderr
    [summary] = stderr.splitlines()
    assert summary.startswith("quantcli: 4 written, 0 skipped, 0 failed;")


@pytest.mark.skipif(os.name != "posix", reason="needs a pseudo-terminal")
def test_progress_bar_on_a_terminal(tree: Path, tmp_path: Path) -> None:
    import pty
    import select
    import subprocess

    leader, follower = pty.openpty()
    args = ["compress", str(tree), "-r", "-k", "8", "--out-dir", str(tmp_path / "out"), "-j", "1"]
    proc = subprocess.Popen([*cli_command(), *args], stdout=subprocess.PIPE, stderr=follower)
    os.close(follower)
    seen = b""
    while select.select([leader], [], [], 60)[0]:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO once the child has closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert proc.wait(timeout=60) == 0
    proc.stdout.close()
    assert b"compressing" in seen and b"4/4" in seen
    assert b"quantcli: 4 written" in seen


def test_quiet_silences_summary_but_not_errors(run_cli, tree: Path, tmp_path: Path) -> None:
    proc = run_cli("compress", tree, "-k", "8", "-q", "--out-dir", tmp_path / "o1", check_rc=0)
    assert proc.stderr == b"" and proc.stdout == b""
    (tree / "broken.png").write_bytes(b"")
    proc = run_cli("compress", tree, "-k", "8", "-q", "--out-dir", tmp_path / "o2", check_rc=1)
    [line] = proc.stderr.decode().splitlines()
    assert line.startswith("quantcli: error:") and "broken.png" in line


# --- parsing in-process (CliRunner) ----------------------------------------------------

runner = CliRunner()


def test_help_lists_options_and_exit_codes() -> None:
    result = runner.invoke(app, ["compress", "--help"], terminal_width=200)
    assert result.exit_code == 0
    for option in (
        "--colors",
        "--output",
        "--out-dir",
        "--ext",
        "--recursive",
        "--files-from",
        "--null",
        "--force",
        "--skip-if-larger",
        "--dither",
        "--seed",
        "--jobs",
        "--json",
        "--quiet",
    ):
        assert option in result.output
    assert "Exit codes" in result.output and "2 usage error" in result.output


def test_top_level_help_and_version() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "compress" in result.output
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("quantcli ")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["compress", "x.png", "-k", "1"], "--colors"),
        (["compress", "x.png", "-k", "257"], "--colors"),
        (["compress", "x.png", "--level", "13"], "--level"),
        (["compress", "x.png", "--dither", "maybe"], "--dither"),
        (["compress", "x.png", "--quality", "90-80"], "--quality"),
        (["compress", "x.png", "-k", "16", "--method", "elbow"], "--method"),
        (["compress", "x.png", "--jobs", "0"], "--jobs"),
        (["compress", "x.png", "--seed", "-1"], "--seed"),
        (["compress", "-0", "x.png"], "--files-from"),
        (["compress"], "no input"),
        (["compress", "-k", "8"], "no input"),
        (["compress", "x.png", "-k", "eight"], "--colors"),
        (["compress", "x.png", "--no-such-option"], "--no-such-option"),
        (["compress", "{dir}", "-o", "{dir}/x.png"], "exactly one input, got 2"),
        (["compress", "{dir}/a.png", "-o", "x.png", "--out-dir", "o"], "not both"),
        (["compress", "-", "--out-dir", "o"], "--out-dir"),
        (["compress", "{dir}/a.png", "-o", ""], "needs a file name"),
        (["compress", "{dir}/a.png", "-o", "{dir}"], "not a folder"),
        (["compress", "{dir}/a.png", "-o", "{dir}/new/"], "not a folder"),
        (["compress", "{dir}/a.png", "-k", "16", "--min-psnr", "30"], "--min-psnr"),
        (["compress", "{dir}/a.png", "-k", "auto", "--method", "elbow", "--min-psnr", "30"], "--min-psnr"),
        (["compress", "{dir}/a.png", "--ext", "/x.png"], "not a path"),
    ],
)
def test_bad_arguments_are_usage_errors(tmp_path: Path, args: list[str], fragment: str) -> None:
    save(tmp_path / "a.png", 0)
    save(tmp_path / "b.png", 1)
    result = runner.invoke(app, [arg.format(dir=tmp_path) for arg in args], terminal_width=200)
    assert result.exit_code == 2
    assert fragment in result.output
    assert files_under(tmp_path) == {"a.png", "b.png"}


def test_k_bounds_are_accepted(tmp_path: Path) -> None:
    for k in ("2", "256"):
        src = save(tmp_path / f"k{k}.png")
        result = runner.invoke(app, ["compress", str(src), "-k", k, "-q"])
        assert result.exit_code == 0, result.output
        assert_png(tmp_path / f"k{k}-q{k}.png", int(k))


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0 B"), (999, "999 B"), (1000, "1.0 kB"), (1234567, "1.2 MB"), (999_949_999, "999.9 MB"), (2.5e9, "2.5 GB")],
)
def test_summary_sizes_are_powers_of_1000(n, text):
    from quantcli.cli.report import size_text

    assert size_text(n) == text


def test_k_auto_uses_the_quality_target_and_quality_below_min_exits_99(run_cli, tmp_path: Path) -> None:
    import quantcli
    from quantcli.quality import choose_k_for_quality

    src = save(tmp_path / "photo.png", 3)
    proc = run_cli("compress", src, "-k", "auto", "--json", check_rc=0)
    row = json.loads(proc.stdout)
    want, _ = choose_k_for_quality(quantcli.read_image(src), quantcli.QuantizeOptions(), (0, 80))
    assert row["k"] == want and row["output"].endswith("photo-qauto.png")
    proc = run_cli("compress", src, "--quality", "70", "-k", "64", "--json", "-o", tmp_path / "q.png", check_rc=0)
    assert json.loads(proc.stdout)["k"] <= 64
    # Two colours cannot reach 99: nothing is written, the exit code is pngquant's 99.
    proc = run_cli("compress", src, "-k", "2", "--quality", "99-100", "-o", tmp_path / "low.png", check_rc=99)
    assert "below the minimum 99" in error_lines(proc)[0]
    assert not (tmp_path / "low.png").exists()
