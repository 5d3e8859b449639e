"""Crisis metrics of one run: defaults and cascades, losses by channel, liquidity around a shock.

Pure functions over a `RunResult` and its tables (DESIGN.md section 7); nothing here imports the
model. Amounts are in price units, quantities in lots, times in steps.

Conventions of the tables read here (`abm.contagion.engine` writes them):

- ``default`` events carry ``wave`` ``k``: ``k = 0`` for a default shock, ``k >= 1``
  for the ``k``-th wave of the step's default cascade (wave ``k + 1`` fails on the write-downs
  and fire sales of wave ``k``). ``writedown`` events name the creditor (``agent_id``), the
  defaulter (``counterparty``) and the loss (``amount``).
- Forced sales (``liquidation``, ``margin_call``) log the signed quantity done (``amount``) and
  ``notional``, the ``mid`` before the sale and the ``venue`` in those columns.
- ``hot_potato`` events carry ``hop`` ``k``: the inventory has passed ``k`` dealers since the
  inventory shock that started it.

`crisis_summary` gathers everything into one dict around a shock step. The network side
(DebtRank of the shock, `network_figure`) lives in `analysis.contagion_network`;
`network_figure` is re-exported here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from abm.market.measures import price_dislocations
from abm.results.events import EventKind
from abm.results.run_result import RunResult
from analysis.contagion_network import network_figure, shock_debtrank
from analysis.tables import FORCED_SALE_KINDS, events_of_kind

SHOCK_EVENT_KINDS = (
    EventKind.LOSS,
    EventKind.INVENTORY_SHOCK,
    EventKind.PRICE_GAP,
    EventKind.CREDIT_FREEZE,
    EventKind.WITHDRAWAL,
)
"""Event kinds that scheduled shocks write (with ``default`` events of wave 0)."""


@dataclass(frozen=True, slots=True)
class CrisisWindow:
    """Windows around a shock step ``s`` (steps, each > 0).

    ``before`` is steps ``[s - before, s)``, ``during`` is ``[s, s + during)`` and ``after`` is
    ``[s + during, s + during + after)``, each clipped to the run's steps ``1..T`` (step 0 is
    the empty book before trading).
    """

    before: int = 50
    during: int = 20
    after: int = 100

    def __post_init__(self) -> None:
        for name in ("before", "during", "after"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(
                    f"CrisisWindow.{name} must be a positive number of steps, got {value!r}"
                )

    def bounds(self, shock_step: int) -> dict[str, tuple[int, int]]:
        """Half-open ``[start, stop)`` step ranges of the three windows, before clipping."""
        during_end = shock_step + self.during
        return {
            "before": (shock_step - self.before, shock_step),
            "during": (shock_step, during_end),
            "after": (during_end, during_end + self.after),
        }


def _lots(events: pd.DataFrame, kind: EventKind) -> int:
    """Total ``|amount|`` of the events of one kind whose amount is a signed quantity."""
    return int(np.abs(_amounts(events, kind)).sum())


def _amounts(events: pd.DataFrame, kind: EventKind) -> np.ndarray:
    """The ``amount`` of each event of one kind, in table order."""
    return events_of_kind(events, kind)["amount"].to_numpy(dtype=float)


def default_waves(events: pd.DataFrame) -> pd.DataFrame:
    """Per step with a default: how many market makers defaulted and the deepest wave.

    Returns:
        Columns ``step``, ``defaults`` and ``max_wave`` (0 when only default shocks hit), one
        row per step that has ``default`` events, in step order.
    """
    defaults = events_of_kind(events, EventKind.DEFAULT)
    waves = defaults["wave"].to_numpy(dtype=np.int64)
    frame = pd.DataFrame({"step": defaults["step"].to_numpy(dtype=np.int64), "wave": waves})
    table = frame.groupby("step", sort=True)["wave"].agg(["size", "max"]).reset_index()
    table.columns = ["step", "defaults", "max_wave"]
    return table.astype({"step": "int64", "defaults": "int64", "max_wave": "int64"})


def cascade_depth(events: pd.DataFrame) -> int:
    """The deepest default wave of any step (0 without defaults or with only default shocks).

    The run summary's ``cascade_waves`` counts a default shock as one wave, so it equals
    ``max(cascade_depth, 1)`` when a default shock hit and ``cascade_depth`` otherwise.
    """
    table = default_waves(events)
    return int(table["max_wave"].max()) if len(table) else 0


def forced_sale_costs(events: pd.DataFrame, market: pd.DataFrame | None = None) -> np.ndarray:
    """Cost of each forced sale against the mid before it: ``s (p - mid)``, >= 0 when it hurt.

    ``s`` is the signed quantity (``amount``) and ``p = notional / |s|`` the average price, so
    a sale below the mid or a purchase above it costs a positive amount. Where the book had a
    side empty (``mid`` NaN) the fundamental of that step (from ``market``) stands in for the
    mid; without ``market`` such sales cost NaN, as do events without a ``notional``.

    Returns:
        One cost per ``liquidation`` or ``margin_call`` event, in table order.
    """
    forced = events_of_kind(events, *FORCED_SALE_KINDS)
    qty = forced["amount"].to_numpy(dtype=float)
    notional = forced["notional"].to_numpy(dtype=float)
    mids = forced["mid"].to_numpy(dtype=float, copy=True)
    empty = np.isnan(mids)
    if market is not None and empty.any():
        fundamental = market.set_index("step")["fundamental"]
        steps = forced["step"].to_numpy(dtype=np.int64)[empty]
        mids[empty] = fundamental.loc[steps].to_numpy(dtype=float)
    return np.sign(qty) * notional - qty * mids


def losses_by_channel(events: pd.DataFrame, market: pd.DataFrame | None = None) -> dict[str, float]:
    """Total losses per channel (positive numbers, price units).

    ``writedown``: creditors' write-downs on defaulted borrowers; ``loss_shock``: exogenous loss
    shocks as scheduled; ``forced_sale``: `forced_sale_costs` summed (price concession of forced
    selling against the mid).
    """
    return {
        "writedown": math.fsum(_amounts(events, EventKind.WRITEDOWN)),
        "loss_shock": math.fsum(_amounts(events, EventKind.LOSS)),
        "forced_sale": math.fsum(forced_sale_costs(events, market).tolist()),
    }


def infer_shock_step(result: RunResult) -> int:
    """The step of the run's first shock: the first shock event, else the scenario's first shock.

    Shock events are `SHOCK_EVENT_KINDS` and ``default`` events of wave 0. Shocks that write no
    event (volatility, margin hike, toxic flow) are found in the scenario's ``shocks`` list.

    Raises:
        ValueError: If the run has neither shock events nor scheduled shocks; pass
            ``shock_step`` explicitly then.
    """
    events = result.events
    first_wave = (events["kind"] == EventKind.DEFAULT).to_numpy(dtype=bool) & (
        events["wave"] == 0
    ).to_numpy(dtype=bool, na_value=False)
    shock = events["kind"].isin(SHOCK_EVENT_KINDS).to_numpy(dtype=bool) | first_wave
    if shock.any():
        return int(events["step"].to_numpy(dtype=np.int64)[shock].min())
    steps = [shock_spec.step for shock_spec in result.scenario.shocks]
    if not steps:
        raise ValueError("the run has no shock events and no scheduled shocks; pass shock_step")
    return min(steps)


# --- liquidity around the shock ----------------------------------------------------------------


def _window_mean(values: np.ndarray, steps: np.ndarray, start: int, stop: int) -> float:
    """Mean of the finite ``values`` at steps in ``[max(start, 1), stop)``; NaN if none."""
    inside = (steps >= max(start, 1)) & (steps < stop) & np.isfinite(values)
    return float(values[inside].mean()) if inside.any() else math.nan


def liquidity_windows(
    market: pd.DataFrame, shock_step: int, window: CrisisWindow | None = None
) -> dict[str, float]:
    """Mean quoted spread and resting depth before, during and after ``shock_step``.

    The spread is averaged over the steps with both sides quoted; depth is ``bid_depth +
    ask_depth`` (lots) at the end of each step. Keys ``spread_before``, ``spread_during``,
    ``spread_after``, ``depth_before``, ``depth_during``, ``depth_after``; NaN for an empty
    window.
    """
    window = window or CrisisWindow()
    steps = market["step"].to_numpy(dtype=np.int64)
    spread = market["spread"].to_numpy(dtype=float)
    depth = market["bid_depth"].to_numpy(dtype=float) + market["ask_depth"].to_numpy(dtype=float)
    stats: dict[str, float] = {}
    for name, (start, stop) in window.bounds(shock_step).items():
        stats[f"spread_{name}"] = _window_mean(spread, steps, start, stop)
        stats[f"depth_{name}"] = _window_mean(depth, steps, start, stop)
    return stats


def recovery_steps(
    spread: Any, start: int, baseline: float, *, tolerance: float = 0.25, smooth_steps: int = 20
) -> float:
    """Steps from ``start`` until the spread is back within ``tolerance`` of ``baseline``.

    The spread counts as recovered at index ``u >= start`` when the mean of its finite values
    over ``spread[u : u + smooth_steps]`` is within ``tolerance * baseline`` of ``baseline``
    (a relative tolerance; ``smooth_steps = 1`` reads the raw series). A window without a
    two-sided quote is not recovered.

    Args:
        spread: Spread per step (price units; NaN where a side was empty), indexed by step.
        start: The shock's index in ``spread``.
        baseline: The pre-shock level (price units, > 0).
        tolerance: Relative tolerance, >= 0.
        smooth_steps: Length of the forward averaging window, >= 1.

    Returns:
        ``u - start`` for the first recovered ``u``; NaN if the spread never recovers or the
        baseline is not a positive number.

    Raises:
        ValueError: If ``tolerance < 0`` or ``smooth_steps < 1``.
    """
    if tolerance < 0 or smooth_steps < 1:
        raise ValueError(
            f"need tolerance >= 0 and smooth_steps >= 1, got {tolerance} and {smooth_steps}"
        )
    values = np.asarray(spread, dtype=float)
    if not (math.isfinite(baseline) and baseline > 0):
        return math.nan
    finite = np.isfinite(values)
    sums = np.concatenate([[0.0], np.cumsum(np.where(finite, values, 0.0))])
    counts = np.concatenate([[0], np.cumsum(finite)])
    for u in range(max(start, 0), len(values)):
        stop = min(u + smooth_steps, len(values))
        count = counts[stop] - counts[u]
        if count and abs((sums[stop] - sums[u]) / count - baseline) <= tolerance * baseline:
            return float(u - start)
    return math.nan


def max_dislocation(
    market: pd.DataFrame, from_step: int = 0, trades: pd.DataFrame | None = None
) -> float:
    """Largest ``|price - fundamental|`` over steps ``>= from_step``: mids and book trades.

    Mids count where the book is two-sided; with ``trades``, every book trade counts against
    the fundamental of its step (`abm.market.measures.price_dislocations`, the summary's
    ``max_dislocation``), so a crash through a one-sided book shows.
    """
    if trades is None:
        trades = pd.DataFrame({"step": [], "price": [], "venue": []})
    return price_dislocations(market, trades, from_step)["max_dislocation"]


# --- the summary ------------------------------------------------------------------------------


def crisis_summary(
    result: RunResult,
    *,
    shock_step: int | None = None,
    window: CrisisWindow | None = None,
    tolerance: float = 0.25,
    smooth_steps: int = 20,
) -> dict[str, Any]:
    """Crisis metrics of one run around a shock step: plain ints, floats (NaN if undefined), dicts.

    Keys:

    - ``shock_step``: as given, or `infer_shock_step`.
    - ``defaults``: market makers that defaulted; ``cascade_depth``: `cascade_depth`;
      ``first_default_step`` (None without defaults).
    - ``losses_by_channel``: `losses_by_channel` (``writedown``, ``loss_shock``,
      ``forced_sale``).
    - ``debtrank`` (``R``, weighted distress beyond the shock) and ``debtrank_shock`` (the
      shock's own weighted distress ``sum_j v_j h_j(1)``) of `shock_debtrank`; NaN without
      market makers.
    - ``spread_before`` ... ``depth_after``: `liquidity_windows` with ``window``.
    - ``spread_recovery_steps``: `recovery_steps` from the shock step with ``spread_before`` as
      the baseline (NaN if it never recovers).
    - ``max_dislocation`` (whole run) and ``max_dislocation_after`` (from the shock step on):
      `max_dislocation`.
    - ``forced_sale_volume`` = ``liquidation_volume + margin_call_volume`` (lots).
    - ``interdealer_volume`` (lots of ``venue == "interdealer"`` trades), ``inventory_shock_volume``
      (lots injected by inventory shocks) and ``interdealer_multiplier``, their ratio (Lyons
      1997's hot-potato multiplier; NaN without inventory shocks).
    - ``hot_potato_passes`` and ``hot_potato_max_hops`` (dealers the inventory travelled).

    Raises:
        ValueError: If ``shock_step`` is None and cannot be inferred, or the recovery
            parameters are invalid.
    """
    step = infer_shock_step(result) if shock_step is None else int(shock_step)
    window = window or CrisisWindow()
    events, market, trades = result.events, result.market.sort_values("step"), result.trades
    defaults = events_of_kind(events, EventKind.DEFAULT)
    waves = default_waves(events)
    rank = shock_debtrank(result, step)
    liquidity = liquidity_windows(market, step, window)
    steps = market["step"].to_numpy(dtype=np.int64)
    spread = market["spread"].to_numpy(dtype=float)
    start = int(np.searchsorted(steps, step))
    baseline = liquidity["spread_before"]
    recovery = recovery_steps(
        spread, start, baseline, tolerance=tolerance, smooth_steps=smooth_steps
    )
    volumes = {kind: _lots(events, kind) for kind in FORCED_SALE_KINDS}
    interdealer = int(trades.loc[trades["venue"] == "interdealer", "qty"].sum())
    injected = _lots(events, EventKind.INVENTORY_SHOCK)
    potato = events_of_kind(events, EventKind.HOT_POTATO)
    hops = potato["hop"].to_numpy(dtype=np.int64).tolist()
    return {
        "shock_step": step,
        "defaults": int(defaults["agent_id"].nunique()),
        "cascade_depth": cascade_depth(events),
        "first_default_step": int(waves["step"].iloc[0]) if len(waves) else None,
        "losses_by_channel": losses_by_channel(events, market),
        "debtrank": rank.result.debtrank if rank is not None else math.nan,
        "debtrank_shock": rank.initial_distress if rank is not None else math.nan,
        **liquidity,
        "spread_recovery_steps": recovery,
        "max_dislocation": max_dislocation(market, trades=trades),
        "max_dislocation_after": max_dislocation(market, step, trades),
        "forced_sale_volume": volumes[EventKind.LIQUIDATION] + volumes[EventKind.MARGIN_CALL],
        "liquidation_volume": volumes[EventKind.LIQUIDATION],
        "margin_call_volume": volumes[EventKind.MARGIN_CALL],
        "interdealer_volume": interdealer,
        "inventory_shock_volume": injected,
        "interdealer_multiplier": interdealer / injected if injected else math.nan,
        "hot_potato_passes": len(hops),
        "hot_potato_max_hops": max(hops, default=0),
    }


__all__ = [
    "FORCED_SALE_KINDS",
    "SHOCK_EVENT_KINDS",
    "CrisisWindow",
    "cascade_depth",
    "crisis_summary",
    "default_waves",
    "forced_sale_costs",
    "infer_shock_step",
    "liquidity_windows",
    "losses_by_channel",
    "max_dislocation",
    "network_figure",
    "recovery_steps",
]
