"""The one compress request every front end builds, and the settings it stands for."""

from __future__ import annotations

import pytest
from quantcli.cli.base import Method
from quantcli.cli.compress_settings import CompressCommand, request_of
from quantcli.options import AUTO_QUALITY
from quantcli.request import CONFLICTS, CompressRequest, RequestConflict
from quantcli.serve.choices import Choices, settings_for


def _cli(**values):
    return request_of(CompressCommand(force=True, **values))


@pytest.mark.parametrize(
    ("cli", "web"),
    [
        ({"colors": "16"}, Choices(k="16")),
        ({"colors": "auto"}, Choices(k="auto")),
        ({"colors": "64", "quality": "70-90"}, Choices(k="64", quality="70-90")),
        (
            {"colors": "auto", "method": Method.quality, "min_psnr": 38.0},
            Choices(k="auto", min_psnr=38.0),
        ),
        ({"colors": "8", "dither": "0.5"}, Choices(k="8", dither="0.5")),
        ({"colors": "8", "palette": "shared"}, Choices(k="8", shared=True)),
    ],
)
def test_the_cli_and_the_web_form_ask_for_the_same_settings(cli, web):
    settings = _cli(**cli).settings()
    web_settings = settings_for(web, max_pixels=settings.max_pixels)
    assert settings == web_settings


def test_k_is_chosen_per_image_for_auto_and_for_a_quality_target():
    assert CompressRequest(k="auto").k_per_image
    assert CompressRequest(k=64, quality=(0, 80)).k_per_image
    assert not CompressRequest(k=64).k_per_image
    assert CompressRequest(k="auto").settings().quality == AUTO_QUALITY
    assert CompressRequest(k="auto").settings().k_per_image
    assert CompressRequest(k="auto", method="elbow").settings().choose.method == "elbow"
    assert not CompressRequest(k=64).settings().k_per_image


@pytest.mark.parametrize(
    ("values", "rule"),
    [
        ({"k": "auto", "quality": (0, 80), "method": "elbow"}, "quality-and-method"),
        ({"k": "auto", "palette": "shared"}, "per-image-k-and-palette"),
        ({"k": 8, "quality": (0, 80), "palette": "shared"}, "per-image-k-and-palette"),
        ({"k": 8, "method": "elbow"}, "method-without-auto"),
        ({"k": "auto", "method": "elbow", "min_psnr": 30.0}, "min-psnr-without-quality-method"),
        ({"force": True, "skip_existing": True}, "force-and-skip-existing"),
    ],
)
def test_each_conflict_is_one_rule(values, rule):
    with pytest.raises(RequestConflict) as caught:
        CompressRequest(**values)
    assert caught.value.rule == rule
    assert rule in CONFLICTS
