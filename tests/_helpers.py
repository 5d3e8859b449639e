"""Setup shared by several test modules: scenario paths, short runs and hand-built tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import abm
from abm.experiments.sweep import RunRecord
from abm.experiments.sweep_spec import RunKey
from abm.results.run_result import RunResult

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The rows of `analysis.stylized_facts.scorecard`, in order, written out by hand.
FACTS = (
    "absence_of_autocorrelation",
    "heavy_tails",
    "volatility_clustering",
    "aggregational_gaussianity",
)


def run_baseline(overrides: dict[str, Any]) -> RunResult:
    """Run scenarios/baseline.yaml with ``overrides`` (dotted paths) at its own seed."""
    return abm.run(abm.load_scenario(BASELINE).override(overrides))


def scenario_text(overrides: dict[str, Any] | None = None) -> str:
    """The resolved YAML of scenarios/baseline.yaml with ``overrides`` (dotted paths).

    For hand-built results whose `RunResult.scenario` an analysis reads.
    """
    return abm.load_scenario(BASELINE).override(overrides or {}).to_yaml()


def market_table(
    mid: list[float],
    *,
    spread: float = 0.01,
    fundamental: float | None = None,
    ask_depth: int = 10,
) -> pd.DataFrame:
    """A market table with the given end-of-step mids and a constant spread around them.

    The fundamental is ``fundamental`` at every step, or the mid itself when None; bid depth
    is 10 lots.
    """
    mids = np.asarray(mid, dtype=float)
    n = mids.size
    return pd.DataFrame(
        {
            "step": np.arange(n),
            "time": np.arange(n, dtype=float),
            "fundamental": mids if fundamental is None else np.full(n, fundamental),
            "best_bid": mids - spread / 2,
            "best_ask": mids + spread / 2,
            "mid": mids,
            "spread": np.full(n, spread),
            "bid_depth": np.full(n, 10),
            "ask_depth": np.full(n, ask_depth),
            "last_price": mids,
            "volume": np.zeros(n, dtype=np.int64),
        }
    )


def trades_table(rows: list[tuple[int, float, int, str, str]]) -> pd.DataFrame:
    """A trades table from (step, price, qty, aggressor, venue) rows; buyer 1, seller 2."""
    step, price, qty, side, venue = zip(*rows, strict=True)
    n = len(rows)
    return pd.DataFrame(
        {
            "step": np.asarray(step, dtype=np.int64),
            "time": np.asarray(step, dtype=float),
            "price": np.asarray(price, dtype=float),
            "qty": np.asarray(qty, dtype=np.int64),
            "aggressor": pd.array(side, dtype="string"),
            "buyer": np.ones(n, dtype=np.int64),
            "seller": np.full(n, 2, dtype=np.int64),
            "venue": pd.array(venue, dtype="string"),
        }
    )


def run_record(
    key: RunKey, summary: dict[str, Any], *, status: str = "ok", error: str | None = None
) -> RunRecord:
    """A fabricated record of the sweep run ``key`` (0.1 s on worker ``h:1``)."""
    return RunRecord(
        key.run_id, key.point, key.replicate, key.seed, status, error, 0.1, "h:1", summary
    )


def passed_by_fact(card: pd.DataFrame) -> dict[str, bool]:
    """Whether each fact of a stylized-facts scorecard passed, by fact name."""
    return {fact: bool(ok) for fact, ok in zip(card["fact"], card["passed"], strict=True)}
