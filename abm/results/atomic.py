"""Atomic file writes: a reader sees a file's old content or its new content, never a part.

Sweep directories (`abm.experiments.sweep_store`) and reports (`analysis.report`,
`analysis.ensemble`) write through `write_atomic`.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


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
