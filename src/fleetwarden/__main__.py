"""``python -m fleetwarden`` is the same as the ``fleetwarden`` command."""

from fleetwarden.entrypoints.cli.app import main

main()
