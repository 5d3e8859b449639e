"""A policy whose parameters make it quote a price no book takes fails naming its field.

Issue 16, class 2: ``gamma: 1e300`` validated (a positive float) and then broke the run at
its first quote (``OverflowError`` rounding an infinite price, or the book refusing a price
of 10^300 ticks with a 300-digit message), after ``abm validate`` said ok.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from abm.cli.main import main
from abm.policies import PolicyError
from abm.run import run
from abm.scenario.schema import load_scenario

CASES = [
    ("crisis/fire_sale_spiral", "agents.mm.policy.gamma", 1e300),  # infinite quotes
    ("baseline", "agents.mm.policy.gamma", 1e300),  # finite, past the tick range
    ("baseline", "agents.mm_symmetric.policy.spread", 1e300),
]


@pytest.mark.parametrize(("name", "path", "value"), CASES)
def test_unquotable_policy_is_a_policy_error_naming_the_group(
    name: str, path: str, value: float
) -> None:
    """The error names ``agents.<group>.policy`` and the step, never an OverflowError."""
    field = path.rsplit(".", 1)[0].replace(".", r"\.")
    scenario = load_scenario(name).override({path: value})
    with pytest.raises(PolicyError, match=rf"^{field}: the policy quoted .* at step 1,"):
        run(scenario, steps=5)


def test_unquotable_policy_from_the_cli_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``abm run`` prints the one line, prefixed with the scenario, exit 2, nothing written."""
    out = tmp_path / "run"
    args = ["run", "crisis/fire_sale_spiral", "--steps", "5", "--quiet", "--out", str(out)]
    code = main([*args, "--set", "agents.mm.policy.gamma=1e300"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("abm: error: crisis/fire_sale_spiral: agents.mm.policy:")
    assert not out.exists()
