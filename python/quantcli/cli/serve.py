"""``quantcli serve``: the web app and HTTP API (FastAPI, run by uvicorn)."""

from __future__ import annotations

from typing import Annotated

import typer

from .base import Engine, error_line, usage
from .common import ConfOption, EngineOption, MasterOption

EPILOG = (
    "Examples:\n\n"
    "  printf '%s' \"$PASSWORD\" | quantcli users add alice --data ~/qdata   (prints alice's API key)\n\n"
    "  quantcli serve --data ~/qdata                          (http://127.0.0.1:8000)\n\n"
    "  quantcli serve --host 0.0.0.0 --proxy-headers --store hdfs://namenode/quantcli\n\n"
    '  curl -H "Authorization: Bearer $KEY" --data-binary @photo.jpg '
    "'http://127.0.0.1:8000/api/v1/compress?k=64' -o small.png"
)

DataOption = Annotated[
    str | None,
    typer.Option(
        "--data",
        help="Folder for the database and stored images. Default: $QUANTCLI_DATA, else ~/.local/share/quantcli.",
        metavar="DIR",
        show_default=False,
    ),
]
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="SQLAlchemy database URL (e.g. postgresql+psycopg://user@host/quantcli). Default: SQLite in --data.",
        metavar="URL",
    ),
]


HostOption = Annotated[
    str, typer.Option("--host", metavar="ADDRESS", help="Address to listen on (0.0.0.0: every interface).")
]
PortOption = Annotated[int, typer.Option("--port", min=0, max=65535, metavar="PORT", help="Port to listen on.")]
StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Where uploads and results go: a folder or an fsspec URI (hdfs://namenode/path, s3://bucket/path). "
        "Default: DIR/images.",
        metavar="URI",
    ),
]
MaxUploadOption = Annotated[
    str,
    typer.Option("--max-upload", help="Largest upload (e.g. 50MB, 200k, 1GiB); larger ones get 413.", metavar="SIZE"),
]
MaxPixelsOption = Annotated[
    int | None,
    typer.Option(
        "--max-pixels",
        min=1,
        metavar="N",
        help="Largest image in pixels (width x height), checked from the header before decoding. "
        "Default: 25000000 (25 MP).",
        show_default=False,
    ),
]
MemoryOption = Annotated[
    str | None,
    typer.Option(
        "--memory",
        metavar="SIZE",
        help="Memory the images being compressed may take at once, as compress --memory (512M, 4G, 50%): each "
        "image's peak estimated from its size as compress -j estimates it; an image that does not fit waits "
        "in the queue (one image alone always runs). Default: half the RAM.",
        show_default=False,
    ),
]
UserQuotaOption = Annotated[
    str | None,
    typer.Option(
        "--user-quota",
        metavar="SIZE",
        help="Most bytes one user's stored uploads and their results may take (e.g. 5GB), or none; an upload "
        "past it gets 413. Default: 1GB.",
        show_default=False,
    ),
]
WorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers",
        min=1,
        metavar="N",
        help="Images compressed at once. Default: the number of cores.",
        show_default=False,
    ),
]
QueueOption = Annotated[
    int, typer.Option("--queue", min=0, metavar="N", help="Work waiting for a worker before API requests get 503.")
]
AllowSignupOption = Annotated[bool, typer.Option("--allow-signup", help="Serve a sign-up page.")]
ProxyHeadersOption = Annotated[
    bool,
    typer.Option(
        "--proxy-headers",
        help="Behind a reverse proxy: trust X-Forwarded-Proto/-For from --forwarded-allow-ips "
        "(https there makes the session cookie Secure).",
    ),
]
ForwardedAllowIpsOption = Annotated[
    str,
    typer.Option(
        "--forwarded-allow-ips",
        metavar="ADDRESSES",
        help="Comma-separated proxy addresses trusted with --proxy-headers.",
    ),
]
SparkMinImagesOption = Annotated[
    int,
    typer.Option("--spark-min-images", min=1, metavar="N", help="With --engine spark: jobs this large go to Spark."),
]
LogLevelOption = Annotated[
    str, typer.Option("--log-level", metavar="LEVEL", help="uvicorn's log level (info, warning, ...).")
]


def serve(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    data: DataOption = None,
    db: DbOption = None,
    store: StoreOption = None,
    max_upload: MaxUploadOption = "50MB",
    max_pixels: MaxPixelsOption = None,
    memory: MemoryOption = None,
    user_quota: UserQuotaOption = None,
    workers: WorkersOption = None,
    queue: QueueOption = 64,
    allow_signup: AllowSignupOption = False,
    proxy_headers: ProxyHeadersOption = False,
    forwarded_allow_ips: ForwardedAllowIpsOption = "127.0.0.1",
    engine: EngineOption = Engine.local,
    master: MasterOption = None,
    conf: ConfOption = None,
    spark_min_images: SparkMinImagesOption = 50,
    log_level: LogLevelOption = "info",
) -> None:
    """Run the web app and HTTP API: accounts, uploads, K choice, before/after views, downloads.

    Add users with `quantcli users add`. Jobs run on a pool of worker threads with the local engine; with --engine spark, jobs of at least --spark-min-images images run on Spark.

    Several servers may share one --data or --db: each claims a job before running it, so none runs twice. A port that is taken exits 1 before any job is touched. The database file is created 0600 and the folders 0700.
    """  # noqa: E501 (one line per paragraph: Typer rewraps the help text)
    from ..errors import QuantcliError

    _require_extra()
    from ..memory import parse_memory
    from ..serve.config import ServeConfig, parse_size

    optional = {"max_pixels": max_pixels, "workers": workers}
    try:
        limits = {name: value for name, value in optional.items() if value is not None}
        if memory is not None:
            try:
                limits["memory_budget"] = parse_memory(memory)
            except QuantcliError as exc:
                raise QuantcliError(f"--memory: {exc}") from None
        if user_quota is not None:  # "none": no limit
            no_limit = user_quota.strip().lower() == "none"
            limits["user_quota"] = None if no_limit else parse_size(user_quota, "--user-quota")
        config = ServeConfig(
            data_dir=data or _default_data_dir(),
            db_url=db,
            store=store,
            max_upload=parse_size(max_upload),
            queue=queue,
            allow_signup=allow_signup,
            proxy_headers=proxy_headers,
            forwarded_allow_ips=forwarded_allow_ips,
            engine=engine.value,
            master=master,
            conf=tuple(conf or ()),
            spark_min_images=spark_min_images,
            **limits,
        )
    except QuantcliError as exc:
        usage(str(exc))
    _listen(_app(config), config, host, port, log_level)


def _listen(app, config, host: str, port: int, log_level: str) -> None:
    """Serve ``app`` with uvicorn until stopped. The port is bound before the app starts, so
    a port that cannot be bound exits 1 before the server touches a job."""
    import uvicorn

    try:
        sock = _bind(host, port)
    except OSError as exc:
        error_line(f"cannot listen on {host}:{port} ({exc.strerror or exc})")
        raise typer.Exit(1) from None
    typer.echo(
        f"quantcli serve: http://{_url_host(host)}:{sock.getsockname()[1]}/ (data in {config.data_dir})", err=True
    )
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            proxy_headers=False,  # the app applies them itself, only with --proxy-headers
            server_header=False,
            log_level=log_level,
            limit_concurrency=max(100, 4 * config.workers + config.queue),
            timeout_graceful_shutdown=10,
        )
    )
    with sock:
        server.run(sockets=[sock])


def _bind(host: str, port: int):
    """A listening TCP socket on ``host:port`` (as uvicorn binds it: SO_REUSEADDR, IPv6 for
    an address with a colon)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock


def _app(config):
    """The app of a configuration; usage errors end the command."""
    from ..errors import QuantcliError

    try:
        if config.engine == "spark":
            from ..spark.session import require_pyspark

            require_pyspark()
        from ..serve.app import create_app
        from ..serve.work import Service
        from .users import open_database

        return create_app(config, Service(config, open_database(config.data_dir, config.db_url)))
    except QuantcliError as exc:
        usage(str(exc))


def _require_extra() -> None:
    """A usage error naming the install command when the serve extra is missing."""
    import importlib.util

    from ..errors import install_hint

    missing = [
        m
        for m in ("fastapi", "uvicorn", "sqlalchemy", "argon2", "jinja2", "multipart")
        if not importlib.util.find_spec(m)
    ]
    if missing:
        usage(f"quantcli serve needs its extra ({', '.join(missing)} missing): {install_hint('serve')}")


def _default_data_dir() -> str:
    from ..serve.config import default_data_dir

    return default_data_dir()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
