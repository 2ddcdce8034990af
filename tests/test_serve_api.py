"""``quantcli serve``'s HTTP API through the framework's test client: every route, every
refusal, and the same bytes as the CLI's pipeline."""

from __future__ import annotations

import io
import json
import threading

import numpy as np
import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient
from quantcli import QuantizeOptions, compress_bytes
from serve_support import (
    app_client,
    bearer,
    cheap_password_hashes,  # noqa: F401 (an autouse fixture)
    colours,
    decode,
    huge_png_header,
    image_bytes,
    make_app,
    png_bytes,
    stored_files,
    wait_for,
)


@pytest.fixture
def api(tmp_path):
    with app_client(tmp_path) as client:
        client.alice = bearer(client.service.keys["alice"])
        client.bob = bearer(client.service.keys["bob"])
        yield client


def test_healthz_needs_no_key(api):
    response = api.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_compress_answers_the_pipelines_png_and_its_numbers(api):
    data = png_bytes(seed=4)
    response = api.post("/api/v1/compress?k=12&name=photo.png", content=data, headers=api.alice)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    expected, result = compress_bytes(data, QuantizeOptions(k=12))
    assert response.content == expected  # the very bytes the CLI writes
    h = response.headers
    assert int(h["x-quantcli-k"]) == 12
    assert int(h["x-quantcli-colors"]) == result.colors == colours(response.content)
    assert int(h["x-quantcli-bytes-in"]) == len(data)
    assert int(h["x-quantcli-bytes-out"]) == len(response.content)
    assert float(h["x-quantcli-psnr"]) == pytest.approx(result.psnr, abs=1e-3)
    assert float(h["x-quantcli-ratio"]) == pytest.approx(len(response.content) / len(data), abs=1e-5)
    assert decode(response.content).shape[:2] == (48, 64)
    assert not api.service.store.remote
    assert not stored_files(api.service), "compress stores nothing"


def test_compress_auto_dither_and_lossless(api):
    data = png_bytes(seed=5)
    auto = api.post("/api/v1/compress?k=auto&min_psnr=30", content=data, headers=api.alice)
    assert auto.status_code == 200, auto.text
    assert float(auto.headers["x-quantcli-psnr"]) >= 30
    dithered = api.post("/api/v1/compress?k=8&dither=true", content=data, headers=api.alice)
    plain = api.post("/api/v1/compress?k=8&dither=false", content=data, headers=api.alice)
    assert dithered.status_code == plain.status_code == 200
    assert dithered.content != plain.content
    assert dithered.content == compress_bytes(data, QuantizeOptions(k=8, dither=True))[0]
    few = np.zeros((8, 8, 3), np.uint8)
    few[:4] = 200
    buffer = io.BytesIO()
    from PIL import Image

    Image.fromarray(few).save(buffer, "PNG")
    lossless = api.post("/api/v1/compress?k=4", content=buffer.getvalue(), headers=api.alice)
    assert lossless.headers["x-quantcli-psnr"] == "inf"
    assert lossless.headers["x-quantcli-colors"] == "2"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("k=1", "k must be from 2 to 256 or auto, got 1"),
        ("k=300", "k must be from 2 to 256 or auto, got 300"),
        ("k=many", "k must be a number from 2 to 256 or auto, got 'many'"),
        ("k=8&dither=maybe", "dither must be auto, on, off or a number from 0 to 1, got 'maybe'"),
        ("k=8&min_psnr=40", "min_psnr is the target of k=auto; give k=auto with it"),
        ("k=auto&min_psnr=lots", "min_psnr must be a number of dB, got 'lots'"),
        ("k=auto&quality=150", "quality values must be numbers from 0 to 100, got '150'"),
        ("k=auto&quality=10-150", "quality values must be numbers from 0 to 100, got '10-150'"),
        ("k=auto&quality=90-80", "quality minimum 90 is above its maximum 80"),
    ],
)
def test_bad_parameters_are_422_with_one_line(api, query, message):
    response = api.post(f"/api/v1/compress?{query}", content=png_bytes(), headers=api.alice)
    assert response.status_code == 422
    assert response.json() == {"detail": message}


def test_quality_is_passed_on(api):
    response = api.post("/api/v1/compress?k=auto&quality=80", content=png_bytes(), headers=api.alice)
    assert response.status_code == 200, response.text


def test_quality_with_a_fixed_k_is_a_cap_and_min_psnr_needs_auto(api):
    """quality with a fixed k picks the fewest colours up to k (as ``compress -k 64 --quality
    90``); min_psnr searches every K, so it goes with k=auto only. The schema says both."""
    data = png_bytes(h=120, w=160, seed=4)
    capped = api.post("/api/v1/compress?k=64&quality=1", content=data, headers=api.alice)
    assert capped.status_code == 200
    assert int(capped.headers["x-quantcli-k"]) < 64
    too_low = api.post("/api/v1/compress?k=8&quality=90-95", content=data, headers=api.alice)
    assert too_low.status_code == 422 and "below the minimum 90" in too_low.json()["detail"]
    params = {
        p["name"]: p for p in api.get("/api/openapi.json").json()["paths"]["/api/v1/compress"]["post"]["parameters"]
    }
    assert "a fixed k is a cap" in params["quality"]["description"]
    assert "Only with k=auto" in params["min_psnr"]["description"]


def test_a_missed_target_is_said_in_headers_and_json(api):
    """The K of a target nobody can reach is the largest allowed, reported as missed with
    the value reached; a target reached says so; a fixed K has no target."""
    data = png_bytes(h=120, w=160, seed=4)
    missed = api.post("/api/v1/compress?k=8&quality=99", content=data, headers=api.alice)
    assert missed.status_code == 200, missed.text
    _, result = compress_bytes(data, QuantizeOptions(k=8, dither="auto"), quality=(0, 99))
    assert missed.headers["x-quantcli-k"] == "8" and missed.headers["x-quantcli-target-met"] == "false"
    assert float(missed.headers["x-quantcli-quality"]) == pytest.approx(result.quality, abs=0.01)
    assert result.quality < 99
    met = api.post("/api/v1/compress?k=auto&quality=20", content=data, headers=api.alice)
    assert met.headers["x-quantcli-target-met"] == "true" and float(met.headers["x-quantcli-quality"]) >= 20
    psnr = api.post("/api/v1/compress?k=auto&min_psnr=99", content=data, headers=api.alice)
    assert psnr.headers["x-quantcli-target-met"] == "false" and "x-quantcli-quality" not in psnr.headers
    fixed = api.post("/api/v1/compress?k=8", content=data, headers=api.alice)
    assert "x-quantcli-target-met" not in fixed.headers and "x-quantcli-quality" not in fixed.headers

    stored = api.post("/api/v1/images?k=8&quality=99", content=data, headers=api.alice).json()
    assert stored["target_met"] is False and stored["quality"] == pytest.approx(result.quality, abs=0.01)
    assert api.get(f"/api/v1/images/{stored['id']}", headers=api.alice).json()["target_met"] is False
    plain = api.post("/api/v1/images?k=8", content=data, headers=api.alice).json()
    assert plain["target_met"] is None and plain["quality"] is None
    schema = api.get("/api/openapi.json").json()["components"]["schemas"]["ImageInfo"]["properties"]
    assert "target_met" in schema and "quality" in schema


def test_an_empty_body_is_400_and_documented(api):
    from pathlib import Path

    response = api.post("/api/v1/images?k=8", content=b"", headers=api.alice)
    assert response.status_code == 400
    assert response.json() == {"detail": "empty request body: send the image file's bytes"}
    openapi = api.get("/api/openapi.json").json()
    paths = openapi["paths"]
    for path in ("/api/v1/compress", "/api/v1/images"):
        assert "400" in paths[path]["post"]["responses"]
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert "`400` an empty body" in readme


def test_the_api_description_gives_this_servers_limits_not_command_line_options(tmp_path):
    with app_client(tmp_path, max_upload=2_000_000, max_pixels=12_000_000) as client:
        description = " ".join(client.get("/api/openapi.json").json()["info"]["description"].split())
    assert "at most 2 MB and 12 megapixels on this server" in description
    assert "--" not in description.replace("--data-binary", "")


API_ROUTES = [
    ("POST", "/api/v1/compress"),
    ("POST", "/api/v1/images"),
    ("GET", "/api/v1/images"),
    ("GET", "/api/v1/images/x"),
    ("GET", "/api/v1/images/x/output.png"),
    ("GET", "/api/v1/images/x/source"),
    ("DELETE", "/api/v1/images/x"),
]


def test_every_api_route_needs_a_valid_key(api):
    refusals = {
        "none": {},
        "empty": {"Authorization": "Bearer"},
        "basic": {"Authorization": "Basic YWxpY2U6eA=="},
        "wrong": {"Authorization": "Bearer qk_wrong"},
        "not ours": {"Authorization": "Bearer " + "x" * 43},
    }
    for method, path in API_ROUTES:
        for why, headers in refusals.items():
            response = api.request(method, path, content=png_bytes() if method == "POST" else None, headers=headers)
            assert response.status_code == 401, (method, path, why)
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert "detail" in response.json()


def test_a_session_cookie_is_no_api_key(api):
    from serve_support import sign_in

    sign_in(api)
    assert api.get("/api/v1/images").status_code == 401


def test_images_store_list_get_files_and_delete(api):
    data = png_bytes(seed=6)
    created = api.post("/api/v1/images?k=16&name=../../etc/passwd.png", content=data, headers=api.alice)
    assert created.status_code == 201, created.text
    body = created.json()
    assert created.headers["location"] == f"/api/v1/images/{body['id']}"
    assert set(body) >= {"id", "k", "colors", "bytes_in", "bytes_out", "psnr", "palette"}
    assert body["name"] == "passwd.png"  # a label: the last part of the name, nothing more
    assert body["k"] == 16 and body["status"] == "done"
    assert body["bytes_in"] == len(data)
    assert sum(entry["count"] for entry in body["palette"]) == 48 * 64
    counts = [entry["count"] for entry in body["palette"]]
    assert counts == sorted(counts, reverse=True)
    assert len(body["palette"]) == body["colors"]
    assert all(len(entry["rgb"]) == 3 and entry["alpha"] == 255 for entry in body["palette"])

    listed = api.get("/api/v1/images", headers=api.alice).json()["images"]
    assert [image["id"] for image in listed] == [body["id"]]
    got = api.get(f"/api/v1/images/{body['id']}", headers=api.alice)
    assert got.json() == body
    output = api.get(f"/api/v1/images/{body['id']}/output.png", headers=api.alice)
    assert output.status_code == 200 and output.headers["content-type"] == "image/png"
    assert output.content == compress_bytes(data, QuantizeOptions(k=16))[0]
    assert len(output.content) == body["bytes_out"]
    assert "attachment" in output.headers["content-disposition"]
    source = api.get(f"/api/v1/images/{body['id']}/source", headers=api.alice)
    assert source.content == data
    assert source.headers["content-type"] == "image/png"
    assert "sandbox" in source.headers["content-security-policy"]

    stored = stored_files(api.service)
    assert len(stored) == 2
    assert all("passwd" not in str(p) and ".." not in p.parts for p in stored)  # names made by the server

    assert api.delete(f"/api/v1/images/{body['id']}", headers=api.alice).status_code == 204
    assert api.get(f"/api/v1/images/{body['id']}", headers=api.alice).status_code == 404
    assert not stored_files(api.service)


def test_list_is_newest_first_and_pages(api):
    ids = [
        api.post(f"/api/v1/images?k=4&name={i}.png", content=png_bytes(seed=i), headers=api.alice).json()["id"]
        for i in range(3)
    ]
    listed = api.get("/api/v1/images", headers=api.alice).json()["images"]
    assert [image["id"] for image in listed] == ids[::-1]
    page = api.get("/api/v1/images?limit=1&offset=1", headers=api.alice).json()["images"]
    assert [image["id"] for image in page] == [ids[1]]
    assert api.get("/api/v1/images?limit=0", headers=api.alice).status_code == 422


def test_another_users_image_is_not_found(api):
    image = api.post("/api/v1/images?k=8", content=png_bytes(), headers=api.alice).json()["id"]
    for method, path in [
        ("GET", f"/api/v1/images/{image}"),
        ("GET", f"/api/v1/images/{image}/output.png"),
        ("GET", f"/api/v1/images/{image}/source"),
        ("DELETE", f"/api/v1/images/{image}"),
    ]:
        response = api.request(method, path, headers=api.bob)
        assert response.status_code == 404, (method, path)
        assert response.json() == {"detail": "no such image"}
    assert api.get("/api/v1/images", headers=api.bob).json() == {"images": []}
    assert api.get(f"/api/v1/images/{image}", headers=api.alice).status_code == 200  # still there


def test_upload_over_max_upload_is_413_by_its_header(tmp_path):
    app, service = make_app(tmp_path, max_upload=10_000)
    with TestClient(app) as client:
        big = png_bytes(h=200, w=200)
        assert len(big) > 10_000
        for path in ("/api/v1/compress", "/api/v1/images"):
            response = client.post(path, content=big, headers=bearer(service.keys["alice"]))
            assert response.status_code == 413
            assert response.json() == {"detail": "upload too large: more than the limit of 10 kB per file"}
        assert not stored_files(service)


def test_upload_over_max_upload_is_413_while_streaming(tmp_path):
    """Without Content-Length (chunked), the upload is refused once the bytes received
    pass the limit: the rest is never read (the test client buffers bodies, so this test
    speaks ASGI to the app itself)."""
    import asyncio

    app, service = make_app(tmp_path, max_upload=10_000)
    chunks_read = 0
    sent: list[dict] = []

    async def receive():
        nonlocal chunks_read
        chunks_read += 1
        return {"type": "http.request", "body": b"\0" * 1000, "more_body": chunks_read < 1000}

    async def send(message):
        sent.append(message)

    key = service.keys["alice"].encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/images",
        "raw_path": b"/api/v1/images",
        "root_path": "",
        "query_string": b"k=8",
        "headers": [(b"host", b"testserver"), (b"authorization", b"Bearer " + key), (b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "state": {},
    }
    with TestClient(app):  # runs the lifespan: the service is started
        asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 413
    assert json.loads(b"".join(m.get("body", b"") for m in sent[1:])) == {
        "detail": "upload too large: more than the limit of 10 kB per file"
    }
    assert chunks_read == 11  # 11 kB read, over the 10 kB limit: the other 989 kB never are
    assert not stored_files(service)


def test_corrupt_images_are_422_with_the_reason(api):
    good = png_bytes()
    cases = {
        b"this is not an image": "not an image (unrecognised format)",
        good[: len(good) // 2]: "truncated image data",
    }
    for data, reason in cases.items():
        for path in ("/api/v1/compress", "/api/v1/images"):
            response = api.post(path, content=data, headers=api.alice)
            assert response.status_code == 422, response.text
            assert response.json() == {"detail": reason}
    assert api.get("/api/v1/images", headers=api.alice).json() == {"images": []}  # nothing kept
    assert not stored_files(api.service)
    empty = api.post("/api/v1/compress", content=b"", headers=api.alice)
    assert empty.status_code == 400


def test_pixel_limit_is_checked_from_the_header_before_decoding(tmp_path, monkeypatch):
    app, service = make_app(tmp_path, max_pixels=1000)
    import quantcli.images

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded")

    monkeypatch.setattr(quantcli.images, "read_image", no_decoding)
    with TestClient(app) as client:
        for data, size in (
            (png_bytes(h=40, w=40), "40x40 (1,600 pixels)"),
            (huge_png_header(), "60000x60000 (3600 megapixels)"),
        ):
            for path in ("/api/v1/compress", "/api/v1/images"):
                response = client.post(path, content=data, headers=bearer(service.keys["alice"]))
                assert response.status_code == 413
                detail = f"image too large: {size} is over the limit of 1,000 pixels per image"
                assert response.json() == {"detail": detail}


def test_a_full_queue_answers_503(tmp_path):
    app, service = make_app(tmp_path, workers=1, queue=0)
    release = threading.Event()
    with TestClient(app) as client:
        service.pool.submit(release.wait)  # the only worker, busy
        try:
            response = client.post("/api/v1/compress?k=4", content=png_bytes(), headers=bearer(service.keys["alice"]))
        finally:
            release.set()
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert client.get("/api/v1/images", headers=bearer(service.keys["alice"])).json() == {"images": []}


def test_errors_show_no_stack_trace(tmp_path, monkeypatch):
    app, service = make_app(tmp_path)

    def broken(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(service, "process", broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/api/v1/images", content=png_bytes(), headers=bearer(service.keys["alice"]))
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}
    assert "secret" not in response.text and "Traceback" not in response.text


def test_security_headers_on_every_response(api):
    for response in (api.get("/healthz"), api.get("/login"), api.get("/api/v1/images")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert "unsafe-inline" not in response.headers["content-security-policy"]
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"
    assert "server" not in {k.lower() for k in api.get("/healthz").headers}


def test_openapi_page_and_schema_are_served_locally(api):
    schema = api.get("/api/openapi.json").json()
    assert set(schema["paths"]) == {
        "/api/v1/compress",
        "/api/v1/images",
        "/api/v1/images/{image_id}",
        "/api/v1/images/{image_id}/output.png",
        "/api/v1/images/{image_id}/source",
    }
    assert "image/png" in schema["paths"]["/api/v1/compress"]["post"]["responses"]["200"]["content"]
    page = api.get("/api/docs")
    assert page.status_code == 200
    assert "https://" not in page.text  # no CDN
    for asset in ("/static/swagger/swagger-ui-bundle.js", "/static/swagger/swagger-ui.css", "/static/api-docs.js"):
        assert api.get(asset).status_code == 200, asset


def test_store_on_an_fsspec_uri(tmp_path):
    pytest.importorskip("fsspec")
    import fsspec

    app, service = make_app(tmp_path, store="memory://quantcli-test-store")
    with TestClient(app) as client:
        key = bearer(service.keys["alice"])
        created = client.post("/api/v1/images?k=8", content=png_bytes(), headers=key)
        assert created.status_code == 201, created.text
        image = created.json()["id"]
        fs = fsspec.filesystem("memory")
        files = [p for p in fs.find("/quantcli-test-store") if "/" + image + "/" in p]
        assert len(files) == 2
        assert client.get(f"/api/v1/images/{image}/output.png", headers=key).content == fs.cat_file(
            next(p for p in files if p.endswith("output.png"))
        )
        assert client.delete(f"/api/v1/images/{image}", headers=key).status_code == 204
        assert not [p for p in fs.find("/quantcli-test-store") if "/" + image + "/" in p]


def test_a_database_keeps_its_store(tmp_path):
    from quantcli.errors import InvalidOptionError
    from quantcli.serve.config import ServeConfig
    from quantcli.serve.work import Service

    make_app(tmp_path)  # records the default store
    with pytest.raises(InvalidOptionError, match="this database's images are stored in the data folder"):
        Service(ServeConfig(data_dir=str(tmp_path / "data"), store="memory://elsewhere"))


def test_json_is_plain_json(api):
    created = api.post("/api/v1/images?k=4", content=image_bytes("TIFF"), headers=api.alice)
    assert created.status_code == 201
    assert json.loads(created.text)["status"] == "done"
    source = api.get(f"/api/v1/images/{created.json()['id']}/source", headers=api.alice)
    assert source.headers["content-type"] == "application/octet-stream"  # TIFF: not shown inline


def test_images_over_the_memory_budget_wait_for_room(tmp_path, monkeypatch):
    """Two uploads that together exceed the budget run one after the other: the second
    waits in the queue (no 500, no failure), as ``compress -j`` admits big files."""
    from quantcli.memory import MemoryBudget
    from quantcli.serve import work

    pixels = 48 * 64
    app, service = make_app(tmp_path, workers=2, memory_budget=MemoryBudget.cost(pixels) + 1)
    release, running = threading.Event(), []
    real = work.compress_data

    def compress_data(*args, **kwargs):
        running.append(args[1])
        release.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(work, "compress_data", compress_data)
    answers: list = []
    with TestClient(app) as client:
        key = bearer(service.keys["alice"])

        def upload(name: str) -> None:
            answers.append(client.post(f"/api/v1/images?k=8&name={name}", content=png_bytes(), headers=key))

        first = threading.Thread(target=upload, args=("first.png",))
        first.start()
        wait_for(lambda: running == ["first.png"])
        second = threading.Thread(target=upload, args=("second.png",))
        second.start()
        wait_for(lambda: service.memory.waiting == 1)  # admitted by the pool, waiting for memory
        assert running == ["first.png"] and service.memory.used == MemoryBudget.cost(pixels)
        release.set()
        first.join(60)
        second.join(60)
    assert sorted(a.status_code for a in answers) == [201, 201]
    assert running == ["first.png", "second.png"] and service.memory.used == 0


def test_the_service_takes_fewer_pixels_than_the_command_line_by_default(tmp_path):
    from quantcli.images import DEFAULT_MAX_PIXELS
    from quantcli.memory import EXACT_PEAK_BYTES_PER_PIXEL, MemoryBudget, default_budget
    from quantcli.serve.config import ServeConfig

    config = ServeConfig(data_dir=str(tmp_path))
    assert config.max_pixels == 25_000_000 < DEFAULT_MAX_PIXELS
    assert config.memory_budget == default_budget()  # the -j rule: half the RAM
    assert MemoryBudget.cost(1000) == 1000 * EXACT_PEAK_BYTES_PER_PIXEL


def test_out_of_memory_is_503_with_retry_after(api, monkeypatch):
    import quantcli.pipeline

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(quantcli.pipeline, "encode_image", no_memory)
    for path in ("/api/v1/compress?k=8", "/api/v1/images?k=8"):
        response = api.post(path, content=png_bytes(), headers=api.alice)
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "30"
        assert response.json() == {"detail": "the server is out of memory just now; try again later"}
    assert not stored_files(api.service)


def test_a_user_over_the_storage_quota_is_refused_with_what_is_used(tmp_path):
    """Uploads and results count against their user's quota; past it an upload is 413
    with the bytes used and the quota, nothing of it is stored, others' uploads go on, and
    deleting an image makes room. The page's upload lists the refusal; the Account page
    says how much is used."""
    import re

    from serve_support import sign_in

    first, second = png_bytes(seed=1), png_bytes(seed=2)
    with app_client(tmp_path, user_quota=len(first) + len(second)) as client:
        alice, bob = bearer(client.service.keys["alice"]), bearer(client.service.keys["bob"])
        kept = client.post("/api/v1/images?k=8", content=first, headers=alice)
        assert kept.status_code == 201
        used = kept.json()["bytes_in"] + kept.json()["bytes_out"]
        files_before = sorted(stored_files(client.service))
        refused = client.post("/api/v1/images?k=8&name=second.png", content=second, headers=alice)
        assert refused.status_code == 413
        detail = refused.json()["detail"]
        assert detail.startswith("your storage is full: ") and "delete some of your images" in detail
        assert f"{used / 1000:.1f} kB of your" in detail and f"takes {len(second) / 1000:.1f} kB" in detail
        assert sorted(stored_files(client.service)) == files_before  # nothing of it was kept
        assert client.post("/api/v1/images?k=8", content=second, headers=bob).status_code == 201
        assert client.post("/api/v1/compress?k=8", content=second, headers=alice).status_code == 200  # stores nothing

        csrf = sign_in(client)
        job = client.post("/jobs", data={"csrf_token": csrf, "k": "8"}).json()["id"]
        put = {"headers": {"X-CSRF-Token": csrf, "Accept": "application/json"}}
        assert client.put(f"/jobs/{job}/images?name=page.png", content=second, **put).status_code == 413
        page = client.get(f"/jobs/{job}").text
        assert re.search(r'<span class="name">page.png</span>: <span class="error">your storage is full: ', page)
        account = client.get("/account").text
        assert re.search(r'id="storage">[^<]* of your [^<]* used by your uploads and their results', account)

        assert client.delete(f"/api/v1/images/{kept.json()['id']}", headers=alice).status_code == 204
        assert client.post("/api/v1/images?k=8", content=second, headers=alice).status_code == 201


def test_concurrent_uploads_pass_the_quota_one_by_one(tmp_path):
    """Ten uploads at once with room for three: three are stored, whatever the timing."""
    data = png_bytes(seed=3)
    with app_client(tmp_path, user_quota=3 * len(data) + len(data) // 2) as client:
        service = client.service
        with service.db.session() as s:
            alice = service.db.user_by_name(s, "alice").id
        outcomes = []
        start = threading.Barrier(10)

        def upload() -> None:
            from quantcli.serve.uploads import UploadRefused

            start.wait()
            try:
                service.accept(alice, data, "a.png")
                outcomes.append("stored")
            except UploadRefused as exc:
                outcomes.append(exc.status)

        threads = [threading.Thread(target=upload) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes, key=str) == sorted(["stored"] * 3 + [413] * 7, key=str)
        assert len(stored_files(service)) == 3
