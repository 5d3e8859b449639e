"""The wheel works on its own: installed in a fresh environment, run from an empty directory.

It finds its bundled scenarios for ``abm run``, ``validate``, ``study``, ``bench`` and
``dashboard``.

The test copies the source tree (without build outputs), builds the wheel with ``pip wheel
--no-build-isolation`` (setup.py compiles the order book with mypyc, from this environment's
mypy), makes a fresh virtual environment that sees this environment's third-party packages
through a ``.pth`` line (the line adds the directory to ``sys.path`` but runs none of its
``.pth`` files, so the editable abm of the checkout is not installed there), installs the wheel
with ``--no-deps --no-index``, and asserts that ``abm`` imports from the fresh environment.
About two minutes on a two-core machine, most of it the mypyc compile: marked slow.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "runs", "build", "dist", "*.egg-info", "__pycache__", "*.so", ".*_cache"
)

PIP = (sys.executable, "-m", "pip")  # this environment's pip installs into the fresh one

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fresh_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel of this checkout installed; its bin directory."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    wheels = work / "wheels"
    build = ("--no-deps", "--no-build-isolation", "--quiet", "--wheel-dir", str(wheels))
    _check([*PIP, "wheel", str(source), *build], cwd=work)
    (wheel,) = wheels.glob("abm_microstructure-*.whl")
    env_dir = work / "env"
    venv.create(env_dir, with_pip=False)
    site = Path(
        sysconfig.get_path("purelib", vars={"base": str(env_dir), "platbase": str(env_dir)})
    )
    (site / "dev_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    python = str(env_dir / "bin" / "python")
    _check(
        [*PIP, "--python", python, "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        cwd=work,
    )
    return env_dir / "bin"


def _environ() -> dict[str, str]:
    """This process's environment without anything that would point Python at the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME"}}
    env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "false"
    return env


def _check(argv: list[str], cwd: Path) -> str:
    """Run ``argv`` in ``cwd``; return stdout, or fail the test with both streams."""
    done = subprocess.run(
        argv, cwd=cwd, env=_environ(), capture_output=True, text=True, check=False, timeout=900
    )
    assert done.returncode == 0, f"{argv}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture
def empty_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


def test_wheel_abm_imports_from_the_fresh_environment(fresh_env: Path, empty_dir: Path) -> None:
    """Abm (with its compiled order book) and its bundled scenarios come from the wheel."""
    code = (
        "import json, abm, abm.market.orderbook as book; "
        "from abm.scenario.bundle import bundle_dir; "
        "print(json.dumps([abm.__file__, book.COMPILED, str(bundle_dir())]))"
    )
    where, compiled, bundle = json.loads(_check([str(fresh_env / "python"), "-c", code], empty_dir))
    env_dir = fresh_env.parent.resolve()
    assert Path(where).resolve().is_relative_to(env_dir)
    assert Path(bundle).resolve().is_relative_to(env_dir)
    assert compiled is True


def test_wheel_abm_run_bundled_baseline(fresh_env: Path, empty_dir: Path) -> None:
    """``abm run baseline --set steps=50 --out r`` writes a 50-step run directory."""
    _check(
        [str(fresh_env / "abm"), "run", "baseline", "--set", "steps=50", "--out", "r"], empty_dir
    )
    summary = json.loads((empty_dir / "r" / "summary.json").read_text(encoding="utf-8"))
    assert summary["steps"] == 50
    assert summary["cash_conserved"] is True


def test_wheel_abm_validate_bundled_crisis(fresh_env: Path, empty_dir: Path) -> None:
    """``abm validate crisis/fire_sale_spiral`` finds the nested bundled name."""
    out = _check([str(fresh_env / "abm"), "validate", "crisis/fire_sale_spiral"], empty_dir)
    assert out.startswith("ok: crisis/fire_sale_spiral: scenario 'fire_sale_spiral'")


def test_wheel_abm_study_avellaneda_stoikov(fresh_env: Path, empty_dir: Path) -> None:
    """``abm study avellaneda-stoikov --seeds 2`` runs its bundled scenario and prints the table."""
    out = _check([str(fresh_env / "abm"), "study", "avellaneda-stoikov", "--seeds", "2"], empty_dir)
    assert "inventory" in out and "symmetric" in out


def test_wheel_abm_bench_model(fresh_env: Path, empty_dir: Path) -> None:
    """``abm bench model --steps 200 --no-memory`` times the bundled baseline."""
    out = _check(
        [str(fresh_env / "abm"), "bench", "model", "--steps", "200", "--no-memory"], empty_dir
    )
    assert "baseline" in out


def test_wheel_abm_dashboard_resolves_a_bundled_scenario(fresh_env: Path, empty_dir: Path) -> None:
    """``abm dashboard --help`` works and the dashboard names the bundled file it serves.

    The command prints the scenario file before it starts the server; the test reads that
    line, then stops the command and its server (a process group of their own).
    """
    pytest.importorskip("solara")  # the viz extra, which the dashboard needs
    assert "live dashboard" in _check([str(fresh_env / "abm"), "dashboard", "--help"], empty_dir)
    command = [str(fresh_env / "abm"), "dashboard", "crisis/hot_potato", "--port", "0"]
    done = subprocess.run(
        command, cwd=empty_dir, env=_environ(), capture_output=True, text=True, check=False
    )
    assert done.returncode == 2 and "--port: must be between 1 and 65535" in done.stderr
    server = subprocess.Popen(
        [str(fresh_env / "abm"), "dashboard", "crisis/hot_potato", "--port", str(_free_port())],
        cwd=empty_dir,
        env=_environ(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    bundled = fresh_env.parent.resolve()
    assert line.startswith("abm dashboard: ")
    served = Path(line.removeprefix("abm dashboard: ").split(" at ")[0])
    assert served.name == "hot_potato.yaml" and served.resolve().is_relative_to(bundled)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
