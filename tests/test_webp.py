"""--format webp: lossless WebP of exactly the PNG's pixels, its naming and its own-output marker."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import quantcli
from PIL import Image
from quantcli.planner import is_own_output, is_own_output_bytes
from quantcli.webp import WEBP_EFFORT, encode_webp, is_own_webp

DWEBP = shutil.which("dwebp")


def _photo(h: int = 40, w: int = 56, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([x * 255 // w, y * 255 // h, (x + y) * 127 // (w + h)], axis=2)
    return np.clip(rgb + rng.integers(-15, 16, (h, w, 3)), 0, 255).astype(np.uint8)


def _kinds() -> dict[str, np.ndarray]:
    rgb = _photo()
    grey = np.repeat(rgb[:, :, 1:2], 3, axis=2)
    alpha = (np.mgrid[0:40, 0:56][1] * 255 // 55).astype(np.uint8)
    one_bit = np.where(np.mgrid[0:40, 0:56][0] % 7 < 3, 0, 255).astype(np.uint8)
    return {
        "rgb": rgb,
        "grey": np.ascontiguousarray(grey),
        "rgba": np.ascontiguousarray(np.dstack([rgb, alpha])),
        "one_bit_alpha": np.ascontiguousarray(np.dstack([rgb, one_bit])),
    }


def _rgba(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGBA"))


def _dwebp(data: bytes, tmp_path: Path) -> np.ndarray:
    """Decode with libwebp's own dwebp (Debian's webp package) into RGBA, through PAM."""
    src, out = tmp_path / "in.webp", tmp_path / "out.pam"
    src.write_bytes(data)
    subprocess.run([DWEBP, "-quiet", "-pam", str(src), "-o", str(out)], check=True, timeout=60)
    raw = out.read_bytes()
    header, body = raw.split(b"ENDHDR\n", 1)
    fields = dict(line.split(b" ", 1) for line in header.splitlines()[1:])
    width, height = int(fields[b"WIDTH"]), int(fields[b"HEIGHT"])
    return np.frombuffer(body, np.uint8).reshape(height, width, int(fields[b"DEPTH"]))


@pytest.mark.parametrize("kind", ["rgb", "grey", "rgba", "one_bit_alpha"])
@pytest.mark.parametrize(("k", "speed"), [(256, 3), (16, 3), (64, 1), (64, 7)])
def test_webp_holds_exactly_the_png_pixels(kind, k, speed, tmp_path):
    pixels = _kinds()[kind]
    png, q = quantcli.compress_pixels(pixels, quantcli.QuantizeOptions(k=k, speed=speed))
    webp, q_webp = quantcli.compress_pixels(pixels, quantcli.QuantizeOptions(k=k, speed=speed, format="webp"))
    assert np.array_equal(q.labels, q_webp.labels) and np.array_equal(q.palette, q_webp.palette)
    assert webp[:4] == b"RIFF" and webp[8:12] == b"WEBP" and is_own_webp(webp)
    expected = _rgba(Image.open(io.BytesIO(png)))
    decoded = Image.open(io.BytesIO(webp))
    assert decoded.format == "WEBP" and decoded.mode == ("RGBA" if q.palette.shape[1] == 4 else "RGB")
    assert np.array_equal(_rgba(decoded), expected)
    if DWEBP is None:
        pytest.skip("needs Debian's webp package (dwebp)")
    by_libwebp = _dwebp(webp, tmp_path)
    assert np.array_equal(by_libwebp, expected[:, :, : by_libwebp.shape[2]])
    if by_libwebp.shape[2] == 3:
        assert (expected[:, :, 3] == 255).all()


def test_encode_webp_refusals():
    labels, palette = np.zeros((2, 2), np.uint8), np.zeros((2, 3), np.uint8)
    with pytest.raises(quantcli.InvalidOptionError, match="labels must be below the palette size 2, found 5"):
        encode_webp(np.full((2, 2), 5, np.uint8), palette)
    with pytest.raises(quantcli.InvalidOptionError, match="speed must be from 1 to 7"):
        encode_webp(labels, palette, speed=9)
    with pytest.raises(quantcli.InvalidOptionError, match="palette must be 1 to 256"):
        encode_webp(labels, np.zeros((2, 5), np.uint8))
    with pytest.raises(quantcli.InvalidOptionError, match="format must be one of png, webp"):
        quantcli.QuantizeOptions(format="gif")
    assert set(WEBP_EFFORT) == set(range(1, 8))


def test_own_webp_is_recognised_and_others_are_not(tmp_path):
    webp, _ = quantcli.compress_pixels(_photo(), quantcli.QuantizeOptions(k=8, format="webp"))
    theirs = io.BytesIO()
    Image.fromarray(_photo()).save(theirs, "WEBP", lossless=True)
    (tmp_path / "ours.webp").write_bytes(webp)
    (tmp_path / "theirs.webp").write_bytes(theirs.getvalue())
    assert is_own_output(str(tmp_path / "ours.webp")) and is_own_output_bytes(webp[:45])
    assert not is_own_output(str(tmp_path / "theirs.webp")) and not is_own_webp(theirs.getvalue())
    # Re-encoding the pixels (an editor) drops the marker, as for the PNG chunk.
    again = io.BytesIO()
    Image.open(io.BytesIO(webp)).save(again, "WEBP", lossless=True)
    assert not is_own_webp(again.getvalue())


def test_compress_webp_naming_skip_and_in_place(tmp_path, run_cli):
    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(_photo(64, 80)).save(src / "a.png")
    Image.fromarray(_photo(64, 80, seed=1)).save(src / "b.webp", lossless=True)
    proc = run_cli("compress", src, "-k", "32", "--format", "webp", "--json", "-q", check_rc=0)
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert sorted(Path(r["output"]).name for r in rows) == ["a-q32.webp", "b-q32.webp"]
    assert all(is_own_output(r["output"]) for r in rows)
    # A second run over the folder leaves the outputs out (marker and suffix).
    proc = run_cli("compress", src, "-k", "32", "--format", "webp", "--json", "-q", "--skip-existing", check_rc=0)
    assert sorted(json.loads(line)["status"] for line in proc.stdout.splitlines()) == ["skipped", "skipped"]
    # --out-dir: .webp; --ext must end in .webp.
    run_cli("compress", src / "a.png", "--format", "webp", "--out-dir", tmp_path / "out", "-q", check_rc=0)
    assert (tmp_path / "out" / "a.webp").exists()
    bad = run_cli("compress", src / "a.png", "--format", "webp", "--ext", ".png")
    assert bad.returncode == 2 and b"--ext must end in .webp" in bad.stderr
    # In place: --ext .webp --force replaces a WebP input; --skip-own-outputs leaves ours.
    before = (src / "b.webp").read_bytes()
    run_cli("compress", src / "b.webp", "--format", "webp", "--ext", ".webp", "--force", "-q", check_rc=0)
    after = (src / "b.webp").read_bytes()
    assert after != before and is_own_webp(after)
    proc = run_cli(
        "compress", src / "b.webp", "--format", "webp", "--ext", ".webp", "--force", "--skip-own-outputs", "--json"
    )
    assert json.loads(proc.stdout)["status"] == "skipped" and (src / "b.webp").read_bytes() == after


def test_skip_if_larger_compares_the_webp_with_the_input(tmp_path, run_cli):
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (4, 4), (10, 20, 30)).save(tiny, optimize=True)  # ~70 bytes: WebP's headers are more
    data = tiny.read_bytes()
    proc = run_cli("compress", tiny, "--format", "webp", "--skip-if-larger", "--json", check_rc=0)
    row = json.loads(proc.stdout)
    webp, _ = quantcli.compress_bytes(data, quantcli.QuantizeOptions(format="webp"))
    assert (row["status"], row["bytes_out"]) == (
        ("skipped", len(data)) if len(webp) >= len(data) else ("written", len(webp))
    )
    assert not (tmp_path / "tiny-q256.webp").exists() or row["status"] == "written"


def test_out_format_png_is_an_alias_of_files(run_cli, tmp_path):
    Image.fromarray(_photo()).save(tmp_path / "a.png")
    for value in ("files", "png"):
        run_cli("compress", tmp_path / "a.png", "--out-format", value, "-f", "-q", check_rc=0)
    proc = run_cli("compress", tmp_path / "a.png", "--out-format", "parquet", "-q")
    assert proc.returncode == 2 and b"need --engine spark" in proc.stderr


def test_api_writes_webp(tmp_path):
    Image.fromarray(_photo()).save(tmp_path / "a.png")
    result = quantcli.compress_file(tmp_path / "a.png", tmp_path / "a.webp", k=16, format="webp")
    data = (tmp_path / "a.webp").read_bytes()
    assert result.bytes_out == len(data) and is_own_webp(data)
    png, _ = quantcli.compress_bytes((tmp_path / "a.png").read_bytes(), quantcli.QuantizeOptions(k=16))
    assert np.array_equal(_rgba(Image.open(tmp_path / "a.webp")), _rgba(Image.open(io.BytesIO(png))))
    # quantcli.save writes WebP by suffix or format=.
    small = quantcli.quantize_image(Image.open(tmp_path / "a.png"), k=16)
    quantcli.save(small, tmp_path / "b.webp")
    buffer = io.BytesIO()
    quantcli.save(small, buffer, format="webp")
    assert (tmp_path / "b.webp").read_bytes() == buffer.getvalue() == data
