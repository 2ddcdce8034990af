"""``quantcli similar``: parse, load the index, call :mod:`quantcli.similar`, print."""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from .base import (
    EXIT_BROKEN_PIPE,
    EXIT_FAILED,
    EXIT_OK,
    StdoutClosed,
    error_line,
    print_table,
    silence_stdout,
    usage,
    write_json_line,
)
from .common import JsonOption

EPILOG = (
    "Examples:\n\n"
    "  quantcli inspect photos/ -r --json > photos.jsonl\n\n"
    "  quantcli similar beach.jpg --index photos.jsonl           (10 nearest by palette)\n\n"
    "  quantcli similar a.png b.png --index table/ --by features -n 5 --json\n\n"
    "Exit codes: 0 every query answered, 1 some query images failed, 2 usage error (a bad index)."
)


class By(str, enum.Enum):
    """What ``similar`` compares."""

    palette = "palette"
    features = "features"


def similar(
    queries: Annotated[
        list[str] | None,
        typer.Argument(
            help="Query images (files), or paths as the index names them.", show_default=False, metavar="QUERY..."
        ),
    ] = None,
    index: Annotated[
        str | None,
        typer.Option(
            "--index",
            help="An inspect table: JSON lines (inspect --json) or Parquet (a file or inspect --out-dir's folder).",
            metavar="TABLE",
        ),
    ] = None,
    count: Annotated[int, typer.Option("-n", "--count", metavar="N", min=1, help="Results per query.")] = 10,
    by: Annotated[
        By,
        typer.Option(
            "--by",
            help="palette: kernel distance between share-weighted dominant colours in Oklab. features: Euclidean "
            "distance between standardised features (brightness, edges, colourfulness, mean RGB, blurriness).",
        ),
    ] = By.palette,
    as_json: JsonOption = False,
) -> None:
    """Find the images of an inspect table nearest to each query image, by palette or by features.

    A query the index holds (by path) uses its row; any other image is inspected first, as inspect does. The query itself, when indexed, comes first at distance 0.
    """  # noqa: E501 (one line per paragraph: Typer rewraps the help text)
    from ..errors import QuantcliError
    from ..similar import similar as find
    from ..similar_index import load_index

    names = list(queries or [])
    if not names:
        usage("no query image")
    if index is None:
        usage("--index TABLE is required (an inspect table: JSON lines or Parquet)")
    try:
        table = load_index(index)
    except QuantcliError as exc:
        usage(str(exc))
    failed = 0
    try:
        for query, found in find(names, table, by=by.value, n=count):
            if isinstance(found, str):
                failed += 1
                error_line(found)
            elif as_json:
                write_json_line({"query": query, "results": [m.to_json() for m in found]})
            else:
                _print_table(query, found, by.value)
    except StdoutClosed:
        silence_stdout()
        raise typer.Exit(EXIT_BROKEN_PIPE) from None
    raise typer.Exit(EXIT_FAILED if failed else EXIT_OK)


def _print_table(query: str, matches, by: str) -> None:
    from rich.table import Table

    table = Table(title=f"{query}: nearest by {by}", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("distance", justify="right")
    table.add_column("image", overflow="fold")
    for rank, match in enumerate(matches, 1):
        table.add_row(str(rank), f"{match.distance:.4f}", match.path)
    print_table(table)
