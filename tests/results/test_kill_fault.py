"""SIGKILL a real ``abm run`` during the final swap of an existing run, then recover (issue 16).

A first ``abm run --out D`` writes the old run; a second, with another seed, is stopped by the
save's test hook (`abm.results.run_directory.TEST_PAUSE_ENV`) at one point of the swap and
killed there with SIGKILL, so nothing of it runs after the kill. Then ``abm report D`` or the
next ``abm run --out D`` must find D complete: the old run when the kill came before the new
run took its place (the interrupted swap is rolled back), the new one after; and no
temporary sibling of D may remain.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _helpers import BASELINE

from abm.results.run_directory import PAUSE_POINTS, TEST_PAUSE_ENV
from abm.results.run_result import RunResult

OLD_SEED, NEW_SEED, NEXT_SEED = 11, 22, 33


def _abm(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "abm", *args]
    return subprocess.Popen(
        command,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _run(out: Path, seed: int, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return _abm(
        "run",
        str(BASELINE),
        "--set",
        "steps=20",
        "--seed",
        str(seed),
        "--out",
        str(out),
        "--quiet",
        env=env,
    )


@pytest.fixture(scope="module")
def old_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("old") / "D"
    process = _run(out, OLD_SEED)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return out


def _kill_at(point: str, out: Path, flag: Path) -> None:
    """Start the second run, wait until the hook says it reached ``point``, SIGKILL it."""
    process = _run(out, NEW_SEED, env={TEST_PAUSE_ENV: f"{point}:{flag}"})
    deadline = time.monotonic() + 300
    while not flag.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run never reached the pause point"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL


def _seed(run: Path) -> int:
    return int(json.loads((run / "meta.json").read_text(encoding="utf-8"))["seed"])


@pytest.mark.parametrize("point", PAUSE_POINTS)
def test_report_recovers_a_run_killed_during_its_swap(
    old_run: Path, tmp_path: Path, point: str
) -> None:
    """After the kill, `abm report D` succeeds on a complete run and leaves no temporaries."""
    out = Path(shutil.copytree(old_run, tmp_path / "D"))
    (out / "notes.txt").write_text("mine")
    _kill_at(point, out, tmp_path / "flag")
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".D."))
    assert left, "the kill left nothing to recover: the hook did not stop the swap"
    report = _abm("report", str(out))
    _, err = report.communicate(timeout=300)
    assert report.returncode == 0, err
    expected = NEW_SEED if point == "swapped" else OLD_SEED
    assert _seed(out) == expected
    RunResult.load(out)
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "report.md").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["D", "flag"]


def test_next_run_recovers_a_run_killed_between_renames(old_run: Path, tmp_path: Path) -> None:
    """The next `abm run --out D` after the kill rolls back, then writes its own run."""
    out = Path(shutil.copytree(old_run, tmp_path / "D"))
    _kill_at("between_renames", out, tmp_path / "flag")
    assert not out.exists()  # the state the issue describes: D absent, two hidden siblings
    process = _run(out, NEXT_SEED)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert _seed(out) == NEXT_SEED
    assert sorted(p.name for p in tmp_path.iterdir()) == ["D", "flag"]
