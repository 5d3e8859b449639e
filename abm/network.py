"""Network math and construction under their old public name.

The code lives in `abm.contagion` (``math.py``: clearing vectors, DebtRank, default
cascades; ``graph.py``: building the market makers' network); this module keeps
``abm.network.eisenberg_noe`` and friends working for notebooks and scripts.
"""

from abm.contagion.graph import NetworkError, NetworkRow, build_network, network_table_rows
from abm.contagion.math import debtrank, default_cascade, eisenberg_noe

__all__ = [
    "NetworkError",
    "NetworkRow",
    "build_network",
    "debtrank",
    "default_cascade",
    "eisenberg_noe",
    "network_table_rows",
]
