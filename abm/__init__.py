"""abm: an agent-based market microstructure simulator.

Public API::

    scenario = abm.load_scenario("baseline")      # a bundled name, or a YAML file path
    result = abm.run(scenario.override({"agents.mm.policy.gamma": 0.01}))
    result = abm.run("baseline", seed=7, steps=500)  # a path or bundled name: loaded first
    result.market, result.trades, result.agents   # pandas DataFrames
    result.save("runs/baseline"); abm.RunResult.load("runs/baseline")
    model = abm.MarketModel(scenario); model.step()  # step by step, e.g. in a notebook
    abm.check_determinism(scenario, steps=200)
    abm.__version__                                  # the installed distribution's version
    except abm.AbmError as error: ...                # the root of every error abm raises on purpose

``__version__`` is read from the installed package metadata of the distribution
``abm-microstructure`` (``pyproject.toml``'s ``version``; the import package is ``abm``),
so it cannot drift from what pip installed; a source tree that was never installed reports
``0+unknown``.
"""

import importlib.metadata

from abm.errors import AbmError
from abm.model import MarketModel
from abm.results.run_result import RunResult
from abm.run import check_determinism, run
from abm.scenario.schema import Scenario, ScenarioError, load_scenario

try:
    __version__ = importlib.metadata.version("abm-microstructure")  # [project].name
except importlib.metadata.PackageNotFoundError:  # imported from a source tree, not installed
    __version__ = "0+unknown"

__all__ = [
    "AbmError",
    "MarketModel",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "__version__",
    "check_determinism",
    "load_scenario",
    "run",
]
