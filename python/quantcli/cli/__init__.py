"""The ``quantcli`` command. Each command lives in a module of its own and imports what it
needs when it runs, so that ``quantcli --version`` and a small compress start fast.

Exit codes (the same for every command and engine): 0 success, 1 some inputs failed,
2 usage error, 3 the Spark job failed, 99 ``--quality`` minimum not reached, 130/143
interrupted by SIGINT/SIGTERM, 141 standard output closed.
"""

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


def main() -> None:
    """Entry point of the ``quantcli`` script: usage errors are one line, exit code 2."""
    import os
    import sys

    # quantcli's threads are its own (the C++ core); a BLAS thread pool per process only
    # costs start-up time (it halves NumPy's import here). Set it yourself to override.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        code = app(standalone_mode=False)
    except typer.Abort:  # Ctrl-C at a prompt
        code = 130
    except typer.TyperException as exc:  # the parser's usage errors
        if type(exc).__name__ == "NoArgsIsHelpError":  # plain `quantcli`: the help
            sys.stdout.write(exc.format_message() + "\n")
            sys.exit(0)
        ctx = getattr(exc, "ctx", None)
        where = f" (see {ctx.command_path} --help)" if ctx is not None else ""
        sys.stderr.write(f"quantcli: error: {exc.format_message()}{where}\n")
        code = getattr(exc, "exit_code", 2)
    sys.exit(code or 0)


__all__ = ["app", "main"]
