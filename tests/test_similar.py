"""similar: distances against brute force, the ranking the issue asks for, index formats, the CLI."""

from __future__ import annotations

import json
import math

import imageio.v3 as iio
import numpy as np
import pytest
from conftest import gradient_image
from hypothesis import given, settings
from hypothesis import strategies as st
from quantcli.errors import InvalidOptionError
from quantcli.inspection import inspect_file
from quantcli.similar import (
    KERNEL_SIGMA,
    Palettes,
    feature_distances,
    nearest,
    oklab,
    palette_distances,
    search,
)
from quantcli.similar_index import load_index


def brute_kernel_distance(p_rgb, p_w, q_rgb, q_w) -> float:
    """The kernel distance written as the double sums of its definition."""
    p_w = np.asarray(p_w, float) / np.sum(p_w)
    q_w = np.asarray(q_w, float) / np.sum(q_w)
    p_lab, q_lab = oklab(np.asarray(p_rgb, float)), oklab(np.asarray(q_rgb, float))

    def k(a, b):
        return math.exp(-float(np.sum((a - b) ** 2)) / (2 * KERNEL_SIGMA**2))

    pp = sum(p_w[i] * p_w[j] * k(p_lab[i], p_lab[j]) for i in range(len(p_w)) for j in range(len(p_w)))
    qq = sum(q_w[i] * q_w[j] * k(q_lab[i], q_lab[j]) for i in range(len(q_w)) for j in range(len(q_w)))
    pq = sum(p_w[i] * q_w[j] * k(p_lab[i], q_lab[j]) for i in range(len(p_w)) for j in range(len(q_w)))
    return math.sqrt(max(pp + qq - 2 * pq, 0.0))


def test_oklab_of_known_colours():
    lab = oklab(np.array([[255, 255, 255], [0, 0, 0], [255, 0, 0]]))
    assert lab[0] == pytest.approx([1.0, 0.0, 0.0], abs=1e-4)
    assert lab[1] == pytest.approx([0.0, 0.0, 0.0], abs=1e-9)
    assert lab[2] == pytest.approx([0.62796, 0.22486, 0.12585], abs=1e-4)  # Ottosson's sRGB red


def test_palette_distance_equals_its_definition():
    rng = np.random.default_rng(0)
    n, m = 20, 6
    rgb = rng.integers(0, 256, (n, m, 3)).astype(float)
    weights = rng.random((n, m))
    weights[3, 4:] = 0  # shorter palettes are padded with zero weights
    index = Palettes.build(rgb, weights)
    q_rgb, q_w = rng.integers(0, 256, (1, 4, 3)).astype(float), rng.random((1, 4))
    got = palette_distances(index, Palettes.build(q_rgb, q_w))
    for i in range(n):
        keep = weights[i] > 0
        assert got[i] == pytest.approx(brute_kernel_distance(rgb[i][keep], weights[i][keep], q_rgb[0], q_w[0]))
    assert palette_distances(index, index.row(5))[5] == pytest.approx(0.0, abs=1e-7)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 60), st.integers(1, 70), st.integers(0, 2**32 - 1), st.booleans())
def test_nearest_equals_a_stable_sort(n_rows, n, seed, ties):
    rng = np.random.default_rng(seed)
    distances = rng.integers(0, 5, n_rows).astype(float) if ties else rng.random(n_rows)
    assert nearest(distances, n).tolist() == np.argsort(distances, kind="stable")[:n].tolist()


def test_feature_distance_is_euclidean_over_standardised_features():
    rng = np.random.default_rng(1)
    features = rng.random((30, 7)) * [255, 1, 100, 255, 255, 255, 1]
    z = (features - features.mean(axis=0)) / features.std(axis=0)
    got = feature_distances(features, features[4], features.std(axis=0))
    assert got == pytest.approx(np.linalg.norm(z - z[4], axis=1))


def hue_rotated(img: np.ndarray) -> np.ndarray:
    """The same picture with its colours changed: channels rotated, R->G->B->R."""
    return np.ascontiguousarray(img[..., [2, 0, 1]])


def scene(h: int = 96, w: int = 128) -> np.ndarray:
    """Blocks of a few strong colours over a gradient: a picture with a clear palette."""
    img = gradient_image(h, w, seed=11)
    img[: h // 2, : w // 2] = (200, 40, 30)
    img[h // 2 :, w // 2 :] = (30, 90, 200)
    img[h // 4 : h // 2, w // 2 :] = (240, 210, 40)
    return img


@pytest.fixture
def gallery(tmp_path):
    img = scene()
    folder = tmp_path / "gallery"
    folder.mkdir()
    iio.imwrite(folder / "original.png", img)
    iio.imwrite(folder / "cropped.png", img[10:86, 12:110])  # most of it, the same colours
    iio.imwrite(folder / "recoloured.png", hue_rotated(img))
    for seed in range(5):
        iio.imwrite(folder / f"other{seed}.png", gradient_image(60, 60, seed=100 + seed))
    iio.imwrite(folder / "grey.png", np.full((30, 30, 3), 120, np.uint8))
    (folder / "broken.png").write_bytes(b"not a png")
    return folder


@pytest.fixture
def index_file(gallery, tmp_path):
    path = tmp_path / "index.jsonl"
    rows = [inspect_file(p) for p in sorted(gallery.iterdir())]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_an_image_is_its_own_nearest_neighbour(index_file):
    index = load_index(index_file)
    assert len(index) == 9  # the broken file's error row is left out
    for by in ("palette", "features"):
        for path in index.paths:
            row = index.position(path)
            first = search(index, index.palettes.row(row), index.features[row], by=by, n=1)[0]
            assert first.path == path and first.distance == pytest.approx(0.0, abs=1e-6)


def test_a_recoloured_copy_ranks_below_a_cropped_copy_by_palette(index_file, gallery):
    from quantcli.similar import query

    index = load_index(index_file)
    for source in (str(gallery / "original.png"), str(gallery / "other0.png")):
        assert query(index, source) is not None
    palette, vector = query(index, str(gallery / "original.png"))
    ranked = [m.path.rsplit("/", 1)[-1] for m in search(index, palette, vector, n=len(index))]
    assert ranked[0] == "original.png"
    assert ranked.index("cropped.png") < ranked.index("recoloured.png")
    assert ranked[1] == "cropped.png"


def test_an_image_outside_the_index_is_inspected(index_file, gallery, tmp_path):
    from quantcli.similar import query

    index = load_index(index_file)
    outside = tmp_path / "copy.png"
    outside.write_bytes((gallery / "original.png").read_bytes())
    palette, vector = query(index, str(outside))
    first = search(index, palette, vector, n=1)[0]
    assert first.path.endswith("original.png") and first.distance == pytest.approx(0.0, abs=1e-6)
    assert "no such file" in query(index, str(tmp_path / "missing.png"))


def test_parquet_and_json_indexes_agree(index_file, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    pa = pytest.importorskip("pyarrow")
    from quantcli.inspect_table import arrow_schema

    rows = [json.loads(line) for line in index_file.read_text().splitlines()]
    pq.write_table(pa.Table.from_pylist(rows, schema=arrow_schema()), tmp_path / "index.parquet")
    a, b = load_index(index_file), load_index(tmp_path / "index.parquet")
    assert a.paths == b.paths
    np.testing.assert_array_equal(a.features, b.features)
    np.testing.assert_array_equal(a.palettes.weights, b.palettes.weights)
    np.testing.assert_array_equal(a.palettes.colors, b.palettes.colors)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "no image rows"),
        (b"{not json\n", "line 1 is not JSON"),
        (b'{"x": 1}\n', "line 1 is not an inspect row"),
        (b"[1, 2]\n", "line 1 is not an inspect row"),
        (b'{"path": "a", "error": null, "dominant": [{"rgb": [1, 2]}]}\n', "lacks inspect's fields"),
        (b'{"path": "a", "error": "a: broken"}\n', "no image rows"),
    ],
)
def test_bad_indexes_are_refused(tmp_path, content, message):
    path = tmp_path / "index.jsonl"
    path.write_bytes(content)
    with pytest.raises(InvalidOptionError, match=message):
        load_index(path)


def test_missing_or_non_parquet_index(tmp_path):
    with pytest.raises(InvalidOptionError, match="no such file"):
        load_index(tmp_path / "nope.jsonl")
    pytest.importorskip("pyarrow")
    (tmp_path / "x.parquet").write_bytes(b"PAR1 not parquet")
    with pytest.raises(InvalidOptionError, match="not an inspect table"):
        load_index(tmp_path / "x.parquet")


def test_cli(run_cli, index_file, gallery):
    queries = (gallery / "original.png", gallery / "broken.png")
    proc = run_cli("similar", *queries, "--index", index_file, "--json", "-n", "3")
    assert proc.returncode == 1 and b"broken.png" in proc.stderr
    (line,) = proc.stdout.decode().splitlines()
    answer = json.loads(line)
    assert answer["query"] == str(gallery / "original.png")
    assert [r["path"].rsplit("/", 1)[-1] for r in answer["results"]][:2] == ["original.png", "cropped.png"]
    assert [r["distance"] for r in answer["results"]] == sorted(r["distance"] for r in answer["results"])
    table = run_cli("similar", gallery / "grey.png", "--index", index_file, "--by", "features", check_rc=0)
    assert b"nearest by features" in table.stdout
    assert run_cli("similar", gallery / "grey.png").returncode == 2
    bad = run_cli("similar", gallery / "grey.png", "--index", gallery / "nothing.jsonl")
    assert bad.returncode == 2 and b"no such file" in bad.stderr
