"""The exceptions quantcli raises; each maps to one documented CLI exit code."""

from __future__ import annotations


class QuantcliError(Exception):
    """Base of every error quantcli raises on purpose."""

    exit_code = 1


class InvalidOptionError(QuantcliError, ValueError):
    """An option is out of range or malformed (K, seed, level, ...): exit code 2."""

    exit_code = 2


class ImageReadError(QuantcliError):
    """An input is missing, unreadable, empty, truncated or not an image."""


class OutputExistsError(QuantcliError, FileExistsError):
    """The output file exists and overwriting was not allowed (``--force``)."""


class OutputWriteError(QuantcliError):
    """The output could not be written; nothing was left behind."""


class JobFailedError(QuantcliError):
    """The job itself failed (a Spark job aborted after its retries): exit code 3."""

    exit_code = 3


def install_hint(extra: str) -> str:
    """``pip install ...`` for an optional extra, spelled as quantcli was installed: from
    a source folder (``pip install '.[plot]'`` there) or from the package index."""
    import json
    import os
    from importlib.metadata import PackageNotFoundError, distribution
    from urllib.parse import unquote, urlsplit

    try:
        direct = distribution("quantcli").read_text("direct_url.json")
    except PackageNotFoundError:
        direct = None
    if direct:
        info = json.loads(direct)
        url = urlsplit(info.get("url", ""))
        if url.scheme == "file" and "dir_info" in info:
            folder = unquote(url.path)
            spec = "." if os.path.abspath(os.getcwd()) == os.path.abspath(folder) else folder
            return f"pip install '{spec}[{extra}]'"
    return f"pip install 'quantcli[{extra}]'"
