"""The ``fleetwarden`` command line (Typer + Rich)."""
