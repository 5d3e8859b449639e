"""`analysis.amm_sweep`: a volatility x fee sweep of a pool beside the LVR closed forms.

References: the closed forms written out by hand (``sigma**2 / 8``; the fixed-block factor
``1 / (1 + sqrt(2 pi) / |zeta(1/2)| f / (sigma sqrt(dt)))`` with ``|zeta(1/2)| = 1.4603545``,
Nezlobin & Tassy 2025; the Poisson one ``1 / (1 + sqrt(2 lambda) f / sigma)``, Milionis,
Moallemi & Roughgarden 2023); the replicate means recomputed from ``results.parquet``; and
for one cell, a run where only the arbitrageur trades the pool, whose arbitrage rate must
match the fixed-block closed form and whose profit must be the LPs' loss net of fees (a zero
sum at the fundamental).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import abm
from abm.experiments.sweep import run_sweep
from abm.experiments.sweep_spec import load_sweep
from analysis.amm_sweep import FIGURE_NAME, TABLE_NAME, lvr_sweep_figure, lvr_sweep_table, main

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "amm" / "lp_lvr.yaml"
ZETA_HALF = 1.4603545088095868


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("amm_sweep")
    spec = root / "sweep.yaml"
    spec.write_text(
        f"scenario: {SCENARIO}\n"
        "replicates: 2\n"
        "seed: 7\n"
        "overrides: {steps: 300}\n"
        "grid:\n"
        "  fundamental.sigma: [0.05, 0.1]\n"
        "  amm.fee_pips: [500, 3000]\n"
        "metrics: [amm_arbitrage_rate, amm_lvr_rate, amm_fees]\n",
        encoding="utf-8",
    )
    out = root / "out"
    run_sweep(load_sweep(spec), out, workers=1, progress=False)
    return out


def test_closed_forms_per_cell_are_the_published_formulas(sweep_dir: Path) -> None:
    """The relative sigma is fundamental.sigma / s0; LVR and both block factors by hand."""
    table = lvr_sweep_table(sweep_dir)
    assert len(table) == 4 and set(table["n"]) == {2}
    for _, row in table.iterrows():
        sigma, fee = row["fundamental.sigma"] / 100.0, row["amm.fee_pips"] / 1e6
        assert row.sigma == pytest.approx(sigma) and row.fee == pytest.approx(fee)
        lvr = sigma**2 / 8
        assert row.lvr_closed_form == pytest.approx(lvr, rel=1e-12)
        fixed = lvr / (1 + math.sqrt(2 * math.pi) / ZETA_HALF * fee / sigma)
        assert row.arbitrage_fixed_blocks == pytest.approx(fixed, rel=1e-9)
        poisson = lvr / (1 + math.sqrt(2.0) * fee / sigma)
        assert row.arbitrage_poisson_blocks == pytest.approx(poisson, rel=1e-12)


def test_measured_means_are_the_replicate_means(sweep_dir: Path) -> None:
    """Each cell's mean is the plain mean of its runs' amm_arbitrage_rate and amm_lvr_rate."""
    results = pd.read_parquet(sweep_dir / "results.parquet")
    table = lvr_sweep_table(sweep_dir)
    for _, row in table.iterrows():
        point = results["fundamental.sigma"] == row["fundamental.sigma"]
        runs = results[point & (results["amm.fee_pips"] == row["amm.fee_pips"])]
        assert row.amm_arbitrage_rate_mean == pytest.approx(runs["amm_arbitrage_rate"].mean())
        assert row.amm_lvr_rate_mean == pytest.approx(runs["amm_lvr_rate"].mean())
        assert row.amm_lvr_rate_low <= row.amm_lvr_rate_mean <= row.amm_lvr_rate_high


def test_figure_has_a_panel_per_fee_with_the_closed_forms(sweep_dir: Path) -> None:
    """Two fees: two log-log panels, each with the three closed-form lines."""
    figure = lvr_sweep_figure(sweep_dir)
    assert len(figure.axes) == 2
    for ax in figure.axes:
        assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
        assert len(ax.get_lines()) >= 3
    assert figure.legends, "the figure has a legend"


def test_main_writes_the_figure_and_table(sweep_dir: Path, capsys: pytest.CaptureFixture) -> None:
    """``python -m analysis.amm_sweep DIR`` writes a PNG and a CSV and prints the cells."""
    assert main([str(sweep_dir)]) == 0
    assert (sweep_dir / "figures" / FIGURE_NAME).read_bytes()[:4] == b"\x89PNG"
    table = pd.read_csv(sweep_dir / "figures" / TABLE_NAME)
    assert len(table) == 4
    assert "arbitrage_fixed_blocks" in capsys.readouterr().out


def test_a_sweep_without_the_rate_metrics_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A sweep whose metrics lack amm_lvr_rate: one message naming it, exit code 2."""
    spec = tmp_path / "sweep.yaml"
    spec.write_text(
        f"scenario: {SCENARIO}\nreplicates: 1\nseed: 1\noverrides: {{steps: 20}}\n"
        "grid:\n  amm.fee_pips: [500]\nmetrics: [amm_arbitrage_rate]\n",
        encoding="utf-8",
    )
    run_sweep(load_sweep(spec), tmp_path / "out", workers=1, progress=False)
    with pytest.raises(ValueError, match="amm_lvr_rate"):
        lvr_sweep_table(tmp_path / "out")
    assert main([str(tmp_path / "out")]) == 2
    assert "amm_lvr_rate" in capsys.readouterr().err


def test_arbitrage_alone_earns_the_fixed_block_closed_form() -> None:
    """Only the arbitrageur on the pool (noise on the book), sigma 0.1%, fee 0.3%: within 25%.

    Nezlobin & Tassy (2025): with fixed blocks, arbitrage profit = sigma^2/8 V / (1 + 1.7164
    f / (sigma sqrt(dt))); here 2.03e-8 per unit time per unit of pool value.
    """
    scenario = abm.load_scenario(SCENARIO).override(
        {
            "steps": 4000,
            "fundamental.sigma": 0.1,
            "amm.fee_pips": 3000,
            "agents.noise.venue": "book",
        }
    )
    summary = abm.run(scenario).summary
    sigma, fee = 0.001, 0.003
    expected = sigma**2 / 8 / (1 + math.sqrt(2 * math.pi) / ZETA_HALF * fee / sigma)
    assert summary["amm_arbitrage_rate"] == pytest.approx(expected, rel=0.25)
    assert summary["amm_taker_share"] == 0.0  # the closed form's case: no other pool flow
    assert np.isfinite(summary["amm_lvr_rate"])
    # zero sum at the fundamental: what the LPs lose net of fees the arbitrageur makes
    assert summary["amm_fees_minus_lvr"] == pytest.approx(
        -summary["amm_arbitrage_profit"], rel=1e-9
    )
