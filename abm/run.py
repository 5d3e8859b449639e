"""Running a scenario end to end, headline metrics, and the determinism checker.

`run` and `check_determinism` check their arguments before any work: a wrong type raises
`RunArgumentTypeError` (an `AbmError` and a ``TypeError``), a value out of range
`RunArgumentError` (an `AbmError` and a ``ValueError``), each naming the argument.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, SupportsIndex

import numpy as np
import pandas as pd

from abm.agents.base import Trader
from abm.errors import AbmError
from abm.market.amm.lp_ledger import lp_summary_keys
from abm.market.mark import describe_mark
from abm.market.measures import book_sidedness, price_dislocations
from abm.model import MarketModel
from abm.results.amm_summary import amm_summary_keys
from abm.results.flash_crash import FlashCrashSetup, flash_crash_summary
from abm.results.lending_summary import lending_summary
from abm.results.run_result import WALL_TIME_KEYS, RunResult, collect_meta
from abm.scenario.budget import check_limits
from abm.scenario.overrides import SOURCE
from abm.scenario.schema import PaddrikGroup, Scenario, load_scenario


class RunArgumentError(AbmError, ValueError):
    """An argument of `run` or `check_determinism` out of its range; the message names it."""


class RunArgumentTypeError(RunArgumentError, TypeError):
    """An argument of `run` or `check_determinism` of the wrong type; the message names it."""


def _shown(value: object) -> str:
    """``repr(value)`` and its type, cut short so that a message stays one line."""
    text = repr(value)
    text = text if len(text) <= 40 else f"{text[:37]}..."
    return f"{text} ({type(value).__name__})"


def _scenario_argument(scenario: object) -> Scenario:
    """``scenario`` itself, or the scenario a path or bundled name loads; else raise."""
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, str | os.PathLike) and isinstance(os.fspath(scenario), str):
        return load_scenario(scenario)
    raise RunArgumentTypeError(
        "scenario: must be a Scenario (see abm.load_scenario), a scenario file path or a "
        f"bundled scenario name, got {_shown(scenario)}"
    )


def _int_argument(value: object, name: str, minimum: int) -> int | None:
    """``value`` as an int (None stays None) if it is an integer >= ``minimum``; else raise.

    numpy integers are accepted; bools, floats (even integral ones) and strings are not.
    """
    if value is None:
        return None
    kind = "a non-negative integer" if minimum == 0 else f"an integer >= {minimum}"
    number: int | None = None
    if not isinstance(value, bool) and isinstance(value, SupportsIndex):
        try:
            number = operator.index(value)
        except TypeError:
            number = None
    if number is None:
        raise RunArgumentTypeError(f"{name}: must be {kind}, got {_shown(value)}")
    if number < minimum:
        raise RunArgumentError(f"{name}: must be {kind}, got {number}")
    return number


def resolve_run(scenario: object, seed: object, steps: object, progress: object) -> Scenario:
    """The scenario a run of `run`'s arguments makes, each argument checked; else raise.

    Raises:
        RunArgumentTypeError, RunArgumentError, ScenarioError: As `run`.
    """
    scenario = _scenario_argument(scenario)
    seed = _int_argument(seed, "seed", 0)
    steps = _int_argument(steps, "steps", 1)
    if progress is not None and not callable(progress):
        raise RunArgumentTypeError(
            f"progress: must be a callable progress(done, total) or None, got {_shown(progress)}"
        )
    changes: dict[str, Any] = {}
    if seed is not None:
        changes["seed"] = seed
    if steps is not None:
        changes["steps"] = steps
    return scenario.override(changes) if changes else scenario


def run(
    scenario: Scenario | str | os.PathLike[str],
    *,
    seed: int | None = None,
    steps: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Run ``scenario`` to the end and return its tables and summary.

    Args:
        scenario: A validated scenario, or what `abm.load_scenario` loads one from (a YAML
            file path or a bundled scenario name such as ``"baseline"``).
        seed: Overrides ``scenario.seed``: an integer >= 0 (an ``int`` or a numpy integer).
        steps: Overrides ``scenario.steps``: an integer >= 1.
        progress: Called as ``progress(done, total)`` every few hundred steps.

    Returns:
        The run's :class:`~abm.results.run_result.RunResult`; its ``scenario_yaml`` is the resolved
        scenario (with the seed and steps actually used).

    Raises:
        RunArgumentTypeError: If an argument has the wrong type (a bool or float seed, say).
        RunArgumentError: If ``seed`` or ``steps`` is out of range.
        ScenarioError: If a path or name does not load, or the overrides make the scenario
            invalid.
        ScenarioTooLargeError: If the scenario's estimated work or memory passes its
            ``limits`` (`abm.scenario.budget`), before anything is built.
    """
    scenario = resolve_run(scenario, seed, steps, progress)
    check_limits(scenario, source=SOURCE)
    start = time.perf_counter()
    model = MarketModel(scenario)
    try:
        step_through(model, progress)
        wall = time.perf_counter() - start
        meta = collect_meta(seed=model.seed, scenario_digest=scenario.digest(), wall_time_s=wall)
        result = RunResult.from_recorder(
            model.recorder, scenario_yaml=scenario.to_yaml(), summary={}, meta=meta
        )
        summary = summarize(model, result, wall)
    finally:
        model.release()  # the result holds tables, not the model
    setup = FlashCrashSetup.of_scenario(scenario)
    if setup.program_starts:  # an execution program (a pov group, even of count 0)
        summary.update(flash_crash_summary(result, setup))
    summary.update(amm_summary_keys(result, scenario))  # empty without an amm section
    summary.update(lending_summary(scenario, lambda: result.lending))
    return dataclasses.replace(result, summary=summary)


def step_through(
    model: MarketModel,
    progress: Callable[[int, int], None] | None,
    flush_steps: int | None = None,
) -> None:
    """Step ``model`` to its scenario's last step, reporting ``progress(done, total)``.

    With ``flush_steps``, the recorder's rows are flushed (`Recorder.flush`) every that many
    steps and once at the end.
    """
    total = model.scenario.steps
    every = max(1, min(500, total // 100))
    for n in range(1, total + 1):
        model.step()
        if flush_steps is not None and n % flush_steps == 0:
            model.recorder.flush()
        if progress is not None and (n % every == 0 or n == total):
            progress(n, total)
    if flush_steps is not None:
        model.recorder.flush()


MARKET_MAKING_PADDRIK_ROLES = ("market_maker",)
"""`PaddrikGroup` roles that make markets (besides every ``market_maker`` group)."""


def market_making_groups(scenario: Scenario) -> list[str]:
    """Names of the scenario's market-making groups, in document order.

    A group makes markets when its kind is ``market_maker`` (quoting policies), or when it is a
    ``paddrik`` group whose role is in `MARKET_MAKING_PADDRIK_ROLES` (Paddrik et al.'s market
    makers). The ``hft`` role (high-frequency traders) is not counted: Kirilenko et al. (2017)
    and the flash-crash measures treat HFTs as a class of their own.
    """
    return [
        name
        for name, group in scenario.agents.items()
        if group.kind == "market_maker"
        or (isinstance(group, PaddrikGroup) and group.role in MARKET_MAKING_PADDRIK_ROLES)
    ]


def summarize(model: MarketModel, result: RunResult, wall_time_s: float) -> dict[str, Any]:
    """Headline metrics of a finished model (the contents of ``summary.json``).

    Keys:

    - run size and counts: ``steps``, ``seed``, ``orders``, ``cancels``, ``fills``, ``volume``,
      ``wall_time_s``, ``steps_per_s``;
    - the mark: ``mark``, a short description of the scenario's mark methodology
      (`abm.market.mark.describe_mark`), the price at which every P&L, margin call and default test
      of the run is valued;
    - the book's sides, as fractions of all recorded steps (step 0 included; they sum to 1):
      ``two_sided_fraction``, ``one_sided_fraction`` (exactly one side quoted),
      ``empty_book_fraction`` (no side quoted);
    - market quality over the ``two_sided_steps`` steps with both sides quoted (a one-sided
      book has no spread and no mid): ``spread_mean``, ``spread_median``, ``mispricing_mean``
      (mean |mid - fundamental|); ``mid_final`` (None unless the book ends two-sided),
      ``fundamental_final``;
    - crash measures over the whole run (`abm.market.measures.price_dislocations`):
      ``max_dislocation``, the larger of ``max_mid_dislocation`` (largest |mid - fundamental|
      over two-sided steps) and ``max_trade_dislocation`` (largest |book trade price -
      fundamental of the trade's step|), so a crash through a one-sided book shows;
    - market makers: every trader of a market-making group (`market_making_groups`: kind
      ``market_maker``, and ``paddrik`` groups of role ``market_maker``): ``mm_count``,
      ``mm_pnl_mean``, ``mm_pnl_std``, ``mm_inventory_final_mean``,
      ``mm_abs_inventory_final_mean``;
    - per group: ``pnl_by_group``, the mean final pnl of each scenario group;
    - contagion: ``defaults`` (defaulted traders), ``cascade_waves`` (deepest default wave in
      a step), ``forced_sale_volume``, ``losses_by_channel``, ``interdealer_volume``;
    - the circuit breaker: ``circuit_breaker`` (whether one was on), ``halts``,
      ``halted_steps``, ``halt_queued_orders``, ``halt_rejected_orders``;
    - conservation: ``cash_conserved``, ``inventory_conserved`` (over traders, hedge venue and
      the outside world), ``holdings_conserved`` (every held instrument: AMM pool shares,
      option series; each sums to zero over traders and the venue that issues it,
      `abm.model.MarketModel.holdings_totals`) and ``held_instruments``, how many of them
      are still open at the end (a settled option series is closed);
    - liquidity providers of an AMM pool (a run with one): ``amm_lp_by_group`` and
      ``amm_lp_by_agent``, each owner's fees, LVR, rebalancing and pool P&L
      (`abm.market.amm.lp_ledger.lp_summary_keys`).

    Every pnl is equity at the final step's mark (the last ``mark`` of the ``market`` table)
    and hedge price, minus the opening equity: the ``pnl`` of the trader's final ``agents`` row.
    `run` adds `abm.results.flash_crash.flash_crash_summary` for a scenario with an execution
    program (a ``pov`` group), and `abm.results.amm_summary.amm_summary_keys` (the ``amm_``
    keys) for one with an ``amm`` section.
    """
    return headline(model, result.market, result.trades, wall_time_s)


def headline(
    model: MarketModel,
    market: pd.DataFrame,
    trades: pd.DataFrame | Iterable[pd.DataFrame],
    wall_time_s: float,
) -> dict[str, Any]:
    """`summarize` from the ``market`` table and the ``trades`` table or its blocks.

    A streamed run (`abm.streamed.run_to`) passes its trades one row group at a time.
    """
    spread = market["spread"].to_numpy(dtype=float)
    mid = market["mid"].to_numpy(dtype=float)
    fundamental = market["fundamental"].to_numpy(dtype=float)
    quoted = np.isfinite(spread)
    mark, hedge_mark = model.mark_price(), model.hedge_venue.price

    def pnl(trader: Trader) -> float:
        return trader.equity(mark=mark, hedge_mark=hedge_mark) - trader.initial_equity

    traders = list(model.exchange.traders.values())
    making = set(market_making_groups(model.scenario))
    mms = [trader for trader in traders if trader.group in making]
    mm_pnl = np.array([pnl(mm) for mm in mms], dtype=float)
    mm_inv = np.array([mm.inventory for mm in mms], dtype=float)
    groups: dict[str, list[float]] = {}
    for trader in traders:
        groups.setdefault(trader.group, []).append(pnl(trader))
    cash, inventory = model.totals()
    initial_cash, initial_inventory = model.initial_totals
    held = model.holdings_totals()
    steps = model.step_index
    breaker = model.exchange.breaker
    return {
        "steps": steps,
        "seed": model.seed,
        "orders": model.exchange.orders,
        "cancels": model.exchange.cancels,
        "fills": model.exchange.fills,
        "volume": model.exchange.volume,
        "wall_time_s": wall_time_s,
        "steps_per_s": steps / wall_time_s if wall_time_s > 0 else math.nan,
        "mark": describe_mark(model.scenario.mark),
        **book_sidedness(market),
        "two_sided_steps": int(quoted.sum()),
        "spread_mean": _mean(spread[quoted]),
        "spread_median": float(np.median(spread[quoted])) if quoted.any() else math.nan,
        "mid_final": model.mid_price(),
        "fundamental_final": model.fundamental.value,
        "mispricing_mean": _mean(np.abs(mid[quoted] - fundamental[quoted])),
        **price_dislocations(market, trades),
        "mm_count": len(mms),
        "mm_pnl_mean": _mean(mm_pnl),
        "mm_pnl_std": float(mm_pnl.std(ddof=1)) if len(mm_pnl) > 1 else math.nan,
        "mm_inventory_final_mean": _mean(mm_inv),
        "mm_abs_inventory_final_mean": _mean(np.abs(mm_inv)),
        "pnl_by_group": {name: _mean(np.array(v)) for name, v in groups.items()},
        "defaults": sum(1 for t in traders if t.status != "ACTIVE"),
        "cascade_waves": model.contagion.stats.cascade_waves,
        "forced_sale_volume": model.contagion.stats.forced_sale_volume,
        "losses_by_channel": dict(model.contagion.stats.losses_by_channel),
        "interdealer_volume": model.exchange.interdealer_volume,
        "circuit_breaker": breaker is not None,
        "halts": 0 if breaker is None else breaker.halts,
        "halted_steps": 0 if breaker is None else breaker.halted_steps,
        "halt_queued_orders": model.exchange.queued_orders,
        "halt_rejected_orders": model.exchange.rejected_orders,
        "cash_conserved": cash == initial_cash,
        "inventory_conserved": inventory == initial_inventory,
        "holdings_conserved": all(total == 0 for total in held.values()),
        "held_instruments": len(held),
        **lp_summary_keys(  # each liquidity provider's fees and LVR (a run with a pool)
            model.exchange.venues.values(),
            {trader.unique_id: trader.group for trader in traders},
            model.scenario.tick_size,
        ),
    }


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else math.nan


@dataclass(frozen=True, slots=True)
class DeterminismReport:
    """Outcome of :func:`check_determinism`: ``identical`` and, if not, what differed."""

    identical: bool
    differences: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.identical


class DeterminismCheckError(AbmError, RuntimeError):
    """The second run of `check_determinism` could not be made; the message has its stderr."""


# The second run's whole program. Running it with ``python -c`` (rather than multiprocessing,
# whose spawned child re-imports the caller's ``__main__``) lets a plain script without an
# ``if __name__ == "__main__":`` guard call check_determinism. argv: abm's parent directory,
# the scenario file, the step count ("" for the scenario's), the run directory to write.
_SECOND_RUN = """
import sys
sys.path.insert(0, sys.argv[1])
from abm.run import _second_run
_second_run(sys.argv[2], sys.argv[3], sys.argv[4])
"""


def _second_run(scenario_file: str, steps: str, out_dir: str) -> None:
    """The fresh interpreter's part of `check_determinism`: run and save the scenario."""
    text = Path(scenario_file).read_text(encoding="utf-8")
    run(Scenario.from_yaml_text(text), steps=int(steps) if steps else None).save(out_dir)


def _run_in_fresh_process(scenario: Scenario, steps: int | None) -> RunResult:
    """Run ``scenario`` in a new Python interpreter and load the run directory it saves.

    The child imports this same ``abm`` (its parent directory goes first on ``sys.path``) and
    works in a temporary directory, so neither the caller's script nor its working directory
    are involved.
    """
    package_root = str(Path(__file__).resolve().parents[1])
    with tempfile.TemporaryDirectory(prefix="abm-determinism-") as work:
        scenario_file = Path(work) / "scenario.yaml"
        scenario_file.write_text(scenario.to_yaml(), encoding="utf-8")
        out_dir = Path(work) / "run"
        argv = [package_root, str(scenario_file), "" if steps is None else str(steps)]
        completed = subprocess.run(
            [sys.executable, "-c", _SECOND_RUN, *argv, str(out_dir)],
            cwd=work,
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise DeterminismCheckError(
                f"the second run (in {sys.executable}) exited with code "
                f"{completed.returncode}:\n{completed.stderr.strip()}"
            )
        return RunResult.load(out_dir)


def check_determinism(
    scenario: Scenario | str | os.PathLike[str],
    *,
    steps: int | None = None,
    other_process: bool = True,
) -> DeterminismReport:
    """Run ``scenario`` twice (the second time in a fresh process) and compare every output.

    Use it on your own variants: a model change that reads a global RNG, iterates a
    set or depends on object addresses shows up here as a difference. It works from a plain
    script, with or without an ``if __name__ == "__main__":`` guard: the second run is a new
    interpreter (``python -c``) that runs the scenario and saves the run directory to a
    temporary directory, which this process loads and compares.

    Args:
        scenario: The scenario (its seed is used), or a path or bundled name as for `run`.
        steps: Run only this many steps (a short run usually suffices): an integer >= 1.
        other_process: Make the second run in a new interpreter (default) rather than in
            this process.

    Returns:
        A report whose ``identical`` is True when every table, the summary (less wall
        time) and the resolved scenario are identical.

    Raises:
        RunArgumentTypeError: If an argument has the wrong type.
        RunArgumentError: If ``steps`` is out of range.
        DeterminismCheckError: If the second interpreter fails (its stderr is in the message).
    """
    scenario = _scenario_argument(scenario)
    steps = _int_argument(steps, "steps", 1)
    if other_process is not True and other_process is not False:
        raise RunArgumentTypeError(
            f"other_process: must be True or False, got {_shown(other_process)}"
        )
    first = run(scenario, steps=steps)
    second = _run_in_fresh_process(scenario, steps) if other_process else run(scenario, steps=steps)
    differences = []
    for name, table in first.tables().items():
        other = second.tables()[name]
        if not table.equals(other) or list(table.dtypes) != list(other.dtypes):
            differences.append(f"table {name!r} differs")
    volatile = set(WALL_TIME_KEYS)
    for key in sorted(set(first.summary) | set(second.summary)):
        if key in volatile:
            continue
        if first.summary.get(key) != second.summary.get(key):
            a, b = first.summary.get(key), second.summary.get(key)
            differences.append(f"summary[{key!r}]: {a!r} != {b!r}")
    if first.scenario_yaml != second.scenario_yaml:
        differences.append("resolved scenario differs")
    return DeterminismReport(not differences, differences)
