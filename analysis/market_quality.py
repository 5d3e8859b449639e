"""Market quality: spreads and their decomposition, depth, resiliency and price efficiency.

Pure functions over the `RunResult` tables of DESIGN.md section 7 (``market``, ``trades`` and the
optional ``depth`` snapshots) or over arrays; `market_quality_summary` collects the headline
numbers, including the price-formation measures of `analysis.price_formation` (Kyle's lambda,
Amihud illiquidity, order-flow imbalance, variance ratio). Nothing here imports the model.

Timing convention. The ``market`` table holds the book at the *end* of each step, and a trade
recorded at step ``s`` happened during step ``s``. The mid prevailing when such a trade happened is
therefore taken as the end-of-step mid of step ``s - 1`` (``mid_before``), and the mid ``h`` steps
later as the end-of-step mid of step ``s + h``. With step-resolution data the true pre-trade mid
(which may have moved earlier in the same step) is not observable; the previous step's closing
mid is the quote that prevailed when the step began.

Sign convention: ``sign = +1`` for a buyer-initiated trade (aggressor ``"buy"``), ``-1`` for a
seller-initiated one. Prices are in price units, quantities in lots, bps are 1e-4 of the mid.
Only on-book trades (``venue == "book"``) enter the trade-based measures unless ``venue=None``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from abm.market.measures import book_sidedness, price_dislocations
from abm.results.run_result import RunResult
from analysis.price_formation import (
    InsufficientDataError,
    Regression,
    amihud_illiquidity,
    depth_ofi,
    interval_flow,
    kyle_lambda,
    ofi_regression,
    variance_ratio,
)

BPS = 1e4
_T = TypeVar("_T")


# --- spreads -----------------------------------------------------------------------------------


def quoted_spread(market: pd.DataFrame) -> pd.DataFrame:
    """Per-step quoted spread: columns ``step``, ``spread`` (price units), ``spread_bps``.

    ``spread_bps = 1e4 * (ask - bid) / mid``. Steps with a one-sided book are NaN. Steps have
    equal length (``dt``), so the time-averaged spread is the NaN-skipping mean of a column.
    """
    spread = market["spread"].to_numpy(dtype=float)
    mid = market["mid"].to_numpy(dtype=float)
    return pd.DataFrame(
        {"step": market["step"].to_numpy(), "spread": spread, "spread_bps": BPS * spread / mid}
    )


def trade_costs(
    trades: pd.DataFrame, market: pd.DataFrame, *, horizon_steps: int, venue: str | None = "book"
) -> pd.DataFrame:
    """Per-trade spread decomposition at ``horizon_steps`` (price units; one row per trade).

    Columns ``step, price, qty, sign, mid_before, mid_after`` (the mid at ``step +
    horizon_steps``) and

    - ``effective_spread = 2 * sign * (price - mid_before)``,
    - ``realized_spread = 2 * sign * (price - mid_after)``: what the liquidity provider keeps
      once the price has moved,
    - ``price_impact = sign * (mid_after - mid_before)``,

    so that ``effective = realized + 2 * impact`` (the decomposition of Huang & Stoll 1996).
    A measure is NaN when a mid it needs is missing (first step, one-sided book, horizon past
    the end of the run). Rows follow the trade order after filtering by ``venue``.

    Raises:
        ValueError: If ``horizon_steps < 0`` or an aggressor is not ``"buy"``/``"sell"``.
    """
    if horizon_steps < 0:
        raise ValueError(f"horizon_steps must be >= 0, got {horizon_steps}")
    if venue is not None:
        trades = trades[trades["venue"] == venue]
    step = trades["step"].to_numpy(dtype=np.int64)
    mid = pd.Series(market["mid"].to_numpy(dtype=float), index=market["step"].to_numpy())
    side = trades["aggressor"].to_numpy(dtype=object)
    bad = ~np.isin(side, ("buy", "sell"))
    if bad.any():
        raise ValueError(f"aggressor must be 'buy' or 'sell', got {side[bad][0]!r}")
    price = trades["price"].to_numpy(dtype=float)
    sign = np.where(side == "buy", 1.0, -1.0)
    before = mid.reindex(step - 1).to_numpy()
    after = mid.reindex(step + horizon_steps).to_numpy()
    return pd.DataFrame(
        {
            "step": step,
            "price": price,
            "qty": trades["qty"].to_numpy(dtype=float),
            "sign": sign,
            "mid_before": before,
            "mid_after": after,
            "effective_spread": 2.0 * sign * (price - before),
            "realized_spread": 2.0 * sign * (price - after),
            "price_impact": sign * (after - before),
        }
    )


def effective_spread(
    trades: pd.DataFrame, market: pd.DataFrame, *, venue: str | None = "book"
) -> pd.Series:
    """Per-trade effective spread ``2 * sign * (price - mid_before)``; see `trade_costs`."""
    return trade_costs(trades, market, horizon_steps=0, venue=venue)["effective_spread"]


def realized_spread(
    trades: pd.DataFrame, market: pd.DataFrame, *, horizon_steps: int, venue: str | None = "book"
) -> pd.Series:
    """Per-trade realized spread ``2 * sign * (price - mid[step + h])``; see `trade_costs`."""
    costs = trade_costs(trades, market, horizon_steps=horizon_steps, venue=venue)
    return costs["realized_spread"]


def price_impact(
    trades: pd.DataFrame, market: pd.DataFrame, *, horizon_steps: int, venue: str | None = "book"
) -> pd.Series:
    """Per-trade price impact ``sign * (mid[step + h] - mid_before)``; see `trade_costs`."""
    return trade_costs(trades, market, horizon_steps=horizon_steps, venue=venue)["price_impact"]


def trade_cost_summary(
    trades: pd.DataFrame, market: pd.DataFrame, *, horizon_steps: int, venue: str | None = "book"
) -> dict[str, float]:
    """Quantity-weighted means of the `trade_costs` measures.

    Keys ``effective_spread``, ``realized_spread``, ``price_impact`` (price units) and the same
    with a ``_bps`` suffix (each trade's value divided by its ``mid_before``). Each mean is over
    the trades where that measure is defined; NaN when there are none.
    """
    costs = trade_costs(trades, market, horizon_steps=horizon_steps, venue=venue)
    qty, mid = costs["qty"].to_numpy(), costs["mid_before"].to_numpy()
    out: dict[str, float] = {}
    for name in ("effective_spread", "realized_spread", "price_impact"):
        value = costs[name].to_numpy()
        out[name] = _weighted_mean(value, qty)
        out[f"{name}_bps"] = _weighted_mean(BPS * value / mid, qty)
    return out


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    keep = np.isfinite(values)
    total = float(weights[keep].sum())
    return float(values[keep] @ weights[keep]) / total if total > 0 else math.nan


# --- depth snapshots ---------------------------------------------------------------------------


def depth_profile(depth: pd.DataFrame, n_ticks: int, tick_size: float) -> pd.DataFrame:
    """Depth at the touch and within ``n_ticks`` of it, per snapshot step and side.

    A level counts as within ``n_ticks`` when its price is at most ``n_ticks * tick_size`` away
    from the best price of its own side (``n_ticks=0`` is the touch alone). Distances are rounded
    to whole ticks, so float prices do not miss the boundary. Snapshots keep only the top few
    levels, so a large ``n_ticks`` gives a lower bound on the true depth.

    Returns:
        Columns ``step, bid_touch, ask_touch, bid_within, ask_within`` (lots), sorted by step; a
        side absent from a snapshot has zero depth.

    Raises:
        ValueError: If ``n_ticks < 0`` or ``tick_size <= 0``.
    """
    if n_ticks < 0 or not tick_size > 0:
        raise ValueError(f"need n_ticks >= 0 and tick_size > 0, got {n_ticks}, {tick_size}")
    steps = np.unique(depth["step"].to_numpy())
    out: dict[str, Any] = {"step": steps}
    for side, direction in (("bid", 1.0), ("ask", -1.0)):
        rows = depth[depth["side"] == side]
        price = rows["price"].to_numpy(float)
        best = rows.groupby("step")["price"].transform("max" if direction > 0 else "min")
        away = np.rint(direction * (best.to_numpy(float) - price) / tick_size)
        qty = rows["qty"].to_numpy(float)
        step = rows["step"].to_numpy()
        for name, mask in (("touch", away == 0), ("within", away <= n_ticks)):
            total = pd.Series(qty[mask]).groupby(step[mask]).sum()
            out[f"{side}_{name}"] = total.reindex(steps, fill_value=0.0).to_numpy()
    return pd.DataFrame(out)


# --- resiliency and efficiency -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Resiliency:
    """Spread recovery after shocks (see `spread_resiliency`).

    Attributes:
        shock_positions: Position of each shock in the spread series.
        recovery_steps: Steps from each recovered shock to recovery (censored shocks excluded).
        n_censored: Shocks still unrecovered when the series ends.
        median_spread: The reference level (median of the finite spreads).
        mean_recovery_steps: Mean of ``recovery_steps`` (NaN if none).
        half_life_steps: Smallest number of steps by which at least half of all shocks,
            censored ones included, have recovered (NaN if never).
    """

    shock_positions: np.ndarray
    recovery_steps: np.ndarray
    n_censored: int
    median_spread: float
    mean_recovery_steps: float
    half_life_steps: float


def spread_resiliency(spread: Any, *, k: float = 2.0, tolerance: float = 0.25) -> Resiliency:
    """How fast the spread returns to normal after it widens.

    Resiliency is the third dimension of liquidity in Kyle (1985), next to tightness and depth;
    here it is measured as a recovery time.

    A shock starts at a step whose spread exceeds ``k * median``; it has recovered at the first
    later step whose spread is at most ``(1 + tolerance) * median`` (both compared with a
    relative slack of 1e-9, so float rounding of tick multiples does not decide). The next
    shock is looked for after the recovery. A NaN spread (one-sided book) counts as infinitely
    wide, except leading NaNs before the book first becomes two-sided, which are skipped.

    Raises:
        ValueError: If ``k <= 1 + tolerance`` (a shock would already count as recovered) or
            ``tolerance < 0``.
        InsufficientDataError: If the series has no finite spread.
    """
    if tolerance < 0 or k <= 1.0 + tolerance:
        raise ValueError(f"need tolerance >= 0 and k > 1 + tolerance, got k={k}, {tolerance=}")
    values = np.asarray(spread, dtype=float)
    finite = np.flatnonzero(np.isfinite(values))
    if finite.size == 0:
        raise InsufficientDataError("spread series has no finite value")
    median = float(np.median(values[finite]))
    wide = np.where(np.isfinite(values), values, np.inf)[finite[0] :]
    # spreads are differences of float prices: a 4-tick spread must count as 2x a 2-tick median
    fuzz = 1.0 + 1e-9
    shocked = np.flatnonzero(wide > k * median * fuzz)
    recovered = np.flatnonzero(wide <= (1.0 + tolerance) * median * fuzz)
    shocks, times = [], []
    position = 0
    for start in shocked:
        if start < position:
            continue
        shocks.append(start)
        after = recovered[np.searchsorted(recovered, start) :]
        if after.size == 0:
            break
        times.append(int(after[0] - start))
        position = after[0]
    durations = np.asarray(times, dtype=np.int64)
    ordered = np.sort(durations)
    need = (len(shocks) + 1) // 2
    half_life = float(ordered[need - 1]) if shocks and ordered.size >= need else math.nan
    return Resiliency(
        shock_positions=np.asarray(shocks, dtype=np.int64) + finite[0],
        recovery_steps=durations,
        n_censored=len(shocks) - durations.size,
        median_spread=median,
        mean_recovery_steps=float(durations.mean()) if durations.size else math.nan,
        half_life_steps=half_life,
    )


def mean_abs_mispricing(market: pd.DataFrame) -> float:
    """Mean ``|mid - fundamental|`` over steps with a two-sided book, in price units.

    A one-sided book has no mid, so a crash through it does not show here: see
    `max_dislocation`, which also reads trade prices.
    """
    return _nanmean(np.abs(market["mid"].to_numpy(float) - market["fundamental"].to_numpy(float)))


def max_dislocation(
    market: pd.DataFrame, trades: pd.DataFrame, from_step: int = 0
) -> dict[str, float]:
    """Largest price-to-fundamental gaps from ``from_step`` on, mids and book trades alike.

    ``max_mid_dislocation`` (two-sided steps), ``max_trade_dislocation`` (every book trade
    against the fundamental of its step) and ``max_dislocation``, the larger: the numbers
    of the run summary (`abm.market.measures.price_dislocations`).
    """
    return price_dislocations(market, trades, from_step)


# --- summary -----------------------------------------------------------------------------------


def market_quality_summary(
    result_or_tables: RunResult | Mapping[str, pd.DataFrame],
    *,
    horizon_steps: int = 10,
    tick_size: float | None = None,
    depth_n_ticks: int = 5,
    variance_ratio_q: int = 10,
    resiliency_k: float = 2.0,
) -> dict[str, float]:
    """Headline market-quality numbers of one run as a flat dict of floats.

    Args:
        result_or_tables: A `RunResult`, or a mapping with ``market`` and ``trades`` tables and
            optionally ``depth``.
        horizon_steps: Horizon of the realized spread and price impact.
        tick_size: Price units per tick; None reads ``tick_size`` from the run's scenario.
        depth_n_ticks: Band for the depth-within-N-ticks numbers (depth table only).
        variance_ratio_q: Horizon of the variance ratio of the mid.
        resiliency_k: Spread shock threshold, a multiple of the median spread.

    Returns:
        Keys for quoted/effective/realized spreads and price impact (price units, ticks, bps),
        mean side depth, Kyle's lambda with SE/R^2/n, Amihud illiquidity, resiliency, mispricing,
        variance ratio with z; plus touch/within-N depth and OFI regression when a non-empty
        depth table is present. A measure the run cannot support (for example no trades) is NaN.

        What each average is over: ``quoted_spread*``, ``mispricing_mean*`` and the variance
        ratio over steps with a two-sided book (a one-sided book has neither spread nor mid),
        whose share of all steps is ``two_sided_fraction``, beside ``one_sided_fraction`` and
        ``empty_book_fraction`` (`abm.market.measures.book_sidedness`; the three sum to 1);
        ``bid_depth_mean`` and ``ask_depth_mean`` (lots resting on the whole side) over every
        step, an empty side counting 0; the ``depth_*`` keys over the depth snapshots; the
        trade-based spreads over book trades, weighted by quantity. ``max_dislocation``,
        ``max_mid_dislocation`` and ``max_trade_dislocation`` (`max_dislocation`) cover mids
        and trade prices, so a crash through a one-sided book shows.

    Raises:
        ValueError: If ``tick_size`` is None and cannot be read from a `RunResult` scenario.
    """
    if isinstance(result_or_tables, RunResult):
        tables: Mapping[str, Any] = {
            "market": result_or_tables.market,
            "trades": result_or_tables.trades,
            # the depth table is optional and absent from runs saved before it existed
            "depth": getattr(result_or_tables, "depth", None),
        }
        if tick_size is None:
            tick_size = result_or_tables.scenario.tick_size
    else:
        tables = result_or_tables
    if tick_size is None or not tick_size > 0:
        raise ValueError(f"pass a positive tick_size (price units per tick), got {tick_size}")
    market, trades = tables["market"], tables["trades"]
    quoted = quoted_spread(market)
    out: dict[str, float] = {"horizon_steps": float(horizon_steps), "tick_size": float(tick_size)}
    out |= book_sidedness(market)
    out["quoted_spread"] = _nanmean(quoted["spread"])
    out["quoted_spread_ticks"] = out["quoted_spread"] / tick_size
    out["quoted_spread_bps"] = _nanmean(quoted["spread_bps"])
    out |= trade_cost_summary(trades, market, horizon_steps=horizon_steps)
    out["effective_spread_ticks"] = out["effective_spread"] / tick_size
    out["bid_depth_mean"] = float(market["bid_depth"].mean())
    out["ask_depth_mean"] = float(market["ask_depth"].mean())
    flow = interval_flow(market, trades)
    out |= _regression_keys(
        "kyle_lambda", _maybe(lambda: kyle_lambda(flow["mid_change"], flow["signed_flow"]))
    )
    amihud = _maybe(lambda: amihud_illiquidity(flow["log_return"], flow["dollar_volume"]))
    out["amihud_illiquidity"] = math.nan if amihud is None else amihud
    res = _maybe(lambda: spread_resiliency(quoted["spread"], k=resiliency_k))
    out["resiliency_shocks"] = math.nan if res is None else float(res.shock_positions.size)
    out["resiliency_mean_recovery_steps"] = math.nan if res is None else res.mean_recovery_steps
    out["resiliency_half_life_steps"] = math.nan if res is None else res.half_life_steps
    out["mispricing_mean"] = mean_abs_mispricing(market)
    out["mispricing_mean_ticks"] = out["mispricing_mean"] / tick_size
    out |= max_dislocation(market, trades)
    mid = market["mid"].to_numpy(float)
    vr = _maybe(lambda: variance_ratio(mid[np.isfinite(mid)], variance_ratio_q))
    out["variance_ratio"] = math.nan if vr is None else vr.ratio
    out["variance_ratio_z"] = math.nan if vr is None else vr.z
    depth = tables.get("depth")
    if depth is not None and len(depth):
        profile = depth_profile(depth, depth_n_ticks, tick_size)
        for column in ("bid_touch", "ask_touch", "bid_within", "ask_within"):
            out[f"depth_{column}_mean"] = float(profile[column].mean())
        ofi = depth_ofi(depth)
        out |= _regression_keys(
            "ofi", _maybe(lambda: ofi_regression(ofi["ofi"], ofi["mid_change"]))
        )
    return out


def _maybe(compute: Callable[[], _T]) -> _T | None:
    """Run ``compute``; None when the run's data cannot support the measure (shown as NaN)."""
    try:
        return compute()
    except InsufficientDataError:
        return None


def _nanmean(values: Any) -> float:
    array = np.asarray(values, dtype=float)
    return float(np.nanmean(array)) if np.isfinite(array).any() else math.nan


def _regression_keys(prefix: str, fit: Regression | None) -> dict[str, float]:
    if fit is None:
        return {
            prefix: math.nan,
            f"{prefix}_se": math.nan,
            f"{prefix}_r2": math.nan,
            f"{prefix}_n": 0.0,
        }
    return {
        prefix: fit.slope,
        f"{prefix}_se": fit.slope_se,
        f"{prefix}_r2": fit.r_squared,
        f"{prefix}_n": float(fit.n),
    }
