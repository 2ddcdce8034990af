"""The web pages of accounts: sign in and out, sign up, the account page and its API key
(the work's pages are :mod:`quantcli.serve.job_pages`).

Pages use the session cookie; every request that changes something carries the session's
CSRF token (a form field, or the ``X-CSRF-Token`` header from the page's script).
"""

from __future__ import annotations

import re
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from starlette.responses import RedirectResponse, Response

from ..errors import InvalidOptionError
from .accounts import (
    SESSION_LIFETIME,
    LoginRefused,
    add_user,
    authenticate,
    end_session,
    replace_api_key,
    start_session,
)
from .uploads import storage_used
from .web import (
    ANON_CSRF_COOKIE,
    SESSION_COOKIE,
    SignedIn,
    User,
    check_csrf,
    is_https,
    optional_signed_in,
    render,
    safe_next,
    service,
    set_session_cookie,
)

router = APIRouter(include_in_schema=False)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _anon_csrf(request: Request) -> str:
    """The token of the signed-out forms (sign in, sign up), kept in a cookie of its own."""
    token = request.cookies.get(ANON_CSRF_COOKIE, "")
    return token if re.fullmatch(r"[A-Za-z0-9_-]{32,64}", token) else secrets.token_urlsafe(32)


def _with_anon_csrf(request: Request, response: Response, token: str) -> Response:
    response.set_cookie(ANON_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=is_https(request), path="/")
    return response


# ---------------------------------------------------------------------------------------
# Signing in and out


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    if optional_signed_in(request) is not None:
        return RedirectResponse(safe_next(next), 303)
    token = _anon_csrf(request)
    page = render(request, "login.html", csrf=token, next=safe_next(next), name="", error=None)
    return _with_anon_csrf(request, page, token)


@router.post("/login")
def login(
    request: Request,
    name: Annotated[str, Form(max_length=256)] = "",
    password: Annotated[str, Form(max_length=4096)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=2048)] = "/",
) -> Response:
    check_csrf(request, request.cookies.get(ANON_CSRF_COOKIE, ""), csrf_token)
    svc = service(request)
    try:
        user_id = authenticate(svc.db, request.app.state.throttle, _client(request), name, password)
    except LoginRefused as exc:
        status = 429 if exc.locked else 401
        headers = {"Retry-After": str(exc.retry_after)} if exc.locked else None
        page = render(request, "login.html", status, csrf=csrf_token, next=safe_next(next), name=name, error=str(exc))
        if headers:
            page.headers.update(headers)
        return page
    token = start_session(svc.db, user_id)
    response = RedirectResponse(safe_next(next), 303)
    set_session_cookie(request, response, token, int(SESSION_LIFETIME.total_seconds()))
    response.delete_cookie(ANON_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, user: User, csrf_token: Annotated[str, Form(max_length=128)] = "") -> Response:
    check_csrf(request, user.csrf, csrf_token)
    end_session(service(request).db, user.token)
    response = RedirectResponse("/login", 303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=is_https(request))
    return response


def _signup_allowed(request: Request) -> None:
    if not service(request).config.allow_signup:
        raise HTTPException(404, "not found")


@router.get("/signup")
def signup_page(request: Request) -> Response:
    _signup_allowed(request)
    token = _anon_csrf(request)
    return _with_anon_csrf(request, render(request, "signup.html", csrf=token, name="", error=None), token)


@router.post("/signup")
def signup(
    request: Request,
    name: Annotated[str, Form(max_length=256)] = "",
    password: Annotated[str, Form(max_length=4096)] = "",
    password2: Annotated[str, Form(max_length=4096)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    _signup_allowed(request)
    check_csrf(request, request.cookies.get(ANON_CSRF_COOKIE, ""), csrf_token)
    svc = service(request)
    address = _client(request)
    throttle, signups = request.app.state.throttle, request.app.state.signups
    error, wait, reserved = None, throttle.retry_after(address), None
    if wait:
        error = "too many attempts from your address; try again later"
    elif (reserved := signups.reserve(address)) is None:
        error, wait = "too many new accounts from your address; try again later", signups.retry_after(address) or 1
    elif password != password2:
        error = "the two passwords differ"
    else:
        try:
            add_user(svc.db, name, password)
        except InvalidOptionError as exc:
            error = str(exc)
    if error is not None:
        if reserved is not None:
            signups.release(reserved)  # no account was made
        if not wait:
            throttle.count(address)  # failed sign-ups count against the address, as failed sign-ins do
        page = render(request, "signup.html", 429 if wait else 400, csrf=csrf_token, name=name, error=error)
        if wait:
            page.headers["Retry-After"] = str(wait)
        return page
    user_id = authenticate(svc.db, throttle, address, name, password)
    response = RedirectResponse("/account", 303)
    set_session_cookie(request, response, start_session(svc.db, user_id), int(SESSION_LIFETIME.total_seconds()))
    response.delete_cookie(ANON_CSRF_COOKIE, path="/")
    return response


def _account_page(request: Request, user: SignedIn, api_key: str | None) -> Response:
    svc = service(request)
    with svc.db.session() as s:
        used = storage_used(s, user.user_id)
    return render(request, "account.html", user=user, api_key=api_key, used=used, quota=svc.config.user_quota)


@router.get("/account")
def account(request: Request, user: User) -> Response:
    return _account_page(request, user, None)


@router.post("/account/api-key")
def new_key(request: Request, user: User, csrf_token: Annotated[str, Form(max_length=128)] = "") -> Response:
    check_csrf(request, user.csrf, csrf_token)
    key = replace_api_key(service(request).db, user.user_id)
    return _account_page(request, user, key)
