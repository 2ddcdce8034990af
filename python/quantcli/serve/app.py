"""The ASGI application of ``quantcli serve`` (FastAPI on Starlette)."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response

from .. import __version__
from .accounts import SIGNUP_WINDOW, SIGNUPS, AddressThrottle
from .config import MAX_FORM_BYTES, ServeConfig, format_size
from .storage import StorageError, storage_error
from .uploads import megapixels
from .web import HERE, BodyLimit, NotSignedIn, SecurityHeaders, error_response, render, wants_json
from .work import Service

log = logging.getLogger("quantcli.serve")

#: Retry-After (seconds) of a 503 for a failed write: space is freed by people, not at once.
STORAGE_RETRY_AFTER = "60"

# Requests whose body is an image: they may be as large as --max-upload.
_UPLOADS = re.compile(r"^/(api/v1/(compress|images)|jobs/[^/]+/images)/?$")
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)

DESCRIPTION = """\
Compress images to K colours as palette PNGs, with the same pipeline as the `quantcli`
command. Send `Authorization: Bearer KEY` with every request; the Account page makes you a
key (the server's administrator can make one too).

The request body of `POST /api/v1/compress` and `POST /api/v1/images` is the image file
itself (`curl --data-binary @photo.jpg`), at most {max_upload} and {max_pixels} on this
server. Errors answer `{{"detail": "one line"}}`.
"""


def _is_upload(scope: dict) -> bool:
    return scope.get("method") in ("POST", "PUT") and bool(_UPLOADS.match(scope["path"]))


def create_app(config: ServeConfig, service: Service | None = None) -> FastAPI:
    """The application for one configuration: database, store and worker pool start with
    it (its lifespan) and stop with it."""
    svc = service or Service(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc.start()
        try:
            yield
        finally:
            svc.stop()

    app = FastAPI(
        title="quantcli",
        version=__version__,
        description=DESCRIPTION.format(
            max_upload=format_size(config.max_upload), max_pixels=megapixels(config.max_pixels)
        ),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.service = svc
    app.state.throttle = AddressThrottle(svc.db)  # failed sign-ins
    app.state.signups = AddressThrottle(svc.db, "sign-up", SIGNUPS, SIGNUP_WINDOW)

    from . import api_v1, job_pages, pages

    app.include_router(api_v1.router)
    app.include_router(pages.router)
    app.include_router(job_pages.router)
    _add_docs(app)  # before /static: its assets are below /static/swagger
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    _add_error_handlers(app)

    if config.proxy_headers:
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=config.forwarded_allow_ips)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, upload_limit=config.max_upload, form_limit=MAX_FORM_BYTES, is_upload=_is_upload)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    """Every error as one line: a page for browsers, ``{"detail": ...}`` for API clients;
    signed out, a page redirects to the sign-in page."""

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, exc: NotSignedIn) -> Response:
        if wants_json(request):
            return JSONResponse({"detail": "sign in first"}, 401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        from urllib.parse import quote

        return RedirectResponse(f"/login?next={quote(target, safe='/')}", 303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404 and detail == "Not Found":
            detail = "not found"
        elif exc.status_code == 405:
            detail = "method not allowed"
        return error_response(request, exc.status_code, detail, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        return error_response(request, 422, _one_line(exc))

    @app.exception_handler(StorageError)
    async def storage_failed(request: Request, exc: StorageError) -> Response:
        return error_response(request, 503, str(exc), {"Retry-After": STORAGE_RETRY_AFTER})

    @app.exception_handler(OperationalError)
    async def database_failed(request: Request, exc: OperationalError) -> Response:
        # A full disk, or a database that is down or locked: the user can only wait.
        log.error("%s %s: %s", request.method, request.url.path, exc)
        return error_response(request, 503, str(storage_error(exc)), {"Retry-After": STORAGE_RETRY_AFTER})

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        log.exception("%s %s", request.method, request.url.path)
        return error_response(request, 500, "internal server error")


def _one_line(exc: RequestValidationError) -> str:
    """The first validation error as ``name: message``."""
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()) if part not in ("query", "body", "path"))
        return f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid request"))
    return "invalid request"


def _add_docs(app: FastAPI) -> None:
    """The OpenAPI page at ``/api/docs``, with Swagger UI served from this server (the
    assets ship in the fastapi-offline package; nothing comes from a CDN)."""
    try:
        import fastapi_offline
    except ImportError:  # pragma: no cover - a declared dependency of the serve extra
        return
    assets = Path(fastapi_offline.__file__).parent / "static"
    app.mount("/static/swagger", StaticFiles(directory=str(assets)), name="swagger")

    @app.get("/api/docs", include_in_schema=False)
    def api_docs(request: Request) -> Any:
        page = render(request, "api_docs.html", openapi_url=app.openapi_url)
        page.headers["content-security-policy"] = DOCS_CSP
        return page
