"""Replacing a run directory in place without losing what a user put beside the run.

`abm.results.run_result.RunResult.save` writes a new run in a hidden sibling, carries over
into it every entry of the old directory that is not one of the run's own files
(`RUN_FILES`), swaps the two by renames and then clears the old one (`retire`), so a crash
leaves the old run or the new one under the final name, never a mixture, and a report or a
note written into the directory survives the replacement.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import warnings
from pathlib import Path

from abm.results.recorder import TABLES

RUN_FILES = (
    *(f"{table}.parquet" for table in TABLES),
    "summary.json",
    "scenario.yaml",
    "meta.json",
)
"""The files of a run directory; anything else in it belongs to the user and is kept."""


def check_replaceable(target: Path, overwrite: bool, force: bool) -> None:
    """Refuse to replace ``target`` unless it is a run directory (or ``force``) and ``overwrite``.

    Raises:
        FileExistsError: If ``overwrite`` is False, ``target`` is not a directory (or is a
            symlink), or it is a non-empty directory without ``meta.json`` and not ``force``.
    """
    if not overwrite:
        raise FileExistsError(f"{target} exists; pass overwrite=True or choose another directory")
    if target.is_symlink() or not target.is_dir():
        raise FileExistsError(f"{target} exists and is not a run directory; remove it first")
    if not force and not (target / "meta.json").is_file() and any(target.iterdir()):
        raise FileExistsError(
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

    The old run's files are deleted; a carried entry is deleted when it is the same file as its
    copy in ``target`` or unchanged since it was carried; an entry created after the carry is
    moved into ``target`` when its name is free there. Anything else stays in ``aside``, and a
    warning names it.
    """
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
                old.unlink()
            elif not _lexists(new):
                new.parent.mkdir(parents=True, exist_ok=True)
                os.rename(old, new)
        for name in dirs:
            with contextlib.suppress(OSError):  # not empty: something had to stay
                (base / name).rmdir()
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
