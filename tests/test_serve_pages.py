"""``quantcli serve``'s pages through the framework's test client: signing in and out,
cookies, CSRF, lockout, jobs, results, downloads, and other users' objects."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import timedelta

import numpy as np
import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient
from quantcli import QuantizeOptions, compress_bytes
from serve_support import (
    PASSWORD,
    app_client,
    cheap_password_hashes,  # noqa: F401 (an autouse fixture)
    colours,
    decode,
    few_colours_png,
    form_token,
    image_bytes,
    make_app,
    png_bytes,
    run_job,
    sign_in,
    stored_files,
    wait_for,
)


@pytest.fixture
def web(tmp_path):
    with app_client(tmp_path) as client:
        yield client


def other_client(web):
    """A second browser on the same app."""
    return TestClient(web.app)


PAGES = ["/", "/history", "/account"]


def test_pages_redirect_to_sign_in_and_scripts_get_401(web):
    for path in [*PAGES, "/jobs/x", "/images/x", "/images/x/output.png", "/jobs/x/download.zip"]:
        response = web.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/login?next=" + path
        scripted = web.get(path, headers={"Accept": "application/json"})
        assert scripted.status_code == 401
        assert scripted.json() == {"detail": "sign in first"}
    response = web.post("/jobs", data={"k": "8"}, headers={"Accept": "application/json"})
    assert response.status_code == 401


def test_sign_in_sets_a_safe_cookie_and_sign_out_ends_the_session(web):
    page = web.get("/login?next=/history")
    assert 'name="next" value="/history"' in page.text
    response = web.post(
        "/login",
        data={"name": "alice", "password": PASSWORD, "csrf_token": form_token(page.text), "next": "/history"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/history"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("quantcli_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http
    session = web.cookies["quantcli_session"]
    assert web.get("/history").status_code == 200
    assert "Sign out alice" in web.get("/").text

    csrf = form_token(web.get("/").text)
    out = web.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert web.get("/", follow_redirects=False).status_code == 303
    web.cookies.set("quantcli_session", session)  # the old cookie, replayed
    assert web.get("/", follow_redirects=False).status_code == 303


def test_an_expired_session_signs_out(web):
    from quantcli.serve.accounts import token_hash
    from quantcli.serve.db import LoginSession, utcnow

    sign_in(web)
    with web.service.db.session() as s:
        s.get(LoginSession, token_hash(web.cookies["quantcli_session"])).expires_at = utcnow() - timedelta(seconds=1)
    response = web.get("/history", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/history"
    with web.service.db.session() as s:
        assert s.query(LoginSession).count() == 0  # deleted when found expired


def test_next_never_leaves_the_site(web):
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        page = web.get("/login", params={"next": target})
        response = web.post(
            "/login",
            data={"name": "alice", "password": PASSWORD, "csrf_token": form_token(page.text), "next": target},
            follow_redirects=False,
        )
        assert response.headers["location"] == "/"
        web.cookies.clear()


def test_cookie_is_secure_over_https_only_through_a_trusted_proxy(tmp_path):
    def cookie_after_sign_in(client, headers):
        page = client.get("/login", headers=headers)
        token = form_token(page.text)
        client.cookies.clear()  # a Secure cookie would not come back over http: send it by hand
        response = client.post(
            "/login",
            data={"name": "alice", "password": PASSWORD, "csrf_token": token},
            headers={**headers, "Cookie": f"quantcli_csrf={token}"},
            follow_redirects=False,
        )
        return next(c for c in response.headers.get_list("set-cookie") if c.startswith("quantcli_session="))

    https = {"X-Forwarded-Proto": "https"}
    app, _ = make_app(tmp_path / "untrusted")
    with TestClient(app) as client:
        assert "Secure" not in cookie_after_sign_in(client, https)  # the header is not trusted by default
    app, _ = make_app(tmp_path / "proxied", proxy_headers=True, forwarded_allow_ips="*")
    with TestClient(app) as client:
        assert "Secure" in cookie_after_sign_in(client, https)
    app, _ = make_app(tmp_path / "direct")
    with TestClient(app, base_url="https://testserver") as client:
        assert "Secure" in cookie_after_sign_in(client, {})


def test_wrong_password_unknown_user_and_lockout(web):
    def attempt(password, name="alice"):
        page = web.get("/login")
        return web.post(
            "/login",
            data={"name": name, "password": password, "csrf_token": form_token(page.text)},
            follow_redirects=False,
        )

    unknown = attempt("whatever", name="mallory")
    wrong = attempt("wrong password")
    assert unknown.status_code == wrong.status_code == 401
    assert "wrong user name or password" in unknown.text and "wrong user name or password" in wrong.text
    for _ in range(4):
        assert attempt("wrong password").status_code == 401
    locked = attempt(PASSWORD)  # the fifth failure locked the account: even the right password waits
    assert locked.status_code == 429
    assert 1 <= int(locked.headers["retry-after"]) <= 31
    assert "too many failed sign-ins" in locked.text

    from quantcli.serve.db import LoginFailures, utcnow

    with web.service.db.session() as s:  # the lock runs out
        row = s.get(LoginFailures, "alice")
        assert row.failures == 5
        row.locked_until = utcnow() - timedelta(seconds=1)
    assert attempt(PASSWORD).status_code == 303
    with web.service.db.session() as s:
        assert s.get(LoginFailures, "alice") is None


def test_an_unknown_name_locks_as_a_real_one_does(web):
    """The lockout tells nothing about which names exist: failures count by the name given."""

    def attempts(name):
        codes = []
        for _ in range(6):
            page = web.get("/login")
            response = web.post(
                "/login",
                data={"name": name, "password": "wrong password", "csrf_token": form_token(page.text)},
                follow_redirects=False,
            )
            codes.append((response.status_code, response.headers.get("retry-after"), _detail(response.text)))
        return codes

    real, unknown = attempts("alice"), attempts("mallory")
    assert [c[0] for c in real] == [c[0] for c in unknown] == [401] * 5 + [429]
    assert real[5][2] == unknown[5][2] == "too many failed sign-ins for this account; try again later"
    assert real[5][1] is not None and unknown[5][1] is not None
    page = web.get("/login")  # the name as given, in any case
    again = web.post("/login", data={"name": "MALLORY", "password": "x" * 8, "csrf_token": form_token(page.text)})
    assert again.status_code == 429


def _detail(html: str) -> str:
    match = re.search(r'class="error"[^>]*>([^<]+)<', html)
    return match.group(1).strip() if match else ""


def test_lock_grows_and_is_capped():
    from quantcli.serve.accounts import LOCK_MAX, lock_duration

    assert lock_duration(4) == timedelta(0)
    assert lock_duration(5) == timedelta(seconds=30)
    assert lock_duration(6) == timedelta(seconds=60)
    assert lock_duration(50) == LOCK_MAX


def test_an_address_that_fails_too_often_is_refused(web):
    from quantcli.serve.accounts import IP_FAILURES

    for i in range(IP_FAILURES):
        page = web.get("/login")
        web.post("/login", data={"name": f"user{i}", "password": "x" * 8, "csrf_token": form_token(page.text)})
    page = web.get("/login")
    response = web.post("/login", data={"name": "bob", "password": PASSWORD, "csrf_token": form_token(page.text)})
    assert response.status_code == 429
    assert "from your address" in response.text


def _restarted(tmp_path, **config):
    """A TestClient on a new server over the data folder of ``make_app(tmp_path)``: a
    restart."""
    from quantcli.serve.app import create_app
    from quantcli.serve.config import ServeConfig
    from quantcli.serve.work import Service

    cfg = ServeConfig(data_dir=str(tmp_path / "data"), workers=1, **config)
    return TestClient(create_app(cfg, Service(cfg)))


def _sign_up(client, name: str, password2: str = PASSWORD):
    token = form_token(client.get("/signup").text)
    return client.post(
        "/signup",
        data={"name": name, "password": PASSWORD, "password2": password2, "csrf_token": token},
        follow_redirects=False,
    )


def test_sign_ups_from_one_address_are_throttled_across_restarts(tmp_path):
    """One address makes at most SIGNUPS accounts in SIGNUP_WINDOW, successful ones counted
    (issue 22: 22 accounts in 8 s); a sign-up that failed uses no slot; the count is in
    the database, so a restart keeps refusing."""
    from quantcli.serve.accounts import SIGNUP_WINDOW, SIGNUPS, list_users

    app, service = make_app(tmp_path, allow_signup=True)
    with TestClient(app) as client:
        assert _sign_up(client, "typo", password2="something else").status_code == 400
        for i in range(SIGNUPS):
            assert _sign_up(client, f"user{i}").status_code == 303, i
        refused = _sign_up(client, "one-too-many")
        assert refused.status_code == 429
        assert "too many new accounts from your address" in refused.text
        assert 0 < int(refused.headers["retry-after"]) <= SIGNUP_WINDOW
    names = {user.name for user in list_users(service.db)}
    assert names == {"alice", "bob", *(f"user{i}" for i in range(SIGNUPS))}
    with _restarted(tmp_path, allow_signup=True) as client:
        again = _sign_up(client, "after-restart")
        assert again.status_code == 429 and "too many new accounts" in again.text
    assert "after-restart" not in {user.name for user in list_users(service.db)}


def test_the_sign_in_limit_of_an_address_survives_a_restart(tmp_path):
    from quantcli.serve.accounts import IP_FAILURES

    with app_client(tmp_path) as client:
        for i in range(IP_FAILURES):
            token = form_token(client.get("/login").text)
            client.post("/login", data={"name": f"user{i}", "password": "x" * 8, "csrf_token": token})
    with _restarted(tmp_path) as client:
        token = form_token(client.get("/login").text)
        right = client.post("/login", data={"name": "bob", "password": PASSWORD, "csrf_token": token})
        assert right.status_code == 429 and "from your address" in right.text
        assert int(right.headers["retry-after"]) > 0


def test_addresses_are_counted_by_host_and_reservations_never_pass_the_limit(tmp_path):
    """IPv4 as it is, IPv6 by its /64 (one host holds a /64 and could walk it); events at
    the same moment cannot all pass the check: of 12 concurrent reservations 3 pass."""
    import threading

    from quantcli.serve.accounts import AddressThrottle, address_key
    from quantcli.serve.db import Database

    assert address_key("192.0.2.7") == "192.0.2.7"
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert address_key("x" * 500) == "x" * 64  # not an address (a test client's name): as given, bounded
    db = Database("sqlite:///" + str(tmp_path / "t.db"))
    throttle = AddressThrottle(db, "sign-up", limit=3, window=3600)
    results = []
    start = threading.Barrier(12)

    def reserve() -> None:
        start.wait()
        results.append(throttle.reserve("2001:db8::1"))

    threads = [threading.Thread(target=reserve) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r is not None for r in results) == 3
    assert throttle.retry_after("2001:db8::ffff") > 0  # the same /64
    assert throttle.retry_after("2001:db9::1") == 0 and throttle.retry_after("192.0.2.1") == 0
    throttle.release(next(r for r in results if r is not None))
    assert throttle.retry_after("2001:db8::1") == 0
    db.dispose()


def test_sign_in_and_sign_up_need_the_forms_token(tmp_path):
    app, _ = make_app(tmp_path, allow_signup=True)
    with TestClient(app) as client:
        for path, data in (
            ("/login", {"name": "alice", "password": PASSWORD}),
            ("/signup", {"name": "carol", "password": PASSWORD, "password2": PASSWORD}),
        ):
            client.get(path)
            for token in ("", "forged-token-forged-token-forged-token"):
                response = client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)
                assert response.status_code == 403, (path, token)
                assert "CSRF" in response.text
        assert "quantcli_session" not in client.cookies


def test_every_state_changing_request_needs_the_sessions_token(web):
    csrf = sign_in(web)
    job = run_job(web, csrf, {"a.png": png_bytes()}, k="8")
    image = re.search(r'href="/images/([^"/]+)"', web.get(f"/jobs/{job}").text).group(1)
    open_job = web.post("/jobs", data={"csrf_token": csrf, "k": "8"}).json()["id"]
    refusals = [
        ("POST", "/jobs", {"data": {"k": "8"}}),
        ("PUT", f"/jobs/{open_job}/images", {"content": png_bytes()}),
        ("POST", f"/jobs/{open_job}/start", {}),
        ("POST", f"/jobs/{job}/delete", {"data": {}}),
        ("POST", f"/images/{image}/delete", {"data": {}}),
        ("POST", "/account/api-key", {"data": {}}),
        ("POST", "/logout", {"data": {}}),
    ]
    for method, path, body in refusals:
        for headers in ({}, {"X-CSRF-Token": "x" * 43}):
            response = web.request(method, path, headers={"Accept": "application/json", **headers}, **body)
            assert response.status_code == 403, (method, path, headers)
            assert "CSRF" in response.json()["detail"]
    # nothing happened
    assert web.get(f"/jobs/{job}").status_code == 200
    assert web.get(f"/images/{image}").status_code == 200
    assert web.get("/", follow_redirects=False).status_code == 200


def test_signup_only_when_allowed(web, tmp_path):
    assert web.get("/signup").status_code == 404
    assert web.post("/signup", data={"name": "carol"}).status_code == 404
    app, _service = make_app(tmp_path / "open", allow_signup=True)
    with TestClient(app) as client:
        assert "Sign up" in client.get("/login").text
        page = client.get("/signup")
        token = form_token(page.text)
        bad = client.post(
            "/signup", data={"name": "carol", "password": "short", "password2": "short", "csrf_token": token}
        )
        assert bad.status_code == 400 and "8 to 1024 characters" in bad.text
        taken = client.post(
            "/signup", data={"name": "alice", "password": PASSWORD, "password2": PASSWORD, "csrf_token": token}
        )
        assert taken.status_code == 400 and "exists" in taken.text
        done = client.post(
            "/signup",
            data={"name": "carol", "password": PASSWORD, "password2": PASSWORD, "csrf_token": token},
            follow_redirects=False,
        )
        assert done.status_code == 303 and done.headers["location"] == "/account"
        account = client.get("/account")
        assert "Account: carol" in account.text
        made = client.post("/account/api-key", data={"csrf_token": form_token(account.text)})
        key = re.search(r'<pre class="key" id="api-key">([^<]+)</pre>', made.text).group(1)
        assert client.get("/api/v1/images", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_a_new_api_key_replaces_the_old_one(web):
    csrf = sign_in(web)
    old = web.service.keys["alice"]
    assert web.get("/api/v1/images", headers={"Authorization": f"Bearer {old}"}).status_code == 200
    made = web.post("/account/api-key", data={"csrf_token": csrf})
    new = re.search(r'id="api-key">([^<]+)<', made.text).group(1)
    assert web.get("/api/v1/images", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    assert web.get("/api/v1/images", headers={"Authorization": f"Bearer {new}"}).status_code == 200
    assert new not in web.get("/account").text  # shown once


def test_upload_page_job_results_zip_and_delete(web):
    csrf = sign_in(web)
    upload = web.get("/")
    assert 'id="upload-form"' in upload.text and 'type="file"' in upload.text
    files = {"first.png": png_bytes(seed=1), "second.tiff": image_bytes("TIFF"), "broken.png": png_bytes()[:300]}
    job = run_job(web, csrf, files, k="16", dither="false")
    status = web.get(f"/jobs/{job}/status").json()
    assert status == {
        "id": job,
        "status": "done",
        "state": "done",
        "error": None,
        "total": 3,
        "done": 2,
        "errors": 1,
        "finished": 3,
        "percent": 100,
        "refused": 0,
    }
    page = web.get(f"/jobs/{job}").text
    assert "first.png" in page and "second.tiff" in page
    assert "broken.png" in page and "truncated image data" in page
    images = re.findall(r'<a class="name" href="/images/([^"/]+)">([^<]+)</a>', page)
    assert [name for _, name in images] == ["first.png", "second.tiff", "broken.png"]

    archive = web.get(f"/jobs/{job}/download.zip")
    assert archive.status_code == 200 and archive.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.content)) as z:
        assert sorted(z.namelist()) == ["first.png", "second.png"]
        assert z.read("first.png") == compress_bytes(files["first.png"], QuantizeOptions(k=16, dither="off"))[0]
        assert colours(z.read("second.png")) <= 16

    first = images[0][0]
    output = web.get(f"/images/{first}/output.png?download=true")
    assert output.headers["content-disposition"].startswith('attachment; filename="first.png"')
    assert web.get(f"/images/{first}/output.png").headers["content-disposition"].startswith("inline")
    assert web.get(f"/images/{first}/source").content == files["first.png"]

    history = web.get("/history").text
    assert f'href="/jobs/{job}"' in history
    deleted = web.post(f"/jobs/{job}/delete", data={"csrf_token": csrf}, follow_redirects=False)
    assert deleted.status_code == 303 and deleted.headers["location"] == "/history"
    assert web.get(f"/jobs/{job}").status_code == 404
    assert web.get(f"/images/{first}").status_code == 404
    assert not stored_files(web.service)


def test_zip_entry_names_unzip_on_windows(web):
    """Names Windows refuses become safe in a job's zip: its reserved characters become
    ``_``, a device name (``con.png``, ``COM1.tar.png``) gets a leading ``_``, a trailing
    dot or space goes; names that end up alike are numbered."""
    from quantcli.serve.job_pages import zip_entry_name

    csrf = sign_in(web)
    names = ["a<b>.png", 'say "hi".png', "con.png", "COM1.tar.png", "x:y|z?*.gif", "A<B>.png", "nul .png", "trail. "]
    files = {name: png_bytes(h=8, w=8, seed=i) for i, name in enumerate(names)}
    job = run_job(web, csrf, files, k="8")
    with zipfile.ZipFile(io.BytesIO(web.get(f"/jobs/{job}/download.zip").content)) as z:
        entries = z.namelist()
    assert entries == [
        "a_b_.png",
        "say _hi_.png",
        "_con.png",
        "_COM1.tar.png",
        "x_y_z__.png",
        "A_B_-2.png",
        "_nul .png",
        "trail.png",
    ]
    for name in ("prn", "AUX.png", "lpt9.x", "com\u00b9.png", "CONIN.png", "console.png", "...", " "):
        safe = zip_entry_name(name)
        stem = safe.split(".", 1)[0].rstrip(" ").upper()
        assert not re.search(r'[<>:"/\\|?*\x00-\x1f]', safe) and not safe.endswith((".", " ")), safe
        assert stem not in {"CON", "PRN", "AUX", "NUL", "LPT9", "COM\u00b9"}, safe
    assert zip_entry_name("console.png") == "console.png" and zip_entry_name("CONIN.png") == "CONIN.png"


def test_result_page_shows_before_after_stats_palette_and_curve(web):
    csrf = sign_in(web)
    data = png_bytes(seed=7, alpha=True)
    job = run_job(web, csrf, {"icon.png": data}, k="12")
    image = re.search(r'href="/images/([^"/]+)"', web.get(f"/jobs/{job}").text).group(1)
    page = web.get(f"/images/{image}").text
    assert f'src="/images/{image}/before"' in page and f'src="/images/{image}/output.png"' in page
    assert 'id="slider"' in page
    expected, result = compress_bytes(data, QuantizeOptions(k=12))
    assert f"({len(data)} bytes)" in page and f"({len(expected)} bytes)" in page
    assert f"{result.psnr:.2f} dB" in page
    swatches = re.findall(r'<li class="swatch" title="(#[0-9a-f]{6})[^"]*: (\d+) pixels"', page)
    assert len(swatches) == result.colors
    counts = [int(n) for _, n in swatches]
    assert counts == sorted(counts, reverse=True) and sum(counts) == 48 * 64
    assert "fill-opacity" in page  # the RGBA palette's alpha
    assert 'style="' not in page  # the CSP allows no inline style

    assert web.get(f"/images/{image}/before").content == data  # PNG: shown as uploaded
    assert web.get(f"/images/{image}/curve.svg", headers={"Accept": "application/json"}).status_code == 409
    first = web.get(f"/images/{image}/curve")
    assert first.status_code in (200, 202)
    curve = wait_for(lambda: (r := web.get(f"/images/{image}/curve")).status_code == 200 and r.json())
    assert curve["status"] == "done"
    ks = [s["k"] for s in curve["curve"]["scores"]]
    assert ks == [2, 4, 8, 12, 16, 32, 64, 128, 256] and curve["curve"]["k"] == 12
    svg = web.get(f"/images/{image}/curve.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert 'class="chosen"' in svg.text and "K = 12" in svg.text
    assert f'src="/images/{image}/curve.svg"' in web.get(f"/images/{image}").text


def test_before_view_of_a_format_browsers_cannot_show_is_a_png(web):
    csrf = sign_in(web)
    data = image_bytes("TIFF")
    job = run_job(web, csrf, {"scan.tiff": data}, k="8")
    image = re.search(r'href="/images/([^"/]+)"', web.get(f"/jobs/{job}").text).group(1)
    before = web.get(f"/images/{image}/before")
    assert before.headers["content-type"] == "image/png"
    from PIL import Image

    assert np.array_equal(decode(before.content), np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))


def test_shared_palette_and_auto_k_jobs(web):
    csrf = sign_in(web)
    files = {f"{i}.png": png_bytes(seed=10 + i) for i in range(3)}
    job = run_job(web, csrf, files, k="8", shared="true")
    ids = re.findall(r'<a class="name" href="/images/([^"/]+)">', web.get(f"/jobs/{job}").text)
    palettes = [json.dumps(web.get(f"/api/v1/images/{i}", headers=_key(web)).json()["palette"]) for i in ids]
    sets = [{tuple(e["rgb"]) for e in json.loads(p)} for p in palettes]
    assert sets[0] | sets[1] | sets[2] <= _shared_palette(files, 8)

    auto = run_job(web, csrf, {"a.png": png_bytes(seed=3)}, k="auto", min_psnr="30")
    info = web.get(f"/jobs/{auto}").text
    assert "K = auto (the smallest K reaching 30 dB PSNR)" in info
    image = re.search(r'<a class="name" href="/images/([^"/]+)">', info).group(1)
    body = web.get(f"/api/v1/images/{image}", headers=_key(web)).json()
    assert body["psnr"] >= 30 and 2 <= body["k"] <= 256
    assert "(the smallest K reaching 30 dB PSNR)" in web.get(f"/images/{image}").text

    refused = web.post(
        "/jobs", data={"csrf_token": csrf, "k": "auto", "shared": "true"}, headers={"Accept": "application/json"}
    )
    assert refused.status_code == 422
    assert refused.json()["detail"] == "k=auto picks K per image; it does not combine with a shared palette"


@pytest.mark.parametrize(
    ("fields", "k_text", "target"),
    [
        ({"k": "8", "quality": "99"}, "(no K up to 8 reaches quality 99: the most colours allowed)", "missed: quality"),
        ({"k": "auto", "quality": "20"}, "(the fewest colours reaching quality 20)", "met: quality"),
        ({"k": "auto", "min_psnr": "99"}, "(no K up to 256 reaches 99 dB PSNR: the most colours allowed)", "missed: "),
        ({"k": "16"}, None, None),
    ],
)
def test_result_and_job_pages_say_whether_the_target_was_met(web, fields, k_text, target):
    """A target no K allowed reaches is reported as missed, with the value reached, never
    as "the fewest colours reaching" it."""
    csrf = sign_in(web)
    job = run_job(web, csrf, {"a.png": png_bytes(h=120, w=160, seed=4)}, **fields)
    page = web.get(f"/jobs/{job}").text
    image = re.search(r'<a class="name" href="/images/([^"/]+)">', page).group(1)
    body = web.get(f"/images/{image}", headers={"Accept": "text/html"}).text
    info = web.get(f"/jobs/{job}/status").json()
    assert info["status"] == "done"
    if target is None:
        assert 'id="target"' not in body and "target " not in page
        return
    assert k_text in body
    wanted = f"quality {fields['quality']}" if "quality" in fields else f"{fields['min_psnr']} dB PSNR"
    shown = re.search(r'<td id="target" class="(\w+)">([^<]+)</td>', body)
    assert shown.group(1) == target.split(":")[0] and shown.group(2).startswith(target)
    assert shown.group(2).endswith(f"(the target: {wanted})")
    assert f"target {shown.group(2)}" in page


@pytest.mark.parametrize(
    ("fields", "rule"),
    [
        ({"k": "auto"}, "the fewest colours reaching quality 80, the default"),
        ({"k": "auto", "quality": "80"}, "the fewest colours reaching quality 80"),
        ({"k": "auto", "quality": "60-85"}, "the fewest colours reaching quality 85, at least 60"),
        ({"k": "64", "quality": "90"}, "the fewest colours up to 64 reaching quality 90"),
        ({"k": "auto", "min_psnr": "38.5"}, "the smallest K reaching 38.5 dB PSNR"),
        ({"k": "16"}, None),
    ],
)
def test_pages_say_which_rule_chose_k(web, fields, rule):
    """The result and job pages name the rule that chose K, never a PSNR target the job did
    not have. The image reaches every target: a missed one is said otherwise (below)."""
    csrf = sign_in(web)
    job = run_job(web, csrf, {"a.png": few_colours_png()}, **fields)
    page = web.get(f"/jobs/{job}").text
    image = re.search(r'<a class="name" href="/images/([^"/]+)">', page).group(1)
    result = web.get(f"/images/{image}").text
    if rule is None:
        assert 'id="k-rule"' not in result and f"K = {fields['k']}," in page
    else:
        assert f'<span id="k-rule">({rule})</span>' in result
        assert f"K = {fields['k']} ({rule})" in page
    if "min_psnr" not in fields:
        assert " dB)" not in result


def _key(web):
    return {"Authorization": f"Bearer {web.service.keys['alice']}"}


def _shared_palette(files, k):
    from quantcli.images import read_image
    from quantcli.palette import HistogramMerger, fit_shared_palette, image_histogram

    merger = HistogramMerger()
    for data in files.values():
        merger.add(image_histogram(read_image(data)))
    return {tuple(int(v) for v in c[:3]) for c in fit_shared_palette(merger.result(), QuantizeOptions(k=k))}


def test_job_uploads_are_checked(tmp_path):
    with app_client(tmp_path, max_upload=20_000, max_pixels=5000) as client:
        csrf = sign_in(client)
        job = client.post("/jobs", data={"csrf_token": csrf, "k": "8"}).json()["id"]
        put = dict(headers={"X-CSRF-Token": csrf, "Accept": "application/json"})
        too_big = client.put(f"/jobs/{job}/images?name=big.png", content=b"\0" * 30_000, **put)
        assert too_big.status_code == 413
        assert too_big.json()["detail"] == "upload too large: more than the limit of 20 kB per file"
        many_pixels = client.put(f"/jobs/{job}/images?name=wide.png", content=png_bytes(h=80, w=80), **put)
        assert many_pixels.status_code == 413
        assert many_pixels.json()["detail"].startswith("image too large: 80x80")
        corrupt = client.put(f"/jobs/{job}/images?name=x.png", content=b"GIF89a-not-really", **put)
        assert corrupt.status_code == 422 and corrupt.json()["detail"] == "corrupt image (bad GIF header)"
        empty = client.put(f"/jobs/{job}/images?name=empty.png", content=b"", **put)
        assert empty.status_code == 400 and empty.json()["detail"] == "the file is empty"
        empty_start = client.post(f"/jobs/{job}/start", **put)
        assert empty_start.status_code == 409
        assert not stored_files(client.service)
        ok = client.put(f"/jobs/{job}/images?name=ok.png", content=png_bytes(h=40, w=40), **put)
        assert ok.status_code == 201
        assert client.post(f"/jobs/{job}/start", **put).status_code == 202
        late = client.put(f"/jobs/{job}/images?name=late.png", content=png_bytes(h=40, w=40), **put)
        assert late.status_code == 409 and late.json()["detail"] == "this job takes no more uploads"
        too_long = client.post("/login", data={"name": "a" * 70_000})
        assert too_long.status_code == 413
        page = client.get(f"/jobs/{job}").text  # the refused files, and why
        assert re.search(r"images finished \(\w+\); 4 files refused", page)
        refused = re.findall(r'<li><span class="name">([^<]+)</span>: <span class="error">([^<]+)</span>', page)
        assert refused == [
            ("big.png", "upload too large: more than the limit of 20 kB per file"),
            ("wide.png", many_pixels.json()["detail"]),
            ("x.png", "corrupt image (bad GIF header)"),
            ("empty.png", "the file is empty"),
        ]


def test_files_the_page_did_not_send_are_listed_as_refused(web):
    """The upload page skips a file over --max-upload and tells the server, which words the
    reason itself; a file within the limit cannot be reported so."""
    csrf = sign_in(web)
    job = web.post("/jobs", data={"csrf_token": csrf, "k": "8"}).json()["id"]
    limit = web.service.config.max_upload
    told = web.post(f"/jobs/{job}/refused", data={"csrf_token": csrf, "name": "huge.tif", "size": str(limit + 1)})
    assert told.status_code == 201
    lie = web.post(f"/jobs/{job}/refused", data={"csrf_token": csrf, "name": "small.png", "size": "10"})
    assert lie.status_code == 422
    no_token = web.post(f"/jobs/{job}/refused", data={"name": "x.png", "size": str(limit + 1)})
    assert no_token.status_code == 403
    run = web.put(f"/jobs/{job}/images?name=a.png", content=png_bytes(), headers={"X-CSRF-Token": csrf})
    assert run.status_code == 201
    assert web.post(f"/jobs/{job}/start", headers={"X-CSRF-Token": csrf}).status_code == 202
    wait_for(lambda: web.get(f"/jobs/{job}/status").json()["status"] == "done")
    assert web.get(f"/jobs/{job}/status").json()["refused"] == 1
    page = web.get(f"/jobs/{job}").text
    assert "1 of 1 images finished (done); 1 file refused" in page
    refusal = "upload too large: more than the limit of 50 MB per file"
    assert f'<span class="name">huge.tif</span>: <span class="error">{refusal}' in page


def test_other_users_jobs_and_images_are_not_found(web):
    csrf = sign_in(web)
    job = run_job(web, csrf, {"a.png": png_bytes()}, k="8")
    image = re.search(r'href="/images/([^"/]+)"', web.get(f"/jobs/{job}").text).group(1)
    with other_client(web) as bob:
        bob_csrf = sign_in(bob, "bob")
        json_headers = {"Accept": "application/json", "X-CSRF-Token": bob_csrf}
        for method, path in [
            ("GET", f"/jobs/{job}"),
            ("GET", f"/jobs/{job}/status"),
            ("GET", f"/jobs/{job}/download.zip"),
            ("PUT", f"/jobs/{job}/images"),
            ("POST", f"/jobs/{job}/start"),
            ("POST", f"/jobs/{job}/delete"),
            ("GET", f"/images/{image}"),
            ("GET", f"/images/{image}/output.png"),
            ("GET", f"/images/{image}/source"),
            ("GET", f"/images/{image}/before"),
            ("GET", f"/images/{image}/curve"),
            ("GET", f"/images/{image}/curve.svg"),
            ("POST", f"/images/{image}/delete"),
        ]:
            body = {"data": {"csrf_token": bob_csrf}} if method == "POST" else {}
            if method == "PUT":
                body = {"content": png_bytes()}
            response = bob.request(method, path, headers=json_headers, **body)
            assert response.status_code == 404, (method, path, response.text)
        assert f"/jobs/{job}" not in bob.get("/history").text
        page = bob.get(f"/jobs/{job}")  # a browser tab gets the error page
        assert page.status_code == 404 and "no such job" in page.text
    assert web.get(f"/jobs/{job}").status_code == 200
    assert web.get(f"/images/{image}").status_code == 200


def test_unknown_routes_and_methods(web):
    sign_in(web)
    missing = web.get("/nowhere")
    assert missing.status_code == 404 and "<h1>404</h1>" in missing.text
    assert web.get("/api/v1/nowhere").json() == {"detail": "not found"}
    assert web.delete("/history").status_code == 405
    assert web.get("/static/../pyproject.toml").status_code == 404


def test_delete_one_image_of_a_job(web):
    csrf = sign_in(web)
    job = run_job(web, csrf, {"a.png": png_bytes(seed=1), "b.png": png_bytes(seed=2)}, k="8")
    ids = re.findall(r'<a class="name" href="/images/([^"/]+)">', web.get(f"/jobs/{job}").text)
    response = web.post(f"/images/{ids[0]}/delete", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/jobs/{job}"
    assert web.get(f"/images/{ids[0]}").status_code == 404
    assert web.get(f"/jobs/{job}/status").json()["total"] == 1
    assert len(stored_files(web.service)) == 2  # the other image's source and output


def test_a_job_left_running_resumes_when_the_server_starts(tmp_path):
    from quantcli.serve.db import Image, Job

    app, service = make_app(tmp_path)
    with TestClient(app) as client:
        csrf = sign_in(client)
        job = client.post("/jobs", data={"csrf_token": csrf, "k": "8"}).json()["id"]
        client.put(f"/jobs/{job}/images?name=a.png", content=png_bytes(), headers={"X-CSRF-Token": csrf})
    with service.db.session() as s:  # as a killed server leaves it
        s.get(Job, job).status = "running"
        for image in s.get(Job, job).images:
            image.status = "running"
    app2, service2 = _reopen(tmp_path)
    with TestClient(app2):
        wait_for(lambda: _job_status(service2, job) == "done")
    with service2.db.session() as s:
        assert [i.status for i in s.get(Job, job).images] == ["done"]
        assert all(i.bytes_out for i in s.query(Image))


def _reopen(tmp_path):
    from quantcli.serve.app import create_app
    from quantcli.serve.config import ServeConfig
    from quantcli.serve.work import Service

    cfg = ServeConfig(data_dir=str(tmp_path / "data"), workers=1)
    service = Service(cfg)
    return create_app(cfg, service), service


def _job_status(service, job_id):
    from quantcli.serve.db import Job

    with service.db.session() as s:
        return s.get(Job, job_id).status


def _queued_job(service, user_id: int, files: int = 1) -> str:
    """A job of ``files`` stored images, queued (as the page's start leaves it)."""
    from quantcli.serve.db import Job

    with service.db.session() as s:
        job = Job(user_id=user_id, k="8")
        s.add(job)
        s.flush()
        job_id = job.id
    for n in range(files):
        service.accept(user_id, png_bytes(seed=n), f"{n}.png", job_id=job_id)
    with service.db.session() as s:
        s.get(Job, job_id).status = "queued"
    return job_id


def _user_id(service, name: str = "alice") -> int:
    with service.db.session() as s:
        return service.db.user_by_name(s, name).id


def test_one_server_claims_a_job_and_others_leave_it_while_the_claim_holds(tmp_path):
    from quantcli.serve.db import Image, Job, utcnow

    _, first = make_app(tmp_path)
    _, second = _reopen(tmp_path)
    job = _queued_job(first, _user_id(first))
    assert first.claim(job)
    assert not second.claim(job)  # one conditional UPDATE: only one server wins
    with first.db.session() as s:
        s.get(Job, job).images[0].status = "running"
    second.recover()  # a second server starting: the first server's claim holds
    assert _job_status(second, job) == "running"
    with first.db.session() as s:
        assert s.get(Job, job).owner == first.instance
        s.get(Job, job).lease_until = utcnow() - timedelta(seconds=1)  # the first server stopped
    second.recover()
    assert _job_status(second, job) == "queued"
    with second.db.session() as s:
        assert [i.status for i in s.query(Image)] == ["pending"]
    assert second.claim(job) and not first.claim(job)


def test_two_servers_on_one_database_run_each_image_once(tmp_path):
    app, first = make_app(tmp_path)
    app2, second = _reopen(tmp_path)
    ran: list[tuple[str, str]] = []
    for name, service in (("first", first), ("second", second)):
        process = service.process

        def recording(image, settings, process=process, name=name):
            ran.append((name, image.id))
            return process(image, settings)

        service.process = recording
    with TestClient(app), TestClient(app2):
        jobs = [_queued_job(first, _user_id(first), files=3) for _ in range(4)]
        first.wake()
        second.wake()
        wait_for(lambda: all(_job_status(first, job) == "done" for job in jobs))
    images = [image for _, image in ran]
    assert len(images) == 12 and len(set(images)) == 12


def test_a_stopping_server_queues_its_unfinished_job_again(tmp_path):
    from quantcli.serve.db import Job

    _, service = make_app(tmp_path)
    job = _queued_job(service, _user_id(service))
    assert service.claim(job)
    service.stop()
    _, again = _reopen(tmp_path)
    assert _job_status(again, job) == "queued"
    with again.db.session() as s:
        assert s.get(Job, job).owner is None


def test_an_older_database_gets_the_new_columns(tmp_path):
    from quantcli.serve.db import Database
    from sqlalchemy import inspect, text

    _, service = make_app(tmp_path)
    with service.db.engine.begin() as connection:
        connection.execute(text("ALTER TABLE jobs DROP COLUMN owner"))
    url = str(service.db.engine.url)
    service.db.dispose()
    columns = {c["name"] for c in inspect(Database(url).engine).get_columns("jobs")}
    assert {"owner", "lease_until"} <= columns


def test_ratio_says_larger_when_the_output_grew(web):
    from quantcli.serve.config import format_ratio
    from quantcli.serve.db import Image

    assert format_ratio(0.707) == "70.7% (1.41\N{MULTIPLICATION SIGN} smaller)"
    assert format_ratio(3.285) == "328.5% (3.29\N{MULTIPLICATION SIGN} larger)"
    assert format_ratio(1.0) == "100.0% (the same size)"
    csrf = sign_in(web)
    job = run_job(web, csrf, {"a.png": png_bytes(seed=1)}, k="8")
    image = re.search(r'<a class="name" href="/images/([^"/]+)">', web.get(f"/jobs/{job}").text).group(1)
    with web.service.db.session() as s:
        row = s.get(Image, image)
        row.bytes_in, row.bytes_out = 1000, 3285
    page = web.get(f"/images/{image}").text
    assert '<td id="ratio">328.5% (3.29\N{MULTIPLICATION SIGN} larger)</td>' in page
    assert "smaller" not in page


def test_job_cards_say_larger_or_smaller_and_why_a_jpeg_grew(web):
    """Cards say "45% smaller" or "2.3x larger", never a bare "226%"; a JPEG that grew gets
    the hint that JPEG photos usually do."""
    from quantcli.serve.config import format_change
    from quantcli.serve.db import Job

    times = "\N{MULTIPLICATION SIGN}"
    assert [format_change(r) for r in (0.55, 0.996, 1.0, 1.12, 1.99, 2.26, 10.0)] == [
        "45% smaller",
        "the same size",
        "the same size",
        "12% larger",
        "99% larger",
        f"2.3{times} larger",
        f"10.0{times} larger",
    ]
    csrf = sign_in(web)
    files = {"photo.jpg": image_bytes("JPEG", h=64, w=64), "drawing.png": png_bytes(seed=4)}
    job = run_job(web, csrf, files, k="8")
    with web.service.db.session() as s:
        for row in s.get(Job, job).images:
            row.bytes_in, row.bytes_out = (1000, 2260) if row.name == "photo.jpg" else (1000, 550)
    page = web.get(f"/jobs/{job}").text
    assert f'<span class="change grew">2.3{times} larger</span>' in page
    assert '<span class="change ">45% smaller</span>' in page
    assert not re.search(r"\d%\)", page)  # no bare percentage
    assert page.count("A JPEG photo usually grows as a PNG") == 1


def test_a_job_whose_server_stopped_says_it_is_being_recovered(web):
    """A running job whose claim has not been renewed for two rounds (its server was
    killed) says so on its page, in its status and in History, instead of "running"."""
    from quantcli.serve.db import Job, utcnow
    from quantcli.serve.work import LEASE

    csrf = sign_in(web)
    job = run_job(web, csrf, {"a.png": png_bytes()}, k="8")
    with web.service.db.session() as s:
        row = s.get(Job, job)
        row.status, row.owner, row.lease_until = (
            "running",
            "a-server-that-died",
            utcnow() + LEASE - timedelta(seconds=45),
        )
    state = web.get(f"/jobs/{job}/status").json()["state"]
    assert state.startswith("being recovered: its server stopped")
    assert state in web.get(f"/jobs/{job}").text and state in web.get("/history").text
    with web.service.db.session() as s:  # a claim renewed a moment ago: running
        s.get(Job, job).lease_until = utcnow() + LEASE - timedelta(seconds=5)
    assert web.get(f"/jobs/{job}/status").json()["state"] == "running"


def test_history_shows_file_names_and_thumbnails(web):
    from quantcli.serve.db import Job

    csrf = sign_in(web)
    names = ["one.png", "two.png", "three.png", "four.png", "broken.png"]
    files = {name: png_bytes(seed=i) for i, name in enumerate(names[:4])} | {"broken.png": png_bytes()[:300]}
    job = run_job(web, csrf, files, k="8")
    api = web.post("/api/v1/images?k=8&name=from-api.png", content=png_bytes(seed=9), headers=_key(web)).json()
    page = web.get("/history").text
    row = page[page.index(f'href="/jobs/{job}"') :]
    row = row[: row.index("</tr>")]
    assert '<span class="names">one.png, two.png, three.png and 2 more</span>' in row
    with web.service.db.session() as s:
        shown = [i.id for i in s.get(Job, job).images[:3]]
    assert re.findall(r'<img class="thumb" src="/images/([^/"]+)/output.png"', row) == shown
    assert f'<img class="thumb" src="/images/{api["id"]}/output.png"' in page
    assert web.get(f"/images/{shown[0]}/output.png").headers["content-type"] == "image/png"


def test_unfinished_uploads_are_listed_and_can_be_deleted(web):
    """A job whose upload never started shows in History and can be deleted with its files."""
    csrf = sign_in(web)
    job = web.post("/jobs", data={"csrf_token": csrf, "k": "8"}).json()["id"]
    sent = web.put(f"/jobs/{job}/images?name=left.png", content=png_bytes(), headers={"X-CSRF-Token": csrf})
    assert sent.status_code == 201 and len(stored_files(web.service)) == 1
    history = web.get("/history").text
    assert f'href="/jobs/{job}"' in history and "never started" in history
    assert f'action="/jobs/{job}/delete"' in history
    assert "never started" in web.get(f"/jobs/{job}").text
    deleted = web.post(f"/jobs/{job}/delete", data={"csrf_token": csrf}, follow_redirects=False)
    assert deleted.status_code == 303
    assert web.get(f"/jobs/{job}").status_code == 404
    assert not stored_files(web.service)


def test_deleting_the_last_image_of_a_job_deletes_the_job(web):
    csrf = sign_in(web)
    job = run_job(web, csrf, {"a.png": png_bytes(seed=1), "b.png": png_bytes(seed=2)}, k="8")
    first, second = re.findall(r'<a class="name" href="/images/([^"/]+)">', web.get(f"/jobs/{job}").text)
    by_page = web.post(f"/images/{first}/delete", data={"csrf_token": csrf}, follow_redirects=False)
    assert by_page.headers["location"] == f"/jobs/{job}"  # one image left: the job stays
    by_api = web.delete(f"/api/v1/images/{second}", headers=_key(web))
    assert by_api.status_code == 204
    assert web.get(f"/jobs/{job}").status_code == 404
    assert f"/jobs/{job}" not in web.get("/history").text
    assert not stored_files(web.service)

    other = run_job(web, csrf, {"c.png": png_bytes(seed=3)}, k="8")
    (only,) = re.findall(r'<a class="name" href="/images/([^"/]+)">', web.get(f"/jobs/{other}").text)
    last = web.post(f"/images/{only}/delete", data={"csrf_token": csrf}, follow_redirects=False)
    assert last.headers["location"] == "/history"
    assert web.get(f"/jobs/{other}").status_code == 404


def test_uploads_never_started_expire_with_their_files(web):
    from quantcli.serve.db import Job, utcnow
    from quantcli.serve.work import OPEN_JOB_LIFETIME

    csrf = sign_in(web)
    jobs = []
    for _ in range(2):
        job = web.post("/jobs", data={"csrf_token": csrf, "k": "8"}).json()["id"]
        web.put(f"/jobs/{job}/images?name=a.png", content=png_bytes(), headers={"X-CSRF-Token": csrf})
        jobs.append(job)
    started = run_job(web, csrf, {"b.png": png_bytes(seed=2)}, k="8")
    with web.service.db.session() as s:
        for job in (jobs[0], started):
            s.get(Job, job).created_at = utcnow() - OPEN_JOB_LIFETIME - timedelta(minutes=1)
    assert web.service.expire_open_jobs() == 1
    assert web.get(f"/jobs/{jobs[0]}").status_code == 404
    assert web.get(f"/jobs/{jobs[1]}").status_code == 200  # still within its day
    assert web.get(f"/jobs/{started}").status_code == 200  # started jobs are kept
    assert len(stored_files(web.service)) == 3  # the fresh upload, and the started job's source and PNG


def test_a_job_whose_every_image_failed_is_failed(web):
    csrf = sign_in(web)
    job = run_job(web, csrf, {"a.png": png_bytes()[:60], "b.png": png_bytes()[:70]}, k="8")
    status = web.get(f"/jobs/{job}/status").json()
    assert status["status"] == "failed" and status["errors"] == 2
    assert "The job failed: no image could be compressed (each says why)" in web.get(f"/jobs/{job}").text
    mixed = run_job(web, csrf, {"a.png": png_bytes()[:60], "b.png": png_bytes()}, k="8")
    assert web.get(f"/jobs/{mixed}/status").json()["status"] == "done"
