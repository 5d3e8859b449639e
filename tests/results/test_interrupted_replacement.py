"""Recovering a run directory whose replacement was interrupted (issue 16 class 9).

The states are built by hand exactly as a writer killed at each point of
`RunResult.save` leaves them (names as `abm.results.run_directory.staging_path` makes them,
for a pid that is not running); the next save or load must roll back an interrupted swap,
finish a completed one and delete a dead writer's temporaries, as the module docstring of
`abm.results.run_directory` says, and never touch a live writer's.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from _helpers import run_baseline

from abm.results.atomic import lock_path, writer_lock
from abm.results.run_result import RunResult, RunResultError
from analysis.report import write_report

DEAD = ".run.tmp-999999-0badf00d"
"""A staging name of a writer that is gone (its lock, the proof, is not held)."""


@pytest.fixture(scope="module")
def results() -> tuple[RunResult, RunResult]:
    """An old and a new run of the same scenario (different seeds, so they differ)."""
    return run_baseline({"steps": 20}), run_baseline({"steps": 20, "seed": 123})


@pytest.fixture(scope="module")
def new_dir(results: tuple[RunResult, RunResult], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return results[1].save(tmp_path_factory.mktemp("new") / "run")


def _killed_between_renames(tmp_path: Path, old: RunResult, new_dir: Path) -> Path:
    """The old run renamed aside, the new run still in staging, no target."""
    target = old.save(tmp_path / "run")
    (target / "notes.txt").write_text("mine")
    staging = shutil.copytree(new_dir, tmp_path / DEAD)
    os.link(target / "notes.txt", Path(staging) / "notes.txt")  # carried over, as save does
    os.rename(target, tmp_path / f"{DEAD}.old")
    return target


def _names(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def test_load_rolls_back_a_swap_killed_between_renames(
    results: tuple[RunResult, RunResult], new_dir: Path, tmp_path: Path
) -> None:
    """The old run is back under its name, with the user's file, and no temporary is left."""
    old, _ = results
    target = _killed_between_renames(tmp_path, old, new_dir)
    with pytest.warns(UserWarning, match="previous run is restored"):
        loaded = RunResult.load(target)
    assert loaded.equals(old)
    assert (target / "notes.txt").read_text() == "mine"
    assert _names(tmp_path) == ["run"]


def test_report_rolls_back_a_swap_killed_between_renames(
    results: tuple[RunResult, RunResult], new_dir: Path, tmp_path: Path
) -> None:
    """`abm report`'s reader recovers before reading: the report is of the old run."""
    old, _ = results
    target = _killed_between_renames(tmp_path, old, new_dir)
    with pytest.warns(UserWarning, match="restored"):
        write_report(target)
    assert (target / "report.md").is_file()
    assert _names(tmp_path) == ["run"]


def test_save_after_a_swap_killed_between_renames(
    results: tuple[RunResult, RunResult], new_dir: Path, tmp_path: Path
) -> None:
    """The next save recovers first, then replaces the old run keeping the user's file."""
    old, new = results
    target = _killed_between_renames(tmp_path, old, new_dir)
    with pytest.warns(UserWarning, match="restored"):
        new.save(target)
    assert RunResult.load(target).equals(new)
    assert (target / "notes.txt").read_text() == "mine"
    assert _names(tmp_path) == ["run"]


def test_load_finishes_a_swap_killed_before_the_old_run_was_cleared(
    results: tuple[RunResult, RunResult], new_dir: Path, tmp_path: Path
) -> None:
    """New run in place, old aside: the old run's files go, a file only it has moves in."""
    old, new = results
    aside = old.save(tmp_path / f"{DEAD}.old")
    (aside / "notes.txt").write_text("carried")
    target = Path(shutil.copytree(new_dir, tmp_path / "run"))
    os.link(aside / "notes.txt", target / "notes.txt")
    shutil.copy2(aside / "notes.txt", aside / "copied.txt")  # carried by copy (no hard links)
    shutil.copy2(aside / "copied.txt", target / "copied.txt")
    (aside / "late.txt").write_text("written during the replacement")
    assert RunResult.load(target).equals(new)
    assert _names(tmp_path) == ["run"]
    assert (target / "notes.txt").read_text() == "carried"
    assert (target / "late.txt").read_text() == "written during the replacement"


def test_load_keeps_an_old_file_that_differs_from_its_new_copy(
    results: tuple[RunResult, RunResult], new_dir: Path, tmp_path: Path
) -> None:
    """A user file that changed in either copy is never deleted; a warning names the place."""
    old, _ = results
    aside = old.save(tmp_path / f"{DEAD}.old")
    (aside / "notes.txt").write_text("old words")
    target = Path(shutil.copytree(new_dir, tmp_path / "run"))
    (target / "notes.txt").write_text("new words")
    with pytest.warns(UserWarning, match="kept in"):
        RunResult.load(target)
    assert (aside / "notes.txt").read_text() == "old words"
    assert not (aside / "meta.json").exists()  # the replaced run's own files are cleared


def test_load_deletes_a_dead_writers_staging_and_lock(
    results: tuple[RunResult, RunResult], new_dir: Path, tmp_path: Path
) -> None:
    """A run staged by a writer killed before its swap never appears; its files go."""
    old, _ = results
    target = old.save(tmp_path / "run")
    shutil.copytree(new_dir, tmp_path / DEAD)
    lock_path(target).write_text("")
    assert RunResult.load(target).equals(old)
    assert _names(tmp_path) == ["run"]


def test_load_deletes_a_new_run_that_never_took_its_place(new_dir: Path, tmp_path: Path) -> None:
    """No target and only a staging sibling: the save of a new run did not finish."""
    shutil.copytree(new_dir, tmp_path / DEAD)
    with pytest.raises(RunResultError, match="not a directory"):
        RunResult.load(tmp_path / "run")
    assert _names(tmp_path) == []


def test_load_leaves_a_live_writers_temporaries(
    results: tuple[RunResult, RunResult], new_dir: Path, tmp_path: Path
) -> None:
    """While a writer holds the lock, a reader deletes nothing of its work."""
    old, _ = results
    target = old.save(tmp_path / "run")
    shutil.copytree(new_dir, tmp_path / DEAD)
    with writer_lock(target):
        assert RunResult.load(target).equals(old)
        assert (tmp_path / DEAD / "meta.json").is_file()


def test_load_refuses_to_choose_between_two_replaced_runs(
    results: tuple[RunResult, RunResult], tmp_path: Path
) -> None:
    """Two old runs and no target: the user decides; nothing is renamed or deleted."""
    old, new = results
    old.save(tmp_path / f"{DEAD}.old")
    new.save(tmp_path / ".run.tmp-999998-0badf00d.old")
    before = _names(tmp_path)
    with pytest.raises(RunResultError, match="several interrupted replacements"):
        RunResult.load(tmp_path / "run")
    assert _names(tmp_path) == before


def test_load_leaves_a_replaced_run_beside_a_target_that_is_not_a_run(
    results: tuple[RunResult, RunResult], tmp_path: Path
) -> None:
    """An aside whose target is no run directory is not cleared (it may be the only copy)."""
    old, _ = results
    old.save(tmp_path / f"{DEAD}.old")
    (tmp_path / "run").mkdir()
    with pytest.warns(UserWarning, match="not a run directory"), pytest.raises(RunResultError):
        RunResult.load(tmp_path / "run")
    assert (tmp_path / f"{DEAD}.old" / "meta.json").is_file()


def test_temporaries_of_other_names_are_not_touched(
    results: tuple[RunResult, RunResult], new_dir: Path, tmp_path: Path
) -> None:
    """Only siblings named for this target count: another run's staging stays."""
    old, _ = results
    target = old.save(tmp_path / "run")
    other = shutil.copytree(new_dir, tmp_path / ".run2.tmp-999999-0badf00d")
    RunResult.load(target)
    assert Path(other).is_dir()
