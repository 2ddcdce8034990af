"""Accounts: passwords (argon2id), API keys, sign-in sessions and failed-login lockout.

- Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's second
  recommended profile) and rehashed at sign-in when those parameters change.
- An API key is 256 random bits shown once; the database keeps its SHA-256, which is
  enough for a secret of that strength and lets a request find its user by one lookup.
- A session cookie holds 256 random bits; the database keeps its SHA-256 and the
  session's CSRF token.
- After :data:`LOCK_AFTER` consecutive failed sign-ins with one name, that name is locked
  for 30 s, doubling with each further failure up to 15 minutes; while locked, even the
  right password is refused. Failures are counted by the name given, whether or not a user
  has it, so an unknown name locks as a real one does and the lockout tells nothing about
  which names exist; a count with no failure for :data:`FAILURES_KEPT` is forgotten. A
  client address that fails :data:`IP_FAILURES` times in :data:`IP_WINDOW` is refused
  too, whatever the names it tries, and one address makes at most :data:`SIGNUPS` accounts
  in :data:`SIGNUP_WINDOW`. Both counts are kept in the database (a restart does not reset
  them); an IPv6 address is counted by its /64, which one host usually holds whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ..errors import InvalidOptionError
from .db import AddressEvent, Database, Image, LoginFailures, LoginSession, User, utcnow

API_KEY_PREFIX = "qk_"
SESSION_LIFETIME = timedelta(days=7)
LOCK_AFTER = 5
LOCK_BASE = timedelta(seconds=30)
LOCK_MAX = timedelta(minutes=15)
FAILURES_KEPT = timedelta(days=1)
IP_FAILURES = 20
IP_WINDOW = 600.0  # seconds
SIGNUPS = 5
SIGNUP_WINDOW = 3600.0  # seconds
PASSWORD_MIN, PASSWORD_MAX = 8, 1024
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


#: argon2 parameters (an ``argon2.Parameters``); None: argon2-cffi's defaults. Tests set
#: a cheap profile.
PASSWORD_PARAMETERS = None


def _hasher():
    from argon2 import PasswordHasher

    if PASSWORD_PARAMETERS is not None:
        return PasswordHasher.from_parameters(PASSWORD_PARAMETERS)
    return PasswordHasher()


# A hash to verify against when the user does not exist, so that the answer takes as long
# as for a wrong password and does not tell which names exist.
_DUMMY_HASH: str | None = None


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (checked by :func:`check_password_rules` first)."""
    check_password_rules(password)
    return _hasher().hash(password)


def check_password_rules(password: str) -> None:
    """InvalidOptionError unless the password has 8 to 1024 characters."""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise InvalidOptionError(f"a password needs {PASSWORD_MIN} to {PASSWORD_MAX} characters")


def check_name(name: str) -> str:
    """A valid user name (1 to 64 of letters, digits, ``.``, ``_``, ``-``, starting with a
    letter or digit), or InvalidOptionError."""
    if not _NAME.match(name):
        raise InvalidOptionError(
            "a user name has 1 to 64 letters, digits, '.', '_' or '-', and starts with a letter or digit"
        )
    return name


def token_hash(token: str) -> str:
    """SHA-256 (hex) of a high-entropy secret: an API key or a session token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_api_key() -> str:
    """A new API key: ``qk_`` and 43 URL-safe characters (256 bits)."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def same_secret(a: str, b: str) -> bool:
    """Constant-time comparison of two tokens."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


# ---------------------------------------------------------------------------------------
# Users


def add_user(db: Database, name: str, password: str) -> str:
    """Create a user; returns its new API key (shown once, stored hashed). The name is kept
    as spelled, and taken in every case: with ``alice``, ``Alice`` is refused.

    Raises InvalidOptionError for a bad name or password, or a name that is taken.
    """
    from sqlalchemy.exc import IntegrityError

    check_name(name)
    check_password_rules(password)
    with db.session() as s:
        existing = db.user_by_name(s, name)
        taken = None if existing is None else existing.name
    if taken is not None:
        raise InvalidOptionError(f"user {taken!r} exists" if taken == name else f"user {name!r} exists as {taken!r}")
    key = new_api_key()
    try:
        with db.session() as s:
            s.add(User(name=name, password_hash=hash_password(password), api_key_hash=token_hash(key)))
    except IntegrityError:  # added by someone else meanwhile
        raise InvalidOptionError(f"user {name!r} exists") from None
    return key


def set_password(db: Database, name: str, password: str) -> None:
    """Give the user called ``name`` a new password; their sign-in sessions end and a lock
    from failed sign-ins is lifted. InvalidOptionError for a bad password or no such user."""
    check_password_rules(password)
    password_hash = hash_password(password)
    with db.session() as s:
        user = db.user_by_name(s, name)
        if user is None:
            raise InvalidOptionError(f"no user {name!r}")
        user.password_hash = password_hash
        s.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
        s.execute(delete(LoginFailures).where(LoginFailures.name == _failure_key(user.name)))


def replace_api_key(db: Database, user_id: int) -> str:
    """Give the user a new API key (the old one stops working); returns it."""
    key = new_api_key()
    with db.session() as s:
        user = s.get(User, user_id)
        if user is None:
            raise InvalidOptionError("no such user")
        user.api_key_hash = token_hash(key)
    return key


@dataclass(frozen=True)
class UserSummary:
    """A user as ``users list`` shows it."""

    name: str
    created_at: datetime
    images: int


def list_users(db: Database) -> list[UserSummary]:
    """Every user, by name, with their number of stored images."""
    with db.session() as s:
        counts = dict(s.execute(select(Image.user_id, func.count()).group_by(Image.user_id)).all())
        users = s.scalars(select(User).order_by(User.name)).all()
        return [UserSummary(u.name, u.created_at, counts.get(u.id, 0)) for u in users]


def remove_user(db: Database, name: str) -> int:
    """Delete a user with their sessions, jobs and image rows; returns the user's id (the
    caller deletes their stored files). InvalidOptionError if there is no such user."""
    with db.session() as s:
        user = db.user_by_name(s, name)
        if user is None:
            raise InvalidOptionError(f"no user {name!r}")
        user_id = user.id
        s.delete(user)
    return user_id


def user_for_api_key(session: Session, key: str) -> User | None:
    """The user holding this API key, or None."""
    if not key.startswith(API_KEY_PREFIX) or len(key) > 128:
        return None
    return session.scalars(select(User).where(User.api_key_hash == token_hash(key))).first()


# ---------------------------------------------------------------------------------------
# Signing in


class LoginRefused(Exception):
    """A sign-in was refused; ``locked`` when because of too many failures, with
    ``retry_after`` seconds."""

    def __init__(self, message: str, *, locked: bool = False, retry_after: int = 0) -> None:
        super().__init__(message)
        self.locked = locked
        self.retry_after = retry_after


class AddressThrottle:
    """Events of one kind (failed sign-ins, sign-ups) per client address in a sliding
    window, counted in the database: ``limit`` of them in ``window`` seconds, and the
    address waits until the oldest leaves the window."""

    def __init__(self, db: Database, kind: str = "sign-in", limit: int = IP_FAILURES, window: float = IP_WINDOW):
        self.db = db
        self.kind = kind
        self.limit = limit
        self.window = timedelta(seconds=window)

    def retry_after(self, address: str) -> int:
        """Seconds until this address may try again; 0 when it may now."""
        now = utcnow()
        with self.db.session() as s:
            recent = s.scalars(
                select(AddressEvent.at)
                .where(
                    AddressEvent.kind == self.kind,
                    AddressEvent.address == address_key(address),
                    AddressEvent.at > now - self.window,
                )
                .order_by(AddressEvent.at.desc())
                .limit(self.limit)
            ).all()
        if len(recent) < self.limit:
            return 0
        return max(1, int((recent[-1] + self.window - now).total_seconds()) + 1)

    def count(self, address: str) -> int:
        """Count an event from ``address`` (its id); events that left the window are forgotten."""
        now = utcnow()
        with self.db.session() as s:
            s.execute(delete(AddressEvent).where(AddressEvent.kind == self.kind, AddressEvent.at <= now - self.window))
            event = AddressEvent(kind=self.kind, address=address_key(address), at=now)
            s.add(event)
            s.flush()
            return event.id

    def reserve(self, address: str) -> int | None:
        """Count an event from ``address`` if it stays within the limit: its id, or None (and
        nothing counted) when the address is over. Counted first and checked after, so that
        requests at the same moment cannot all pass the check before any is counted."""
        event_id = self.count(address)
        with self.db.session() as s:
            mine = s.get(AddressEvent, event_id)
            earlier = s.scalar(
                select(func.count())
                .select_from(AddressEvent)
                .where(
                    AddressEvent.kind == self.kind,
                    AddressEvent.address == mine.address,
                    AddressEvent.at > mine.at - self.window,
                    AddressEvent.id < event_id,
                )
            )
        if earlier < self.limit:
            return event_id
        self.release(event_id)
        return None

    def release(self, event_id: int) -> None:
        """Uncount a reserved event (what it was for did not happen)."""
        with self.db.session() as s:
            s.execute(delete(AddressEvent).where(AddressEvent.id == event_id))


def address_key(address: str) -> str:
    """The address a client is counted under: an IPv4 address as it is, an IPv6 one as its
    /64 (``2001:db8:1:2::/64``; an IPv4-mapped one as the IPv4), anything else as given,
    at most 64 characters."""
    import ipaddress

    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def lock_duration(failures: int) -> timedelta:
    """How long an account is locked after ``failures`` consecutive failures."""
    if failures < LOCK_AFTER:
        return timedelta(0)
    return min(LOCK_MAX, LOCK_BASE * 2 ** min(failures - LOCK_AFTER, 20))


def _failure_key(name: str) -> str:
    """The name a failed sign-in is counted under: as given, folded, at most 64 characters."""
    return name.lower()[:64]


def _locked_for(session: Session, key: str, now: datetime) -> int:
    """Seconds the name stays locked; 0 when it may sign in."""
    row = session.get(LoginFailures, key)
    if row is None or row.locked_until is None or row.locked_until <= now:
        return 0
    return int((row.locked_until - now).total_seconds()) + 1


def _count_failure(db: Database, key: str) -> None:
    """One more failed sign-in for a name; locks it from :data:`LOCK_AFTER` failures, and
    forgets the counts of names with no failure for :data:`FAILURES_KEPT`."""
    from sqlalchemy.exc import IntegrityError

    for _ in range(2):  # a second try when another request added the row meanwhile
        now = utcnow()
        try:
            with db.session() as s:
                s.execute(delete(LoginFailures).where(LoginFailures.last_failed_at < now - FAILURES_KEPT))
                row = s.get(LoginFailures, key)
                if row is None:
                    row = LoginFailures(name=key, failures=0)
                    s.add(row)
                row.failures += 1
                row.last_failed_at = now
                lock = lock_duration(row.failures)
                if lock:
                    row.locked_until = now + lock
            return
        except IntegrityError:
            continue


def authenticate(db: Database, throttle: AddressThrottle, address: str, name: str, password: str) -> int:
    """Check a name and password; returns the user id, or raises LoginRefused."""
    global _DUMMY_HASH
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    wait = throttle.retry_after(address)
    if wait:
        raise LoginRefused("too many failed sign-ins from your address; try again later", locked=True, retry_after=wait)
    hasher = _hasher()
    key = _failure_key(name)
    with db.session() as s:
        seconds = _locked_for(s, key, utcnow())
        if seconds:
            raise LoginRefused(
                "too many failed sign-ins for this account; try again later", locked=True, retry_after=seconds
            )
        user = db.user_by_name(s, name) if len(name) <= 64 and len(password) <= PASSWORD_MAX else None
        if user is None:
            if _DUMMY_HASH is None:
                _DUMMY_HASH = hasher.hash(secrets.token_hex(16))
            with contextlib.suppress(VerificationError):
                hasher.verify(_DUMMY_HASH, password[:PASSWORD_MAX])
            verified = False
        else:
            try:
                verified = hasher.verify(user.password_hash, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                verified = False
        if verified:
            s.execute(delete(LoginFailures).where(LoginFailures.name == key))
            if hasher.check_needs_rehash(user.password_hash):
                user.password_hash = hasher.hash(password)
            return user.id
    _count_failure(db, key)
    throttle.count(address)
    raise LoginRefused("wrong user name or password")


def start_session(db: Database, user_id: int) -> str:
    """A new signed-in session for the user; returns the cookie's token."""
    token = secrets.token_urlsafe(32)
    with db.session() as s:
        s.add(
            LoginSession(
                id=token_hash(token),
                user_id=user_id,
                csrf_token=secrets.token_urlsafe(32),
                expires_at=utcnow() + SESSION_LIFETIME,
            )
        )
    return token


def session_for_token(session: Session, token: str) -> LoginSession | None:
    """The live session this cookie token names, or None (unknown or expired)."""
    if not token or len(token) > 128:
        return None
    row = session.get(LoginSession, token_hash(token))
    if row is None:
        return None
    if row.expires_at <= utcnow():
        session.delete(row)
        return None
    return row


def end_session(db: Database, token: str) -> None:
    """Sign out: delete the session this token names (nothing if none)."""
    if not token or len(token) > 128:
        return
    with db.session() as s:
        row = s.get(LoginSession, token_hash(token))
        if row is not None:
            s.delete(row)
