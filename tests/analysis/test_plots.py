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
from _helpers import PNG_SIGNATURE, market_table, run_baseline, trades_table
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle
from matplotlib.ticker import FixedLocator

from abm.results.recorder import AGENT_COLUMNS, DEPTH_COLUMNS, MARKET_COLUMNS
from abm.results.run_result import RunResult
from analysis.figures import DisplayFigure, event_marks, finish_axes, new_figure
from analysis.market_making import pnl_decomposition
from analysis.plots import (
    depth_heatmap_figure,
    depth_near_mid,
    inventory_figure,
    pnl_figure,
    price_figure,
    spread_depth_figure,
    trade_bins,
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
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert sum(bar.get_height() * bar.get_width() for bar in bars) == pytest.approx(1.0)


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
    heights = [p.get_height() for p in ax.patches if isinstance(p, Rectangle)]
    assert len(heights) == 3
    assert all(height > 0 for height in heights)


def test_return_distribution_student_t_fit_recovers_the_tails() -> None:
    """Returns drawn from a t with 3 dof give an MLE dof near 3; Gaussian returns a large one."""
    rng = np.random.default_rng(15)
    heavy = 100.0 * np.exp(np.cumsum(1e-3 * rng.standard_t(3.0, size=5000)))
    light = 100.0 * np.exp(np.cumsum(1e-3 * rng.normal(size=5000)))

    def fitted_dof(mid: np.ndarray) -> float:
        line = return_distribution_figure(_market(mid)).axes[0].get_lines()[1]
        found = re.search(r"\u03bd = ([0-9.e+]+)", str(line.get_label()))
        assert found is not None
        return float(found.group(1))

    assert 2.5 < fitted_dof(heavy) < 3.6
    assert fitted_dof(light) > 30.0


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


def test_pnl_decomposition_draws_each_makers_final_pnl_at_its_group() -> None:
    """One dot per maker at its own final pnl, within a swarm's width right of its group's bars."""
    table = pd.DataFrame(
        {
            "agent_id": [1, 2, 3],
            "group": ["a", "a", "b"],
            "spread_capture": [2.0, 4.0, 1.0],
            "total": [-1.0, 3.0, 6.0],
            "pnl": [-1.0, 3.0, 6.0],
        }
    )
    ax = pnl_decomposition_figure(table).axes[0]
    # collection 0 holds the group means; seaborn draws one collection per group after it
    dots = np.concatenate([np.asarray(c.get_offsets()) for c in ax.collections[1:]])
    order = np.argsort(dots[:, 1])
    np.testing.assert_allclose(dots[order, 1], [-1.0, 3.0, 6.0])
    np.testing.assert_allclose(dots[order, 0], [0.15, 0.15, 1.15], atol=0.1)


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


# --- what the figures draw (item: the price figure must not hide a crash) ---


def _line_labels(ax: Axes) -> list[str]:
    return [str(line.get_label()) for line in ax.get_lines()]


def test_display_figure_renders_png_for_notebooks() -> None:
    """_repr_png_ (IPython's display protocol) gives PNG bytes, with no pyplot involved."""
    figure = price_figure(market_table([100.0, 100.5, 101.0]))
    assert isinstance(figure, DisplayFigure)
    assert figure._repr_png_()[:8] == PNG_SIGNATURE


def test_trade_bins_give_low_high_and_vwap_per_step() -> None:
    """Per step: lowest and highest book trade and the volume-weighted price, by hand."""
    rows = [(0, 100.0, 1, "buy", "book"), (0, 99.0, 3, "sell", "book")]
    rows += [(2, 90.0, 2, "sell", "book"), (2, 50.0, 9, "sell", "hedge")]
    trades = trades_table(rows)
    bins = trade_bins(trades, 3)
    assert bins["step"].tolist() == [0, 2]
    assert bins["low"].tolist() == [99.0, 90.0]
    assert bins["high"].tolist() == [100.0, 90.0]
    np.testing.assert_allclose(bins["vwap"], [(100.0 + 3 * 99.0) / 4, 90.0])


def test_trade_bins_widen_for_long_runs() -> None:
    """Ten steps into at most five bins: two steps per bin, labelled by the first step."""
    trades = trades_table([(step, float(step), 1, "buy", "book") for step in range(10)])
    bins = trade_bins(trades, 10, max_bins=5)
    assert bins.attrs["bin_steps"] == 2
    assert bins["step"].tolist() == [0, 2, 4, 6, 8]
    assert bins["low"].tolist() == [0.0, 2.0, 4.0, 6.0, 8.0]


def test_price_figure_draws_a_crash_below_an_empty_bid_side() -> None:
    """With the bid side gone the ask line and the trade prints still show the fall."""
    market = market_table([100.0, 100.0, 100.0, 100.0])
    market.loc[2:, ["best_bid", "mid", "spread"]] = np.nan
    trades = trades_table([(1, 100.0, 1, "buy", "book"), (2, 71.5, 5, "sell", "book")])
    figure = price_figure(market, trades)
    ax = figure.axes[0]
    labels = _line_labels(ax)
    for name in ("best bid", "best ask", "mid", "fundamental", "VWAP (per-step)"):
        assert name in labels
    vwap = next(line for line in ax.get_lines() if line.get_label() == "VWAP (per-step)")
    assert min(np.asarray(vwap.get_ydata(), dtype=float)) == 71.5
    assert ax.get_ylim()[0] < 71.5


def test_price_figure_marks_events_on_the_time_axis() -> None:
    """A scheduled shock, two defaults at one step and a halt each get one labelled mark."""
    market = market_table([100.0] * 10)
    events = pd.DataFrame(
        {"step": [3, 3, 6], "kind": ["default", "default", "halt"], "agent_id": [1, 2, None]}
    )
    figure = price_figure(market, None, events, shocks=[{"kind": "default", "step": 2}])
    labels = _line_labels(figure.axes[0])
    assert "shock (1 step)" in labels
    assert "default (1 step)" in labels
    assert "halt (1 step)" in labels


def test_event_marks_read_shocks_from_events_without_a_scenario() -> None:
    """Without the scenario's shocks list, shock events of the events table are the shocks."""
    events = pd.DataFrame({"step": [5, 8], "kind": ["price_gap", "regime"]})
    marks = event_marks(events)
    assert marks.shocks == ((5, "price_gap"),)
    assert marks.regime_changes == (8,)


def _depth_rows(rows: list[tuple[int, str, float, int]]) -> pd.DataFrame:
    step, side, price, qty = zip(*rows, strict=True)
    return pd.DataFrame({"step": step, "side": side, "price": price, "qty": qty})


def test_depth_near_mid_counts_only_levels_within_n_ticks() -> None:
    """Mid 100.00, N = 2 ticks of 0.01: bids at 99.99 and 99.98 count, 99.90 does not."""
    market = market_table([100.0, 100.0])
    depth = _depth_rows(
        [(1, "bid", 99.99, 3), (1, "bid", 99.98, 4), (1, "bid", 99.90, 50), (1, "ask", 100.01, 7)]
    )
    near = depth_near_mid(depth, market, 2, 0.01)
    assert near.to_dict("list") == {"step": [1], "bid": [7.0], "ask": [7.0]}


def test_depth_near_mid_measures_an_emptied_side_from_the_last_mid() -> None:
    """No bids, no mid: the last two-sided mid is the reference; far asks and bids count 0."""
    market = market_table([100.0, 100.0])
    market.loc[1, ["best_bid", "mid"]] = np.nan
    depth = _depth_rows([(1, "ask", 100.50, 9), (1, "ask", 100.01, 2)])
    near = depth_near_mid(depth, market, 5, 0.01)
    assert near.to_dict("list") == {"step": [1], "bid": [0.0], "ask": [2.0]}


def test_spread_depth_figure_states_n_and_draws_a_rolling_mean() -> None:
    """The depth panel names N; the spread line is the trailing mean over the window."""
    market = market_table([100.0] * 4)
    market["spread"] = [0.01, 0.03, 0.05, 0.07]
    depth = _depth_rows([(step, "bid", 99.99, 1) for step in range(4)])
    figure = spread_depth_figure(market, depth, tick_size=0.01, within_ticks=3, window_steps=2)
    top, bottom = figure.axes
    assert "within 3 ticks of the mid" in bottom.get_title()
    np.testing.assert_allclose(top.get_lines()[0].get_ydata(), [0.01, 0.02, 0.04, 0.06])


def test_inventory_figure_colours_by_group_and_draws_limits() -> None:
    """One colour per group, one legend entry per group, dashed lines at +-limit."""
    agents = pd.DataFrame(
        {
            "step": [0, 1, 0, 1, 0, 1],
            "agent_id": [1, 1, 2, 2, 3, 3],
            "kind": ["market_maker"] * 6,
            "group": ["a", "a", "a", "a", "b", "b"],
            "inventory": [0, 5, 0, -5, 0, 50],
        }
    )
    figure = inventory_figure(agents, limits={"a": 40, "b": 40}, dt=0.5)
    ax = figure.axes[0]
    lines = [line for line in ax.get_lines() if len(np.asarray(line.get_xdata())) == 2]
    agent_lines = [line for line in lines if line.get_linestyle() == "-"]
    assert len({line.get_color() for line in agent_lines[:2]}) == 1
    assert agent_lines[0].get_color() != agent_lines[2].get_color()
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == ["a (2 agents)", "b (1 agent)", "limit \u00b140 lots"]
    limits = sorted(
        {float(line.get_ydata()[0]) for line in ax.get_lines() if line.get_linestyle() == "--"}
    )
    assert limits == [-40.0, 40.0]
    assert ax.get_xlabel() == "time (s)"
    np.testing.assert_allclose(agent_lines[0].get_xdata(), [0.0, 0.5])


def test_empty_panels_are_recorded_on_the_figure(result: RunResult) -> None:
    """A panel drawn without data is listed in empty_panels (the report leaves it out)."""
    figure = inventory_figure(result.agents.iloc[0:0])
    assert isinstance(figure, DisplayFigure)
    assert figure.empty_panels == [("Market-maker inventory", "no data")]


def test_drop_empty_panels_restacks_the_panels_with_data() -> None:
    """The empty bottom panel goes; the top one fills the figure and gains the x label."""
    figure = new_figure()
    top, bottom = figure.subplots(2, 1, sharex=True)
    top.plot([0.0, 1.0], [1.0, 2.0])
    finish_axes(top, "Top", None, "y (lots)", has_data=True, legend=False)
    finish_axes(bottom, "Bottom", "time (s)", "y (lots)", has_data=False)
    assert figure.empty_panels == [("Bottom", "no data")]
    assert figure.drop_empty_panels()
    assert figure.axes == [top]
    assert top.get_xlabel() == "time (s)"
    spec = top.get_subplotspec()
    assert spec is not None and spec.get_gridspec().nrows == 1


def test_drop_empty_panels_reports_a_figure_with_nothing_left(result: RunResult) -> None:
    """A figure whose only panel is empty has nothing left to show."""
    figure = inventory_figure(result.agents.iloc[0:0])
    assert not figure.drop_empty_panels()
