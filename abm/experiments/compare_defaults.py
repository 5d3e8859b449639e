"""The defaults of `abm.experiments.compare` and ``abm compare``, in a module that imports nothing.

`abm.cli.compare` builds its parser (for every ``abm`` command, ``abm --help`` included) from
these values; importing `abm.experiments.compare` itself would load pandas, Mesa and the model.
"""

from __future__ import annotations

from pathlib import Path

MM_GROUP = "mm"
"""The market-maker group every compared scenario must have."""
DEFAULT_SEEDS = 30
"""Replicate runs per scenario."""
DEFAULT_ROOT_SEED = 2026
"""The root of the replicate seeds."""
DEFAULT_OUT = Path("runs") / "compare.csv"
"""Where ``abm compare`` saves its table."""
