"""``python -m quantcli`` runs the CLI."""

from .cli import main

main()
