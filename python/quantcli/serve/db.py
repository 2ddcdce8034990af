"""The service's database: users, login sessions, jobs and images (SQLAlchemy 2).

SQLite in the data folder by default; any SQLAlchemy URL otherwise. Tables are created on
first use. Every query that reads a user's objects filters by the user, so another user's
id reads as "not found".
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker
from sqlalchemy.types import TypeDecorator

from ..errors import InvalidOptionError

# Job and image states.
OPEN, QUEUED, RUNNING, DONE, FAILED = "open", "queued", "running", "done", "failed"
PENDING, ERROR = "pending", "error"


def utcnow() -> datetime:
    """Now, in UTC, timezone-aware."""
    return datetime.now(timezone.utc)


def new_id() -> str:
    """A public object id: 96 random bits, URL-safe; ids say nothing about counts or order."""
    return secrets.token_urlsafe(12)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every database (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    """The declarative base of the service's tables."""


class Meta(Base):
    """Facts about the installation, such as where its images are stored."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class User(Base):
    """An account: argon2 password hash, SHA-256 of its API key, failed-login state. Names
    are unique whatever their case (``alice`` and ``Alice`` are one user), spelled as given."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    api_key_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Unused: failed sign-ins are counted by the name given, in LoginFailures. Kept because
    # older databases have these columns NOT NULL.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


Index("ix_users_name_folded", func.lower(User.name), unique=True)


class LoginFailures(Base):
    """Consecutive failed sign-ins for a name as given (folded to lower case), whether or not
    a user has it, so that the lockout does not tell which names exist."""

    __tablename__ = "login_failures"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_failed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class AddressEvent(Base):
    """A failed sign-in or a sign-up from a client address (an IPv6 one by its /64), kept
    while the address throttle's window holds it, so that a restart does not reset the
    throttle and servers sharing the database share it."""

    __tablename__ = "address_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


Index("ix_address_events_kind_address_at", AddressEvent.kind, AddressEvent.address, AddressEvent.at)


class LoginSession(Base):
    """A signed-in browser: the row's id is the SHA-256 of the cookie's token."""

    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    user: Mapped[User] = relationship(lazy="joined")


class Job(Base):
    """A batch from the upload page: its settings, and its images.

    ``status``: open (files still being uploaded), queued, running, done, failed (the job
    as a whole could not run, ``error`` says why; each image has its own status too).
    """

    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=OPEN)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    engine: Mapped[str] = mapped_column(String(16), default="local")
    # The settings, as the user gave them (see quantcli.serve.choices.Choices).
    k: Mapped[str] = mapped_column(String(8))
    dither: Mapped[str] = mapped_column(String(16), default="auto")
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    quality: Mapped[str | None] = mapped_column(String(32), nullable=True)
    min_psnr: Mapped[float | None] = mapped_column(Float, nullable=True)
    # The server running the job and until when its claim holds (it renews the claim while
    # it runs); a claim that lapsed belongs to a server that stopped, and its job is queued
    # again.
    owner: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    images: Mapped[list[Image]] = relationship(
        back_populates="job", order_by="Image.position", cascade="all, delete-orphan", passive_deletes=True
    )
    refusals: Mapped[list[Refusal]] = relationship(
        order_by="Refusal.id", cascade="all, delete-orphan", passive_deletes=True
    )


class Refusal(Base):
    """A file of a job that was not stored, and why (``status``: the HTTP status it got)."""

    __tablename__ = "refusals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Image(Base):
    """One uploaded image and its result. ``name`` is the uploaded file's name, a label
    only; the stored files have names the server made (``source_key``, ``output_key``).

    ``status``: pending, running, done, error (``error`` says why, in one line).
    """

    __tablename__ = "images"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True, nullable=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    name: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    source_key: Mapped[str] = mapped_column(String(255))
    output_key: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    k: Mapped[int | None] = mapped_column(Integer, nullable=True)
    colors: Mapped[int | None] = mapped_column(Integer, nullable=True)
    bytes_in: Mapped[int] = mapped_column(Integer)
    bytes_out: Mapped[int | None] = mapped_column(Integer, nullable=True)
    psnr: Mapped[float | None] = mapped_column(Float, nullable=True)
    # With a target (a quality, or min_psnr): whether it was met, and the quality reached.
    quality: Mapped[float | None] = mapped_column(Float, nullable=True)
    target_met: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    palette_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    curve_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    job: Mapped[Job | None] = relationship(back_populates="images")


class Database:
    """An engine and a session factory for one database URL; creates the tables."""

    def __init__(self, url: str) -> None:
        try:
            if url.startswith("sqlite"):
                _private_database_file(url)
                self.engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
                event.listen(self.engine, "connect", _sqlite_pragmas)
            else:
                self.engine = create_engine(url, pool_pre_ping=True)
            Base.metadata.create_all(self.engine)
            _upgrade(self.engine)
        except Exception as exc:  # a bad URL, a missing driver, a server that refuses
            raise InvalidOptionError(f"--db {_redacted(url)}: cannot open ({_first_line(exc)})") from None
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error."""
        with self.sessions.begin() as session:
            yield session

    def check_store(self, location: str) -> None:
        """Record the store on first use; refuse another one later (InvalidOptionError):
        images already stored would be lost from view."""
        with self.session() as s:
            row = s.get(Meta, "store")
            if row is None:
                s.add(Meta(key="store", value=location))
            elif row.value != location:
                shown = "the data folder" if row.value.startswith("data:") else row.value
                raise InvalidOptionError(f"this database's images are stored in {shown}; give --store {row.value}")

    def store_location(self) -> str | None:
        """The store recorded by the first ``serve``, if any."""
        with self.session() as s:
            row = s.get(Meta, "store")
            return None if row is None else row.value

    def user_by_name(self, session: Session, name: str) -> User | None:
        """The user called ``name`` in any case, or None."""
        return session.scalars(select(User).where(func.lower(User.name) == name.lower())).first()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _private_database_file(url: str) -> None:
    """Create a SQLite database file readable by this user only (0600, whatever the umask):
    it holds password hashes. SQLite gives its -wal and -shm files the same mode."""
    import contextlib
    import os

    from sqlalchemy.engine import make_url

    path = make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_mode & 0o077:
            with contextlib.suppress(PermissionError):  # someone else's file: leave it
                os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def _upgrade(engine: Any) -> None:
    """Bring an older database's tables up to date: ``create_all`` only creates missing
    tables, so add the nullable columns a newer version declares, and the case-insensitive
    index of user names."""
    import logging

    from sqlalchemy import inspect, text

    inspector = inspect(engine)
    with engine.begin() as connection:
        for table in Base.metadata.sorted_tables:
            present = {column["name"] for column in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name not in present and column.nullable:
                    kind = column.type.compile(dialect=engine.dialect)
                    connection.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}"))
    if engine.dialect.name in ("sqlite", "postgresql"):  # both know IF NOT EXISTS
        try:
            with engine.begin() as connection:
                connection.execute(
                    text("CREATE UNIQUE INDEX IF NOT EXISTS ix_users_name_folded ON users (lower(name))")
                )
        except Exception as exc:  # users named alice and Alice from before the rule
            logging.getLogger("quantcli.serve").warning("user names stay case-sensitive: %s", _first_line(exc))


def _sqlite_pragmas(connection: Any, record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not wait for the writer
    cursor.execute("PRAGMA foreign_keys=ON")  # ON DELETE CASCADE
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _redacted(url: str) -> str:
    """The URL without its password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable URL>"


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__
