"""The memory budget (quantcli.memory): the rule, how users spell it, and a batch that
stays within it, measured by the peak RSS of a subprocess."""

from __future__ import annotations

import threading

import pytest
from conftest import cli_command
from PIL import Image
from quantcli import InvalidOptionError
from quantcli.memory import (
    EXACT_PEAK_BYTES_PER_PIXEL,
    PEAK_BYTES_PER_PIXEL,
    MemoryBudget,
    available_memory,
    image_cost,
    parse_memory,
    peak_bytes_per_pixel,
)
from test_speed import child_peak_kib, many_colours


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1024", 1024), ("512M", 512 << 20), ("4G", 4 << 30), ("1.5GiB", 3 << 29), ("64kb", 64 << 10), (" 2 g ", 2 << 30)],
)
def test_sizes_are_bytes_with_binary_units(text, expected):
    assert parse_memory(text) == expected


def test_a_share_is_of_the_memory_this_process_may_use():
    assert abs(parse_memory("50%") - available_memory() / 2) <= 1
    assert parse_memory("100%") == available_memory()


@pytest.mark.parametrize("text", ["", "0", "0M", "-1G", "4X", "G", "0%", "150%", "1e9", "4 GB RAM"])
def test_a_budget_that_is_not_a_size_is_refused_with_its_text(text):
    with pytest.raises(InvalidOptionError, match="memory budget"):
        parse_memory(text)


def test_an_image_costs_its_pixels_times_the_documented_peak():
    assert image_cost(1000) == 1000 * EXACT_PEAK_BYTES_PER_PIXEL  # the safe default
    assert image_cost(1000, PEAK_BYTES_PER_PIXEL) == 1000 * PEAK_BYTES_PER_PIXEL
    assert image_cost(-5) == 0


def test_only_a_capped_histogram_is_budgeted_at_the_lower_figure():
    import numpy as np
    from quantcli import QuantizeOptions
    from quantcli.pipeline import Settings

    assert peak_bytes_per_pixel(Settings()) == PEAK_BYTES_PER_PIXEL  # fixed K, --speed 3
    exact = [
        Settings(options=QuantizeOptions(speed=1)),
        Settings(quality=(0, 80)),
        Settings(palette=np.zeros((4, 3), np.uint8)),
    ]
    assert {peak_bytes_per_pixel(s) for s in exact} == {EXACT_PEAK_BYTES_PER_PIXEL}


def test_one_image_always_fits_and_a_second_waits_for_room():
    budget = MemoryBudget(image_cost(100))
    big = image_cost(10_000)  # alone, over the budget: still admitted
    assert budget.acquire(big)
    started = threading.Event()

    def second() -> None:
        budget.acquire(image_cost(10))
        started.set()

    worker = threading.Thread(target=second)
    worker.start()
    assert not started.wait(0.3)  # waits while the big one holds the budget
    assert budget.waiting == 1
    budget.release(big)
    assert started.wait(5)
    worker.join()
    assert budget.used == image_cost(10)


def test_a_stopped_batch_stops_waiting():
    budget = MemoryBudget(10)
    assert budget.acquire(10)
    assert not budget.acquire(10, stop=True)
    assert budget.used == 10


def test_bad_memory_on_the_command_line_is_one_line_and_writes_nothing(tmp_path, run_cli):
    source = tmp_path / "in.png"
    Image.fromarray(many_colours(16, 16)).save(source)
    out = tmp_path / "out.png"
    bad = run_cli("compress", source, "-o", out, "--memory", "lots")
    assert bad.returncode == 2
    assert bad.stderr.decode().strip().splitlines() == [
        "quantcli: error: --memory: memory budget 'lots': give bytes with a unit (512M, 4G) or a share (50%)"
    ]
    assert not out.exists()
    spark = run_cli("compress", source, "-o", out, "--memory", "1G", "--engine", "spark")
    assert spark.returncode == 2 and b"--memory applies to --engine local" in spark.stderr
    ok = run_cli("compress", source, "-o", out, "--memory", "1G")
    assert ok.returncode == 0 and out.exists()


def test_a_batch_under_a_small_budget_holds_one_big_image_at_a_time(tmp_path):
    """Four 3 MP images of every-distinct colours on two workers: with a budget below two
    images, the peak stays near that of one image alone (the rule: one image always runs)."""
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(many_colours(1500, 2000, seed=i)).save(folder / f"{i}.png", compress_level=1)
    one = tmp_path / "one"
    one.mkdir()
    (one / "0.png").write_bytes((folder / "0.png").read_bytes())
    small = tmp_path / "small.png"
    Image.fromarray(many_colours(64, 64)).save(small)
    compress = [*cli_command(), "compress", "-q", "-j", "2"]
    base = child_peak_kib([*compress, str(small), "-o", str(tmp_path / "s.png")])
    alone = child_peak_kib([*compress, str(one), "--out-dir", str(tmp_path / "o1")]) - base
    budget = image_cost(1500 * 2000, PEAK_BYTES_PER_PIXEL) * 3 // 2  # room for one image, not two
    batch = child_peak_kib([*compress, str(folder), "--out-dir", str(tmp_path / "o2"), "--memory", str(budget)]) - base
    assert len(list((tmp_path / "o2").iterdir())) == 4
    assert batch <= 1.25 * alone, f"batch {batch} KiB over one image's {alone} KiB"
