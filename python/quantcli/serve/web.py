"""What every route shares: who is signed in, CSRF checks, request body limits, security
headers, error responses, templates and uploads read as they stream in."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from starlette.datastructures import MutableHeaders
from starlette.responses import Response

from .. import __version__
from .accounts import same_secret, session_for_token, user_for_api_key
from .choices import target_outcome
from .config import format_change, format_ratio, format_size
from .work import Service

HERE = Path(__file__).parent
SESSION_COOKIE = "quantcli_session"
ANON_CSRF_COOKIE = "quantcli_csrf"
CSRF_HEADER = "x-csrf-token"

CSP = (
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
# Stored files: never run as a page, whatever their bytes.
FILE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
SECURITY_HEADERS = (
    ("content-security-policy", CSP),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "same-origin"),
    ("cross-origin-opener-policy", "same-origin"),
    ("permissions-policy", "camera=(), microphone=(), geolocation=()"),
)

templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals["version"] = __version__
templates.env.filters["size"] = format_size
templates.env.filters["ratio"] = format_ratio
templates.env.filters["change"] = format_change
templates.env.globals["target_outcome"] = target_outcome


def service(request: Request) -> Service:
    """The server's :class:`Service`."""
    return request.app.state.service


# ---------------------------------------------------------------------------------------
# Who is asking


@dataclass(frozen=True)
class SignedIn:
    """The browser's signed-in session."""

    user_id: int
    name: str
    csrf: str
    token: str


@dataclass(frozen=True)
class ApiUser:
    """The holder of the request's API key."""

    user_id: int
    name: str


class NotSignedIn(Exception):
    """A page needs a signed-in session (redirect to the sign-in page, or 401 for scripts)."""


def wants_json(request: Request) -> bool:
    """Whether the client is the page's own script or an API client, not a browser tab."""
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


def signed_in(request: Request) -> SignedIn:
    """Dependency: the signed-in session, or NotSignedIn."""
    token = request.cookies.get(SESSION_COOKIE, "")
    with service(request).db.session() as s:
        row = session_for_token(s, token)  # deletes an expired session: commit, then refuse
        found = None if row is None else SignedIn(row.user_id, row.user.name, row.csrf_token, token)
    if found is None:
        raise NotSignedIn
    return found


def optional_signed_in(request: Request) -> SignedIn | None:
    """The signed-in session, or None."""
    try:
        return signed_in(request)
    except NotSignedIn:
        return None


#: A page's signed-in user, as a route parameter (signed out: NotSignedIn, a redirect to /login).
User = Annotated[SignedIn, Depends(signed_in)]


_bearer = HTTPBearer(auto_error=False, description="An API key from `quantcli users add` or the Account page.")


def api_user(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> ApiUser:
    """Dependency: the user of ``Authorization: Bearer KEY``, or 401."""
    if credentials is None or not credentials.credentials.strip():
        raise HTTPException(401, "missing API key (send Authorization: Bearer KEY)", {"WWW-Authenticate": "Bearer"})
    with service(request).db.session() as s:
        user = user_for_api_key(s, credentials.credentials.strip())
        if user is None:
            raise HTTPException(401, "invalid API key", {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return ApiUser(user.id, user.name)


def check_csrf(request: Request, expected: str, sent: str | None = None) -> None:
    """403 unless the form field or the ``X-CSRF-Token`` header carries ``expected``."""
    token = sent or request.headers.get(CSRF_HEADER, "")
    if not token or not expected or not same_secret(token, expected):
        raise HTTPException(403, "the form is out of date or not from this site (CSRF check failed); reload the page")


def is_https(request: Request) -> bool:
    """Whether the client reached us over https (through a trusted proxy's header when
    ``--proxy-headers`` is on)."""
    return request.url.scheme == "https"


def set_session_cookie(request: Request, response: Response, token: str, max_age: int) -> None:
    """The session cookie: HttpOnly, SameSite=Lax, Secure over https."""
    response.set_cookie(
        SESSION_COOKIE, token, max_age=max_age, httponly=True, samesite="lax", secure=is_https(request), path="/"
    )


def safe_next(target: str | None) -> str:
    """A redirect target after sign-in: a path on this site, else ``/``."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")) and "\n" not in target:
        return target
    return "/"


# ---------------------------------------------------------------------------------------
# The user's own objects


def owned(session: Any, model: Any, object_id: str, user_id: int) -> Any:
    """The user's job or image with this id, or 404 "no such job/image", also when it is
    someone else's: the answer never tells that it exists."""
    row = session.scalars(select(model).where(model.id == object_id, model.user_id == user_id)).first()
    if row is None:
        raise HTTPException(404, f"no such {model.__tablename__.rstrip('s')}")
    return row


def read_stored(request: Request, key: str) -> bytes:
    """A stored file's bytes, or 404 when it has gone missing."""
    try:
        return service(request).store.read(key)
    except OSError:
        raise HTTPException(404, "the stored file is missing") from None


# ---------------------------------------------------------------------------------------
# Responses


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    """A page from a template, with the signed-in user's name and CSRF token when known."""
    user = context.get("user")
    context.setdefault("csrf", user.csrf if isinstance(user, SignedIn) else "")
    context.setdefault("allow_signup", service(request).config.allow_signup)
    return templates.TemplateResponse(request, template, context, status_code=status_code)


def error_response(request: Request, status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    """JSON ``{"detail": ...}`` for scripts and API clients, an error page for browsers."""
    if wants_json(request):
        body = json.dumps({"detail": detail}).encode()
        return Response(body, status, headers=headers, media_type="application/json")
    user = None
    if status not in (500, 503):  # not a database that may be failing
        user = optional_signed_in(request)
    page = render(request, "error.html", status, status=status, detail=detail, user=user)
    page.headers.update(headers or {})
    return page


def download_headers(filename: str, *, attachment: bool) -> dict[str, str]:
    """Content-Disposition for a file named by the user: an ASCII fallback and UTF-8."""
    fallback = re.sub(r"[^A-Za-z0-9._-]", "_", filename)[:100] or "image"
    kind = "attachment" if attachment else "inline"
    return {
        "content-disposition": f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}",
        "content-security-policy": FILE_CSP,
    }


# ---------------------------------------------------------------------------------------
# ASGI middleware


class SecurityHeaders:
    """Adds the security headers (CSP, nosniff, no framing) and ``Cache-Control`` to every
    response that does not set its own."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS:
                    headers.setdefault(name, value)
                headers.setdefault("cache-control", "public, max-age=3600" if static else "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLarge(HTTPException):
    """A request body over its limit (413)."""


class BodyLimit:
    """Refuses a request body over its limit with 413 while it streams in: at once when
    ``Content-Length`` says so, else as soon as the bytes received pass the limit. Uploads
    (``is_upload(scope)``) may have ``upload_limit`` bytes, other requests ``form_limit``.

    An upload that declares too many bytes still reaches its route, which refuses it
    (``BodyTooLarge``) at the first read of the body, without reading a byte: so the route
    checks the key or session first, and a job's page can list the file as refused."""

    def __init__(self, app: Any, *, upload_limit: int, form_limit: int, is_upload: Callable[[dict], bool]) -> None:
        self.app = app
        self.upload_limit = upload_limit
        self.form_limit = form_limit
        self.is_upload = is_upload

    async def __call__(self, scope: dict, receive: Callable[[], Awaitable[dict]], send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = self.is_upload(scope)
        limit = self.upload_limit if upload else self.form_limit
        detail = (
            f"upload too large: more than the limit of {format_size(limit)} per file"
            if upload
            else f"request too large: more than {format_size(limit)}"
        )
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit and not upload:
                    await _send_json(send, 413, detail)
                    return
                if declared > limit:

                    async def refuse() -> dict:
                        raise BodyTooLarge(413, detail)

                    await self.app(scope, refuse, send)
                    return
        received = 0

        async def limited() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(413, detail)
            return message

        await self.app(scope, limited, send)


async def _send_json(send: Callable, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(b"connection", b"close")]
    headers += [(name.encode(), value.encode()) for name, value in SECURITY_HEADERS]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def read_upload(request: Request) -> bytes:
    """The request body (the limit is :class:`BodyLimit`'s); 400 when empty, in the API's
    words or the page's."""
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
    if not chunks:
        if request.url.path.startswith("/api/"):
            raise HTTPException(400, "empty request body: send the image file's bytes")
        raise HTTPException(400, "the file is empty")
    return bytes(chunks)
