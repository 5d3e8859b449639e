"""The dashboard in a real browser: served as `abm dashboard` serves it, driven by Playwright.

Starts the server (the same command and environment as `abm dashboard`) on a free
localhost port, opens it in headless Debian Chromium (/usr/bin/chromium), and checks the
tab title, the slider values, the marking of a changed control until Reset, that Step and
Play redraw once per `abm.dashboard.app.DEFAULT_STEPS_PER_DRAW` steps, and that the charts render.
Skipped, with the reason, when Chromium, Playwright or the viz extra is missing.
Screenshots are kept in the tests' tmp directories; the server's log is checked for
warnings.
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _browser import chromium_skip_reason, launched_chromium

from abm.cli.dashboard import missing_viz_packages, server_command, server_env

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "crisis" / "fire_sale_spiral.yaml"
SERVER_START_S = 90.0
UI_TIMEOUT_MS = 60_000


def _skip_reason() -> str | None:
    missing = missing_viz_packages()
    if missing:
        return f"viz extra not installed (missing: {', '.join(missing)}): pip install -e '.[viz]'"
    return chromium_skip_reason("dev,viz")


pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the dashboard server writes its output."""
    return tmp_path_factory.mktemp("dashboard") / "server.log"


@pytest.fixture(scope="module")
def server_url(server_log: Path) -> Iterator[str]:
    """A dashboard server of the fire-sale scenario on a free port (stopped afterwards)."""
    port = _free_port()
    log = server_log
    with log.open("wb") as out:
        env = server_env(SCENARIO)
        # an asset missing from solara-assets would be fetched from the public CDN: point
        # that at a closed local port so it fails here (and no traffic leaves the machine)
        env["SOLARA_ASSETS_CDN"] = "http://127.0.0.1:9/"
        server = subprocess.Popen(
            server_command("127.0.0.1", port),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}/"
        try:
            deadline = time.monotonic() + SERVER_START_S
            while True:
                if server.poll() is not None:
                    pytest.fail(f"dashboard server exited early:\n{log.read_text()[-3000:]}")
                try:
                    with urllib.request.urlopen(url, timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"dashboard server not up after {SERVER_START_S} s")
                time.sleep(0.3)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium under Playwright (no browser download needed)."""
    with launched_chromium() as chromium:
        yield chromium


@pytest.fixture
def page(browser: Any, server_url: str) -> Iterator[Any]:
    """A fresh page (a fresh dashboard session and model), with page errors collected."""
    context = browser.new_context(viewport={"width": 1500, "height": 1350})
    tab = context.new_page()
    tab.errors = []
    tab.on("pageerror", lambda error: tab.errors.append(str(error)))
    tab.on("requestfailed", lambda request: tab.errors.append(f"failed: {request.url}"))

    def check(response: Any) -> None:
        if response.status >= 400:
            tab.errors.append(f"{response.status}: {response.url}")

    tab.on("response", check)
    tab.goto(server_url)
    tab.get_by_role("button", name="Step").wait_for(timeout=UI_TIMEOUT_MS)
    yield tab
    context.close()


def _defaults() -> tuple[int, int]:
    """abm.dashboard.app's steps per draw and pause (imported late: it needs the viz extra)."""
    from abm.dashboard.app import DEFAULT_PAUSE_MS, DEFAULT_STEPS_PER_DRAW

    return DEFAULT_STEPS_PER_DRAW, DEFAULT_PAUSE_MS


def _wait_for_step(page: Any, step: int) -> None:
    page.get_by_text(f"Step: {step}", exact=True).wait_for(timeout=UI_TIMEOUT_MS)


def _press_step(page: Any, expected_step: int) -> None:
    page.get_by_role("button", name="Step").click()
    _wait_for_step(page, expected_step)
    # the ladder is drawn in the same render as the charts
    page.locator(".abm-book-ladder").get_by_text(f"Step {expected_step},").wait_for(
        timeout=UI_TIMEOUT_MS
    )


def test_dashboard_browser_shows_every_panel(page: Any) -> None:
    """The page loads every asset locally and shows all charts, the ladder and the network."""
    for panel in (".abm-price-chart", ".abm-spread-chart", ".abm-market-makers", ".abm-network"):
        image = page.locator(f"{panel} img")
        image.wait_for(timeout=UI_TIMEOUT_MS)
        box = image.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 150, panel
    assert page.locator(".abm-book-ladder table").count() == 1
    assert page.get_by_text("abm: fire_sale_spiral").count() >= 1
    assert page.errors == []


def test_dashboard_browser_step_redraws_the_price_chart(page: Any, tmp_path: Path) -> None:
    """Three presses of Step advance the model by three draws and redraw the price chart."""
    chart = page.locator(".abm-price-chart img")
    chart.wait_for(timeout=UI_TIMEOUT_MS)
    before = chart.screenshot()
    steps_per_draw, _ = _defaults()
    for press in (1, 2, 3):
        _press_step(page, press * steps_per_draw)
    # the image is a blob: URL that changes every render; compare what it shows instead
    assert chart.screenshot() != before
    assert page.locator(".abm-network img").is_visible()
    shot = tmp_path / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    assert page.errors == []


def test_dashboard_browser_tab_title_names_the_scenario(page: Any) -> None:
    """The tab is titled after the scenario, not solara's default."""
    page.wait_for_function(
        "() => document.title === 'abm dashboard: fire_sale_spiral'", timeout=UI_TIMEOUT_MS
    )


def test_dashboard_browser_sliders_show_their_values(page: Any) -> None:
    """Each slider's visible label carries its current value."""
    steps_per_draw, pause_ms = _defaults()
    for label in (
        f"Steps per draw: {steps_per_draw}",
        f"Pause per draw: {pause_ms} ms",
        "Steps: 200",
        "Noise traders: 300",
        "Informed traders: 20",
    ):
        assert page.get_by_text(label, exact=True).is_visible(), label


def test_dashboard_browser_changed_control_is_marked_until_reset(page: Any, tmp_path: Path) -> None:
    """A slider moved by the keyboard is marked "applies on Reset"; Reset applies it."""
    page.locator(".v-input", has_text="Steps: 200").get_by_role("slider").press("ArrowRight")
    page.get_by_text("Steps: 210 *", exact=True).wait_for(timeout=UI_TIMEOUT_MS)
    note = page.locator(".abm-pending")
    assert "applies on Reset: Steps 200 -> 210" in note.inner_text()
    assert page.locator(".abm-run").get_by_text("step 0 of 200").count() == 1
    page.screenshot(path=str(tmp_path / "pending.png"), full_page=True)
    page.get_by_role("button", name="Reset").click()
    page.locator(".abm-run").get_by_text("step 0 of 210").wait_for(timeout=UI_TIMEOUT_MS)
    # the sidebar redraws after the run panel: wait for it rather than read it at once
    page.get_by_text("Steps: 210", exact=True).wait_for(timeout=UI_TIMEOUT_MS)
    note.wait_for(state="detached", timeout=UI_TIMEOUT_MS)
    assert page.errors == []


def test_dashboard_browser_play_reaches_the_crash_in_few_draws(page: Any, tmp_path: Path) -> None:
    """Play reaches step 60 (past the crash at step 59) in at most 60 / k + 1 redraws.

    And it shows the draws on the way (at least half of them), not only the last one.
    """
    page.locator(".abm-price-chart img").wait_for(timeout=UI_TIMEOUT_MS)
    # each redraw gives the chart's <img> a new blob: URL (or a new <img>); count them
    page.locator(".abm-price-chart").evaluate(
        """card => {
            window.abmRedraws = 0;
            new MutationObserver(changes => {
                window.abmRedraws += changes.filter(c => c.type === 'attributes'
                    || [...c.addedNodes].some(n => n.nodeName === 'IMG')).length;
            }).observe(card, {attributes: true, attributeFilter: ['src'], subtree: true,
                              childList: true});
        }"""
    )
    page.get_by_role("button", name="\u25b6").click()
    # Play runs on: the counter passes 60 and moves on, so wait for "at least 60"
    redraws = page.wait_for_function(
        """() => {
            const shown = [...document.querySelectorAll('*')].map(e => e.textContent.trim())
                .find(text => /^Step: \\d+$/.test(text));
            return shown && Number(shown.slice(6)) >= 60 ? window.abmRedraws : null;
        }""",
        timeout=UI_TIMEOUT_MS,
    ).json_value()
    draws = 60 // _defaults()[0]
    assert draws // 2 <= redraws <= draws + 1
    page.screenshot(path=str(tmp_path / "played.png"), full_page=True)
    assert page.errors == []


def test_dashboard_browser_server_log_has_no_warning(page: Any, server_log: Path) -> None:
    """Starting the server and loading the page log no warning (solara's or ours)."""
    page.locator(".abm-network img").wait_for(timeout=UI_TIMEOUT_MS)
    assert "Warning" not in server_log.read_text()
