"""Statistical figures of one run: P&L and return distributions, autocorrelations, P&L attribution.

The time-series figures live in `analysis.plots`; the conventions are the same. Every function
takes a `RunResult` table (or a table computed from one) and returns a new
`matplotlib.figure.Figure` built without ``pyplot``. A table with too little data gives a figure
whose panels say why; a table without a needed column raises `ValueError` naming it.

Units: prices and pnl in price units, lags in steps; log returns are dimensionless.

- `pnl_distribution_figure`: market makers' one-step pnl changes, with historical VaR and
  expected shortfall (`analysis.risk_metrics`, Acerbi & Tasche 2002) marked.
- `return_distribution_figure`: mid log returns against two fits, the normal of the same mean and
  variance and a Student t fitted by maximum likelihood, on a log density scale, where heavy
  tails (Cont 2001, fact 2) show as excess over the parabola that the t follows.
- `acf_figure`: autocorrelation of returns and of absolute returns with the 95% band of i.i.d.
  data, ``1.96 / sqrt(n)`` (Bartlett; Cont 2001, facts 1 and 7).
- `pnl_decomposition_figure`: the per-group mean of each term of the P&L identity of
  `analysis.market_making.pnl_decomposition`, with every maker's final pnl beside its group's.

Histograms and the per-maker swarm are drawn with seaborn into the figure's own axes.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy import optimize, stats

from analysis.figures import finish_axes, new_figure, require_columns
from analysis.risk_metrics import expected_shortfall, value_at_risk
from analysis.stylized_facts import acf_table, excess_kurtosis, log_returns
from analysis.tables import MARKET_MAKER_KIND, quantity_label

MAX_BINS = 120
"""Most histogram bins: enough to show a tail, few enough that each bin is wider than a pixel."""

ACF_MAX_LAG = 50
"""Default largest lag of `acf_figure` (steps)."""

IDENTITY_COLUMNS = ("agent_id", "group", "total", "pnl")
"""Columns of a P&L decomposition that are not terms of the identity."""

MAKER_DOTS_OFFSET = 0.15
"""How far right of its group's mean diamond `pnl_decomposition_figure` draws the makers' dots."""

_WIDE = (10.0, 4.0)
_TALL = (10.0, 6.0)


def pnl_distribution_figure(agents: pd.DataFrame, *, alpha: float = 0.95) -> Figure:
    """Histogram of the market makers' one-step pnl changes, pooled over makers, with VaR and ES.

    A change is ``pnl[t] - pnl[t - 1]`` between consecutive recorded steps of one market maker.
    The losses ``-change`` give the historical `value_at_risk` and `expected_shortfall` at
    ``alpha``; they are drawn at ``-VaR`` and ``-ES`` on the pnl axis. Counts are on a log
    scale, so the tail the two lines summarise stays visible next to the bulk.

    Args:
        agents: The ``agents`` table; rows whose ``kind`` is `MARKET_MAKER_KIND` are used, with
            ``step``, ``agent_id`` and ``pnl``. Non-finite pnl values are dropped first.
        alpha: Confidence level of VaR and ES, in (0, 1).

    Returns:
        A one-panel figure (pnl change in price units against a count).

    Raises:
        ValueError: If a needed column is missing or ``alpha`` is outside (0, 1).
    """
    require_columns(agents, ("step", "agent_id", "kind", "pnl"), "agents")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha is a confidence level strictly between 0 and 1, got {alpha}")
    makers = agents.loc[agents["kind"] == MARKET_MAKER_KIND, ["step", "agent_id", "pnl"]]
    makers = makers.astype({"agent_id": "int64", "pnl": "float64"})
    makers = makers.loc[np.isfinite(makers["pnl"].to_numpy())].sort_values(["agent_id", "step"])
    changes = np.concatenate(
        [np.diff(group.to_numpy(dtype=float)) for _, group in makers.groupby("agent_id")["pnl"]]
        or [np.empty(0)]
    )
    figure = new_figure(_WIDE)
    ax = figure.add_subplot()
    title = "Market-maker pnl change per step"
    xlabel, ylabel = "pnl change over one step (price units)", "agent-steps (count, log scale)"
    if changes.size < 2:
        finish_axes(ax, title, xlabel, ylabel, has_data=False)
        return figure
    var = value_at_risk(-changes, alpha)
    es = expected_shortfall(-changes, alpha)
    ax.hist(changes, bins=_bin_count(changes), color="tab:blue", alpha=0.7, label="pnl changes")
    ax.set_yscale("log")
    level = f"{alpha:.0%}"
    ax.axvline(-var, color="tab:orange", lw=1.5, label=f"VaR {level}: loss of {var:.4g}")
    ax.axvline(-es, color="tab:red", lw=1.5, ls="--", label=f"ES {level}: loss of {es:.4g}")
    n_makers = makers["agent_id"].nunique()
    title += f" ({n_makers} makers, {changes.size} agent-steps)"
    finish_axes(ax, title, xlabel, ylabel, has_data=True)
    return figure


def return_distribution_figure(market: pd.DataFrame, *, interval_steps: int = 1) -> Figure:
    """Density of the mid's log returns against a fitted normal and Student t, on a log axis.

    The normal has the sample mean and standard deviation of the returns (its log density is a
    parabola); heavy tails show as bars above it far from the centre. The Student t (location,
    scale and degrees of freedom by maximum likelihood on the histogram's bins,
    `_student_t_binned_mle`) is the usual heavy-tailed alternative; its degrees of freedom are
    in the legend (small: heavy tails).
    Returns touching a missing mid (a one-sided book) are dropped; exact zeros are kept and
    counted in the panel's note, since on a tick grid they form a spike at zero. No kernel
    density is drawn: on a tick grid the returns sit on a lattice that a kernel would smear.

    Args:
        market: The ``market`` table; uses ``mid``, one row per step.
        interval_steps: Steps per return (non-overlapping windows, as `log_returns`).

    Returns:
        A one-panel figure (log return against density per unit log return).

    Raises:
        ValueError: If ``mid`` is missing or ``interval_steps < 1``.
    """
    require_columns(market, ("mid",), "market")
    mid = market["mid"].to_numpy(dtype=float)
    raw = log_returns(mid, interval_steps)
    returns = raw[np.isfinite(raw)]
    figure = new_figure(_WIDE)
    ax = figure.add_subplot()
    title = "Distribution of mid log returns"
    xlabel = f"log return over {interval_steps} step(s) (dimensionless)"
    ylabel = "density (per unit log return, log scale)"
    sd = float(returns.std()) if returns.size > 1 else 0.0
    if sd == 0.0:
        finish_axes(ax, title, xlabel, ylabel, has_data=False)
        return figure
    mean = float(returns.mean())
    density, edges = np.histogram(returns, bins=_return_edges(returns, mid), density=True)
    sns.histplot(
        x=returns, bins=edges, stat="density", color="tab:blue", alpha=0.5, label="sample", ax=ax
    )
    grid = np.linspace(edges[0], edges[-1], 400)
    normal = stats.norm.pdf(grid, loc=mean, scale=sd)
    ax.plot(grid, normal, color="black", lw=1.2, label="fitted normal")
    counts = np.histogram(returns, bins=edges)[0]
    dof, loc, scale = _student_t_binned_mle((edges - mean) / sd, counts)
    t_density = stats.t.pdf(grid, dof, loc=mean + sd * loc, scale=sd * scale)
    t_label = f"Student t, binned MLE (\u03bd = {dof:.3g})"
    ax.plot(grid, t_density, color="tab:red", lw=1.2, ls="--", label=t_label)
    ax.set_yscale("log")
    # The normal's density far out is many decades below any bar; keep the bars' range.
    ax.set_ylim(0.5 * density[density > 0].min(), 2.0 * max(density.max(), 1.0 / sd))
    note = (
        f"n = {returns.size}, excess kurtosis = {excess_kurtosis(returns):.3g}, "
        f"exact zeros = {np.mean(returns == 0):.1%}"
    )
    ax.text(0.01, 0.97, note, transform=ax.transAxes, va="top", fontsize="small")
    finish_axes(ax, title, xlabel, ylabel, has_data=True)
    ax.legend(loc="upper right", fontsize="small")
    return figure


def acf_figure(market: pd.DataFrame, *, max_lag: int = ACF_MAX_LAG) -> Figure:
    """Autocorrelation of mid log returns (top) and of their absolute values (bottom).

    One-step returns with missing values dropped (which joins the segments either side of a
    gap). The shaded band is ``+-1.96 / sqrt(n)``: values outside it are significant at 5% for
    i.i.d. returns. Fewer returns than ``max_lag + 1`` shorten the lag range.

    Args:
        market: The ``market`` table; uses ``mid``.
        max_lag: Largest lag in steps, at least 1.

    Returns:
        A two-panel figure sharing the lag axis (lags ``1..max_lag``).

    Raises:
        ValueError: If ``mid`` is missing or ``max_lag < 1``.
    """
    require_columns(market, ("mid",), "market")
    if max_lag < 1:
        raise ValueError(f"max_lag must be at least 1, got {max_lag}")
    raw = log_returns(market["mid"].to_numpy(dtype=float))
    returns = raw[np.isfinite(raw)]
    figure = new_figure(_TALL)
    top, bottom = figure.subplots(2, 1, sharex=True)
    lags = min(max_lag, returns.size - 1)
    table = acf_table(returns, lags) if lags >= 1 and returns.std() > 0 else None
    for ax, column, title in (
        (top, "acf_returns", "Autocorrelation of mid log returns"),
        (bottom, "acf_abs_returns", "Autocorrelation of absolute mid log returns"),
    ):
        xlabel = "lag (steps)" if ax is bottom else None
        has_data = table is not None and bool(np.isfinite(table[column]).any())
        if table is not None and has_data:
            _draw_acf(ax, table["lag"].to_numpy(), table[column].to_numpy(), table["band"].iloc[0])
        # one legend serves both panels
        legend = ax is top
        finish_axes(
            ax, title, xlabel, "autocorrelation (dimensionless)", has_data=has_data, legend=legend
        )
    return figure


def pnl_decomposition_figure(decomposition: pd.DataFrame) -> Figure:
    """Mean P&L attribution per market maker in each group, one bar per term of the identity.

    Every column other than `IDENTITY_COLUMNS` is a term, drawn in table order. Terms that are
    zero for every group (for example hedging when nobody hedges) are left out and named under
    the axis. A black diamond marks each group's mean final pnl, which the bars sum to; the
    grey dots beside it are the makers' own final pnl, so the spread within a group is seen
    against the differences between groups.

    Args:
        decomposition: A table like `analysis.market_making.pnl_decomposition`'s: ``group``,
            ``pnl`` and the terms, one row per market maker.

    Returns:
        A one-panel figure (group against mean pnl per maker in price units).

    Raises:
        ValueError: If a needed column is missing.
    """
    require_columns(decomposition, ("group", "pnl"), "pnl decomposition")
    terms = [c for c in decomposition.columns if c not in IDENTITY_COLUMNS]
    figure = new_figure(_WIDE)
    ax = figure.add_subplot()
    means = decomposition.groupby("group", sort=False)[[*terms, "pnl"]].mean()
    shown = [c for c in terms if bool((means[c].abs() > 0).any())]
    title = "Market-maker pnl decomposition (mean per maker)"
    xlabel, ylabel = "market-maker group", "pnl per maker (price units)"
    if means.empty:
        finish_axes(ax, title, xlabel, ylabel, has_data=False)
        return figure
    positions = np.arange(len(means))
    width = 0.8 / max(len(shown), 1)
    for i, component in enumerate(shown):
        offsets = positions - 0.4 + (i + 0.5) * width
        label = quantity_label(component)
        ax.bar(offsets, means[component].to_numpy(dtype=float), width, label=label)
    ax.scatter(positions, means["pnl"], marker="D", color="black", zorder=4, label="mean final pnl")
    makers = pd.DataFrame(
        {
            # beside the diamond rather than under it
            "position": decomposition["group"].map(dict(zip(means.index, positions, strict=True)))
            + MAKER_DOTS_OFFSET,
            "pnl": decomposition["pnl"].to_numpy(dtype=float),
        }
    )
    drawn = len(ax.collections)
    # a swarm, not a jittered strip: its placement is deterministic (no global random state)
    sns.swarmplot(
        data=makers,
        x="position",
        y="pnl",
        native_scale=True,
        color="0.1",
        size=3,
        alpha=0.7,
        zorder=3,
        label="each maker's final pnl",
        legend=False,
        ax=ax,
    )
    for swarm in ax.collections[drawn + 1 :]:  # one swarm per group: one legend entry for all
        swarm.set_label("_nolegend_")
    ax.axhline(0.0, color="0.4", lw=0.8, zorder=0)
    ax.set_xticks(positions, [str(group) for group in means.index])
    omitted = [quantity_label(c) for c in terms if c not in shown]
    if omitted:
        xlabel += "\n" + _wrapped_list("not drawn, zero for every group: ", omitted)
    finish_axes(ax, title, xlabel, ylabel, has_data=True, legend=False)
    # Outside the axes: bars of opposite sign leave no corner free of data.
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    ax.grid(True, axis="y", alpha=0.3)
    ax.grid(False, axis="x")
    return figure


def _wrapped_list(lead: str, items: list[str], width: int = 80) -> str:
    """``lead`` and ``items`` joined by commas, on lines of at most ``width`` characters.

    A line breaks only between items (a name is never split), so an axis label under a
    narrow figure stays inside it.
    """
    lines = [lead.rstrip()]
    for i, item in enumerate(items):
        piece = item + ("," if i < len(items) - 1 else "")
        if len(lines[-1]) + 1 + len(piece) > width:
            lines.append(piece)
        else:
            lines[-1] += " " + piece
    return "\n".join(lines)


def _student_t_binned_mle(edges: np.ndarray, counts: np.ndarray) -> tuple[float, float, float]:
    """Maximum-likelihood ``(dof, loc, scale)`` of a Student t fitted to binned counts.

    The likelihood is multinomial: bin ``i`` has probability ``F(edges[i+1]) - F(edges[i])``
    under the t's cdf ``F``, with the outer bins open to infinity. Binned, not pointwise: mid
    returns on a tick grid are discrete (a spike of exact zeros), and a density's likelihood of
    repeated values grows without bound as the scale shrinks. ``edges`` should be in standard
    units (returns less their mean, over their sd); L-BFGS-B maximises over ``log dof``,
    ``loc`` and ``log scale`` from ``(4, 0, 1)``.
    """
    bounds = np.asarray(edges, dtype=float).copy()
    bounds[0], bounds[-1] = -np.inf, np.inf

    def negative_log_likelihood(theta: np.ndarray) -> float:
        dof, loc, scale = math.exp(theta[0]), theta[1], math.exp(theta[2])
        mass = np.diff(stats.t.cdf(bounds, dof, loc=loc, scale=scale))
        return -float(counts @ np.log(np.maximum(mass, 1e-300)))

    start = np.array([math.log(4.0), 0.0, 0.0])
    limits = [(math.log(0.5), math.log(1e6)), (-5.0, 5.0), (math.log(1e-3), math.log(10.0))]
    fit = optimize.minimize(negative_log_likelihood, start, method="L-BFGS-B", bounds=limits)
    return math.exp(fit.x[0]), float(fit.x[1]), math.exp(fit.x[2])


def _draw_acf(ax: Axes, lags: np.ndarray, acf: np.ndarray, band: float) -> None:
    ax.axhspan(-band, band, color="tab:blue", alpha=0.15, label=f"95% band (\u00b1{band:.3g})")
    ax.vlines(lags, 0.0, acf, color="tab:blue", lw=1.5)
    ax.plot(lags, acf, "o", color="tab:blue", ms=3, label="sample ACF")
    ax.axhline(0.0, color="0.4", lw=0.8)


def _return_edges(returns: np.ndarray, mid: np.ndarray) -> np.ndarray | int:
    """Bin edges for mid log returns: one bin per price increment on a tick grid, else FD bins.

    On a tick grid the mid moves in multiples of a quantum ``q`` (half a tick), so log returns
    sit near ``k q / m`` for the typical mid ``m``; bins narrower than that spacing would
    alternate between empty and overfull and misstate the density. The lattice bins are used
    when every return lies within a quarter spacing of its lattice point (the price level did
    not drift far) and the range needs at most `MAX_BINS` of them.
    """
    finite = mid[np.isfinite(mid)]
    # Price differences carry float noise around exact multiples of the quantum.
    moves = np.unique(np.round(np.abs(np.diff(finite)), 9))
    moves = moves[moves > 0]
    if moves.size and finite.size:
        spacing = float(moves.min()) / float(np.median(finite))
        index = returns / spacing
        low, high = math.floor(index.min() + 0.5), math.floor(index.max() + 0.5)
        on_grid = np.abs(index - np.rint(index)).max() < 0.25
        if on_grid and high - low + 1 <= MAX_BINS:
            return spacing * (np.arange(low, high + 2) - 0.5)
    return _bin_count(returns)


def _bin_count(values: np.ndarray) -> int:
    """Freedman-Diaconis bin count, kept between 10 and `MAX_BINS`.

    Width ``2 IQR / n^(1/3)`` (Freedman and Diaconis 1981), count ``ceil(range / width)``,
    as `numpy.histogram_bin_edges` with ``bins="fd"`` computes it, but without laying out
    the edges first: one extreme outlier would make that array too large to allocate.
    """
    finite = values[np.isfinite(values)]
    if finite.size < 2:
        return 10
    q25, q75 = np.percentile(finite, [25, 75])
    width = 2.0 * float(q75 - q25) / finite.size ** (1.0 / 3.0)
    with np.errstate(over="ignore"):
        count = float(finite.max() - finite.min()) / width if width > 0 else 0.0
    return int(min(max(math.ceil(count), 10), MAX_BINS)) if math.isfinite(count) else 10
