"""Headless Debian Chromium under Playwright, shared by the dashboard and report browser tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
# --no-sandbox: Chromium refuses to start as root without it (CI runs as root); the network
# flags keep it from reaching for hosts this machine cannot resolve
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def chromium_skip_reason(extra: str = "dev") -> str | None:
    """Why a browser test cannot run here (no chromium, no playwright), or None."""
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        return f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return f"playwright not installed: pip install -e '.[{extra}]'"
    return None


@contextmanager
def launched_chromium() -> Iterator[Any]:
    """A Playwright browser on Debian's chromium (no browser download needed)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()
