"""The exchange's trade tape stays short in a long run and its observers see every fill.

Reference: the untrimmed tape (`TAPE_TRIM` raised past the run's fill count), which is what
the tape was before it was trimmed. A learning market maker (Glosten-Milgrom, which reads
every book fill through its cursor) and the mark (this step's fills) must give bit-identical
tables with the trimmed tape, while the trimmed tape holds at most a trim block plus two
steps of fills.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import abm
from abm.market import exchange as exchange_module
from abm.model import MarketModel

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "glosten_milgrom.yaml"
STEPS = 2000


def _run(monkeypatch: pytest.MonkeyPatch, trim: int) -> tuple[MarketModel, abm.RunResult, int]:
    monkeypatch.setattr(exchange_module, "TAPE_TRIM", trim)
    model = MarketModel(abm.load_scenario(SCENARIO).override({"steps": STEPS}))
    longest = 0
    for _ in range(STEPS):
        model.step()
        longest = max(longest, len(model.exchange.tape))
    result = abm.RunResult.from_recorder(
        model.recorder, scenario_yaml=model.scenario.to_yaml(), summary={}, meta={}
    )
    model.release()
    return model, result, longest


def test_trimmed_tape_gives_the_untrimmed_run(monkeypatch: pytest.MonkeyPatch) -> None:
    model, trimmed, longest = _run(monkeypatch, trim=4)
    _, untrimmed, _ = _run(monkeypatch, trim=10**9)
    fills = model.exchange.tape_position
    assert fills == len(trimmed.trades) > 10 * 4  # trimmed many times over
    assert model.exchange.tape_base > 0
    for name, table in trimmed.tables().items():
        assert table.equals(untrimmed.tables()[name]), name
    per_step = trimmed.trades.groupby("step").size().max()
    assert longest <= 4 + 2 * per_step + 1


def test_tape_since_a_cursor_older_than_the_tape_gives_what_is_left() -> None:
    from abm.market.exchange import Exchange
    from abm.results.recorder import Recorder

    exchange: Exchange = Exchange(Recorder())  # type: ignore[type-arg]
    exchange.tape.extend([(True, 100, 1), (False, 101, 2), (True, 102, 3)])
    exchange.tape_base = 10
    assert exchange.tape_position == 13
    assert exchange.tape_since(11) == [(False, 101, 2), (True, 102, 3)]
    assert exchange.tape_since(0) == exchange.tape
    assert exchange.tape_since(13) == []
