"""The ``abm`` command line: `main` parses the arguments and runs one sub-command.

`abm.cli.main` assembles the parser from one module per sub-command; they share
`abm.cli.common`.
"""

from abm.cli.main import main

__all__ = ["main"]
