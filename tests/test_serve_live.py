"""``quantcli serve`` as users meet it: a real server on 127.0.0.1 started by the CLI,
driven by headless Chromium (Debian's chromium and chromium-driver through selenium; nothing
is downloaded), and a short load test of concurrent uploads from two users."""

from __future__ import annotations

import io
import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")

from conftest import cli_command, gradient_image
from PIL import Image
from quantcli import QuantizeOptions, compress_bytes
from serve_support import PASSWORD, LiveServer, add_user_cli, colours, decode, wait_for

SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "images" / "serve-result.png"


def landscape(h: int = 300, w: int = 480, seed: int = 0) -> np.ndarray:
    """A made-up landscape: sky gradient, sun, two hills, a little noise (RGB uint8)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    sky = np.stack([90 + 110 * y / h, 150 + 70 * y / h, 235 - 40 * y / h], -1)
    img = sky.copy()
    sun = (x - 0.75 * w) ** 2 + (y - 0.25 * h) ** 2 < (0.09 * h) ** 2
    img[sun] = [255, 214, 90]
    far = y > 0.55 * h + 0.08 * h * np.sin(x / w * 5 + seed)
    img[far] = np.stack([60 + 40 * x / w, 120 + 30 * y / h, 70 + 0 * x], -1)[far]
    near = y > 0.72 * h + 0.06 * h * np.sin(x / w * 9 + 1 + seed)
    img[near] = np.stack([30 + 60 * y / h, 90 + 60 * x / w, 40 + 20 * y / h], -1)[near]
    img += rng.normal(0, 4, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def encode(pixels: np.ndarray, fmt: str = "PNG", **kwargs) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, fmt, **kwargs)
    return out.getvalue()


# ---------------------------------------------------------------------------------------
# The browser


@pytest.mark.browser
def test_browser_sign_in_upload_results_download_sign_out(tmp_path, chromium):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    data = tmp_path / "data"
    add_user_cli(data, "alice")
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    first, second = uploads / "valley.png", uploads / "hills.jpg"
    first.write_bytes(encode(landscape(seed=0)))
    second.write_bytes(encode(landscape(seed=2), "JPEG", quality=92))
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    k = 16

    server = LiveServer(data, "--workers", "2")
    driver = chromium("1200,1500", downloads, browser_log=True)
    wait = WebDriverWait(driver, 60)
    try:
        driver.get(server.url + "/")
        wait.until(ec.url_contains("/login"))
        driver.find_element(By.NAME, "name").send_keys("alice")
        driver.find_element(By.NAME, "password").send_keys(PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        wait.until(ec.presence_of_element_located((By.ID, "upload-form")))

        driver.find_element(By.ID, "files").send_keys(f"{first}\n{second}")
        k_input = driver.find_element(By.ID, "k")
        k_input.clear()
        k_input.send_keys(str(k))
        driver.find_element(By.ID, "submit").click()
        wait.until(ec.url_contains("/jobs/"))
        wait.until(lambda d: d.find_element(By.ID, "progress").get_attribute("data-status") == "done")
        results = driver.find_elements(By.CSS_SELECTOR, "ul.results li.done")
        assert len(results) == 2
        names = [li.find_element(By.CSS_SELECTOR, "a.name").text for li in results]
        assert names == ["valley.png", "hills.jpg"]

        results[0].find_element(By.CSS_SELECTOR, "a.name").click()
        wait.until(ec.presence_of_element_located((By.ID, "compare")))
        result_url = driver.current_url
        loaded = "return arguments[0].complete && arguments[0].naturalWidth"
        before = driver.find_element(By.CSS_SELECTOR, "#compare img.before")
        after = driver.find_element(By.ID, "after")
        wait.until(lambda d: d.execute_script(loaded, before) and d.execute_script(loaded, after))
        assert driver.execute_script("return arguments[0].naturalWidth", after) == 480
        # the slider moves the split between before and after
        driver.execute_script(
            "const s = document.getElementById('slider'); s.value = 30; s.dispatchEvent(new Event('input'))"
        )
        assert "30%" in driver.execute_script("return document.getElementById('after').style.clipPath")
        swatches = driver.find_elements(By.CSS_SELECTOR, "#palette li.swatch")
        assert 2 <= len(swatches) <= k
        assert len(swatches) == int(driver.find_element(By.ID, "colors").text)
        fills = {s.find_element(By.TAG_NAME, "rect").get_attribute("fill") for s in swatches}
        assert len(fills) == len(swatches)
        rect = swatches[0].find_element(By.TAG_NAME, "svg").rect
        assert rect["width"] > 20 and rect["height"] > 20  # drawn, not collapsed
        curve = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#curve img"))[0]
        wait.until(lambda d: d.execute_script(loaded, curve))
        assert "dB" in driver.find_element(By.ID, "psnr").text

        shot = tmp_path / "result.png"
        driver.execute_script("window.scrollTo(0, 0)")
        driver.save_screenshot(str(shot))
        with Image.open(shot) as image:
            assert image.size[0] >= 1000
        if os.environ.get("QUANTCLI_UPDATE_SCREENSHOT"):
            _publish_screenshot(shot)

        driver.find_element(By.ID, "download").click()
        png = wait_for(lambda: [p for p in downloads.glob("*.png") if p.stat().st_size], timeout=30)[0]
        assert png.name == "valley.png"
        assert colours(png.read_bytes()) <= k
        assert decode(png.read_bytes()).shape[:2] == (300, 480)
        assert png.read_bytes() == compress_bytes(first.read_bytes(), QuantizeOptions(k=k))[0]

        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors  # CSP violations and script errors show up here

        driver.find_element(By.ID, "logout").click()
        wait.until(ec.url_contains("/login"))
        driver.get(result_url)
        wait.until(ec.url_contains("/login"))
        assert driver.find_elements(By.NAME, "password")
        assert "compare" not in driver.page_source
    finally:
        server.stop()


@pytest.mark.browser
def test_browser_pages_fit_a_narrow_window_and_history_rows_line_up(tmp_path, chromium):
    """At 400 px wide the header wraps and no page scrolls sideways; the cells of a History
    row are table cells, so their borders line up. Screenshots are left in tmp_path."""
    import httpx
    from quantcli.serve.web import SESSION_COOKIE
    from serve_support import png_bytes, run_job, sign_in

    data = tmp_path / "data"
    add_user_cli(data, "alice")
    server = LiveServer(data, "--workers", "2")
    try:
        with httpx.Client(base_url=server.url) as client:
            csrf = sign_in(client)
            run_job(client, csrf, {"a-long-name-for-a-narrow-window.png": png_bytes(seed=1)}, k="16")
            run_job(client, csrf, {"b.png": png_bytes(seed=2)}, k="auto")
            token = client.cookies.get(SESSION_COOKIE)
        for width in (400, 1200):
            driver = chromium("1200,900")
            metrics = {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
            driver.get(server.url + "/login")
            driver.add_cookie({"name": SESSION_COOKIE, "value": token, "path": "/"})
            for path in ("/", "/history", "/account"):
                driver.get(server.url + path)
                driver.save_screenshot(str(tmp_path / f"{path.strip('/') or 'upload'}-{width}.png"))
                page = driver.execute_script(
                    "const d = document.documentElement;"
                    "return [d.scrollWidth, d.clientWidth,"
                    " Array.from(document.querySelectorAll('header.top a, header.top button'))"
                    "  .map(e => e.getBoundingClientRect().right)];"
                )
                scroll_width, client_width, rights = page
                assert scroll_width <= client_width, (path, width, scroll_width)
                assert rights and max(rights) <= client_width, (path, width, rights)
            driver.get(server.url + "/history")
            rows = driver.execute_script(
                "return Array.from(document.querySelectorAll('table.list tbody tr')).map(tr =>"
                " Array.from(tr.children).map(td => {"
                "  const r = td.getBoundingClientRect();"
                "  return [getComputedStyle(td).display, Math.round(r.top), Math.round(r.bottom)]; }));"
            )
            assert len(rows) == 2
            for cells in rows:
                assert {display for display, _, _ in cells} == {"table-cell"}
                assert len({(top, bottom) for _, top, bottom in cells}) == 1, cells  # borders line up
    finally:
        server.stop()


@pytest.mark.browser
def test_browser_loupe_key_numbers_small_images_and_a_missed_target(tmp_path, chromium):
    """The result page of a big image: the key numbers and a missed target above the
    fold, and a loupe at the pointer that shows a 1-pixel checkerboard the scaled view
    blurs to grey. A small image is drawn larger pixel for pixel (image-rendering:
    pixelated) with its labels clear of each other and of the image. The job page says the
    target was missed. Screenshots are left in tmp_path."""
    import httpx
    from quantcli.serve.web import SESSION_COOKIE
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from serve_support import run_job, sign_in

    photo = landscape(1000, 1600, seed=3)
    y, x = np.mgrid[0:200, 0:200]
    photo[200:400, 200:400] = np.where(((x + y) % 2 == 0)[..., None], 0, 255).astype(np.uint8)
    tiny = np.random.default_rng(5).integers(0, 256, size=(12, 16, 3), dtype=np.uint8)
    data = tmp_path / "data"
    add_user_cli(data, "alice")
    server = LiveServer(data, "--workers", "2")
    try:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            csrf = sign_in(client)
            job = run_job(client, csrf, {"photo.png": encode(photo)}, k="auto", quality="99")
            small_job = run_job(client, csrf, {"tiny.png": encode(tiny)}, k="8")
            token = client.cookies.get(SESSION_COOKIE)
            big = client.get(f"/jobs/{job}").text.split('<a class="name" href="/images/')[1].split('"')[0]
            small = client.get(f"/jobs/{small_job}").text.split('<a class="name" href="/images/')[1].split('"')[0]
        driver = chromium("1200,900")
        driver.get(server.url + "/login")
        driver.add_cookie({"name": SESSION_COOKIE, "value": token, "path": "/"})

        driver.get(f"{server.url}/jobs/{job}")
        card = driver.find_element(By.CSS_SELECTOR, ".result .target")
        assert card.is_displayed() and "missed" in card.get_attribute("class") and "target missed" in card.text
        driver.save_screenshot(str(tmp_path / "job-missed.png"))

        driver.get(f"{server.url}/images/{big}")
        ready = "const i = document.getElementById('before'); return i.complete && i.naturalWidth"
        assert wait_for(lambda: driver.execute_script(ready), timeout=30) == 1600
        summary = driver.find_element(By.ID, "summary")
        target = driver.find_element(By.ID, "summary-target")
        assert "missed" in target.get_attribute("class") and target.text.startswith("target missed: quality")
        fold = driver.execute_script("return window.innerHeight")
        assert summary.rect["y"] + summary.rect["height"] < fold  # the key numbers above the fold
        assert driver.find_element(By.ID, "compare").rect["y"] < fold
        for part in ("→", "K = ", "colours", "quality"):
            assert part in summary.text, (part, summary.text)

        driver.set_window_size(1200, 1600)  # the whole image in view: pointer offsets count from its centre
        compare = driver.find_element(By.ID, "compare")
        shown = compare.rect
        scale = shown["width"] / 1600
        assert scale < 1  # the view is scaled down: the checkerboard is blurred there
        view = _grab(compare.screenshot_as_png)
        patch = view[int(250 * scale) : int(350 * scale), int(250 * scale) : int(350 * scale)]
        assert _extremes(patch) < 0.2, _extremes(patch)
        ActionChains(driver).move_to_element_with_offset(
            compare, int(300 * scale - shown["width"] / 2), int(300 * scale - shown["height"] / 2)
        ).perform()
        loupe = driver.find_element(By.ID, "loupe")
        assert wait_for(loupe.is_displayed, timeout=5)
        assert float(loupe.get_attribute("data-zoom")) >= max(2.0, 1 / scale)  # at least 1:1
        driver.save_screenshot(str(tmp_path / "result-loupe.png"))
        lens = _grab(loupe.screenshot_as_png)
        middle = lens[60:140, 60:140]
        assert _extremes(middle) > 0.8, _extremes(middle)  # the pixels themselves, black and white
        ActionChains(driver).move_to_element(summary).perform()  # off the image
        assert wait_for(lambda: not loupe.is_displayed(), timeout=5)

        driver.get(f"{server.url}/images/{small}")
        assert wait_for(lambda: driver.execute_script(ready), timeout=30) == 16
        before = driver.find_element(By.ID, "before")
        assert before.value_of_css_property("image-rendering") == "pixelated"
        assert before.rect["width"] == 16 * 30 and before.rect["height"] == 12 * 30
        assert driver.find_element(By.ID, "after").rect == before.rect  # the two halves line up
        left, right = (driver.find_element(By.CSS_SELECTOR, f".tag.{side}").rect for side in ("left", "right"))
        assert left["x"] + left["width"] < right["x"]  # apart
        assert max(left["y"] + left["height"], right["y"] + right["height"]) <= before.rect["y"]  # above it
        driver.save_screenshot(str(tmp_path / "result-small.png"))
    finally:
        server.stop()


def _grab(png: bytes) -> np.ndarray:
    """A screenshot as grey levels."""
    with Image.open(io.BytesIO(png)) as shot:
        return np.asarray(shot.convert("L"), dtype=np.int16)


def _extremes(grey: np.ndarray) -> float:
    """The share of near-black or near-white pixels."""
    return float(np.mean((grey < 50) | (grey > 205)))


def _publish_screenshot(shot: Path) -> None:
    """The README's screenshot, made small by quantcli itself."""
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [*cli_command(), "compress", str(shot), "-k", "64", "-o", str(SCREENSHOT), "--force", "-q"], check=True
    )


# ---------------------------------------------------------------------------------------
# Load


def _post(url: str, data: bytes, key: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, method="POST", headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def _get(url: str, key: str) -> bytes:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read()


@pytest.mark.load
def test_load_concurrent_uploads_from_two_users(tmp_path):
    data = tmp_path / "data"
    keys = {name: add_user_cli(data, name) for name in ("alice", "bob")}
    server = LiveServer(data, "--workers", "2", "--queue", "32")
    try:
        k = 32
        uploads = {}  # (user, name) -> bytes
        for i in range(20):
            user = "alice" if i % 2 == 0 else "bob"
            uploads[(user, f"{user}-{i}.png")] = encode(gradient_image(160, 240, seed=100 + i))
        warm = _post(f"{server.url}/api/v1/compress?k={k}", uploads[("alice", "alice-0.png")], keys["alice"])
        assert warm[0] == 200 and warm[1] == compress_bytes(uploads[("alice", "alice-0.png")], QuantizeOptions(k=k))[0]
        baseline = server.rss()

        answers: dict[tuple[str, str], tuple[int, bytes]] = {}
        start = threading.Barrier(len(uploads))

        def send(user: str, name: str, body: bytes) -> None:
            start.wait()
            answers[(user, name)] = _post(f"{server.url}/api/v1/images?k={k}&name={name}", body, keys[user])

        threads = [threading.Thread(target=send, args=(u, n, b)) for (u, n), b in uploads.items()]
        began = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert time.monotonic() - began < 300
        assert len(answers) == 20
        assert all(status == 201 for status, _ in answers.values()), answers
        created = {upload: json.loads(body) for upload, (_, body) in answers.items()}

        for user, key in keys.items():
            listed = json.loads(_get(f"{server.url}/api/v1/images?limit=1000", key))["images"]
            mine = {(u, n) for (u, n) in uploads if u == user}
            assert {(user, image["name"]) for image in listed} == mine  # nothing lost, nothing of the other's
            for image in listed:
                sent = uploads[(user, image["name"])]
                assert image["id"] == created[(user, image["name"])]["id"]
                assert image["bytes_in"] == len(sent)
                assert _get(f"{server.url}/api/v1/images/{image['id']}/source", key) == sent
                out = _get(f"{server.url}/api/v1/images/{image['id']}/output.png", key)
                assert out == compress_bytes(sent, QuantizeOptions(k=k))[0]  # its own result, bit for bit
            other = "bob" if user == "alice" else "alice"
            foreign = created[next(u for u in uploads if u[0] == other)]["id"]
            with pytest.raises(urllib.error.HTTPError) as refused:
                _get(f"{server.url}/api/v1/images/{foreign}", key)
            assert refused.value.code == 404
            refused.value.close()

        # Bounded memory: two workers hold two images; queued requests hold their upload.
        grown = server.peak_rss() - baseline
        print(f"server memory: {baseline / 2**20:.0f} MiB after warm-up, peak {grown / 2**20:.0f} MiB above it")
        per_image = 160 * 240 * 88  # EXACT_PEAK_BYTES_PER_PIXEL of quantcli.memory
        assert grown < 2 * per_image + 20 * 200_000 + 150 * 2**20, f"grew {grown / 2**20:.0f} MiB"
    finally:
        server.stop()


@pytest.mark.load
def test_load_two_16_megapixel_uploads_at_once_stay_under_1_5_gib(tmp_path):
    """Issue 22's bound: two concurrent uploads of a 16.7 MP photo (4096 x 4096, about two
    million distinct colours) keep the server's peak resident memory under 1.5 GiB. The
    budget is set high enough that both run at once: the worst case, not the queue's
    help. Memory is measured (the process's VmHWM); nothing here is timed."""
    data = tmp_path / "data"
    keys = {name: add_user_cli(data, name) for name in ("alice", "bob")}
    server = LiveServer(data, "--workers", "2", "--memory", "8G", "--max-upload", "100MB")
    try:
        uploads = {
            user: encode(gradient_image(4096, 4096, seed=seed), compress_level=1) for seed, user in enumerate(keys)
        }
        answers: dict[str, tuple[int, bytes]] = {}
        start = threading.Barrier(len(uploads))

        def send(user: str, body: bytes) -> None:
            start.wait()
            answers[user] = _post(f"{server.url}/api/v1/images?name={user}.png", body, keys[user])

        threads = [threading.Thread(target=send, args=(user, body)) for user, body in uploads.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert {user: status for user, (status, _) in answers.items()} == {"alice": 201, "bob": 201}, answers
        for user, (_, body) in answers.items():
            image = json.loads(body)
            assert (image["width"], image["height"], image["status"]) == (4096, 4096, "done")
            assert image["bytes_in"] == len(uploads[user])
        peak = server.peak_rss()
        print(f"server peak RSS: {peak / 2**20:.0f} MiB for two 16.7 MP uploads at once")
        assert peak < 1.5 * 2**30, f"peak {peak / 2**20:.0f} MiB"
    finally:
        server.stop()
