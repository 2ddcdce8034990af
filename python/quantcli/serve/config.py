"""The settings of one ``quantcli serve`` instance, validated in one place."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InvalidOptionError
from ..units import format_ratio, format_size  # noqa: F401  (the pages' filters, imported from here)

DEFAULT_MAX_UPLOAD = 50 * 1000 * 1000  # 50 MB
#: Largest image the service takes, in pixels: 25 MP (a 24 MP camera photo), a quarter of
#: the command line's 100 MP. The memory budget counts such an image at
#: quantcli.memory.EXACT_PEAK_BYTES_PER_PIXEL (88): 2.2 GB, the worst case measured.
DEFAULT_SERVE_MAX_PIXELS = 25_000_000
DEFAULT_QUEUE = 64
#: Most bytes one user's stored uploads and results may take: 1 GB.
DEFAULT_USER_QUOTA = 1000 * 1000 * 1000
#: Most images in one job of the upload page.
MAX_JOB_IMAGES = 500
#: Most bytes of a request that is not an upload (a login or settings form).
MAX_FORM_BYTES = 64 * 1024

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?\s*$", re.IGNORECASE)


def default_data_dir() -> str:
    """``$QUANTCLI_DATA``, else ``$XDG_DATA_HOME/quantcli`` (``~/.local/share/quantcli``)."""
    env = os.environ.get("QUANTCLI_DATA")
    if env:
        return env
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return os.path.join(base, "quantcli")


def parse_size(text: str, what: str = "--max-upload") -> int:
    """Bytes from ``50MB``, ``50M``, ``1.5GiB``, ``100k`` or a plain number (decimal units,
    binary with ``i``). InvalidOptionError for anything else or a size below 1."""
    match = _SIZE.match(str(text))
    if not match:
        raise InvalidOptionError(f"{what} must be a size such as 50MB, 200k or 1GiB, got {text!r}")
    number, unit, binary = match.groups()
    base = 1024 if binary else 1000
    scale = base ** ("kmgt".index(unit.lower()) + 1) if unit else 1
    value = int(float(number) * scale)
    if value < 1:
        raise InvalidOptionError(f"{what} must be at least 1 byte, got {text!r}")
    return value


def format_change(ratio: float) -> str:
    """How much a file grew or shrank, in the words a card has room for: ``45% smaller``,
    ``12% larger``, ``2.3\N{MULTIPLICATION SIGN} larger`` (from doubling on), ``the same size``."""
    if ratio <= 0:
        return "empty"
    if ratio >= 2:
        return f"{ratio:.1f}\N{MULTIPLICATION SIGN} larger"
    percent = round(100 * abs(1 - ratio))
    if percent == 0:
        return "the same size"
    return f"{percent}% {'smaller' if ratio < 1 else 'larger'}"


@dataclass(frozen=True)
class ServeConfig:
    """Everything a server instance is configured with.

    Parameters
    ----------
    data_dir : str
        Holds the SQLite database (unless ``db_url``) and the stored images (unless
        ``store``).
    db_url : str, optional
        Any SQLAlchemy URL (``postgresql+psycopg://...``); default SQLite in ``data_dir``.
    store : str, optional
        Where uploads and results go: a local folder or an fsspec URI (``hdfs://``,
        ``s3://``); default ``data_dir/images``.
    max_upload : int
        Largest upload in bytes; larger ones get 413 while they stream in.
    max_pixels : int
        Largest image (width x height) accepted; checked from the header before decoding
        (default :data:`DEFAULT_SERVE_MAX_PIXELS`, 25 MP).
    memory_budget : int
        Bytes the images being compressed (and their curves and previews) may take at
        once, each counted as ``width * height * 88``, as ``compress -j`` counts them;
        an image that does not fit waits for room (one image alone always runs). Default:
        half the RAM.
    user_quota : int or None
        Most bytes one user's stored uploads and their results may take (default
        :data:`DEFAULT_USER_QUOTA`, 1 GB); None: no limit.
    workers : int
        Images compressed at once (threads; the core uses the remaining cores inside).
    queue : int
        Jobs and API requests waiting for a worker beyond those running; above that an
        API request gets 503 and a page job waits in the database.
    allow_signup : bool
        Serve a sign-up page.
    proxy_headers : bool
        Trust ``X-Forwarded-Proto`` and ``X-Forwarded-For`` from ``forwarded_allow_ips``.
    engine, master, conf, spark_min_images
        ``engine="spark"`` sends page jobs of at least ``spark_min_images`` images to the
        Spark master ``master``; smaller ones and API requests stay local.
    """

    data_dir: str
    db_url: str | None = None
    store: str | None = None
    max_upload: int = DEFAULT_MAX_UPLOAD
    max_pixels: int = DEFAULT_SERVE_MAX_PIXELS
    memory_budget: int = field(default_factory=lambda: _half_the_ram())
    user_quota: int | None = DEFAULT_USER_QUOTA
    workers: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))
    queue: int = DEFAULT_QUEUE
    allow_signup: bool = False
    proxy_headers: bool = False
    forwarded_allow_ips: str = "127.0.0.1"
    engine: str = "local"
    master: str | None = None
    conf: tuple[str, ...] = ()
    spark_min_images: int = 50

    def __post_init__(self) -> None:
        for name, low in (
            ("max_upload", 1),
            ("max_pixels", 1),
            ("memory_budget", 1),
            ("workers", 1),
            ("queue", 0),
            ("spark_min_images", 1),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                flag = "--" + name.replace("_", "-")
                raise InvalidOptionError(f"{flag} must be an integer >= {low}, got {value!r}")
        if self.user_quota is not None and (
            isinstance(self.user_quota, bool) or not isinstance(self.user_quota, int) or self.user_quota < 1
        ):
            raise InvalidOptionError(f"--user-quota must be a size of at least 1 byte or none, got {self.user_quota!r}")
        if self.engine not in ("local", "spark"):
            raise InvalidOptionError(f"--engine must be local or spark, got {self.engine!r}")
        if self.engine != "spark" and (self.master is not None or self.conf):
            raise InvalidOptionError("--master and --conf need --engine spark")

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL of the database."""
        if self.db_url:
            return self.db_url
        return "sqlite:///" + os.path.join(os.path.abspath(self.data_dir), "quantcli.db")

    @property
    def store_location(self) -> str:
        """The store as recorded in the database: the URI, or ``data:images`` for the
        default folder inside ``data_dir`` (so that the data folder can move)."""
        return self.store or "data:images"

    @property
    def store_root(self) -> str:
        """Where stored images go: a local folder or a URI."""
        return resolve_store(self.store_location, self.data_dir)


def _half_the_ram() -> int:
    from ..memory import default_budget

    return default_budget()


def resolve_store(location: str, data_dir: str) -> str:
    """A recorded store location as a folder or URI."""
    if location.startswith("data:"):
        return os.path.join(os.path.abspath(data_dir), location[len("data:") :])
    return location
