"""Planning on Spark: list the inputs, and decide every output with the planner's rules,
without bringing the file list to the driver.

- Folders and globs are listed by ``binaryFile`` on the driver's JVM through Hadoop's
  FileSystem API (no Spark job). The file index never reaches Python: its paths become a
  DataFrame on the JVM side (:func:`_index_frame`).
- Explicit files (command-line files, ``--files-from`` entries) are a small DataFrame of
  their own; tasks read them (through fsspec), so a missing one fails like any input.
- One planning job runs :class:`quantcli.planner.Naming` on every path and brings back
  only the exceptions: files named twice, outputs claimed twice, zero-byte files (which
  Spark's scan skips) and inputs that found nothing. The driver settles those with
  :class:`quantcli.planner.Planner`, as the local engine would; tasks then name every
  other file by themselves.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..planner import Found, Job, Naming, Planner
from . import uris

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

SKIP = ""  # an exception that means "already planned at an earlier place": no row


@dataclass(frozen=True)
class Group:
    """A folder or glob input: where its files are found and how results name them."""

    item: str  # the input as the user gave it
    kind: str  # "folder" or "pattern"
    load: str  # what binaryFile loads
    root: str  # the qualified URI that relative paths start below
    display: str  # the user's spelling of the root

    def found(self, uri: str) -> Found:
        """The file at ``uri`` (as binaryFile spells it), named as the user would see it."""
        prefix = self.root.rstrip("/") + "/"
        relative = uri[len(prefix) :] if uri.startswith(prefix) else posixpath.basename(uri)
        display = relative if self.display in ("", ".") else self.display.rstrip("/") + "/" + relative
        return Found(uri, display, relative)


@dataclass(frozen=True)
class SparkPlan:
    """What tasks need besides the pixels; small (exceptions are few), shipped to tasks."""

    naming: Naming
    groups: dict[int, Group]
    exceptions: dict[str, str] = field(default_factory=dict)  # "group\tpath" -> error, or SKIP

    def job(self, group: int, uri: str, display: str | None, relative: str | None) -> Job | None:
        """The job for a listed file; None when it was planned at an earlier place."""
        found = self.groups[group].found(uri) if group in self.groups else Found(uri, display or uri, relative or "")
        error = self.exceptions.get(f"{group}\t{uri}")
        if error == SKIP:
            return None
        if error is not None:
            return Job(found.source, found.display, None, None, posixpath.basename(found.relative), error)
        placed = self.naming.place(found, uri)
        if isinstance(placed, str):
            return Job(found.source, found.display, None, None, posixpath.basename(found.relative), placed)
        output, target, name = placed
        return Job(found.source, found.display, output, target, name)


@dataclass
class Listing:
    """The inputs as Spark holds them, and what the driver reports itself."""

    plan: SparkPlan
    frame: DataFrame | None  # group, path, display, relative, content (null: read by the task)
    paths: DataFrame | None  # group, path, display, relative: every file, content never read
    scanned: DataFrame | None = None  # path: the files the scans read (zero-byte files are not)
    early: list[Job] = field(default_factory=list)  # jobs the driver reports itself (inputs that found nothing)
    total: int = 0  # files to do, and early jobs, once settled


FRAME_SCHEMA = "group int, path string, display string, relative string, content binary"
_PATH_SCHEMA = "group int, path string, display string, relative string"


def list_inputs(
    spark: SparkSession,
    inputs: list[str],
    listed: list[str],
    naming: Naming,
    *,
    recursive: bool,
) -> Listing:
    """List folders, globs and files as DataFrames; see the module documentation.

    Every input gets a slot, its place on the command line (``--files-from`` entries
    after the rest), which orders the planner's first-come rules.
    """
    from pyspark.sql import functions as F

    groups: dict[int, Group] = {}
    scans, scanned, indexes, files = [], [], [], []
    for slot, (item, literal) in enumerate([*((i, False) for i in inputs), *((i, True) for i in listed)]):
        uri = uris.qualify(spark, item)
        kind = "file" if literal else uris.kind(spark, item, uri)
        if kind == "file":
            keep = (
                literal and not uris.has_scheme(item) and not Path(item).is_absolute() and ".." not in item.split("/")
            )
            display = item if uris.has_scheme(item) else str(Path(item))
            relative = posixpath.normpath(item) if keep else posixpath.basename(uri)
            files.append((slot, uris.canonical(uri), display, relative))
            continue
        if kind == "dir":
            display = str(Path(item)) if not uris.has_scheme(item) else item.rstrip("/")
            load = uri.rstrip("/") if recursive else uri.rstrip("/") + "/" + uris.image_glob()
            group = Group(item, "folder", load, uri.rstrip("/"), display)
        else:
            root = uris.glob_root(item)
            display = str(Path(root)) if not uris.has_scheme(item) else root
            group = Group(item, "pattern", uri, uris.qualify(spark, root).rstrip("/"), display)
        groups[slot] = group
        scan, keep = _scan(spark, group, naming)
        no_name = F.lit(None).cast("string")
        scans.append(
            scan.filter(keep).select(
                F.lit(slot).alias("group"), "path", no_name.alias("display"), no_name.alias("relative"), "content"
            )
        )
        scanned.append(scan.filter(keep).select("path"))
        index = _index_frame(spark, scan).filter(keep)
        indexes.append(
            index.select(F.lit(slot).alias("group"), "path", no_name.alias("display"), no_name.alias("relative"))
        )
    explicit = []
    if files:
        explicit = [spark.createDataFrame(files, _PATH_SCHEMA)]
        scans.append(explicit[0].withColumn("content", F.lit(None).cast("binary")))
    listing = Listing(SparkPlan(naming, groups), _union(scans), _union(indexes + explicit))
    listing.scanned = _union(scanned)
    return listing


def _scan(spark: SparkSession, group: Group, naming: Naming) -> tuple[DataFrame, Any]:
    """binaryFile over a folder or glob (image names only), and the condition that leaves
    out our earlier outputs (by suffix) and an out-dir inside the tree."""
    from pyspark.sql import functions as F

    reader = spark.read.format("binaryFile").option("recursiveFileLookup", "true")
    frame = reader.option("pathGlobFilter", uris.image_glob()).load(group.load)
    keep = F.lit(True)
    if naming.suffix.lower() != ".png":
        keep = keep & ~F.col("path").endswith(naming.suffix)
    out = naming.out_target
    if out is not None and out.rstrip("/") != group.root and out.startswith(group.root + "/"):
        keep = keep & ~F.col("path").startswith(out.rstrip("/") + "/")
    return frame, keep


INDEX_SLICE = 5000  # paths per task of the index: a task carries its paths (~60 bytes each)


def _index_frame(spark: SparkSession, scan: DataFrame) -> DataFrame:
    """Every path of a scan's file index (zero-byte files included, which the scan itself
    skips) as a one-column DataFrame made on the JVM: the list never passes through
    Python on the driver, and is cut into slices so that no task carries all of it."""
    from pyspark.sql import DataFrame
    from pyspark.sql import functions as F

    jvm = spark.sparkContext._jvm
    paths = scan._jdf.inputFiles()
    if str(jvm.scala.util.Properties.versionNumberString()).startswith("2.12"):  # Spark 3.5
        files = jvm.scala.Predef.genericWrapArray(paths)  # a WrappedArray: a Seq, no copy
    else:
        files = jvm.scala.collection.immutable.ArraySeq.unsafeWrapArray(paths)
    slices = max(spark.sparkContext.defaultParallelism, -(-len(paths) // INDEX_SLICE))
    rdd = spark.sparkContext._jsc.parallelize(jvm.scala.collection.JavaConverters.seqAsJavaList(files), slices)
    dataset = spark._jsparkSession.createDataset(rdd.rdd(), jvm.org.apache.spark.sql.Encoders.STRING())
    index = DataFrame(dataset.toDF(), spark)
    return index.select(uris.canonical_column(F.col("value")).alias("path"))  # the scan's spelling


def _union(frames: list[DataFrame]) -> DataFrame | None:
    result = None
    for frame in frames:
        result = frame if result is None else result.unionByName(frame)
    return result


# ---------------------------------------------------------------------------------------
# The planning job.

_NAMED_SCHEMA = "group int, path string, display string, relative string, target string, sort string"


def settle(spark: SparkSession, listing: Listing) -> None:
    """Run the planning job: fill ``listing.plan.exceptions``, add zero-byte files to the
    frame, and put the inputs that found nothing in ``listing.early``.

    Only exceptional rows come back to the driver: a path listed more than once, a target
    claimed more than once, a zero-byte file, and the count of files per input.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if listing.paths is None:
        return
    plan = listing.plan
    # Naming runs in Python once; the three questions below read the cached result.
    named = listing.paths.mapInPandas(_name_batches(plan), _NAMED_SCHEMA).persist()
    flagged = named.withColumn("n_path", F.count(F.lit(1)).over(Window.partitionBy("path"))).withColumn(
        "n_target", F.count(F.lit(1)).over(Window.partitionBy("target"))
    )
    clash = flagged.filter("n_path > 1 or (target is not null and n_target > 1)").select(
        F.lit("clash").alias("kind"), "group", "path", "display", "relative", "sort"
    )
    listed = named.filter(F.col("group").isin(list(plan.groups)))
    empty = listed.join(listing.scanned, "path", "left_anti") if listing.scanned is not None else listed.limit(0)
    empty = empty.select(F.lit("empty").alias("kind"), "group", "path", "display", "relative", "sort")
    counts = (
        named.groupBy("group")
        .count()
        .select(
            F.lit("count").alias("kind"),
            "group",
            F.col("count").cast("string").alias("path"),
            *(F.lit(None).cast("string").alias(c) for c in ("display", "relative", "sort")),
        )
    )
    try:
        rows = clash.unionByName(empty).unionByName(counts).collect()
    finally:
        named.unpersist()
    _settle_clashes(plan, sorted((r for r in rows if r.kind == "clash"), key=lambda r: (r.group, r.sort)))
    empties = [(r.group, r.path, r.display, r.relative, b"") for r in rows if r.kind == "empty"]
    if empties:
        listing.frame = listing.frame.unionByName(spark.createDataFrame(empties, FRAME_SCHEMA))
    found = {r.group for r in rows if r.kind == "count" and int(r.path) > 0}
    skipped = sum(1 for v in plan.exceptions.values() if v == SKIP)
    listing.total = sum(int(r.path) for r in rows if r.kind == "count") - skipped
    for slot, group in plan.groups.items():
        if slot not in found:
            message = f"{group.item}: no image found in this {group.kind}"
            listing.early.append(Job(group.load, group.item, None, None, "", message))
    listing.total += len(listing.early)


def _name_batches(plan: SparkPlan) -> Any:
    """mapInPandas: each path's display, relative path, output target and sort key."""

    def run(batches: Any) -> Any:
        from .frame import pandas_batch

        for batch in batches:
            out = []
            for group, uri, display, relative in zip(
                batch["group"], batch["path"], batch["display"], batch["relative"], strict=True
            ):
                job = plan.job(int(group), uri, display, relative)
                found = plan.groups[int(group)].found(uri) if int(group) in plan.groups else None
                rel = found.relative if found is not None else relative
                out.append(
                    (int(group), uri, display, relative, None if job is None else job.target, "\0".join(rel.split("/")))
                )
            yield pandas_batch(out, ["group", "path", "display", "relative", "target", "sort"])

    return run


def _settle_clashes(plan: SparkPlan, rows: list[Any]) -> None:
    """Run the planner over the rows that share a path or a target, in input order."""
    planner = Planner(plan.naming)
    for row in rows:
        found = plan.groups[row.group].found(row.path) if row.group in plan.groups else None
        found = found or Found(row.path, row.display, row.relative)
        job = planner.plan(found, row.path)
        key = f"{row.group}\t{row.path}"
        if job is None:
            plan.exceptions[key] = SKIP
        elif job.error is not None:
            plan.exceptions[key] = job.error
