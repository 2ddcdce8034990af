"""``quantcli serve --engine spark``: a big job runs on Spark, with the same results."""

from __future__ import annotations

import re
import shutil

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("pyspark")

from fastapi.testclient import TestClient
from quantcli import QuantizeOptions, compress_bytes
from serve_support import cheap_password_hashes, make_app, png_bytes, run_job, sign_in  # noqa: F401


@pytest.mark.spark
def test_a_big_job_runs_on_spark_with_the_same_results(tmp_path):
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java (17 or newer) on PATH")
    app, service = make_app(
        tmp_path, engine="spark", master="local[2]", conf=("spark.ui.enabled=false",), spark_min_images=3
    )
    with TestClient(app) as client:
        csrf = sign_in(client)
        files = {f"{i}.png": png_bytes(seed=20 + i) for i in range(3)}
        files["broken.png"] = png_bytes()[:200]
        job = run_job(client, csrf, files, k="8", timeout=600)
        page = client.get(f"/jobs/{job}").text
        assert "on Spark" in page
        ids = re.findall(r'<a class="name" href="/images/([^"/]+)">', page)
        key = {"Authorization": f"Bearer {service.keys['alice']}"}
        infos = [client.get(f"/api/v1/images/{i}", headers=key).json() for i in ids]
        assert [i["status"] for i in infos] == ["done", "done", "done", "error"]
        assert infos[3]["error"] == "truncated image data"
        for info, (name, data) in zip(infos[:3], files.items(), strict=False):
            out = client.get(f"/api/v1/images/{info['id']}/output.png", headers=key).content
            assert out == compress_bytes(data, QuantizeOptions(k=8))[0], name
            assert sum(e["count"] for e in info["palette"]) == 48 * 64
        small = run_job(client, csrf, {"one.png": png_bytes()}, k="8")
        assert "on Spark" not in client.get(f"/jobs/{small}").text  # below --spark-min-images: local
        client.post(f"/jobs/{job}/delete", data={"csrf_token": csrf})
        assert not (tmp_path / "data" / "images" / "spark" / job).exists()
