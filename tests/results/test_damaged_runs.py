"""Reading damaged run directories (issue 16 class 6).

`RunResult.load` and ``abm report`` on a run directory whose files were damaged after the
save give one `RunResultError` line naming the damaged file (``abm report``: exit code 2),
never a UnicodeDecodeError, a RecursionError or a traceback. Each damage below is one the
issue's adversarial run found, or one of its kind.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _helpers import run_baseline

from abm.cli.main import main
from abm.results.run_result import MAX_JSON_DEPTH, RunResult, RunResultError


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_baseline({"steps": 20}).save(tmp_path_factory.mktemp("saved") / "run")


def _write(name: str, content: str | bytes) -> Callable[[Path], None]:
    def damage(run: Path) -> None:
        path = run / name
        path.unlink()
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)

    return damage


def _table(name: str, column: str, value: float | int, row: int = 3) -> Callable[[Path], None]:
    def damage(run: Path) -> None:
        path = run / f"{name}.parquet"
        frame = pd.read_parquet(path)
        frame.loc[frame.index[row], column] = value
        path.unlink()
        frame.to_parquet(path)

    return damage


def _summary(edit: Callable[[dict[str, object]], None]) -> Callable[[Path], None]:
    def damage(run: Path) -> None:
        summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
        edit(summary)
        (run / "summary.json").write_text(json.dumps(summary), encoding="utf-8")

    return damage


DAMAGES: dict[str, tuple[Callable[[Path], None], str, str]] = {
    # name: (damage, the file the message must name, a phrase it must contain)
    "scenario_invalid_yaml": (_write("scenario.yaml", "name: [x\n"), "scenario.yaml", "YAML"),
    "scenario_empty": (_write("scenario.yaml", ""), "scenario.yaml", "empty"),
    "scenario_python_tag": (
        _write("scenario.yaml", "!!python/object/apply:os.system ['true']\n"),
        "scenario.yaml",
        "tag",
    ),
    "scenario_not_utf8": (_write("scenario.yaml", b"name: \xff\xfe\n"), "scenario.yaml", "UTF-8"),
    "scenario_deep": (
        _write("scenario.yaml", "name: " + "[" * 5000 + "]" * 5000 + "\n"),
        "scenario.yaml",
        "",
    ),
    "scenario_schema": (_write("scenario.yaml", "name: x\nsteps: -3\n"), "scenario.yaml", "steps"),
    "summary_nested_deep": (
        _write("summary.json", "[" * 100_000 + "]" * 100_000),
        "summary.json",
        "nests deeper",
    ),
    "summary_nested_under_limit_of_json": (
        _write("summary.json", '{"a": ' + "[" * 900 + "]" * 900 + "}"),
        "summary.json",
        f"deeper than {MAX_JSON_DEPTH}",
    ),
    "summary_not_utf8": (_write("summary.json", b'{"a": "\xff"}'), "summary.json", "UTF-8"),
    "meta_not_utf8": (_write("meta.json", b"\xff"), "meta.json", "UTF-8"),
    "summary_not_object": (_write("summary.json", "[]"), "summary.json", "JSON object"),
    "market_inf_price": (_table("market", "mid", np.inf), "market.parquet", "infinite"),
    "market_minus_inf_bid": (_table("market", "best_bid", -np.inf), "market.parquet", "infinite"),
    "trades_inf_price": (_table("trades", "price", np.inf, 0), "trades.parquet", "infinite"),
    "market_step_beyond_run": (_table("market", "step", 10**12), "market.parquet", "step"),
    "agents_negative_step": (_table("agents", "step", -1), "agents.parquet", "step"),
    "events_parquet_garbage": (_write("events.parquet", b"PAR1junkPAR1"), "events.parquet", ""),
}


@pytest.fixture(params=sorted(DAMAGES))
def damaged(request: pytest.FixtureRequest, saved: Path, tmp_path: Path) -> tuple[Path, str, str]:
    damage, file, phrase = DAMAGES[request.param]
    run = Path(shutil.copytree(saved, tmp_path / "run"))
    damage(run)
    return run, file, phrase


def test_load_damaged_run_is_one_line_naming_the_file(damaged: tuple[Path, str, str]) -> None:
    """Every damage is a RunResultError on one line, naming the damaged file."""
    run, file, phrase = damaged
    with pytest.raises(RunResultError) as caught:
        RunResult.load(run)
    message = str(caught.value)
    assert "\n" not in message
    assert str(run / file) in message
    assert phrase in message


def test_cli_report_damaged_run_exits_2_with_one_line(
    damaged: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """`abm report` on every damage: exit 2, one line on stderr, nothing written."""
    run, file, _ = damaged
    before = sorted(p.name for p in run.iterdir())
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("abm: error: ") and err.count("\n") == 1 and file in err
    assert sorted(p.name for p in run.iterdir()) == before


def test_load_undamaged_run_caches_its_validated_scenario(saved: Path) -> None:
    """The scenario load validated is the one `scenario` returns, without parsing again."""
    loaded = RunResult.load(saved)
    assert "scenario" in vars(loaded)
    assert loaded.scenario.steps == 20


def test_save_refuses_a_result_whose_scenario_load_would_refuse(
    saved: Path, tmp_path: Path
) -> None:
    """A result without a valid scenario is not saved, as load would refuse it."""
    loaded = RunResult.load(saved)
    broken = RunResult._of_tables(loaded.tables(), loaded.summary, "name: [x\n", loaded.meta)
    with pytest.raises(RunResultError, match="does not validate"):
        broken.save(tmp_path / "run")
    assert list(tmp_path.iterdir()) == []


def test_summary_within_depth_limit_loads(saved: Path, tmp_path: Path) -> None:
    """Nesting up to MAX_JSON_DEPTH levels is read as it is."""
    run = Path(shutil.copytree(saved, tmp_path / "run"))
    nested: object = 1
    for _ in range(MAX_JSON_DEPTH - 1):
        nested = [nested]
    _summary(lambda summary: summary.update(deep=nested))(run)
    assert RunResult.load(run).summary["deep"] == nested
