"""The ``quantcli`` command.

Start-up is paid on every call of a shell loop, so :func:`main` imports Typer (and its
application, :mod:`quantcli.cli.commands`) only when :mod:`quantcli.cli.fast` cannot run the
call itself: ``--version`` and the common short forms of ``compress``.

Exit codes (the same for every command and engine): 0 success, 1 some inputs failed,
2 usage error, 3 the Spark job failed, 99 ``--quality`` minimum not reached, 130/143
interrupted by SIGINT/SIGTERM, 141 standard output closed.
"""

from __future__ import annotations

import os
import sys
from typing import Any


def main() -> None:
    """Entry point of the ``quantcli`` script: usage errors are one line, exit code 2."""
    # quantcli's threads are its own (the C++ core); a BLAS thread pool per process only
    # costs start-up time (it halves NumPy's import here). Set it yourself to override.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from .fast import run_fast

    code = run_fast(sys.argv[1:])
    if code is None:
        code = _run_typer()
    sys.exit(code or 0)


def _run_typer() -> int | None:
    import typer

    from .commands import app

    try:
        return app(standalone_mode=False)
    except typer.Abort:  # Ctrl-C at a prompt
        return 130
    except typer.TyperException as exc:  # the parser's usage errors
        if type(exc).__name__ == "NoArgsIsHelpError":  # plain `quantcli`: the help
            sys.stdout.write(exc.format_message() + "\n")
            return 0
        ctx = getattr(exc, "ctx", None)
        where = f" (see {ctx.command_path} --help)" if ctx is not None else ""
        sys.stderr.write(f"quantcli: error: {exc.format_message()}{where}\n")
        return getattr(exc, "exit_code", 2)


def __getattr__(name: str) -> Any:
    if name == "app":  # the Typer application, loaded on first use (tests, embedding)
        from .commands import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["app", "main"]
