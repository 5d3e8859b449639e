"""A learned rule dropped into a crisis through the scenario file: rl/margin_spiral_learned.

The scenario names its rule by a relative path (``rl/cem_avellaneda_stoikov.json``), which the
learned policy finds in the bundle when the working directory holds no such file: these tests
run from a temporary directory, as a user running a bundled name would.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import abm
from abm.model import MarketModel
from abm.policies.learned import Learned
from abm.scenario.bundle import bundle_dir
from abm.states import Regime

LEARNED = "rl/margin_spiral_learned"
RULE = "rl/cem_avellaneda_stoikov.json"


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_learned_crisis_is_margin_spiral_but_for_the_dealers_policy() -> None:
    """Every field but name, description and agents.mm.policy equals crisis/margin_spiral's."""
    learned = abm.load_scenario(LEARNED).model_dump(mode="json")
    original = abm.load_scenario("crisis/margin_spiral").model_dump(mode="json")
    assert learned["agents"]["mm"]["policy"] == {"kind": "learned", "path": RULE, "T": None}
    for document in (learned, original):
        for key in ("name", "description"):
            document.pop(key)
        document["agents"]["mm"].pop("policy")
    assert learned == original


def _file_rule_quotes(
    coefficients: dict[str, float], horizon: float, s: float, q: int, t: float, sigma: float
) -> tuple[float, float]:
    """The rule file's documented closed form (abm.policies.learned), written out again."""
    risk = sigma * sigma * max(horizon - t, 0.0)
    skew = (coefficients["skew_inventory"] + coefficients["skew_risk"] * risk) * q
    half = max(coefficients["half_spread"] + coefficients["half_spread_risk"] * risk, 0.0)
    return s - skew - half, s - skew + half


def test_learned_crisis_run_quotes_the_rule_and_conserves_cash_and_inventory() -> None:
    """250 steps: dealers rest the rule file's closed form, rounded outward; totals conserved.

    The closed form is the file's coefficients in the documented formula (written out here);
    cash and lots over all traders are compared with their initial totals after every step.
    """
    document = json.loads((bundle_dir() / RULE).read_text(encoding="utf-8"))
    model = MarketModel(abm.load_scenario(LEARNED))
    tick = model.tick_size
    asked: dict[int, tuple[float, int, float, float, Regime]] = {}
    for mm in model.market_makers:
        assert isinstance(mm.policy, Learned)
        original = mm.policy.quote_prices

        def spy(s: float, q: int, t: float, sigma: float, mm=mm, original=original):  # type: ignore[no-untyped-def]
            asked[mm.unique_id] = (s, q, t, sigma, mm.regime)
            return original(s, q, t, sigma)

        mm.policy.quote_prices = spy  # type: ignore[method-assign]
    checked = 0
    try:
        while not model.finished:
            asked.clear()
            model.step()
            assert model.totals() == model.initial_totals, model.step_index
            for mm in model.market_makers:
                if mm.unique_id not in asked or asked[mm.unique_id][4] is not Regime.NORMAL:
                    continue  # outside NORMAL the risk limits widen the rule's spread
                s, q, t, sigma, _ = asked[mm.unique_id]
                bid, ask = _file_rule_quotes(
                    document["coefficients"], document["horizon"], s, q, t, sigma
                )
                rested_bid, rested_ask = mm.quotes()
                if rested_bid is not None:
                    assert rested_bid == pytest.approx(math.floor(bid / tick + 1e-9) * tick)
                    checked += 1
                if rested_ask is not None:
                    assert rested_ask == pytest.approx(math.ceil(ask / tick - 1e-9) * tick)
                    checked += 1
    finally:
        model.release()
    assert checked > 2000


def test_learned_crisis_runs_through_abm_run_with_its_dealers_trading() -> None:
    """abm.run reports conservation, and the dealers' quotes were hit (purpose quote)."""
    result = abm.run(abm.load_scenario(LEARNED).override({"steps": 300}))
    assert result.summary["cash_conserved"] and result.summary["inventory_conserved"]
    dealers = set(result.agents.loc[result.agents["group"] == "mm", "agent_id"])
    trades = result.trades[result.trades["purpose"] == "quote"]
    makers = set(trades["buyer"]) | set(trades["seller"])
    assert dealers & makers
    assert len(result.market) == 301
