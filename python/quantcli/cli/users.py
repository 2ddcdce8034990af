"""``quantcli users``: add, list and remove the accounts of ``quantcli serve``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .base import error_line, usage
from .serve import DataOption, DbOption

app = typer.Typer(
    name="users",
    help="Add, list and remove the users of quantcli serve, and set their passwords.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def open_database(data: str, db_url: str | None):
    """The service's database (the serve extra's SQLAlchemy), or a usage error."""
    from ..errors import install_hint

    try:
        from ..serve.db import Database
    except ImportError:
        usage(f"quantcli serve needs its extra: {install_hint('serve')}")
    if db_url is None:
        from ..serve.storage import private_folder

        try:
            private_folder(data)
        except OSError as exc:
            usage(f"--data {data}: cannot create ({exc.strerror or exc})")
    from ..serve.config import ServeConfig

    return Database(ServeConfig(data_dir=data, db_url=db_url).database_url)


def _open(data: str | None, db: str | None):
    from ..errors import QuantcliError
    from ..serve.config import default_data_dir

    folder = data or default_data_dir()
    try:
        return folder, open_database(folder, db)
    except QuantcliError as exc:
        usage(str(exc))


def _read_password(name: str) -> str:
    """The password: the first line of stdin when it is not a terminal (without its line
    ending, LF or CRLF), else a prompt."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    return typer.prompt(f"Password for {name}", hide_input=True, confirmation_prompt=True)


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The new user's name.")],
    data: DataOption = None,
    db: DbOption = None,
) -> None:
    """Add a user. The password is read from stdin (or prompted for on a terminal); the user's API key is printed as the last line of stdout."""  # noqa: E501
    from ..errors import QuantcliError
    from ..serve.accounts import add_user, check_name, check_password_rules

    try:
        check_name(name)
    except QuantcliError as exc:
        usage(str(exc))
    _, database = _open(data, db)
    password = _read_password(name)
    try:
        check_password_rules(password)
        key = add_user(database, name, password)
    except QuantcliError as exc:
        usage(str(exc))
    typer.echo(f"added user {name}; their API key (shown once):", err=True)
    typer.echo(key)


@app.command("passwd")
def passwd(
    name: Annotated[str, typer.Argument(help="The user whose password to set.")],
    data: DataOption = None,
    db: DbOption = None,
) -> None:
    """Set a user's password, read as `users add` reads it (stdin, or a prompt on a terminal). Their signed-in sessions end; their API key stays."""  # noqa: E501
    from ..errors import QuantcliError
    from ..serve.accounts import set_password

    _, database = _open(data, db)
    with database.session() as s:
        user = database.user_by_name(s, name)
    if user is None:
        error_line(f"no user {name!r}")
        raise typer.Exit(1) from None
    password = _read_password(user.name)
    try:
        set_password(database, name, password)
    except QuantcliError as exc:
        usage(str(exc))
    typer.echo(f"set the password of {user.name}", err=True)


@app.command("list")
def list_(data: DataOption = None, db: DbOption = None) -> None:
    """List the users: name, when added, stored images."""
    from ..serve.accounts import list_users

    _, database = _open(data, db)
    for user in list_users(database):
        typer.echo(f"{user.name}\t{user.created_at:%Y-%m-%d %H:%M}\t{user.images} images")


@app.command("remove")
def remove(
    name: Annotated[str, typer.Argument(help="The user to remove, with their images and results.")],
    data: DataOption = None,
    db: DbOption = None,
) -> None:
    """Remove a user, their sessions, jobs, images and stored files."""
    from ..errors import QuantcliError
    from ..serve.accounts import remove_user
    from ..serve.config import resolve_store
    from ..serve.storage import Store

    folder, database = _open(data, db)
    try:
        user_id = remove_user(database, name)
    except QuantcliError as exc:
        error_line(str(exc))
        raise typer.Exit(1) from None
    location = database.store_location()
    if location is not None:
        try:
            Store(resolve_store(location, folder)).delete_folder(f"u{user_id}")
        except Exception as exc:  # the rows are gone; say what is left behind
            error_line(f"removed {name}, but their stored files could not be deleted ({exc})")
            raise typer.Exit(1) from None
    typer.echo(f"removed user {name}", err=True)
