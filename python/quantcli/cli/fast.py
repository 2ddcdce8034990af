"""The command line without Typer, for the calls a shell loop makes on every file.

Importing Typer (with Click) costs about as much as the rest of a small call, so
``quantcli --version`` and the common short forms of ``compress``
(``quantcli compress icon.png -k 16 -o out.png``) are parsed here, into exactly the
parameters Typer would give ``compress`` (a test compares the two on every form), and run
through the same :func:`quantcli.cli.compress_settings.execute`. Any other argument, a
help flag or a malformed form included, goes to Typer, which parses and words the errors.

With a plain PNG the per-file pipeline then decodes, quantizes and encodes in the C++
core (:func:`quantcli.pipeline.encode_image`), so such a call imports neither NumPy nor
Pillow.
"""

from __future__ import annotations

from typing import Any

# The options of the short forms: each spelling -> (parameter, takes a value).
_OPTIONS = {
    "-k": ("colors", True),
    "--colors": ("colors", True),
    "-o": ("output", True),
    "--output": ("output", True),
    "-f": ("force", False),
    "--force": ("force", False),
    "-q": ("quiet", False),
    "--quiet": ("quiet", False),
    "--json": ("as_json", False),
}
_SHORT_WITH_VALUE = ("-k", "-o")


def parse_compress(args: list[str]) -> dict[str, Any] | None:
    """The parameters of ``compress`` for ``args`` (what follows ``compress``), or None
    when they are not one of the short forms this module knows."""
    from .compress_settings import COMPRESS_DEFAULTS

    params = dict(COMPRESS_DEFAULTS)
    inputs: list[str] = []
    rest = list(args)
    while rest:
        token = rest.pop(0)
        if token == "-" or not token.startswith("-"):
            inputs.append(token)
            continue
        name, value = token, None
        if token.startswith("--") and "=" in token:
            name, value = token.split("=", 1)
        elif token[:2] in _SHORT_WITH_VALUE and len(token) > 2:
            name, value = token[:2], token[2:]
        if name not in _OPTIONS:
            return None  # another option, a help flag, "--", grouped flags: Typer's
        param, takes_value = _OPTIONS[name]
        if not takes_value:
            if value is not None:
                return None
            params[param] = True
            continue
        if value is None:
            if not rest or (rest[0].startswith("-") and rest[0] != "-"):
                return None  # a missing value, or one that looks like an option: Typer's
            value = rest.pop(0)
        params[param] = value
    params["inputs"] = inputs or None
    return params


def run_fast(argv: list[str]) -> int | None:
    """Run ``argv`` (the arguments after the program name) if it is a form this module
    knows: the exit code (SystemExit may also end it, as it ends the Typer commands).
    None when Typer has to run it."""
    if argv == ["--version"]:
        from .. import __version__

        print(f"quantcli {__version__}")
        return 0
    if not argv or argv[0] != "compress":
        return None
    params = parse_compress(argv[1:])
    if params is None:
        return None
    from .compress_settings import execute

    try:
        execute(**params)
    except KeyboardInterrupt:  # Ctrl-C before the run's own handler is in place
        return 130
    return 0
