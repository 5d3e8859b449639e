"""Saving a run when the file system refuses (issue 16 class 1).

Every OS failure of `RunResult.save` is one `RunResultError` line naming the run directory and
the OS reason (the errno's strerror, as the C library spells it), and nothing is left behind:
no temporary sibling, no parent directory the save created, an existing run unchanged. The
``abm`` command prints that line with exit code 2.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest
from _helpers import BASELINE, run_baseline

from abm.cli.main import main
from abm.results.atomic import writer_lock
from abm.results.run_directory import RUN_FILES
from abm.results.run_result import (
    RunDirectoryBusyError,
    RunDirectoryExistsError,
    RunResult,
    RunResultError,
)


@pytest.fixture(scope="module")
def result() -> RunResult:
    return run_baseline({"steps": 20})


def _one_line(error: BaseException) -> str:
    message = str(error)
    assert "\n" not in message
    return message


def test_save_to_dev_null_is_a_run_result_error(result: RunResult) -> None:
    """A device file as the target is refused as a RunResultError (still a FileExistsError)."""
    with pytest.raises(RunResultError) as caught:
        result.save("/dev/null")
    assert isinstance(caught.value, FileExistsError)
    assert "/dev/null" in _one_line(caught.value)
    assert "not a directory" in str(caught.value)


def test_save_under_a_file_names_the_file(result: RunResult, tmp_path: Path) -> None:
    """A target whose parent is a regular file names that file; nothing is created."""
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    with pytest.raises(RunResultError) as caught:
        result.save(blocker / "deeper" / "run")
    assert f"{blocker} is not a directory" in _one_line(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]
    assert blocker.read_text() == "x"


def _fault(function: str, code: int, monkeypatch: pytest.MonkeyPatch, after: int = 0) -> None:
    """Make ``os.<function>`` fail with ``code`` from its ``after``-th call on."""
    real = getattr(os, function)
    calls = {"n": 0}

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] > after:
            raise OSError(code, os.strerror(code), str(args[0]) if args else None)
        return real(*args, **kwargs)

    monkeypatch.setattr(os, function, failing)


FAULTS = [
    ("fsync", errno.ENOSPC, 0),  # a full disk shows when the data is flushed
    ("fsync", errno.ENOSPC, 5),  # ... or part-way through the files
    ("mkdir", errno.EACCES, 0),  # a read-only directory (as a non-root user sees it)
    ("mkdir", errno.EROFS, 0),  # a read-only file system
    ("open", errno.EACCES, 0),  # the lock file cannot be created
    ("rename", errno.EIO, 0),  # the swap itself fails
]


@pytest.mark.parametrize(("function", "code", "after"), FAULTS)
def test_save_os_failure_is_one_line_and_leaves_nothing(
    result: RunResult,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    function: str,
    code: int,
    after: int,
) -> None:
    """A new run that cannot be written leaves no directory, temporary or parent behind."""
    target = tmp_path / "new" / "run"
    _fault(function, code, monkeypatch, after)
    with pytest.raises(RunResultError) as caught:
        result.save(target)
    monkeypatch.undo()
    message = _one_line(caught.value)
    assert str(target) in message and os.strerror(code) in message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("function", "code", "after"), FAULTS)
def test_save_os_failure_keeps_the_existing_run(
    result: RunResult,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    function: str,
    code: int,
    after: int,
) -> None:
    """A failed replacement leaves the old run, and only it, in place."""
    target = result.save(tmp_path / "run")
    (target / "notes.txt").write_text("mine")
    other = run_baseline({"steps": 20, "seed": 99})
    _fault(function, code, monkeypatch, after)
    with pytest.raises(RunResultError, match=os.strerror(code)):
        other.save(target)
    monkeypatch.undo()
    assert RunResult.load(target).equals(result)
    assert (target / "notes.txt").read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


@pytest.mark.parametrize("length", [250, 300])
def test_save_name_too_long_says_so(result: RunResult, tmp_path: Path, length: int) -> None:
    """A name the file system (255 bytes) or the save's temporary names cannot hold is refused."""
    with pytest.raises(RunResultError, match="too long") as caught:
        result.save(tmp_path / ("a" * length))
    _one_line(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_save_while_another_writer_holds_the_directory(result: RunResult, tmp_path: Path) -> None:
    """The loser of two concurrent writers of one directory is told so, and writes nothing."""
    target = tmp_path / "run"
    with writer_lock(target), pytest.raises(RunDirectoryBusyError) as caught:
        result.save(target)
    assert "another process is saving" in _one_line(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_save_refusal_is_still_a_file_exists_error(result: RunResult, tmp_path: Path) -> None:
    """overwrite=False keeps raising FileExistsError (which abm run turns into an --out error)."""
    target = result.save(tmp_path / "run")
    with pytest.raises(RunDirectoryExistsError):
        result.save(target, overwrite=False)


def test_cli_run_out_of_space_is_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`abm run --out D` on a full disk: exit 2, one line naming D and the reason, no D."""
    out = tmp_path / "run"
    _fault("fsync", errno.ENOSPC, monkeypatch)
    code = main(["run", str(BASELINE), "--set", "steps=20", "--out", str(out), "--quiet"])
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and str(out) in err and "No space left on device" in err
    assert list(tmp_path.iterdir()) == []


def test_cli_run_out_under_a_file_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`abm run --out FILE/sub`: exit 2, one line saying FILE is not a directory."""
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    code = main(["run", str(BASELINE), "--set", "steps=20", "--out", str(blocker / "sub")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and f"{blocker} is not a directory" in err


def _record_syncs(monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], list[tuple[str, int]]]:
    """Record every path os.fsync flushes, and at each rename how many were flushed so far."""
    synced: list[str] = []
    renames: list[tuple[str, int]] = []
    real_fsync, real_rename = os.fsync, os.rename

    def fsync(descriptor: int) -> None:
        real_fsync(descriptor)
        synced.append(os.readlink(f"/proc/self/fd/{descriptor}"))

    def rename(source: Any, target: Any) -> None:
        renames.append((os.fspath(source), len(synced)))
        real_rename(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)
    return synced, renames


def _check_flushed_before_rename(
    target: Path, synced: list[str], renames: list[tuple[str, int]]
) -> None:
    staged = [(source, n) for source, n in renames if Path(source).name.startswith(".run.")]
    assert len(staged) == 1, renames
    source, before = staged[0]
    expected = {os.path.join(source, name) for name in RUN_FILES} | {source}
    assert expected <= set(synced[:before])  # every file and the directory, before the rename
    assert str(target.parent) in synced[before:]  # and the rename itself, after it
    assert sorted(p.name for p in target.iterdir()) == sorted(RUN_FILES)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to name descriptors")
def test_save_flushes_every_run_file_before_the_rename(
    result: RunResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the staged run takes its name, each of RUN_FILES and its directory are fsync'd."""
    synced, renames = _record_syncs(monkeypatch)
    target = result.save(tmp_path / "run")
    monkeypatch.undo()
    _check_flushed_before_rename(target, synced, renames)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to name descriptors")
def test_streamed_run_flushes_every_run_file_before_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A streamed run (abm run) fsyncs its files, spilled and written last, before the rename."""
    from abm.streamed import run_to

    synced, renames = _record_syncs(monkeypatch)
    saved = run_to(BASELINE, tmp_path / "run", steps=30, flush_steps=7)
    monkeypatch.undo()
    _check_flushed_before_rename(saved.path, synced, renames)
