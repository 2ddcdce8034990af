"""Option declarations that several commands share (Typer); the exit codes, choices and
output helpers they use are in :mod:`quantcli.cli.base`."""

from __future__ import annotations

from typing import Annotated

import typer

from ..options import DEFAULT_MAX_ITER, DEFAULT_RUN_MARGIN, DEFAULT_TOL
from .base import Engine

InputsArgument = Annotated[
    list[str] | None,
    typer.Argument(
        help="Image files, folders, globs (quote them: 'shots/**/*.png'), or - for stdin.",
        show_default=False,
        metavar="INPUT...",
        hidden=True,  # described in each command's help, without a type label
    ),
]
RecursiveOption = Annotated[bool, typer.Option("-r", "--recursive", help="Go into subfolders of folder inputs.")]
SeedOption = Annotated[
    int, typer.Option("--seed", min=0, metavar="N", help="Seed for random choices; same seed, same bytes.")
]
MaxIterOption = Annotated[int, typer.Option("--max-iter", min=0, metavar="N", help="Most k-means iterations.")]
TolOption = Annotated[
    float,
    typer.Option(
        "--tol",
        min=0.0,
        metavar="FRACTION",
        help="Stop k-means once an iteration improves the squared error by less than this fraction.",
    ),
]
RunMarginOption = Annotated[
    float,
    typer.Option(
        "--run-margin",
        min=0.0,
        metavar="M",
        help="Near-ties: a pixel may take its left/upper neighbour's colour when that costs at most this much "
        "more squared perceptual error (Oklab x 255); longer runs, smaller files. 0: every pixel gets its nearest "
        "colour.",
    ),
]
MaxPixelsOption = Annotated[
    int,
    typer.Option(
        "--max-pixels",
        min=0,
        metavar="PIXELS",
        help="Refuse images larger than this many pixels (width x height), checked from the header before "
        "decoding; 0: no limit.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object per input on stdout.")]
EngineOption = Annotated[
    Engine, typer.Option("--engine", help="local: threads on this machine; spark: a Spark cluster.")
]
MasterOption = Annotated[
    str | None,
    typer.Option(
        "--master", metavar="URL", help="Spark master URL (local[*], spark://..., yarn, k8s://...). --engine spark."
    ),
]
ConfOption = Annotated[
    list[str] | None,
    typer.Option("--conf", help="Spark setting key=value; repeatable. --engine spark.", metavar="KEY=VALUE"),
]

DEFAULTS = {"max_iter": DEFAULT_MAX_ITER, "tol": DEFAULT_TOL, "run_margin": DEFAULT_RUN_MARGIN}
