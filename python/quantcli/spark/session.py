"""Getting a SparkSession with quantcli's defaults, without changing process-wide state."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import InvalidOptionError, install_hint

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

T = TypeVar("T")

# Set only where the user (--conf, spark-defaults.conf, spark-submit) has not.
DEFAULT_CONF: dict[str, str] = {
    # Arrow batches to the Python workers: up to 64 thumbnails (a batch costs ~1 ms, 8 to
    # a batch made 5,000 thumbnails 3x slower to hand over), but at most 32 MB of
    # multi-megabyte photos (Spark 4 cuts batches by bytes; Spark 3.5 gets 8 to a batch).
    "spark.sql.execution.arrow.maxRecordsPerBatch": "64",
    "spark.sql.execution.arrow.maxBytesPerBatch": str(32 * 1024 * 1024),
    # Partitions by bytes: 32 MB of compressed images is seconds of work per task. Each
    # file counts as at least 256 kB: a Python task costs ~0.15 s to start, so thousands
    # of thumbnails go a few hundred to a task, not a few dozen (Spark's 4 MB default).
    "spark.sql.files.maxPartitionBytes": str(32 * 1024 * 1024),
    "spark.sql.files.openCostInBytes": str(256 * 1024),
    # The driver lists folders itself through Hadoop's FileSystem API: never a Spark job
    # of one task per path to list them (Spark's default above 32 paths).
    "spark.sql.sources.parallelPartitionDiscovery.threshold": str(2**31 - 1),
    # quantcli shows its own per-file progress; Spark's stage bar would overwrite it.
    "spark.ui.showConsoleProgress": "false",
}


def require_pyspark() -> None:
    """InvalidOptionError with the install command when PySpark is missing."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise InvalidOptionError(f"--engine spark needs PySpark: {install_hint('spark')}") from None


def parse_conf(pairs: Iterable[str]) -> dict[str, str]:
    """``--conf key=value`` strings as a dict."""
    conf: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidOptionError(f"--conf takes key=value, got {pair!r}")
        conf[key.strip()] = value
    return conf


def get_session(
    master: str | None = None, conf: Iterable[str] | dict[str, str] = (), *, log_level: str = "WARN"
) -> tuple[SparkSession, bool]:
    """A SparkSession with quantcli's defaults where the user set nothing: (session, created).

    An active session (spark-submit, a notebook, tests) is reused and its settings kept.
    Executors run this Python unless ``spark.pyspark.python`` says otherwise, so that they
    import the same quantcli; nothing here changes environment variables.
    """
    require_pyspark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and master is None and not conf:
        return active, False
    settings = dict(conf) if isinstance(conf, dict) else parse_conf(conf)
    builder = SparkSession.builder.appName("quantcli")
    if master:
        builder = builder.master(master)
    defaults = {
        **DEFAULT_CONF,
        "spark.pyspark.python": sys.executable,
        "spark.pyspark.driver.python": sys.executable,
    }
    import pyspark

    if int(pyspark.__version__.split(".")[0]) < 4:  # no maxBytesPerBatch: keep photos few to a batch
        defaults["spark.sql.execution.arrow.maxRecordsPerBatch"] = "8"
    log_conf = Path(__file__).with_name("log4j2.properties")
    defaults["spark.driver.extraJavaOptions"] = f"-Dlog4j2.configurationFile=file:{log_conf}"
    from pyspark import SparkConf, SparkContext

    own_logging = _logging_configured(settings.get("spark.driver.extraJavaOptions", ""))
    if SparkContext._gateway is not None or _launched_by_spark_submit():
        # The JVM runs already (spark-submit): its settings (spark-defaults.conf, --conf)
        # win over our defaults.
        SparkContext._ensure_initialized()
        preset = SparkConf()
        defaults = {k: v for k, v in defaults.items() if not preset.contains(k)}
        log_level = preset.get("spark.log.level", None) or log_level
        own_logging = own_logging or _logging_configured(preset.get("spark.driver.extraJavaOptions", ""))
        if not own_logging and not preset.contains("spark.log.level"):
            # spark-submit's log4j profile says INFO: the context applies this level as it starts.
            defaults["spark.log.level"] = log_level
    log_level = settings.get("spark.log.level", log_level)
    for key, value in {**defaults, **settings}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    _use_configured_python(session.sparkContext)
    if not own_logging or "spark.log.level" in settings:
        session.sparkContext.setLogLevel(log_level)
    _quiet_loggers(session)
    return session, active is None


class OwnedSession:
    """The session a run uses, and the one rule of its life: ``spark`` as given (a
    notebook's, a test's, the server's) is left running; otherwise one is made from
    ``master`` and ``conf`` and stopped when the run is done, unless a session was
    running already. As a context manager it gives the session and closes on leaving;
    :meth:`closing` closes once a lazy run's results are consumed."""

    def __init__(self, spark: SparkSession | None = None, master: str | None = None, conf: Iterable[str] = ()):
        self.created = False
        if spark is None:
            spark, self.created = get_session(master, conf)
        self.spark: SparkSession = spark

    def close(self) -> None:
        """Stop the session if this run made it."""
        if self.created:
            self.created = False
            self.spark.stop()

    def closing(self, results: Iterator[T]) -> Iterator[T]:
        """``results``, then :meth:`close` (also when the consumer stops early)."""
        try:
            yield from results
        finally:
            self.close()

    def __enter__(self) -> SparkSession:
        return self.spark

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _use_configured_python(sc: Any) -> None:
    """PySpark 3.5 starts Python workers with ``$PYSPARK_PYTHON`` or ``python3`` and reads
    no setting: give this context ``spark.pyspark.python``, as PySpark 4 does itself."""
    python = sc.getConf().get("spark.pyspark.python", None)
    if python and "PYSPARK_PYTHON" not in os.environ and sc.pythonExec != python:
        sc.pythonExec = python


def _logging_configured(java_options: str | None) -> bool:
    """Whether the user gave Spark's JVM a log4j configuration of their own."""
    options = (java_options or "") + " " + os.environ.get("SPARK_SUBMIT_OPTS", "")
    return "log4j" in options and "configurationFile" in options


def _quiet_loggers(session: SparkSession) -> None:
    """Loggers that warn, with a stack trace, about things quantcli does on purpose."""
    jvm = session.sparkContext._jvm
    error = jvm.org.apache.logging.log4j.Level.ERROR
    for name in ("org.apache.spark.sql.execution.streaming",):
        jvm.org.apache.logging.log4j.core.config.Configurator.setLevel(name, error)


def _launched_by_spark_submit() -> bool:
    return "PYSPARK_GATEWAY_PORT" in os.environ
