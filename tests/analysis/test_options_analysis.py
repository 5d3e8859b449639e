"""analysis.options: the run's smile, P&L attribution, and the Heston fit of its own surface.

Validated against known parameters: dealers quoting Heston (1993) prices at fixed parameters
leave mids (rounded to the tick) from which `calibrate_run_surface` must recover those
parameters; the smile is the recorded implied volatilities; the surface rows are a CSV
`abm.derivatives.surface.read_surface` reads back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import abm
from abm.derivatives.surface import read_surface
from abm.results.run_result import RunResult
from abm.scenario.schema import Scenario
from analysis.options import (
    calibrate_run_surface,
    options_summary_lines,
    pnl_attribution,
    smile,
    surface_rows,
)

TRUE = {"kappa": 2.0, "theta": 0.04, "sigma": 0.5, "rho": -0.7, "v0": 0.05}


@pytest.fixture(scope="module")
def heston_run() -> RunResult:
    """One dealer quoting Heston at TRUE (model time unit = one year: dt 0.001), 3 steps."""
    scenario = Scenario.from_dict(
        {
            "name": "heston_quotes",
            "seed": 1,
            "steps": 3,
            "dt": 0.001,
            "tick_size": 0.01,
            "mark": "mid",
            "fundamental": {"kind": "arithmetic", "s0": 100.0, "sigma": 1.0},
            "options": {
                "strikes": [90.0, 95.0, 100.0, 105.0, 110.0],
                "expiries": [250, 500, 1000],
                "rate": 0.02,
            },
            "agents": {
                "mm": {
                    "kind": "market_maker",
                    "count": 1,
                    "policy": {"kind": "symmetric", "spread": 0.02},
                    "quote_size": 10,
                    "max_inventory": 100,
                    "reference": "fundamental",
                },
                "dealers": {
                    "kind": "option_market_maker",
                    "count": 1,
                    "half_spread_ticks": 1,
                    "volatility": {"kind": "heston", **TRUE},
                },
            },
        }
    )
    return abm.run(scenario)


def test_calibrating_the_runs_surface_recovers_the_dealers_heston_parameters(
    heston_run: RunResult,
) -> None:
    """Each parameter within 4 standard errors of the truth; fit within half a tick.

    Measured: kappa 1.981 (se 0.017), theta 0.04009 (7e-5), sigma 0.501 (0.0027), rho -0.698
    (0.0029), v0 0.04994 (6e-5); rmse 0.0027 price units (the mids' rounding to the tick).
    """
    fitted = calibrate_run_surface(heston_run)
    fit = fitted.fit
    assert fitted.step == 3 and fit.n_points == 30 and fit.n_expiries == 3
    assert fit.rmse < 0.005
    for name, value in TRUE.items():
        assert abs(getattr(fit.params, name) - value) < 4 * fit.std_error(name), name


def test_surface_rows_are_a_surface_csv(heston_run: RunResult, tmp_path: Path) -> None:
    """The rows written as CSV read back with `read_surface`: same strikes, times, prices."""
    rows = surface_rows(heston_run)
    path = tmp_path / "surface.csv"
    rows.to_csv(path, index=False)
    surface = read_surface(path)
    assert surface.spot == pytest.approx(float(heston_run.market["mid"].iloc[-1]))
    assert surface.rate == pytest.approx(0.02)
    np.testing.assert_allclose(surface.expiry, (np.array(rows["expiry"])))
    np.testing.assert_allclose(surface.price, rows["price"].to_numpy())
    assert set(np.round(surface.expiry, 6)) == {0.247, 0.497, 0.997}


def test_smile_is_the_out_of_the_money_implied_vols(heston_run: RunResult) -> None:
    """A 5 x 3 table of the recorded implied vols; Heston with rho < 0 skews it down in K."""
    table = smile(heston_run)
    assert table.shape == (5, 3)
    options = heston_run.options
    at = options[(options["step"] == 3) & (options["strike"] == 90.0) & (options["type"] == "put")]
    assert table.loc[90.0, 250] == at[at["expiry"] == 250]["implied_vol"].iloc[0]
    assert (np.diff(table.to_numpy(), axis=0) < 0).all()  # negative skew


def test_pnl_attribution_total_is_each_dealers_pnl() -> None:
    """The five terms summed per dealer equal its P&L over the run (agents table)."""
    path = Path(__file__).resolve().parents[2] / "scenarios" / "options" / "options_mm.yaml"
    result = abm.run(abm.load_scenario(path).override({"steps": 300}))
    terms = pnl_attribution(result)
    agents = result.agents
    final = agents[agents["step"] == 300].set_index("agent_id")["pnl"]
    for agent_id, total in terms["total"].items():
        assert total == pytest.approx(final[agent_id], abs=1e-6)
    lines = options_summary_lines(result)
    assert lines[0].startswith("options: implied volatility smile at step")
    assert any("P&L attribution" in line for line in lines)


def test_report_has_an_options_section_only_for_options_runs(heston_run: RunResult) -> None:
    """The report of an options run carries the smile and attribution tables and the figure."""
    from analysis.report_options import OPTIONS_FIGURE, options_section
    from analysis.report_sections import build_document

    titles = [section.title for section in build_document(heston_run, figures=False).sections]
    assert "Options" in titles
    section = options_section(heston_run, figures=True)
    names = [getattr(block, "file_name", None) for block in section.blocks]
    assert OPTIONS_FIGURE in names
    captions = [getattr(block, "caption", None) for block in section.blocks]
    assert "Implied volatility smile at step 3" in captions
    plain = abm.run(
        abm.load_scenario(
            Path(__file__).resolve().parents[2] / "scenarios" / "baseline.yaml"
        ).override({"steps": 30})
    )
    assert "Options" not in [s.title for s in build_document(plain, figures=False).sections]
