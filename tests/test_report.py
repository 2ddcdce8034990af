"""compress --report: the HTML report's rows, pictures, escaping, refusals, and a real browser."""

from __future__ import annotations

import base64
import html.parser
import io
import os
import re
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from conftest import gradient_image
from PIL import Image


class Page(html.parser.HTMLParser):
    """The parts of the report the tests look at: body rows, images, svg curves."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.images: list[dict[str, str]] = []
        self.curves = 0
        self.scripts = 0
        self._in_body = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.rows.append([])
        elif tag == "td" and self._in_body:
            self._cell = []
        elif tag == "img":
            self.images.append(attrs)
        elif tag == "svg":
            self.curves += 1
        elif tag == "script":
            self.scripts += 1

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_body = False
        elif tag == "td" and self._cell is not None and self.rows:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def decode_data_uri(uri: str) -> np.ndarray:
    head, data = uri.split(",", 1)
    assert head.startswith("data:image/") and head.endswith(";base64")
    with Image.open(io.BytesIO(base64.b64decode(data))) as im:
        return np.asarray(im.convert("RGBA"))


@pytest.fixture
def batch(tmp_path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    iio.imwrite(folder / "rgb.png", gradient_image(60, 80, seed=1))
    iio.imwrite(folder / "rgba.png", gradient_image(40, 50, seed=2, alpha=True))
    iio.imwrite(folder / "photo.jpg", gradient_image(48, 64, seed=3), quality=85)
    iio.imwrite(folder / "<b>odd & name.png", gradient_image(20, 30, seed=4))
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    return folder


def test_report_rows_pictures_and_summary(run_cli, batch, tmp_path):
    report = tmp_path / "report.html"
    proc = run_cli("compress", batch, "-k", "16", "--out-dir", tmp_path / "out", "--report", report)
    assert proc.returncode == 1  # the broken file
    assert b"report in" in proc.stderr
    page = parse(report)
    assert len(page.rows) == 5  # one row per file, the failed one too
    names = [row[2] for row in page.rows]
    assert any("<b>odd & name.png" in n for n in names)  # shown as text, escaped in the source
    assert "<b>odd" not in report.read_text().replace("&lt;b&gt;odd", "")
    errors = [row for row in page.rows if "broken.png" in row[2]]
    assert len(errors) == 1 and "broken.png" in errors[0][3]
    pictures = [img for img in page.images if img.get("alt") in ("before", "after")]
    assert len(pictures) == 2 * 4
    for img in pictures:
        thumb = decode_data_uri(img["src"])
        assert max(thumb.shape[:2]) <= 160 and min(thumb.shape[:2]) > 0
    bars = [img for img in page.images if img.get("class") == "bar"]
    assert len(bars) == 4
    for bar in bars:
        strip = decode_data_uri(bar["src"])
        assert strip.shape[1] == 200 and len(np.unique(strip.reshape(-1, 4), axis=0)) <= 16
    assert "5<" in report.read_text() and "4 written, 0 skipped, 1 failed" in report.read_text()
    assert page.curves == 0 and page.scripts == 1
    assert not re.search(r"""(src|href)=["']https?:""", report.read_text())  # nothing from the network


def test_report_with_k_auto_draws_the_choose_k_curve(run_cli, batch, tmp_path):
    report = tmp_path / "auto.html"
    run_cli("compress", batch / "rgb.png", batch / "photo.jpg", "-k", "auto", "--report", report, check_rc=0)
    page = parse(report)
    assert len(page.rows) == 2 and page.curves == 2
    assert "K=" in report.read_text()


def test_report_links_to_files_past_the_embed_limit(batch, tmp_path):
    from quantcli import compress_file
    from quantcli.html_report import write_report

    out = tmp_path / "out"
    results = [compress_file(p, out / (p.stem + ".png"), k=8) for p in sorted(batch.glob("r*.png"))]
    report = tmp_path / "sub" / "linked.html"
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        write_report(results, report, embed_limit=1)
    finally:
        os.chdir(cwd)
    pictures = [img["src"] for img in parse(report).images if img.get("alt") in ("before", "after")]
    assert sum(src.startswith("data:") for src in pictures) == 2
    linked = [src for src in pictures if not src.startswith("data:")]
    assert len(linked) == 2
    for src in linked:
        assert (report.parent / src).resolve().is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-", "--report", "r.html"), b"not with - (stdin or stdout)"),
        (("X", "-o", "-", "--report", "r.html"), b"not with - (stdin or stdout)"),
        (("X", "--report", "r.txt"), b"ending in .html"),
    ],
)
def test_report_refusals(run_cli, args, message):
    proc = run_cli("compress", *args)
    assert proc.returncode == 2 and message in proc.stderr


def test_an_existing_report_needs_force(run_cli, batch, tmp_path):
    report = tmp_path / "r.html"
    report.write_text("keep me")
    proc = run_cli("compress", batch / "rgb.png", "--out-dir", tmp_path / "o", "--report", report)
    assert proc.returncode == 2 and b"exists (use --force" in proc.stderr
    assert report.read_text() == "keep me" and not (tmp_path / "o").exists()


# ---------------------------------------------------------------------------------------
# In a real browser.


@pytest.mark.browser
def test_the_report_opens_in_headless_chromium(batch, tmp_path, chromium):
    """As the serve browser test: Debian's chromium and chromium-driver through selenium."""
    from quantcli import compress_file
    from quantcli.html_report import write_report
    from selenium.webdriver.common.by import By

    out = tmp_path / "out"
    sources = sorted(p for p in batch.iterdir() if p.name != "broken.png")
    results = [compress_file(p, out / (p.stem + ".png"), k=8) for p in sources]
    report = tmp_path / "report.html"
    write_report(results, report, embed_limit=2)  # two rows embedded, two linked to the files

    driver = chromium("1600,2000")
    driver.get(report.as_uri())
    rows = driver.find_elements(By.CSS_SELECTOR, "table tbody tr")
    assert len(rows) == len(results)
    images = driver.execute_script(
        "return Array.from(document.images).map(i => [i.alt, i.complete && i.naturalWidth > 0]);"
    )
    assert len(images) == 4 * 3  # before, after and the palette bar per row
    assert all(loaded for _, loaded in images), images
    driver.find_element(By.XPATH, "//th[text()='bytes in']").click()
    first = driver.find_element(By.CSS_SELECTOR, "table tbody tr td:nth-child(6)").get_attribute("data-v")
    assert int(first) == min(r.bytes_in for r in results)  # the column sorts
    driver.find_element(By.XPATH, "//th[text()='bytes in']").click()
    first = driver.find_element(By.CSS_SELECTOR, "table tbody tr td:nth-child(6)").get_attribute("data-v")
    assert int(first) == max(r.bytes_in for r in results)  # and back
    assert driver.get_log("browser") == []  # no script error, nothing failed to load
