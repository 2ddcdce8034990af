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
