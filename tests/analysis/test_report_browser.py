"""Run reports in a real browser: report.html of three scenarios rendered in headless Chromium.

For the baseline, the fire-sale spiral and the 2010 flash crash, a run is saved, its report
written (`analysis.report.write_report`), and report.html opened in headless Debian Chromium
(/usr/bin/chromium, driven by Playwright, the flags of the dashboard test). Every image must
have loaded (``naturalWidth > 0``) and the console must show no error. A full-page screenshot
is kept in the test's tmp directory and, when the environment variable ``ABM_SCREENSHOT_DIR``
is set, copied there. Skipped, with the reason, when Chromium or Playwright is missing.

Run lengths: the fire-sale scenario as shipped (200 steps); the baseline shortened to 600
steps; the flash crash shortened to 24,000 steps (40 minutes) with the program starting at
step 3,000 (5 minutes in, so the 5-minute "before" window is complete), which still holds the
fall and most of the recovery.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _browser import chromium_skip_reason, launched_chromium

import abm
from analysis.report import HTML_REPORT_NAME, write_report

ROOT = Path(__file__).resolve().parents[2]
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "baseline": ("scenarios/baseline.yaml", {"steps": 600}),
    "fire_sale_spiral": ("scenarios/crisis/fire_sale_spiral.yaml", {}),
    "flash_crash_2010": (
        "scenarios/crisis/flash_crash_2010.yaml",
        {"steps": 24_000, "agents.seller.start_step": 3_000},
    ),
}


_SKIP = chromium_skip_reason()
pytestmark = pytest.mark.skipif(_SKIP is not None, reason=str(_SKIP))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium under Playwright (no browser download needed)."""
    with launched_chromium() as chromium:
        yield chromium


def _report_html(name: str, directory: Path) -> Path:
    path, overrides = CASES[name]
    scenario = abm.load_scenario(ROOT / path).override(overrides)
    run_dir = abm.run(scenario).save(directory / name)
    write_report(run_dir)
    return run_dir / HTML_REPORT_NAME


@pytest.mark.parametrize("name", list(CASES))
def test_report_html_renders_in_chromium(name: str, browser: Any, tmp_path: Path) -> None:
    """The report opens with question and outcome, every figure loads, the console is clean."""
    page_file = _report_html(name, tmp_path)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(page_file.as_uri())
    page.wait_for_load_state("load")
    widths = page.eval_on_selector_all("img", "images => images.map(i => i.naturalWidth)")
    notes = page.eval_on_selector_all("div.note strong", "labels => labels.map(l => l.innerText)")
    shot = tmp_path / f"report_{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    context.close()
    target = os.environ.get("ABM_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy2(shot, Path(target) / shot.name)
    assert len(widths) >= 3, f"{name}: only {len(widths)} figures in the report"
    assert all(width > 0 for width in widths), f"{name}: image widths {widths}"
    assert errors == []
    assert notes[:1] == ["Question."] and notes[1].startswith("Expected outcome"), notes
    assert shot.stat().st_size > 50_000
