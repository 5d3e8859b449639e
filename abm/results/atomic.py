"""Atomic file writes, and the writer lock of a path that is replaced as a whole.

`write_atomic`: a reader sees a file's old content or its new content, never a part. Sweep
directories (`abm.experiments.sweep_store`) and reports (`analysis.report`,
`analysis.ensemble`) write through it.

`writer_lock`: the one writer of a path replaced in several steps (a run directory, see
`abm.results.run_directory`) holds it, so that anything a dead writer left behind can be told
from the work of a live one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: no advisory locks
    fcntl = None  # type: ignore[assignment]


def write_atomic(target: Path, content: str | bytes) -> None:
    """Write ``content`` (text as UTF-8, unchanged line ends) to ``target`` atomically.

    The bytes go to a temporary sibling (same filesystem), are synced, and the sibling is renamed
    onto ``target`` with `os.replace`, so ``target`` is never seen half-written.

    Raises:
        OSError: If the file cannot be written; the temporary sibling is removed.
    """
    # Exclusive creation under a random name (rather than mkstemp, which makes files 0600) gives
    # the final file the permissions of the user's umask.
    temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        with open(temporary, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def lock_path(target: Path) -> Path:
    """The hidden sibling that `writer_lock` locks for ``target``: ``.<name>.lock``."""
    return target.with_name(f".{target.name}.lock")


@contextlib.contextmanager
def writer_lock(target: Path) -> Iterator[None]:
    """Hold the exclusive writer lock of ``target`` for the duration of the ``with`` block.

    The lock is an advisory ``flock`` on `lock_path` (created if needed, in ``target``'s
    parent, which must exist). The kernel releases it when its holder dies, even by SIGKILL,
    so whoever holds it knows that no other writer of ``target`` is alive. The lock file is
    deleted on release; a contender that opened the deleted file retries on the new one, so
    two processes never both believe they hold the lock. Without ``fcntl`` (not POSIX) the
    block runs unlocked.

    Raises:
        BlockingIOError: If another process (or another open of it in this process) holds
            the lock; nothing is changed.
        OSError: If the lock file cannot be created (a read-only or full parent, a name too
            long).
    """
    if fcntl is None:
        yield
        return
    path = lock_path(target)
    while True:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held = os.fstat(descriptor)
            current = os.stat(path)
        except FileNotFoundError:  # the previous holder deleted it after our open: retry
            os.close(descriptor)
            continue
        except BaseException:
            os.close(descriptor)
            raise
        if (held.st_dev, held.st_ino) == (current.st_dev, current.st_ino):
            break
        os.close(descriptor)  # we locked a deleted file; the live one is at path now
    try:
        yield
    finally:
        # Delete before closing: a contender then either fails to lock this (still held)
        # file or, once it is released, finds it is no longer the one at ``path``.
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(descriptor)
