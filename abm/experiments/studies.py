"""Validation studies: published experiments rerun on our model, as pure functions over runs.

Each study runs a shipped scenario over replicate seeds and returns a DataFrame that can be
set beside the publication. Replicate seeds come from ``numpy.random.SeedSequence(root)``
(DESIGN.md section 6), so a study is reproducible and independent of the machine.

* :func:`avellaneda_stoikov_table`: Avellaneda & Stoikov (2008), section 3.3 and Tables 1-3:
  the inventory strategy against the symmetric strategy with the same average spread.
* :func:`glosten_milgrom_convergence`: Glosten & Milgrom (1985): per-seed first and final
  quotes, when the quotes settle on the true value, and who earned what.

References:
    Avellaneda, M. and Stoikov, S. (2008). High-frequency trading in a limit order book.
    Quantitative Finance 8(3), 217-224.
    Glosten, L. R. and Milgrom, P. R. (1985). Bid, ask and transaction prices in a specialist
    market with heterogeneously informed traders. Journal of Financial Economics 14(1), 71-100.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from abm.errors import AbmError
from abm.results.run_result import RunResult
from abm.run import run
from abm.scenario.schema import Scenario, load_scenario

AVELLANEDA_STOIKOV_SCENARIO = "avellaneda_stoikov_2008"
"""The bundled scenario of `avellaneda_stoikov_table` (``scenarios/<name>.yaml``)."""
GLOSTEN_MILGROM_SCENARIO = "glosten_milgrom"
"""The bundled scenario of `glosten_milgrom_convergence` (``scenarios/<name>.yaml``)."""

AS_TABLE_COLUMNS = (
    "gamma",
    "strategy",
    "n_runs",
    "average_spread",
    "profit_mean",
    "profit_mean_se",
    "profit_std",
    "profit_std_se",
    "final_q_mean",
    "final_q_mean_se",
    "final_q_std",
    "final_q_std_se",
    "paper_average_spread",
    "paper_profit_mean",
    "paper_profit_std",
    "paper_final_q_mean",
    "paper_final_q_std",
)
GM_COLUMNS = (
    "seed",
    "value",
    "first_bid",
    "first_ask",
    "final_bid",
    "final_ask",
    "converged_step",
    "trades",
    "mm_pnl",
    "informed_pnl",
    "noise_pnl",
)


class StudyError(AbmError, ValueError):
    """A study was asked for something it cannot do; the message says what to change."""


class Strategy(StrEnum):
    """The two market makers of Avellaneda & Stoikov (2008), section 3.3."""

    INVENTORY = "inventory"
    SYMMETRIC = "symmetric"


@dataclass(frozen=True, slots=True)
class PaperRow:
    """One row of a published table: average spread, then mean and sd of profit and final q."""

    average_spread: float
    profit_mean: float
    profit_std: float
    final_q_mean: float
    final_q_std: float


AVELLANEDA_STOIKOV_2008_TABLES: Mapping[float, Mapping[Strategy, PaperRow]] = MappingProxyType(
    {
        0.1: MappingProxyType(
            {
                Strategy.INVENTORY: PaperRow(1.49, 65.0, 6.6, 0.08, 2.9),
                Strategy.SYMMETRIC: PaperRow(1.49, 68.4, 12.7, 0.26, 8.4),
            }
        ),
        0.01: MappingProxyType(
            {
                Strategy.INVENTORY: PaperRow(1.35, 68.6, 8.7, 0.12, 5.1),
                Strategy.SYMMETRIC: PaperRow(1.35, 68.8, 12.8, 0.09, 8.7),
            }
        ),
        1.0: MappingProxyType(
            {
                Strategy.INVENTORY: PaperRow(3.02, 31.4, 5.0, 0.02, 1.7),
                Strategy.SYMMETRIC: PaperRow(3.02, 44.0, 11.0, 0.00, 5.1),
            }
        ),
    }
)
"""Tables 1-3 of the journal article (1000 simulations each), keyed by gamma.

Transcribed from two independent secondary transcriptions of the journal pages 222-223,
which agree on every entry; the publisher's PDF itself was not consulted. The October 2006
working paper of the same title prints different numbers (for example gamma = 0.1: spread
1.29, inventory 62.94 / 5.89 / 0.10 / 2.80, symmetric 67.21 / 13.43 / -0.018 / 8.66, and a
third table for gamma = 0.5 rather than 1); those are not the published values.
"""


def unpublished_gamma_note(gamma: float) -> str | None:
    """Say that the journal has no table for ``gamma`` (naming those it has), or return None.

    The paper's columns of :func:`avellaneda_stoikov_table` are NaN for such a gamma: our
    study runs, but there is nothing published to set beside it.
    """
    if float(gamma) in AVELLANEDA_STOIKOV_2008_TABLES:
        return None
    published = ", ".join(f"{value:g}" for value in sorted(AVELLANEDA_STOIKOV_2008_TABLES))
    return (
        f"Avellaneda & Stoikov (2008) publish no row for gamma {gamma:g} (their Tables 1-3 "
        f"are for gamma {published}); the paper columns stay empty"
    )


def replicate_seeds(n: int, root_seed: int) -> list[int]:
    """Seeds of ``n`` replicate runs: ``SeedSequence(root_seed).spawn(n)``, one word each.

    Raises:
        StudyError: If ``n < 1`` or ``root_seed < 0``.
    """
    if n < 1:
        raise StudyError(f"the number of replicate seeds must be >= 1, got {n}")
    if root_seed < 0:
        raise StudyError(f"root_seed must be >= 0, got {root_seed}")
    children = np.random.SeedSequence(root_seed).spawn(n)
    return [int(child.generate_state(1)[0]) for child in children]


def market_maker_quotes(result: RunResult) -> pd.DataFrame:
    """The bid and ask the run's single market maker posted at each step, before takers acted.

    The ``agents`` table holds end-of-step quotes, so a side that was hit during the step is
    missing there. It is restored from the fill in which the market maker was the maker on
    that side (its trade price is the quote). Using only the end-of-step rows would drop the
    quotes nearest the reference, which are the ones most likely to fill.

    Args:
        result: A finished run with exactly one market maker.

    Returns:
        A frame indexed by ``step`` (1, 2, ...) with float columns ``bid`` and ``ask``
        (price units; NaN where that side was not quoted).

    Raises:
        StudyError: If the run has no market maker or more than one.
    """
    agents = result.agents
    rows = agents[agents["kind"] == "market_maker"]
    ids = rows["agent_id"].unique()
    if len(ids) != 1:
        raise StudyError(f"this needs a run with exactly one market maker, found {len(ids)}")
    mm_id = int(ids[0])
    quoted = rows[rows["step"] > 0].set_index("step")[["bid", "ask"]]
    trades = result.trades
    ask_hits = trades[(trades["seller"] == mm_id) & (trades["aggressor"] == "buy")]
    bid_hits = trades[(trades["buyer"] == mm_id) & (trades["aggressor"] == "sell")]
    return pd.DataFrame(
        {
            "bid": quoted["bid"].fillna(bid_hits.groupby("step")["price"].max()),
            "ask": quoted["ask"].fillna(ask_hits.groupby("step")["price"].min()),
        }
    )


def mean_and_std_se(values: np.ndarray) -> tuple[float, float, float, float]:
    """Mean, its standard error, sd (ddof=1), its standard error (delta method, kurtosis).

    ``Var(s) ~ s**2 (kappa - 1) / (4 n)`` with ``kappa`` the (non-excess) kurtosis; for a
    normal sample (kappa = 3) that is the familiar ``s / sqrt(2 n)`` (Casella & Berger 2002,
    section 5.5.4). ``values`` should hold at least two finite numbers: a NaN spreads to every
    result, and the standard deviation needs two values.
    """
    n = len(values)
    mean = float(values.mean())
    std = float(values.std(ddof=1))
    centred = values - mean
    second = float(np.mean(centred**2))
    kurtosis = float(np.mean(centred**4)) / second**2 if second > 0 else 3.0
    return mean, std / math.sqrt(n), std, std * math.sqrt(max(kurtosis - 1, 0.0) / (4 * n))


def _single_group(scenario: Scenario, kind: str, path: str) -> str:
    groups = scenario.groups_of(kind)
    if len(groups) != 1 or next(iter(groups.values())).count != 1:
        raise StudyError(f"{path}: the study needs exactly one {kind} group with count 1")
    return next(iter(groups))


def _as_runs(scenario: Scenario, seeds: Sequence[int]) -> tuple[np.ndarray, np.ndarray, float]:
    """Final pnl and inventory of every run, and the spread quoted, pooled over runs and steps."""
    pnl = np.empty(len(seeds))
    final_q = np.empty(len(seeds))
    spread_sum = 0.0
    spread_count = 0
    for i, seed in enumerate(seeds):
        result = run(scenario, seed=seed)
        pnl[i] = result.summary["mm_pnl_mean"]
        final_q[i] = result.summary["mm_inventory_final_mean"]
        quotes = market_maker_quotes(result)
        spread = (quotes["ask"] - quotes["bid"]).dropna()
        spread_sum += float(spread.sum())
        spread_count += len(spread)
    if spread_count == 0:
        raise StudyError("the market maker never quoted both sides; no average spread exists")
    return pnl, final_q, spread_sum / spread_count


def avellaneda_stoikov_table(
    n_seeds: int = 1000,
    *,
    gamma: float = 0.1,
    root_seed: int = 2008,
    scenario_path: str | None = None,
) -> pd.DataFrame:
    """Avellaneda & Stoikov (2008) section 3.3 and Tables 1-3, rerun beside the paper.

    The inventory strategy (eqs. 29-30 with risk aversion ``gamma``) runs over ``n_seeds``
    replicate seeds. Its average quoted spread (ask minus bid at quoting time, pooled over all
    runs and steps where both sides were quoted; see :func:`market_maker_quotes`) then becomes
    the constant spread of the symmetric strategy, which runs on the same seeds (common random
    numbers: the same price paths and taker draws). Our quotes lie on the scenario's tick grid,
    rounded outward, so each quoted spread is on average one tick wider than the formula's.

    Profit is the market maker's pnl at the horizon marked at the fundamental (the paper's
    ``X_T + q_T S_T``, starting from zero); final q its inventory at the horizon.

    Args:
        n_seeds: Replicate runs per strategy (>= 2); the paper used 1000. About 30-40 ms per
            run, so the default takes one to two minutes.
        gamma: Risk aversion of the inventory strategy (> 0). The paper's columns are filled
            for 0.1, 0.01 and 1 (its Tables 1, 2 and 3) and NaN otherwise.
        root_seed: Root of the replicate seeds (:func:`replicate_seeds`).
        scenario_path: The scenario to run; defaults to the shipped
            ``scenarios/avellaneda_stoikov_2008.yaml``. It must have one market-maker group
            of one agent quoting with the ``avellaneda_stoikov`` policy.

    Returns:
        One row per strategy (``inventory``, then ``symmetric``) with the columns of
        ``AS_TABLE_COLUMNS``: ours (with standard errors, ``_se``) and the paper's
        (``paper_``), all in price units or lots.

    Raises:
        StudyError: If ``n_seeds < 2``, ``gamma <= 0`` or the scenario does not fit.
        ScenarioError: If the scenario file cannot be read or is invalid.
    """
    if n_seeds < 2:
        raise StudyError(f"n_seeds must be >= 2 to estimate a standard deviation, got {n_seeds}")
    if not (math.isfinite(gamma) and gamma > 0):
        raise StudyError(f"gamma must be a positive number, got {gamma!r}")
    path = scenario_path if scenario_path is not None else AVELLANEDA_STOIKOV_SCENARIO
    scenario = load_scenario(path)
    mm = _single_group(scenario, "market_maker", path)
    if scenario.agents[mm].policy.kind != "avellaneda_stoikov":  # type: ignore[union-attr]
        raise StudyError(f"{path}: agents.{mm}.policy.kind must be 'avellaneda_stoikov'")
    seeds = replicate_seeds(n_seeds, root_seed)
    inventory = scenario.override({f"agents.{mm}.policy.gamma": gamma})
    runs: dict[Strategy, tuple[np.ndarray, np.ndarray, float]] = {}
    runs[Strategy.INVENTORY] = _as_runs(inventory, seeds)
    symmetric_policy = {"kind": "symmetric", "spread": runs[Strategy.INVENTORY][2]}
    symmetric = inventory.override({f"agents.{mm}.policy": symmetric_policy})
    runs[Strategy.SYMMETRIC] = _as_runs(symmetric, seeds)
    paper = AVELLANEDA_STOIKOV_2008_TABLES.get(float(gamma))
    rows = []
    for strategy, (pnl, final_q, spread) in runs.items():
        published = paper[strategy] if paper is not None else PaperRow(*[math.nan] * 5)
        rows.append(
            (
                float(gamma),
                strategy.value,
                n_seeds,
                spread,
                *mean_and_std_se(pnl),
                *mean_and_std_se(final_q),
                published.average_spread,
                published.profit_mean,
                published.profit_std,
                published.final_q_mean,
                published.final_q_std,
            )
        )
    frame = pd.DataFrame(rows, columns=list(AS_TABLE_COLUMNS))
    return frame.astype({"strategy": "string", "n_runs": "int64"})


def format_avellaneda_stoikov_table(table: pd.DataFrame) -> str:
    """Render :func:`avellaneda_stoikov_table` as fixed-width text, ours beside the paper's.

    Each statistic shows ours (``value +- standard error`` where one exists) then the paper's.

    Raises:
        StudyError: If a column of ``AS_TABLE_COLUMNS`` is missing or the table is empty.
    """
    missing = [c for c in AS_TABLE_COLUMNS if c not in table.columns]
    if missing or table.empty:
        absent = ", ".join(missing) or "every row"
        raise StudyError(f"not an avellaneda_stoikov_table result; missing {absent}")
    stats = (
        ("spread", "average_spread", None, 3),
        ("profit", "profit_mean", "profit_mean_se", 2),
        ("std(profit)", "profit_std", "profit_std_se", 2),
        ("final q", "final_q_mean", "final_q_mean_se", 3),
        ("std(final q)", "final_q_std", "final_q_std_se", 2),
    )
    ours_width, paper_width = 15, 8
    head1 = f"{'':<10}" + "".join(f"{name:^{ours_width + paper_width}}" for name, *_ in stats)
    head2 = f"{'strategy':<10}" + f"{'ours':>{ours_width}}{'paper':>{paper_width}}" * len(stats)
    lines = [head1.rstrip(), head2, "-" * len(head2)]
    for _, row in table.iterrows():
        cells = [f"{row['strategy']:<10}"]
        for _, column, se_column, digits in stats:
            ours = f"{row[column]:.{digits}f}"
            if se_column is not None:
                ours += f" +-{row[se_column]:.{digits}f}"
            paper = row["paper_" + column]
            published = "-" if math.isnan(paper) else f"{paper:.{digits}f}"
            cells.append(f"{ours:>{ours_width}}{published:>{paper_width}}")
        lines.append("".join(cells))
    first = table.iloc[0]
    note = unpublished_gamma_note(first["gamma"])
    source = (
        "paper: Avellaneda & Stoikov (2008), Quantitative Finance 8(3), Tables 1-3, 1000 runs each"
        if note is None
        else note
    )
    lines.append(f"gamma = {first['gamma']:g}; {int(first['n_runs'])} runs per strategy; {source}")
    return "\n".join(lines)


def _first_settled_step(quotes: pd.DataFrame, value: float, tolerance: float) -> float:
    """First step from which the quote midpoint stays within ``tolerance`` of ``value``."""
    mid = ((quotes["bid"] + quotes["ask"]) / 2).to_numpy()
    close = np.abs(mid - value) < tolerance  # NaN compares False: an unquoted step is not close
    if len(close) == 0 or not close[-1]:
        return math.nan
    outside = np.flatnonzero(~close)
    first = 0 if len(outside) == 0 else int(outside[-1]) + 1
    return float(quotes.index[first])


def glosten_milgrom_convergence(
    n_seeds: int = 200,
    *,
    steps: int = 10000,
    root_seed: int = 1985,
    tolerance: float = 0.05,
    scenario_path: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Glosten & Milgrom (1985) learning dealer: how quotes converge, and who pays whom.

    Runs the scenario over ``n_seeds`` replicate seeds. In the model the dealer's ask is
    ``E[V | buy]`` and bid ``E[V | sell]``: they start at 5.50 / 6.50 for a value of 1 or 11
    with equal odds and 10% informed traders, and move towards the true value as trades
    reveal it; the dealer's expected profit is zero, its losses to informed traders paid
    by the noise traders.

    Args:
        n_seeds: Replicate runs (>= 1); about 0.3 s each at 10000 steps (1000 trades).
        steps: Steps per run (> 0).
        root_seed: Root of the replicate seeds (:func:`replicate_seeds`).
        tolerance: How close (price units) the quote midpoint must stay to the value for
            ``converged_step``; 0.05 is five ticks of the shipped scenario.
        scenario_path: Defaults to the shipped ``scenarios/glosten_milgrom.yaml``; it must
            have a single market maker (one group of count 1).
        overrides: Dotted-path changes applied to the scenario first (``Scenario.override``).

    Returns:
        One row per seed with the columns of ``GM_COLUMNS``: ``seed``; ``value`` (the true
        value); ``first_bid``/``first_ask`` (quotes posted at step 1) and
        ``final_bid``/``final_ask`` (at the last step), before takers acted (see
        :func:`market_maker_quotes`); ``converged_step``, the first step from which the quote
        midpoint stays within ``tolerance`` of the value to the end (NaN if it is not within
        at the last step); ``trades`` (fills); and the final pnl, marked at the value, of the
        market maker and summed over the informed and over the noise traders (NaN for a kind
        that is absent). The three pnls sum to zero.

    Raises:
        StudyError: If ``n_seeds < 1``, ``steps < 1``, ``tolerance <= 0`` or the scenario does
            not have a single market maker.
        ScenarioError: If the scenario cannot be read, or an override is invalid.
    """
    if steps < 1:
        raise StudyError(f"steps must be >= 1, got {steps}")
    if not (math.isfinite(tolerance) and tolerance > 0):
        raise StudyError(f"tolerance must be a positive price, got {tolerance!r}")
    seeds = replicate_seeds(n_seeds, root_seed)
    path = scenario_path if scenario_path is not None else GLOSTEN_MILGROM_SCENARIO
    scenario = load_scenario(path).override({**(overrides or {}), "steps": steps})
    _single_group(scenario, "market_maker", path)
    rows = []
    for seed in seeds:
        result = run(scenario, seed=seed)
        quotes = market_maker_quotes(result)
        value = float(result.market["fundamental"].iloc[-1])
        agents = result.agents
        last = agents[agents["step"] == agents["step"].max()]
        pnl = last.groupby("kind")["pnl"].sum()
        rows.append(
            (
                seed,
                value,
                quotes["bid"].iloc[0],
                quotes["ask"].iloc[0],
                quotes["bid"].iloc[-1],
                quotes["ask"].iloc[-1],
                _first_settled_step(quotes, value, tolerance),
                len(result.trades),
                float(pnl.get("market_maker", math.nan)),
                float(pnl.get("informed", math.nan)),
                float(pnl.get("noise", math.nan)),
            )
        )
    frame = pd.DataFrame(rows, columns=list(GM_COLUMNS))
    return frame.astype({"seed": "int64", "trades": "int64"})
