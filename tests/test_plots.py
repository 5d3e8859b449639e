"""Tests for analysis.plots and analysis.stat_plots: figures render, are labelled, draw their data.

What is drawn is checked against synthetic tables with hand-computed values.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from _helpers import PNG_SIGNATURE, run_baseline
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle, StepPatch
from matplotlib.ticker import FixedLocator

from abm.record import AGENT_COLUMNS, DEPTH_COLUMNS, MARKET_COLUMNS, RunResult
from analysis.market_making import pnl_decomposition
from analysis.plots import (
    depth_heatmap_figure,
    inventory_figure,
    pnl_figure,
    price_figure,
    spread_depth_figure,
)
from analysis.stat_plots import (
    acf_figure,
    pnl_decomposition_figure,
    pnl_distribution_figure,
    return_distribution_figure,
)
from analysis.stylized_facts import autocorrelation

BASELINE_MARKET_MAKERS = 10  # 4 + 3 + 3 in scenarios/baseline.yaml
UNIT = re.compile(r"\([^()]+\)")  # a unit in parentheses, e.g. "price (price units)"


@pytest.fixture(scope="module")
def result() -> RunResult:
    return run_baseline({"steps": 200, "record.depth_levels": 5})


FigureOf = Callable[[RunResult], Figure]
FIGURES: dict[str, FigureOf] = {
    "price": lambda r: price_figure(r.market),
    "spread_depth": lambda r: spread_depth_figure(r.market),
    "depth_heatmap": lambda r: depth_heatmap_figure(r.depth, r.market),
    "inventory": lambda r: inventory_figure(r.agents),
    "pnl": lambda r: pnl_figure(r.agents),
    "pnl_distribution": lambda r: pnl_distribution_figure(r.agents),
    "return_distribution": lambda r: return_distribution_figure(r.market),
    "acf": lambda r: acf_figure(r.market),
    "pnl_decomposition": lambda r: pnl_decomposition_figure(pnl_decomposition(r)),
}


def _panels(figure: Figure) -> list[Axes]:
    """The data axes of a figure (colour bars excluded)."""
    return [ax for ax in figure.axes if ax.get_label() != "<colorbar>"]


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=40)
    return buffer.getvalue()


@pytest.mark.parametrize("name", list(FIGURES))
def test_figure_renders_with_title_and_labelled_axes(name: str, result: RunResult) -> None:
    """Each figure renders to PNG; every panel has a title and axis labels, numeric ones a unit."""
    figure = FIGURES[name](result)
    assert isinstance(figure, Figure)
    assert _png(figure)[:8] == PNG_SIGNATURE
    panels = _panels(figure)
    assert panels
    for ax in panels:
        assert ax.get_title()
        assert UNIT.search(ax.get_ylabel()), ax.get_ylabel()
        # a panel above another on a shared x axis leaves the label to the bottom one
        spec = ax.get_subplotspec()
        if spec is None or spec.is_last_row():
            assert ax.get_xlabel()
            # a categorical axis (fixed, named ticks such as groups) has no unit to give
            if not isinstance(ax.xaxis.get_major_locator(), FixedLocator):
                assert UNIT.search(ax.get_xlabel()), ax.get_xlabel()


def test_depth_heatmap_colour_bar_is_in_lots(result: RunResult) -> None:
    """The heatmap's colour bar says what the colours measure and in which unit."""
    figure = depth_heatmap_figure(result.depth, result.market)
    bars = [ax for ax in figure.axes if ax.get_label() == "<colorbar>"]
    assert len(bars) == 1
    assert "(lots)" in bars[0].get_ylabel()


def _depth(rows: list[tuple[int, str, int, float, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(DEPTH_COLUMNS))


def test_depth_heatmap_cells_hold_signed_quantity() -> None:
    """Each cell is +qty for a bid and -qty for an ask at its (price tick, snapshot)."""
    depth = _depth(
        [
            (1, "bid", 1, 99.99, 5),
            (1, "ask", 1, 100.01, 3),
            (2, "bid", 1, 100.00, 2),
            (2, "ask", 1, 100.02, 4),
        ]
    )
    figure = depth_heatmap_figure(depth, tick_size=0.01)
    image = next(a for a in figure.axes[0].get_children() if isinstance(a, AxesImage))
    cells: np.ndarray = np.ma.filled(np.ma.asarray(image.get_array()), 0.0)
    # rows are ticks 99.99 .. 100.02 from the bottom, columns the snapshots at steps 1 and 2
    expected = [[5, 0], [0, 2], [-3, 0], [0, -4]]
    np.testing.assert_array_equal(cells, expected)
    bottom, top = image.get_extent()[2:]
    assert bottom == pytest.approx(99.985) and top == pytest.approx(100.025)


def test_depth_heatmap_infers_tick_from_price_gaps() -> None:
    """Without tick_size the grid step is the smallest gap between prices (here 0.05)."""
    depth = _depth([(1, "bid", 1, 99.95, 1), (1, "bid", 2, 99.90, 1), (1, "ask", 1, 100.05, 1)])
    image = depth_heatmap_figure(depth).axes[0].images[0]
    assert np.ma.asarray(image.get_array()).shape == (4, 1)


def test_depth_heatmap_thins_to_max_snapshots() -> None:
    """Ten snapshots with max_snapshots=3 keep every 4th (steps 1, 5, 9): three columns."""
    depth = _depth([(step, "bid", 1, 100.0, 1) for step in range(1, 11)])
    image = depth_heatmap_figure(depth, max_snapshots=3).axes[0].images[0]
    assert np.ma.asarray(image.get_array()).shape == (1, 3)
    assert image.get_extent()[:2] == pytest.approx((-1.0, 11.0))


def test_depth_heatmap_says_when_no_depth_was_recorded(result: RunResult) -> None:
    """An empty depth table gives a panel that names the setting to change."""
    figure = depth_heatmap_figure(result.depth.iloc[:0], result.market)
    texts = " ".join(text.get_text() for text in figure.axes[0].texts)
    assert "record.depth_levels" in texts
    assert not figure.axes[0].images


def test_depth_heatmap_uses_model_time_with_market(result: RunResult) -> None:
    """With the market table the x axis is seconds and the mid is drawn over the heatmap."""
    ax = depth_heatmap_figure(result.depth, result.market).axes[0]
    assert ax.get_xlabel() == "time (s)"
    assert [line.get_label() for line in ax.get_lines()] == ["mid"]


def _agents(paths: dict[int, list[float]]) -> pd.DataFrame:
    rows = [
        {"step": step, "agent_id": agent, "kind": "market_maker", "pnl": pnl}
        for agent, path in paths.items()
        for step, pnl in enumerate(path)
    ]
    return pd.DataFrame(rows)


def test_pnl_distribution_marks_historical_var_and_es() -> None:
    """Changes -10..9 are losses -9..10: VaR95 is the 19th of 20 sorted (9), ES95 the worst (10)."""
    changes = np.arange(-10.0, 10.0)
    figure = pnl_distribution_figure(
        _agents({1: list(np.concatenate([[0.0], np.cumsum(changes)]))})
    )
    lines = figure.axes[0].get_lines()
    positions = sorted(float(np.asarray(line.get_xdata())[0]) for line in lines)
    # ceil(0.95 * 20) = 19th smallest loss; the worst 5% of 20 losses is one loss. Lines sit at
    # -VaR and -ES on the pnl axis.
    assert positions == pytest.approx([-10.0, -9.0])


def test_pnl_distribution_pools_changes_of_all_makers() -> None:
    """Two makers with 10 recorded steps each contribute 9 + 9 = 18 changes to the histogram."""
    rng = np.random.default_rng(7)
    paths = {1: list(rng.normal(size=10).cumsum()), 2: list(rng.normal(size=10).cumsum())}
    ax = pnl_distribution_figure(_agents(paths)).axes[0]
    heights = [patch.get_height() for patch in ax.patches if isinstance(patch, Rectangle)]
    assert sum(heights) == 18
    assert "2 makers, 18 agent-steps" in ax.get_title()


def _market(mid: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"step": np.arange(mid.size), "mid": mid})


def test_return_distribution_density_integrates_to_one() -> None:
    """The histogram is a density: the sum of height x width over the bins is 1."""
    rng = np.random.default_rng(11)
    mid = 100.0 * np.exp(np.cumsum(rng.normal(scale=1e-3, size=2000)))
    ax = return_distribution_figure(_market(mid)).axes[0]
    patch = next(p for p in ax.patches if isinstance(p, StepPatch))
    values, edges = patch.get_data()[:2]
    assert np.nansum(values * np.diff(edges)) == pytest.approx(1.0)


def test_return_distribution_normal_peaks_at_its_closed_form() -> None:
    """The fitted normal's peak is 1 / (sd sqrt(2 pi)) for the sample sd of the returns."""
    rng = np.random.default_rng(12)
    mid = 100.0 * np.exp(np.cumsum(rng.normal(scale=1e-3, size=2000)))
    returns = np.diff(np.log(mid))
    line = return_distribution_figure(_market(mid)).axes[0].get_lines()[0]
    peak = 1.0 / (returns.std() * math.sqrt(2.0 * math.pi))
    assert float(np.max(line.get_ydata())) == pytest.approx(peak, rel=1e-3)


def test_return_distribution_bins_follow_the_tick_grid() -> None:
    """A mid moving by -1, 0 or +1 tick gives exactly three bins, none empty (no aliasing)."""
    rng = np.random.default_rng(13)
    mid = 100.0 + 0.01 * np.cumsum(rng.integers(-1, 2, size=500))
    ax = return_distribution_figure(_market(mid)).axes[0]
    values = next(p for p in ax.patches if isinstance(p, StepPatch)).get_data()[0]
    assert values.size == 3
    assert np.isfinite(values).all()


def test_acf_figure_draws_sample_acf_and_band() -> None:
    """Stems equal the sample ACF at lags 1..50 and the band is 1.96 / sqrt(n) (Bartlett)."""
    rng = np.random.default_rng(14)
    mid = 100.0 * np.exp(np.cumsum(rng.normal(scale=1e-3, size=1001)))
    returns = np.diff(np.log(mid))
    top, bottom = acf_figure(_market(mid)).axes
    for ax, series in ((top, returns), (bottom, np.abs(returns))):
        stems = next(c for c in ax.collections if isinstance(c, LineCollection))
        tops = [segment[1][1] for segment in stems.get_segments()]
        np.testing.assert_allclose(tops, autocorrelation(series, 50)[1:])
        band = next(p for p in ax.patches if isinstance(p, Rectangle))
        assert band.get_height() == pytest.approx(2 * 1.96 / math.sqrt(1000))


def test_acf_figure_shortens_lags_for_short_series() -> None:
    """Ten returns allow lags 1..9 only (the ACF needs max_lag < n)."""
    mid = 100.0 + 0.01 * np.array([0, 1, 0, 2, 1, 3, 2, 2, 4, 3, 5])
    collections = acf_figure(_market(mid)).axes[0].collections
    stems = next(c for c in collections if isinstance(c, LineCollection))
    assert len(stems.get_segments()) == 9


def test_pnl_decomposition_bars_are_group_means() -> None:
    """Bars are per-group means of each term; all-zero terms are left out and named."""
    table = pd.DataFrame(
        {
            "agent_id": [1, 2, 3],
            "group": ["a", "a", "b"],
            "spread_capture": [2.0, 4.0, 1.0],
            "hedging_pnl": [0.0, 0.0, 0.0],
            "inventory_pnl": [-1.0, -3.0, 5.0],
            "total": [1.0, 1.0, 6.0],
            "pnl": [1.0, 1.0, 6.0],
        }
    )
    ax = pnl_decomposition_figure(table).axes[0]
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert [round(bar.get_height(), 9) for bar in bars] == [3.0, 1.0, -2.0, 5.0]
    assert "hedging pnl" in ax.get_xlabel()
    legend_box = ax.get_legend()
    assert legend_box is not None
    legend = [text.get_text() for text in legend_box.get_texts()]
    assert "hedging pnl" not in legend
    diamonds = ax.collections[0].get_offsets()
    np.testing.assert_allclose(np.asarray(diamonds)[:, 1], [1.0, 6.0])


def _empty(columns: tuple[str, ...], like: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=like[column].dtype) for column in columns})


EMPTY_CASES: dict[str, Callable[[RunResult], Figure]] = {
    "price": lambda r: price_figure(_empty(MARKET_COLUMNS, r.market)),
    "spread_depth": lambda r: spread_depth_figure(_empty(MARKET_COLUMNS, r.market)),
    "depth_heatmap": lambda r: depth_heatmap_figure(_empty(DEPTH_COLUMNS, r.depth)),
    "inventory": lambda r: inventory_figure(_empty(AGENT_COLUMNS, r.agents)),
    "pnl": lambda r: pnl_figure(_empty(AGENT_COLUMNS, r.agents)),
    "pnl_distribution": lambda r: pnl_distribution_figure(_empty(AGENT_COLUMNS, r.agents)),
    "return_distribution": lambda r: return_distribution_figure(_empty(MARKET_COLUMNS, r.market)),
    "acf": lambda r: acf_figure(_empty(MARKET_COLUMNS, r.market)),
    "pnl_decomposition": lambda r: pnl_decomposition_figure(
        pd.DataFrame({"group": pd.Series(dtype=str), "pnl": pd.Series(dtype=float)})
    ),
}


@pytest.mark.parametrize("name", list(EMPTY_CASES))
def test_figure_functions_accept_empty_tables(name: str, result: RunResult) -> None:
    """An empty table with the contract columns gives a "no data" figure that renders to PNG."""
    figure = EMPTY_CASES[name](result)
    assert _png(figure)[:8] == PNG_SIGNATURE
    texts = [text.get_text() for ax in figure.axes for text in ax.texts]
    assert any("no" in text for text in texts)


@pytest.mark.parametrize("draw", [price_figure, spread_depth_figure], ids=lambda f: f.__name__)
def test_market_figures_accept_one_sided_book(
    draw: Callable[[pd.DataFrame], Figure], result: RunResult
) -> None:
    """Steps with an empty side (NaN quotes, spread and mid) are drawn as gaps, not errors."""
    market = result.market.copy()
    market[["best_bid", "mid", "spread"]] = math.nan
    assert isinstance(draw(market), Figure)


@pytest.mark.parametrize("draw", [inventory_figure, pnl_figure], ids=lambda f: f.__name__)
def test_agent_figures_draw_one_line_per_market_maker(
    draw: Callable[[pd.DataFrame], Figure], result: RunResult
) -> None:
    """Only market makers are drawn, one line each (the baseline has ten)."""
    figure = draw(result.agents)
    # The pnl figure's zero line has two points; agent lines have one per recorded step.
    lines = [line for line in figure.axes[0].get_lines() if len(np.asarray(line.get_xydata())) > 2]
    assert len(lines) == BASELINE_MARKET_MAKERS


MISSING_COLUMN_CASES: list[Callable[[pd.DataFrame], Figure]] = [
    price_figure,
    spread_depth_figure,
    depth_heatmap_figure,
    inventory_figure,
    pnl_figure,
    pnl_distribution_figure,
    return_distribution_figure,
    acf_figure,
    pnl_decomposition_figure,
]


@pytest.mark.parametrize("draw", MISSING_COLUMN_CASES, ids=lambda f: f.__name__)
def test_figure_functions_reject_missing_columns(draw: Callable[[pd.DataFrame], Figure]) -> None:
    """A table without the needed columns raises ValueError naming a missing column."""
    with pytest.raises(ValueError, match="lacks column"):
        draw(pd.DataFrame({"step": [0, 1]}))


def test_pnl_distribution_rejects_alpha_outside_unit_interval(result: RunResult) -> None:
    """VaR needs a confidence level strictly between 0 and 1."""
    with pytest.raises(ValueError, match="alpha"):
        pnl_distribution_figure(result.agents, alpha=1.0)
