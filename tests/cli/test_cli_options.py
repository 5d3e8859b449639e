"""``abm run`` on an options scenario prints the smile and the dealers' P&L attribution."""

from __future__ import annotations

from pathlib import Path

import pytest

from abm.cli.main import main
from abm.results.run_result import RunResult

OPTIONS_MM = str(Path(__file__).resolve().parents[2] / "scenarios" / "options" / "options_mm.yaml")


def test_cli_run_on_an_options_scenario_prints_the_smile_and_attribution(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One smile line per expiry; one attribution line per dealer, its total = its saved P&L.

    The total is checked against the saved agents table's ``pnl`` to the printed 3 decimals.
    """
    out = tmp_path / "run"
    assert main(["run", OPTIONS_MM, "--out", str(out), "--steps", "200"]) == 0
    lines = capsys.readouterr().out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("options: implied vol"))
    assert [line.split()[0] for line in lines[start + 2 : start + 5]] == ["400", "800", "1200"]
    head = next(i for i, line in enumerate(lines) if "P&L attribution" in line)
    rows = [line.split() for line in lines[head + 2 : head + 5]]
    run = RunResult.load(out)
    agents = run.agents[run.agents["step"] == 200].set_index("agent_id")["pnl"]
    for row in rows:
        assert float(row[-1]) == pytest.approx(agents[int(row[0])], abs=1e-3)
