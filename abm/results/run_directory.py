"""Replacing a run directory in place, keeping the user's files and recoverable after a kill.

`abm.results.run_result.RunResult.save` holds the target's writer lock
(`abm.results.atomic.writer_lock`) from start to end. It writes the new run in a hidden
sibling ``.<name>.tmp-<pid>-<hex>`` (`staging_path`), carries over into it every entry of the
old directory that is not one of the run's own files (`RUN_FILES`), swaps the two by renames
(old -> ``.<name>.tmp-<pid>-<hex>.old``, `aside_path`; new -> ``<name>``) and then clears the
old one (`retire`). A report or a note written into the directory survives the replacement.

Recovery (`recover`). A writer killed part-way leaves its temporaries, and one killed between
the two renames leaves no ``<name>`` at all: the old run only as the ``.old`` sibling and the
new one as the staging sibling. Whoever next takes the lock (the next save into the target,
or `RunResult.load` / ``abm report`` through `recover_if_interrupted`) knows that every such
sibling belongs to a dead writer, because a live writer would hold the lock, and:

- **rolls back** an interrupted swap: the ``.old`` sibling is renamed back to ``<name>`` and
  the staging sibling deleted. A save that never returned leaves the directory as it was
  before it, exactly as a save that fails in-process does (it renames the old run back), so
  "the command did not finish" always means "nothing changed"; the user re-runs (runs are
  deterministic). Rolling forward would instead install a run whose writer never confirmed
  it and which lacks any file added to the old directory after the carry-over.
- **finishes** a swap that completed but whose ``.old`` sibling was not yet cleared: the new
  run is in place (the writer got past its last rename), so the old one is retired as
  `retire` does, deleting only what is the same file, or the same bytes, as its counterpart
  in the new directory, moving what is free and keeping (with a warning) anything else.
- deletes every other staging sibling (a run that was never put in place) and the dead
  writer's lock file.

`ABM_TEST_PAUSE_AT` is a test hook only (`pause_for_fault_test`): it lets the fault tests
stop a real ``abm run`` at a named point of the swap and kill it there.
"""

from __future__ import annotations

import contextlib
import errno
import filecmp
import os
import re
import secrets
import shutil
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from abm.errors import AbmError
from abm.results.atomic import lock_path, writer_lock
from abm.results.recorder import TABLES

RUN_FILES = (
    *(f"{table}.parquet" for table in TABLES),
    "summary.json",
    "scenario.yaml",
    "meta.json",
)
"""The files of a run directory; anything else in it belongs to the user and is kept."""
TEMPORARY_SUFFIX_MAX = len(".tmp-4194304-0123abcd.old") + 1
"""The most characters the temporary siblings add to a run directory's name (pid <= 2**22)."""
TEST_PAUSE_ENV = "ABM_TEST_PAUSE_AT"
"""Test hook: ``<point>:<flag file>`` makes a save stop at ``point`` (`pause_for_fault_test`)."""
PAUSE_POINTS = ("staged", "between_renames", "swapped")
"""Where `pause_for_fault_test` can stop a save: all files staged (before the first rename),
between the two renames (the target absent), and after the swap (before the old run is
cleared)."""


class RunResultError(AbmError, ValueError):
    """A run directory or table breaks the run format (DESIGN.md 8), or cannot be written or read.

    The message is one line naming the path and the reason.
    """


class RunDirectoryExistsError(RunResultError, FileExistsError):
    """The target of a save exists and may not be replaced (see `check_replaceable`)."""


class RunDirectoryBusyError(RunResultError):
    """Another process is saving a run into the same directory right now."""


def staging_path(target: Path) -> Path:
    """A fresh hidden sibling of ``target`` to build a new run in: ``.<name>.tmp-<pid>-<hex>``."""
    return target.with_name(f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")


def aside_path(staging: Path) -> Path:
    """Where the run being replaced waits while ``staging`` takes its place."""
    return staging.with_name(f"{staging.name}.old")


def describe_os_error(error: OSError, target: Path, *, saving: bool = True) -> str:
    """The OS reason of ``error`` in words, with the path it concerns, for a one-line message.

    ``target`` is the run directory; ``saving`` says whether a save failed (whose temporary
    siblings need longer names than ``target``'s own).
    """
    if error.errno == errno.ENAMETOOLONG:
        extra = f"; a save needs up to {TEMPORARY_SUFFIX_MAX} more" if saving else ""
        return f"a name is too long for the file system ({len(target.name)} characters{extra})"
    reason = error.strerror or str(error) or type(error).__name__
    # For a rename, the destination (filename2) is the path the user knows.
    where = error.filename2 if error.filename2 is not None else error.filename
    return f"{reason}: {os.fsdecode(where)}" if where is not None else reason


def make_parent(target: Path) -> list[Path]:
    """Create ``target``'s missing ancestors; return those created, deepest last.

    Raises:
        RunResultError: If an ancestor exists and is not a directory.
        OSError: If a directory cannot be created.
    """
    missing: list[Path] = []
    for ancestor in target.parents:
        if ancestor.is_dir():
            break
        if ancestor.exists() or ancestor.is_symlink():
            raise RunResultError(f"cannot save the run to {target}: {ancestor} is not a directory")
        missing.append(ancestor)
    created: list[Path] = []
    for ancestor in reversed(missing):
        ancestor.mkdir()
        created.append(ancestor)
    return created


def remove_created(created: list[Path]) -> None:
    """Remove the (still empty) directories `make_parent` created, deepest first."""
    for directory in reversed(created):
        with contextlib.suppress(OSError):
            directory.rmdir()


def check_replaceable(target: Path, overwrite: bool, force: bool) -> None:
    """Refuse to replace ``target`` unless it is a run directory (or ``force``) and ``overwrite``.

    Raises:
        RunDirectoryExistsError: If ``overwrite`` is False, ``target`` is not a directory (or
            is a symlink), or it is a non-empty directory without ``meta.json`` and not
            ``force``.
    """
    if not overwrite:
        raise RunDirectoryExistsError(
            f"{target} exists; pass overwrite=True or choose another directory"
        )
    if target.is_symlink():
        raise RunDirectoryExistsError(
            f"{target} is a symbolic link; pass the directory it points to"
        )
    if not target.is_dir():
        raise RunDirectoryExistsError(
            f"{target} exists and is not a directory; choose another path"
        )
    if not force and not (target / "meta.json").is_file() and any(target.iterdir()):
        raise RunDirectoryExistsError(
            f"{target} is a non-empty directory without meta.json, so not a run; "
            "refusing to write into it: choose another directory or pass force=True"
        )


def _signature(path: str | os.PathLike[str]) -> tuple[int, ...]:
    """What identifies a file's state without reading it: device, inode, size, mtime."""
    info = os.lstat(path)
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


def carry_over(old: Path, new: Path, carried: dict[str, tuple[int, ...]], rel: str = "") -> None:
    """Hard-link (or copy) into ``new`` every entry of ``old`` that is not a run file.

    Records each carried file's `_signature` in ``carried`` under its path relative to the run
    directory, so that `retire` deletes an old entry only once its content is known to be in
    the new directory. A name already in ``new`` raises FileExistsError (nothing is lost: the
    caller abandons ``new``).
    """
    for entry in os.scandir(old):
        path = f"{rel}{entry.name}"
        if not rel and entry.name in RUN_FILES and entry.is_file(follow_symlinks=False):
            continue  # the run's own file: the new run replaces it
        destination = new / entry.name
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), destination)
        elif entry.is_dir():
            destination.mkdir()
            shutil.copystat(entry.path, destination)
            carry_over(Path(entry.path), destination, carried, f"{path}/")
            continue
        else:
            try:
                os.link(entry.path, destination, follow_symlinks=False)
            except OSError:  # a file system without hard links, or a link count limit
                if not entry.is_file(follow_symlinks=False):
                    raise
                shutil.copy2(entry.path, destination)
        carried[path] = _signature(entry.path)


def _lexists(path: Path) -> bool:
    return path.is_symlink() or path.exists()


def _is_in_target(old: Path, new: Path, recorded: tuple[int, ...]) -> bool:
    """Whether ``old`` is safe to delete: unchanged since carried, or the very file at ``new``."""
    if _signature(old) == recorded:
        return True
    return _lexists(new) and _signature(old)[:2] == _signature(new)[:2]


def retire(aside: Path, target: Path, carried: dict[str, tuple[int, ...]]) -> None:
    """Clear the replaced directory ``aside`` without losing anything that is not in ``target``.

    The old run's files are deleted (all at once: a deletion waited for its own journal commit
    here, 3-4 ms each, while concurrent ones share one); a carried entry is deleted when it is
    the same file as its copy in ``target`` or unchanged since it was carried; an entry created
    after the carry is moved into ``target`` when its name is free there. Anything else stays
    in ``aside``, and a warning names it.
    """
    own: list[Path] = []  # the replaced run's own files, deleted together (`_concurrently`)
    for root, dirs, files in os.walk(aside, topdown=False):
        base = Path(root)
        prefix = base.relative_to(aside).as_posix()
        prefix = "" if prefix == "." else f"{prefix}/"
        for name in (*files, *(d for d in dirs if (base / d).is_symlink())):
            old, rel = base / name, f"{prefix}{name}"
            new = target / rel
            if rel in carried:
                if _is_in_target(old, new, carried[rel]):
                    old.unlink()
            elif not prefix and name in RUN_FILES:  # the replaced run's own file
                own.append(old)
            elif not _lexists(new):
                new.parent.mkdir(parents=True, exist_ok=True)
                os.rename(old, new)
        for name in dirs:
            with contextlib.suppress(OSError):  # not empty: something had to stay
                (base / name).rmdir()
    _concurrently(os.unlink, own)
    try:
        aside.rmdir()
    except OSError:
        warnings.warn(
            f"files changed while the run in {target} was replaced are kept in {aside}; "
            "compare them with the run directory, then delete it",
            stacklevel=3,
        )


def fsync_directory(path: Path) -> None:
    """Flush ``path``'s directory entries (persisting a rename in it); a no-op off POSIX."""
    # Only POSIX can open a directory.
    if os.name != "posix":
        return
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def sync_staged(staging: Path) -> None:
    """Flush a staged run to disk before it is renamed into place: its files, then its entries.

    What makes the rename safe: once ``staging`` can appear under the run's name, every
    byte of the run's own files (`RUN_FILES`) and every entry of the directory must already
    be on disk, or a power failure after the rename could leave a run that looks complete
    with an empty or short file in it. (A killed process needs no flush: its writes are in
    the page cache, and the rename is atomic either way.) The rename itself is made durable
    by the caller's flush of the parent directory after it.

    The flushes run concurrently, one thread each (`fsync` releases the interpreter lock),
    and all have finished when this returns: a journaling file system (ext4, XFS) commits
    concurrent flushes together, in a journal transaction or two rather than one each. The
    files of a run (14 with the texts) took 45-70 ms flushed one after the other on this
    project's machine and 6-15 ms together. The directory's own entries are flushed with
    them (on POSIX only, as `fsync_directory`).

    Raises:
        OSError: The first flush that failed (a full disk: ``ENOSPC``), after all have ended.
    """
    paths = [staging / name for name in RUN_FILES if (staging / name).is_file()]
    if os.name == "posix":  # only POSIX can open a directory
        paths.append(staging)
    _concurrently(_fsync_path, paths)


def _fsync_path(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY if os.name == "posix" else os.O_RDWR)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _concurrently(operation: Callable[[Path], object], paths: list[Path]) -> None:
    """``operation(path)`` for every one of ``paths`` at once, one thread each; all end here.

    For file-system calls that wait on the journal (`os.fsync`, `os.unlink` on this
    machine's ext4 mounted with ``discard``): they release the interpreter lock, and the
    file system commits concurrent ones together.

    Raises:
        OSError: The first call that failed, once every call has ended.
    """
    errors: list[OSError] = []

    def run(path: Path) -> None:
        try:
            operation(path)
        except OSError as error:
            errors.append(error)  # list.append is atomic: no lock needed

    threads = [threading.Thread(target=run, args=(path,), daemon=True) for path in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def temporaries(target: Path) -> tuple[list[Path], list[Path]]:
    """The staging and the ``.old`` siblings of ``target`` that a save left: (staging, asides).

    Only directories (never symlinks) named exactly as `staging_path` and `aside_path` name
    them count, newest name order aside.
    """
    pattern = re.compile(rf"\.{re.escape(target.name)}\.tmp-\d+-[0-9a-f]{{8}}(\.old)?")
    staging: list[Path] = []
    asides: list[Path] = []
    try:
        entries = list(os.scandir(target.parent))
    except (FileNotFoundError, NotADirectoryError):
        return staging, asides
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match and entry.is_dir(follow_symlinks=False):
            (asides if match.group(1) else staging).append(Path(entry.path))
    return sorted(staging), sorted(asides)


def recover(target: Path) -> None:
    """Roll back or finish what dead writers of ``target`` left (module docstring).

    Call with ``target``'s writer lock held, which proves every temporary sibling is a dead
    writer's.

    Raises:
        RunResultError: If ``target`` is absent and several replaced runs wait beside it (the
            message names them; nothing is changed).
        OSError: If a rename or a deletion fails.
    """
    staging, asides = temporaries(target)
    if not _lexists(target) and asides:
        if len(asides) > 1:
            raise RunResultError(
                f"{target} is missing and several interrupted replacements left runs beside it "
                f"({', '.join(path.name for path in asides)}); rename the one to keep to "
                f"{target.name} and delete the others"
            )
        os.rename(asides.pop(), target)
        fsync_directory(target.parent)
        warnings.warn(
            f"{target}: a replacement of this run was interrupted; the previous run is "
            "restored (the interrupted save did not finish)",
            stacklevel=3,
        )
    for directory in staging:
        shutil.rmtree(directory)
    for aside in asides:
        if not (target / "meta.json").is_file():
            warnings.warn(
                f"{aside} holds a replaced run but {target} is not a run directory; "
                "left as it is: compare them, then delete it",
                stacklevel=3,
            )
            continue
        retire(aside, target, _carried_by_content(aside, target))


def recover_if_interrupted(target: Path) -> None:
    """`recover` ``target`` if a dead writer left anything there; for readers of a run.

    Cheap when there is nothing to do (one scan of the parent). When a live writer holds the
    lock, or the lock cannot be taken (a read-only parent), nothing is done: the reader sees
    the directory as it is.
    """
    staging, asides = temporaries(target)
    if not (staging or asides or _lexists(lock_path(target))):
        return
    try:
        with writer_lock(target):
            recover(target)
    except BlockingIOError:
        return  # a live writer is at work
    except OSError as error:
        if _lexists(target):
            return  # not ours to repair (read-only), and the run is there to read
        raise RunResultError(
            f"{target} is missing after an interrupted replacement, which cannot be "
            f"recovered: {describe_os_error(error, target)}"
        ) from error


def _carried_by_content(aside: Path, target: Path) -> dict[str, tuple[int, ...]]:
    """The `carry_over` record `retire` needs, rebuilt after the writer died with it.

    An entry of ``aside`` counts as carried when its counterpart in ``target`` is the same
    file (a hard link) or holds the same bytes (a copy).
    """
    carried: dict[str, tuple[int, ...]] = {}
    for root, _dirs, files in os.walk(aside):
        for name in files:
            old = Path(root) / name
            rel = old.relative_to(aside).as_posix()
            new = target / rel
            if old.is_symlink() or not new.is_file() or new.is_symlink():
                continue
            if _signature(old)[:2] == _signature(new)[:2] or filecmp.cmp(old, new, shallow=False):
                carried[rel] = _signature(old)
    return carried


def pause_for_fault_test(point: str) -> None:
    """Test hook: stop here when `TEST_PAUSE_ENV` is ``<point>:<flag file>`` for this ``point``.

    The save creates the flag file and sleeps (up to a minute), so that a fault test can
    SIGKILL it at exactly this point (one of `PAUSE_POINTS`). Unset, it costs one lookup.
    """
    setting = os.environ.get(TEST_PAUSE_ENV)
    if not setting:
        return
    wanted, _, flag = setting.partition(":")
    if wanted != point or not flag:
        return
    Path(flag).touch()
    time.sleep(60)
