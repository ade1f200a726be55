"""``python -m sgdlab`` runs the ``sgdlab`` command."""

from .cli import main

main()
