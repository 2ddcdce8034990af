"""Benchmark: the Spark driver's memory against the number of input files.

For 1 (the baseline), 1k, 20k and 200k tiny PNGs in one flat folder (no ``-r``: the
case that once started a listing job of one task per file), each run in a fresh process
does what ``quantcli compress DIR --out-dir OUT --engine spark --master local[2]`` does
and reports:

- the driver's Python: peak RSS (``VmHWM``) and the peak of Python allocations during
  the run (``tracemalloc``, started after the session);
- the driver's JVM (which in ``local[2]`` also runs the executors): peak RSS, and the
  heap in use after a full GC at the end (``jcmd GC.run``, ``GC.heap_info``);
- the Spark jobs and tasks the run started (the status tracker), and the seconds.

Writes ``bench/results/spark-memory.md``. Run from the repository root::

    python bench/spark_memory.py                    # 1, 1000, 20000, 200000 files
    python bench/spark_memory.py --counts 1,1000
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from machine import cpu_model, ram_gib

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "bench" / "work" / "spark-memory"
RESULTS = REPO / "bench" / "results" / "spark-memory.md"
sys.path.insert(0, str(REPO / "python"))


def tiny_png() -> bytes:
    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.arange(48, dtype=np.uint8).reshape(4, 4, 3)).save(buf, format="PNG")
    return buf.getvalue()


def make_folder(count: int) -> Path:
    folder = WORK / f"in-{count}"
    if folder.is_dir() and sum(1 for _ in os.scandir(folder)) == count:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    data = tiny_png()
    for i in range(count):
        (folder / f"t{i:06d}.png").write_bytes(data)
    return folder


def status_kb(pid: int, field: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.M).group(1))


def jvm_heap_used_mb(pid: int) -> float:
    """Heap in use after a full GC, from ``jcmd GC.heap_info`` (G1: 'used NNNK')."""
    subprocess.run(["jcmd", str(pid), "GC.run"], capture_output=True, check=True)
    info = subprocess.run(["jcmd", str(pid), "GC.heap_info"], capture_output=True, text=True, check=True).stdout
    used = re.search(r"used (\d+)K", info)
    return int(used.group(1)) / 1024 if used else float("nan")


def child(folder: str, out: str) -> None:
    """One run in this process; prints one JSON line of measurements."""
    import tracemalloc

    from quantcli.planner import Naming
    from quantcli.request import CompressRequest
    from quantcli.spark import driver
    from quantcli.spark.session import get_session

    spark, _ = get_session("local[2]", {"spark.ui.enabled": "false"})
    sc = spark.sparkContext
    jvm = sc._gateway.proc.pid
    jvm_peak = [0]

    def sample() -> None:
        while not done.is_set():
            jvm_peak[0] = max(jvm_peak[0], status_kb(jvm, "VmRSS"))
            time.sleep(0.2)

    done = threading.Event()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    rss_before = status_kb(os.getpid(), "VmRSS")
    tracemalloc.start()
    start = time.perf_counter()
    total, results = driver.compress(CompressRequest(k=4), [folder], Naming(suffix=".png", out_dir=out), spark=spark)
    statuses: dict[str, int] = {}
    for result in results:
        statuses[result.status] = statuses.get(result.status, 0) + 1
    seconds = time.perf_counter() - start
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    done.set()
    sampler.join()
    tracker = sc.statusTracker()
    jobs = [job for job in map(tracker.getJobInfo, range(1000)) if job is not None]  # ids count from 0
    stages = [tracker.getStageInfo(s) for job in jobs for s in job.stageIds]
    heap = jvm_heap_used_mb(jvm)
    row = {
        "files": total,
        "statuses": statuses,
        "seconds": seconds,
        "py_rss_before_mb": rss_before / 1024,
        "py_peak_mb": status_kb(os.getpid(), "VmHWM") / 1024,
        "py_traced_peak_mb": traced_peak / 2**20,
        "jvm_peak_mb": max(jvm_peak[0], status_kb(jvm, "VmHWM")) / 1024,
        "jvm_heap_after_gc_mb": heap,
        "stages": len(stages),
        "tasks": sum(s.numTasks for s in stages if s),
        "most_tasks_in_a_stage": max((s.numTasks for s in stages if s), default=0),
    }
    spark.stop()
    print("RESULT " + json.dumps(row), flush=True)


def machine() -> str:
    cpu = cpu_model(platform.processor())
    mem = ram_gib()
    import pyspark

    python = platform.python_version()
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM; Python {python}, PySpark {pyspark.__version__}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1,1000,20000,200000")
    parser.add_argument("--child", nargs=2, metavar=("FOLDER", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    rows = []
    for count in (int(n) for n in args.counts.split(",")):
        folder = make_folder(count)
        out = WORK / f"out-{count}"
        shutil.rmtree(out, ignore_errors=True)
        proc = subprocess.run(
            [sys.executable, __file__, "--child", str(folder), str(out)], capture_output=True, text=True, check=False
        )
        lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            sys.exit(f"run on {count} files failed:\n{proc.stderr[-3000:]}")
        rows.append(json.loads(lines[-1][len("RESULT ") :]))
        print(rows[-1], flush=True)
        shutil.rmtree(out, ignore_errors=True)
    base = rows[0]
    load = Path("/proc/loadavg").read_text().split()[:3]
    text = [
        "# Spark driver memory against the number of files",
        "",
        f"Machine: {machine()}. Run: `python bench/spark_memory.py {' '.join(sys.argv[1:])}`; load average at the "
        f"end (1, 5, 15 min): {', '.join(load)}.",
        "",
        "One flat folder of identical 4x4 PNGs (no `-r`), `--engine spark --master local[2]`, K=4, a fresh "
        "process per row. Python: the driver process (peak RSS, and the peak of Python allocations during "
        "the run). JVM: the driver's JVM, which in `local[2]` also runs the executors (peak RSS, and the heap "
        "in use after a full GC at the end).",
        "",
        "| files | seconds | Python peak RSS MB | vs baseline | Python allocations peak MB | JVM peak RSS MB "
        "| JVM heap after GC MB | stages | tasks | most tasks in a stage |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        text.append(
            f"| {r['files']:,} | {r['seconds']:.1f} | {r['py_peak_mb']:.1f} "
            f"| {r['py_peak_mb'] - base['py_peak_mb']:+.1f} "
            f"| {r['py_traced_peak_mb']:.2f} | {r['jvm_peak_mb']:.0f} | {r['jvm_heap_after_gc_mb']:.0f} "
            f"| {r['stages']} | {r['tasks']} | {r['most_tasks_in_a_stage']} |"
        )
    text.append("")
    RESULTS.write_text("\n".join(text) + "\n")
    print("\n".join(text))


if __name__ == "__main__":
    main()
