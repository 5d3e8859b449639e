"""The ``abm`` command line: `main` parses the arguments and runs one sub-command."""

from abm.cli.main import main

__all__ = ["main"]
