"""The Typer application: every command and option. Each command lives in a module of its
own and imports what it needs when it runs."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import __version__
from . import choose_k as _choose_k
from . import compress as _compress
from . import inspect as _inspect
from . import serve as _serve
from . import similar as _similar
from . import users as _users

app = typer.Typer(
    name="quantcli",
    help="Shrink images to K colours and write small palette PNGs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"quantcli {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Shrink images to K colours and write small palette PNGs."""


app.command(epilog=_compress.EPILOG)(_compress.compress)
app.command("choose-k", epilog=_choose_k.EPILOG)(_choose_k.choose_k)
app.command(epilog=_inspect.EPILOG)(_inspect.inspect)
app.command(epilog=_similar.EPILOG)(_similar.similar)
app.command(epilog=_serve.EPILOG)(_serve.serve)
app.add_typer(_users.app)
