"""``python -m abm ...``: the ``abm`` command, for when the console script is not on PATH."""

import sys

from abm.cli import main

if __name__ == "__main__":
    sys.exit(main())
