"""One contract for an input on every engine: read it, run it, a failure becomes a row.

A bug (any exception, not only quantcli's own errors) costs that input alone: compress,
inspect and choose-k give one error row for it, on the local engine and in a Spark task
(the task function is called here on a batch as Spark would hand it, without a session).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import quantcli.choosek as choosek
from conftest import gradient_image
from PIL import Image
from quantcli.choosek import ChooseKError, ChooseKOptions, ChooseKResult, choose_k_inputs
from quantcli.options import QuantizeOptions
from quantcli.per_file import failure, guarded


def _png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def images(tmp_path):
    paths = []
    for i in range(3):
        path = tmp_path / f"img{i}.png"
        path.write_bytes(_png(gradient_image(16, 20, seed=i)))
        paths.append(path)
    return paths


@pytest.fixture
def buggy_choose_k(monkeypatch):
    real = choosek.choose_k

    def choose_k(pixels, options=None, *, quantize=None, name="<array>", **values):
        if "img1" in name:
            raise RuntimeError("a bug")
        return real(pixels, options, quantize=quantize, name=name, **values)

    monkeypatch.setattr(choosek, "choose_k", choose_k)


def test_guarded_turns_any_exception_into_the_error_row():
    assert guarded("a.png", lambda: 1, lambda *row: row) == 1
    message, code, seconds = guarded("a.png", lambda: 1 / 0, lambda *row: row)
    assert message == "a.png: internal error (ZeroDivisionError: division by zero)"
    assert code == 1 and seconds >= 0
    assert failure("a.png", MemoryError()) == ("a.png: out of memory", 1)


def test_a_choose_k_bug_is_one_error_row_on_the_local_engine(images, buggy_choose_k):
    outcomes = list(choose_k_inputs([str(p) for p in images], ChooseKOptions(ks=(2, 4))))
    assert [type(o) for o in outcomes] == [ChooseKResult, ChooseKError, ChooseKResult]
    assert outcomes[1].error.endswith("img1.png: internal error (RuntimeError: a bug)")


def test_a_choose_k_bug_is_one_error_row_in_a_spark_task(images, buggy_choose_k):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyspark")
    from quantcli.planner import Naming
    from quantcli.spark import tasks
    from quantcli.spark.plan import SparkPlan

    plan = SparkPlan(naming=Naming(suffix=".png", out_dir="/", out_target="/"), groups={})
    batch = pd.DataFrame(
        {
            "group": [-1] * len(images),
            "path": [str(p) for p in images],
            "display": [p.name for p in images],
            "relative": [p.name for p in images],
            "content": [p.read_bytes() for p in images],
        }
    )
    run = tasks.choose_k_partition(plan, ChooseKOptions(ks=(2, 4)), QuantizeOptions(), None)
    rows = pd.concat(list(run(iter([batch]))))
    assert list(rows["status"]) == ["ok", "error", "ok"]
    assert rows["error"].iloc[1] == "img1.png: internal error (RuntimeError: a bug)"
    assert rows["k"].iloc[0] in (2, 4) and rows["k"].iloc[2] in (2, 4)
