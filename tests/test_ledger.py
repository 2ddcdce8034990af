"""The Spark engine's ledger without Spark: parts as tasks write them, rows as the driver reads them."""

from __future__ import annotations

import json

from quantcli.spark.ledger import PartWriter, Reader, read_rows


def rows(n: int, start: int = 0, tag: str = "a") -> list[dict]:
    return [{"path": f"f{i}", "attempt": tag} for i in range(start, start + n)]


def part_names(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def test_rows_come_out_while_a_partition_runs_and_once_at_the_end(tmp_path):
    reader = Reader(str(tmp_path / "missing"))
    assert list(reader.poll()) == []  # no ledger yet: nothing, no error
    reader = Reader(str(tmp_path))
    task = PartWriter(str(tmp_path), 3, flush_seconds=0.0)  # a part after every row
    for row in rows(2):
        task.add(row)
    assert [r["path"] for r in reader.poll()] == ["f0", "f1"]
    assert list(reader.poll()) == []
    task.add(rows(1, 2)[0])
    task.close()
    assert part_names(tmp_path) == ["part-00003-0000000-0000003.jsonl"]  # the partial parts are gone
    assert [r["path"] for r in reader.poll()] == ["f2"]
    assert reader.rows == 3


def test_the_first_row_is_written_at_once_and_later_ones_wait_for_the_clock(tmp_path):
    task = PartWriter(str(tmp_path), 0, flush_seconds=3600)
    for row in rows(5):
        task.add(row)
    assert part_names(tmp_path) == ["part-00000-0000000-0000001.jsonl"]
    task.close()
    assert [r["path"] for r in read_rows(str(tmp_path))] == [f"f{i}" for i in range(5)]


def test_a_retried_attempt_yields_each_row_once(tmp_path):
    reader = Reader(str(tmp_path))
    first = PartWriter(str(tmp_path), 0, flush_seconds=0.0)
    for row in rows(3, tag="first"):
        first.add(row)  # then the attempt dies
    other = PartWriter(str(tmp_path), 1, flush_seconds=0.0)
    for row in rows(2, 10):
        other.add(row)
    other.close()
    seen = [(r["path"], r["attempt"]) for r in reader.poll()]
    assert seen == [("f0", "first"), ("f1", "first"), ("f2", "first"), ("f10", "a"), ("f11", "a")]
    retry = PartWriter(str(tmp_path), 0, flush_seconds=3600)  # other part boundaries than the first attempt
    for row in rows(5, tag="retry"):
        retry.add(row)
    assert list(reader.poll()) == []  # only f0 again so far
    retry.close()
    assert [(r["path"], r["attempt"]) for r in reader.poll()] == [("f3", "retry"), ("f4", "retry")]
    assert part_names(tmp_path) == ["part-00000-0000000-0000005.jsonl", "part-00001-0000000-0000002.jsonl"]
    # Read afresh, the finished ledger has one row per file.
    assert sorted(r["path"] for r in read_rows(str(tmp_path))) == sorted(["f0", "f1", "f2", "f3", "f4", "f10", "f11"])


def test_parts_that_are_not_ours_or_skip_ahead_are_ignored(tmp_path):
    (tmp_path / "notes.jsonl").write_text(json.dumps({"path": "x"}) + "\n")
    (tmp_path / ".part-00000-0000000-0000001.jsonl.quantcli-1-ab.tmp").write_text("{}\n")
    (tmp_path / "part-00000-0000002-0000003.jsonl").write_text(json.dumps({"path": "f2"}) + "\n")  # rows 0-1 missing
    (tmp_path / "part-00001-0000000-0000002.jsonl").write_text(json.dumps({"path": "short"}) + "\n")  # one row of 2
    assert list(Reader(str(tmp_path)).poll()) == []
