"""The core install does not need Gymnasium (it is the ``rl`` extra, issue 21).

A child interpreter is started with an import hook that refuses ``gymnasium`` (as if the extra
were not installed); in it the CLI runs a learned market maker in a crisis scenario through the
scenario file alone, and the package's public modules import. The same hook is checked to
refuse ``abm.envs``, so the test would fail if the refusal did not work.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

_BLOCK = textwrap.dedent(
    """
    import importlib.abc, sys

    class _NoGymnasium(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "gymnasium" or name.startswith("gymnasium."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, _NoGymnasium())
    """
)


def _child(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _BLOCK + textwrap.dedent(code)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_learned_policy_runs_in_a_crisis_without_gymnasium(tmp_path: Path) -> None:
    """`abm run rl/margin_spiral_learned` works, and writes its run, with gymnasium refused."""
    out = tmp_path / "run"
    done = _child(
        f"""
        import sys
        from abm.cli.main import main
        code = main(["run", "rl/margin_spiral_learned", "--steps", "60", "--out", {str(out)!r},
                     "--quiet"])
        assert "gymnasium" not in sys.modules
        sys.exit(code)
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert (out / "agents.parquet").is_file()
    assert (out / "meta.json").is_file()


def test_core_modules_import_without_gymnasium_and_envs_do_not(tmp_path: Path) -> None:
    """The package, its policies, model and CLI import; abm.envs says which extra it needs."""
    done = _child(
        """
        import abm, abm.model, abm.policies, abm.policies.learned, abm.cli.main
        try:
            import abm.envs
        except ImportError as exc:
            print("refused:", exc)
        else:
            raise SystemExit("abm.envs imported without gymnasium: the hook did not work")
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "abm.envs needs gymnasium" in done.stdout
    assert "[rl]" in done.stdout
