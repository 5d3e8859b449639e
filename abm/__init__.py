"""abm: an agent-based market microstructure simulator.

Public API::

    scenario = abm.load_scenario("scenarios/baseline.yaml")
    result = abm.run(scenario.override({"agents.mm.policy.gamma": 0.01}))
    result.market, result.trades, result.agents   # pandas DataFrames
    result.save("runs/baseline"); abm.RunResult.load("runs/baseline")
    model = abm.MarketModel(scenario); model.step()  # step by step, e.g. in a notebook
    abm.check_determinism(scenario, steps=200)
"""

from abm.model import MarketModel
from abm.record import RunResult
from abm.runner import check_determinism, run
from abm.scenario import Scenario, ScenarioError, load_scenario

__all__ = [
    "MarketModel",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "check_determinism",
    "load_scenario",
    "run",
]
