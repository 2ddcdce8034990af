"""--speed presets and the coarse histogram: bounded work and memory for images of very many
colours, exact errors, and the same bytes for any thread count."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import quantcli
from conftest import cli_command, gradient_image
from PIL import Image
from quantcli import InvalidOptionError, QuantizeOptions
from quantcli.api import encode_quantized
from quantcli.options import SPEED_MAX, SPEED_MIN, SPEED_PRESETS


def many_colours(height: int, width: int, alpha: bool = False, seed: int = 0) -> np.ndarray:
    """A smooth image whose every pixel is a distinct colour (plus noise to break ties)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    index = (y * width + x).astype(np.uint32) * 7919 % (1 << 24)
    rgb = np.stack([(index >> 16) & 255, (index >> 8) & 255, index & 255], axis=-1).astype(np.uint8)
    if not alpha:
        return rgb
    a = rng.integers(1, 256, (height, width, 1), dtype=np.uint8)
    a[: height // 4] = 255
    a[-2:] = 0
    return np.concatenate([rgb, a], axis=2)


def exact_sse(pixels: np.ndarray, q: quantcli.Quantized) -> float:
    rows = pixels.reshape(-1, pixels.shape[2]).astype(np.int64)
    out = q.palette[q.labels].reshape(-1, q.palette.shape[1]).astype(np.int64)
    if rows.shape[1] == 4:  # fully transparent pixels are all one colour, (0, 0, 0, 0)
        rows[rows[:, 3] == 0] = 0
    return float(((rows - out[:, : rows.shape[1]]) ** 2).sum())


def test_the_default_is_speed_3_and_explicit_options_win():
    assert QuantizeOptions() == QuantizeOptions(speed=3)
    fast = QuantizeOptions(speed=7)
    assert (fast.level, fast.max_iter, fast.tol) == tuple(SPEED_PRESETS[7][n] for n in ("level", "max_iter", "tol"))
    assert QuantizeOptions(speed=7, level=10).level == 10
    for bad in (SPEED_MIN - 1, SPEED_MAX + 1, 2.5, True):
        with pytest.raises(InvalidOptionError, match="speed"):
            QuantizeOptions(speed=bad)


@pytest.mark.parametrize("alpha", [False, True])
def test_an_image_of_more_colours_than_the_cap_is_fitted_to_a_coarse_histogram(alpha):
    pixels = many_colours(300, 400, alpha=alpha)
    options = QuantizeOptions(k=64, speed=7)  # at most 2**14 histogram entries
    q = quantcli.api._quantize(pixels, options)
    assert 64 < q.unique_colors <= options.max_colors < len(np.unique(pixels.reshape(-1, pixels.shape[2]), axis=0))
    assert len(q.palette) <= 64 and int(q.labels.max()) < len(q.palette)
    # The error is the pixels' own, not the coarse cells'.
    assert q.inertia == exact_sse(pixels, q)
    if alpha:  # fully transparent pixels keep their own exact entry
        out = q.palette[q.labels]
        assert (out[pixels[:, :, 3] == 0][:, 3] == 0).all()


def test_an_image_below_the_cap_is_counted_exactly():
    pixels = gradient_image(64, 80)
    exact = quantcli.api._quantize(pixels, QuantizeOptions(k=32, speed=2))  # never coarse
    default = quantcli.api._quantize(pixels, QuantizeOptions(k=32))
    assert default.unique_colors == exact.unique_colors == len(np.unique(pixels.reshape(-1, 3), axis=0))
    np.testing.assert_array_equal(default.labels, exact.labels)


@pytest.mark.parametrize("speed", range(SPEED_MIN, SPEED_MAX + 1))
def test_every_preset_gives_the_same_bytes_for_any_thread_count(speed):
    pixels = many_colours(160, 256, alpha=speed % 2 == 0, seed=speed)
    outputs = set()
    for threads in (1, 2, 3):
        options = QuantizeOptions(k=48, speed=speed, threads=threads)
        outputs.add(encode_quantized(quantcli.api._quantize(pixels, options), options))
    assert len(outputs) == 1


def test_speed_on_the_command_line(tmp_path, run_cli):
    source = tmp_path / "a.png"
    Image.fromarray(many_colours(120, 160)).save(source)
    for speed in ("1", "7"):
        run_cli("compress", source, "--speed", speed, "-o", tmp_path / f"s{speed}.png", check_rc=0)
    options = QuantizeOptions(speed=7)
    want = encode_quantized(quantcli.api._quantize(many_colours(120, 160), options), options)
    assert (tmp_path / "s7.png").read_bytes() == want
    bad = run_cli("compress", source, "--speed", "9", "-o", tmp_path / "x.png")
    assert bad.returncode == 2 and b"speed" in bad.stderr
    assert not (tmp_path / "x.png").exists()


def child_peak_kib(argv: list[str]) -> int:
    """Peak resident memory of the process ``argv`` runs as, in KiB (it must exit 0)."""
    code = (
        "import resource, subprocess, sys\n"
        "p = subprocess.run(sys.argv[1:])\n"
        "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, check=True)
    returncode, peak = map(int, proc.stdout.split())
    assert returncode == 0
    return peak


def test_peak_memory_of_an_image_holding_every_colour_is_at_most_24_bytes_per_pixel(tmp_path):
    """The issue's case: 16.7 MP holding every 24-bit colour once (a small file), at K=256
    and the default speed, through the command line; the peak over a 64x64 call's."""
    index = np.arange(1 << 24, dtype=np.uint32)
    every = np.stack([index >> 16, (index >> 8) & 255, index & 255], axis=-1).astype(np.uint8)
    big = tmp_path / "every.png"
    Image.fromarray(every.reshape(4096, 4096, 3)).save(big, compress_level=1)
    del every, index
    small = tmp_path / "small.png"
    Image.fromarray(many_colours(64, 64)).save(small)
    base = child_peak_kib([*cli_command(), "compress", str(small), "-o", str(tmp_path / "s.png")])
    peak = child_peak_kib([*cli_command(), "compress", str(big), "-o", str(tmp_path / "b.png")])
    per_pixel = (peak - base) * 1024 / (1 << 24)
    assert per_pixel <= 24, f"{per_pixel:.1f} bytes per pixel"
    with Image.open(tmp_path / "b.png") as out:
        assert out.size == (4096, 4096)
