"""The dashboard's price chart shows the AMM pool price beside the book (when there is one).

Reference: the venue's own price (`AmmVenue.price`) at each snapshot; no pool, no price.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from abm.dashboard.app import _series, price_figure
from abm.dashboard.model import DashboardModel

AMM = Path(__file__).resolve().parents[2] / "scenarios" / "amm" / "amm_vs_book.yaml"


def test_snapshots_carry_the_pool_price_and_the_chart_draws_it() -> None:
    model = DashboardModel(scenario_path=str(AMM), steps=40)
    for _ in range(30):
        model.step()
    venue = model.exchange.venues["amm"]
    assert model.history[-1].pool_price == venue.price()  # type: ignore[attr-defined]
    assert np.isfinite(_series(model)["pool"]).all()
    labels = [line.get_label() for line in price_figure(model).axes[0].get_lines()]
    assert "AMM pool price" in labels


def test_no_pool_no_pool_line() -> None:
    model = DashboardModel(steps=10)
    model.step()
    assert model.history[-1].pool_price is None
    labels = [line.get_label() for line in price_figure(model).axes[0].get_lines()]
    assert "AMM pool price" not in labels
