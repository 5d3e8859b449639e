"""The live dashboard: its model wrapper, its panels (rendered without a browser), the command.

The panel tests render the app with ``solara.render`` and press its buttons through the
rendered widgets; they need the ``viz`` extra and are skipped without it. The browser test
is in test_dashboard_browser.py.
"""

from __future__ import annotations

import argparse
import importlib.util
import socket
from pathlib import Path
from typing import Any

import pytest

from abm import load_scenario
from abm.cli.dashboard import SAMESITE_WARNING, register, server_command, server_env
from abm.dashboard.model import (
    SCENARIO_ENV,
    DashboardError,
    DashboardModel,
    dashboard_scenario,
    pending_controls,
    policy_document,
)
from abm.model import MarketModel
from abm.states import Status

ROOT = Path(__file__).resolve().parents[2]
FIRE_SALE = str(ROOT / "scenarios" / "crisis" / "fire_sale_spiral.yaml")
BASELINE = str(ROOT / "scenarios" / "baseline.yaml")


# ----- the model wrapper ------------------------------------------------------------


def test_dashboard_model_defaults_reproduce_the_scenario_run() -> None:
    """Untouched controls give the scenario's own run: same seed, same path, step by step."""
    wrapped = DashboardModel(scenario_path=FIRE_SALE)
    plain = MarketModel(load_scenario(FIRE_SALE))
    for _ in range(20):
        wrapped.step()
        plain.step()
    assert wrapped.seed == plain.seed
    assert wrapped.mid_price() == plain.mid_price()
    assert wrapped.fundamental.value == plain.fundamental.value
    assert wrapped.totals() == plain.totals()


def test_dashboard_model_seed_text_is_read_as_an_integer() -> None:
    """A text-box seed ("7", as solara returns it after an edit) is the integer seed 7."""
    from_text = DashboardModel(scenario_path=FIRE_SALE, seed=" 7 ")
    from_int = DashboardModel(scenario_path=FIRE_SALE, seed=7)
    for model in (from_text, from_int):
        for _ in range(5):
            model.step()
    assert from_text.seed == 7
    assert from_text.fundamental.value == from_int.fundamental.value


@pytest.mark.parametrize("seed", ["abc", "1.5", "-3"])
def test_dashboard_model_bad_seed_names_the_control(seed: str) -> None:
    """A seed that is not a non-negative integer is a DashboardError naming the seed."""
    with pytest.raises(DashboardError, match="seed: must be a non-negative integer"):
        DashboardModel(scenario_path=FIRE_SALE, seed=seed)


@pytest.mark.parametrize(
    ("controls", "name"),
    [
        ({"seed": True}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"seed": [1]}, "seed"),
        ({"seed": "9" * 5000}, "seed"),  # beyond Python's int-conversion limit
        ({"steps": 2.5}, "steps"),
        ({"steps": True}, "steps"),
        ({"steps": "30"}, "steps"),
        ({"n_noise": 3.0}, "n_noise"),
        ({"n_noise": -1}, "n_noise"),
        ({"informed_count": [2]}, "informed_count"),
    ],
)
def test_dashboard_scenario_refuses_non_integer_controls(controls: dict, name: str) -> None:
    """A bool, float, text or negative count is a DashboardError naming it, never truncated."""
    with pytest.raises(DashboardError, match=rf"^{name}: must be a non-negative integer") as info:
        dashboard_scenario(load_scenario(BASELINE), **controls)
    assert len(str(info.value)) < 120


def test_dashboard_model_refuses_a_scenario_path_of_the_wrong_type() -> None:
    """scenario_path=3 is a DashboardError naming it, not a TypeError from os.fspath."""
    with pytest.raises(DashboardError, match=r"^scenario_path: must be a scenario file path"):
        DashboardModel(scenario_path=3)  # type: ignore[arg-type]


def test_dashboard_scenario_applies_counts_steps_and_policy() -> None:
    """Counts, steps and the policy choice land on the scenario's groups."""
    scenario = dashboard_scenario(
        load_scenario(BASELINE), steps=30, n_noise=40, informed_count=0, mm_policy="symmetric"
    )
    assert scenario.steps == 30
    assert scenario.agents["noise"].count == 40
    assert scenario.agents["informed"].count == 0
    policies = [getattr(g, "policy", None) for g in scenario.groups_of("market_maker").values()]
    assert [p.kind for p in policies if p is not None] == ["symmetric"] * 3
    # copied from the baseline's own symmetric group (spread 0.04)
    assert {p.model_dump()["spread"] for p in policies if p is not None} == {0.04}


def test_policy_document_falls_back_to_baseline_values() -> None:
    """A policy the scenario does not use gets the baseline's parameters (4-tick spread)."""
    scenario = load_scenario(FIRE_SALE)  # GLFT only
    assert policy_document(scenario, "symmetric") == {"kind": "symmetric", "spread": 0.04}
    assert policy_document(scenario, "glft")["gamma"] == 0.5
    with pytest.raises(DashboardError, match="mm_policy"):
        policy_document(scenario, "martingale")


def test_dashboard_scenario_rejects_a_count_without_a_group() -> None:
    """Sizing a group kind the scenario lacks is an error; a count of 0 is accepted."""
    scenario = load_scenario(ROOT / "scenarios" / "avellaneda_stoikov_2008.yaml")
    assert dashboard_scenario(scenario, informed_count=0) == scenario
    with pytest.raises(DashboardError, match="informed_count: the scenario has no informed"):
        dashboard_scenario(scenario, informed_count=5)


def test_dashboard_model_history_is_bounded() -> None:
    """The chart history keeps only the last ``history_steps`` snapshots, newest last."""
    model = DashboardModel(scenario_path=FIRE_SALE, history_steps=5)
    for _ in range(8):
        model.step()
    assert len(model.history) == 5
    assert [row.step for row in model.history] == [4, 5, 6, 7, 8]
    assert model.history[-1].fundamental == model.fundamental.value


def test_dashboard_model_stops_running_after_its_steps() -> None:
    """``running`` (Mesa's flag that disables Step and Play) turns False at the last step."""
    model = DashboardModel(scenario_path=FIRE_SALE, steps=3)
    states = []
    for _ in range(3):
        states.append(model.running)
        model.step()
    assert states == [True, True, True] and model.running is False


def test_pending_controls_empty_for_the_model_s_own_values() -> None:
    """The values a model was built with (seed as text, counts, policy) are not pending."""
    model = DashboardModel(scenario_path=FIRE_SALE, seed="11", n_noise=40, mm_policy="symmetric")
    chosen = {
        "scenario_path": FIRE_SALE,
        "seed": " 11 ",
        "steps": 200,
        "n_noise": 40,
        "informed_count": 20,
        "mm_policy": "symmetric",
    }
    assert pending_controls(model, chosen) == {}


def test_pending_controls_lists_each_change_from_and_to() -> None:
    """A changed count, steps or policy is listed as (running value, chosen value)."""
    model = DashboardModel(scenario_path=FIRE_SALE)
    chosen = {"steps": 300, "n_noise": 300, "informed_count": 5, "mm_policy": "glft"}
    assert pending_controls(model, chosen) == {
        "steps": (200, 300),
        "informed_count": (20, 5),
        "mm_policy": ("scenario", "glft"),
    }


def test_pending_controls_seed_blank_is_the_file_seed_and_junk_is_a_change() -> None:
    """A blank seed box means the file's seed; text that is not an integer is a change."""
    model = DashboardModel(scenario_path=FIRE_SALE, seed=11)
    file_seed = load_scenario(FIRE_SALE).seed
    assert pending_controls(model, {"seed": ""}) == {"seed": (11, file_seed)}
    assert pending_controls(model, {"seed": "x1"}) == {"seed": (11, "x1")}
    assert pending_controls(DashboardModel(scenario_path=FIRE_SALE), {"seed": ""}) == {}


# ----- the command --------------------------------------------------------------------


def _command(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="abm")
    register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_dashboard_command_defaults() -> None:
    """`abm dashboard` defaults to the baseline scenario on 127.0.0.1:8765."""
    args = _command(["dashboard"])
    assert (args.scenario, args.host, args.port) == (None, "127.0.0.1", 8765)


def test_dashboard_command_without_viz_extra_is_a_cli_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without solara installed the command fails with CliError naming the viz extra."""
    from abm.cli.common import CliError

    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *rest: Any) -> Any:
        return None if name == "solara" else real_find_spec(name, *rest)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    args = _command(["dashboard", FIRE_SALE])
    with pytest.raises(CliError, match=r"viz extra \(missing: solara\).*\[viz\]"):
        args.func(args)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["dashboard", "no/such.yaml"], "no/such.yaml: file not found"),
        (["dashboard", FIRE_SALE, "--port", "0"], "--port: must be between 1 and 65535"),
    ],
)
def test_dashboard_command_user_errors(argv: list[str], message: str) -> None:
    """A missing scenario or an impossible port is one AbmError message (exit code 2)."""
    pytest.importorskip("solara")
    from abm.errors import AbmError

    args = _command(argv)
    with pytest.raises(AbmError, match=message):
        args.func(args)


def test_dashboard_command_busy_port_is_a_cli_error() -> None:
    """A port another server listens on is refused before anything starts."""
    pytest.importorskip("solara")
    from abm.cli.common import CliError

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        args = _command(["dashboard", FIRE_SALE, "--port", str(port)])
        with pytest.raises(CliError, match=f"127.0.0.1:{port} is in use"):
            args.func(args)


def test_dashboard_server_command_serves_the_app_with_the_scenario() -> None:
    """The server runs `solara run abm.dashboard.app` in production mode, scenario in the env."""
    command = server_command("127.0.0.1", 9999)
    assert command[3:7] == ["-m", "solara", "run", "abm.dashboard.app"]
    assert command[1:3] == ["-W", SAMESITE_WARNING]
    assert "--production" in command and command[command.index("--port") + 1] == "9999"
    env = server_env(FIRE_SALE)
    assert env[SCENARIO_ENV] == FIRE_SALE
    assert env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] == "false"


# ----- the panels, rendered without a browser -----------------------------------------


@pytest.fixture
def viz() -> Any:
    """The app module (skips the test without the viz extra)."""
    pytest.importorskip("solara")
    pytest.importorskip("mesa.visualization")
    import abm.dashboard.app

    return abm.dashboard.app


def _render(viz: Any, model: DashboardModel, scenario_path: str) -> tuple[Any, Any]:
    import solara

    reactive = solara.reactive(model)
    element = viz.dashboard_view(reactive, viz.model_params(scenario_path))
    _, rc = solara.render(solara.AppLayout(children=[element]), handle_error=False)
    return reactive, rc


def _panel(rc: Any, css_class: str) -> Any:
    """The card of one panel, found by the CSS class the app gives it."""
    import ipyvuetify as v

    cards = [w for w in rc.find(v.Card).widgets if css_class in (w.class_ or "").split()]
    assert len(cards) == 1, css_class
    return cards[0]


def _image(card: Any) -> bytes:
    import ipywidgets

    images = [w for w in _walk(card) if isinstance(w, ipywidgets.Image)]
    assert len(images) == 1
    return bytes(images[0].value)


def _walk(widget: Any) -> list[Any]:
    found = [widget]
    for child in getattr(widget, "children", None) or []:
        if hasattr(child, "keys"):
            found += _walk(child)
    return found


def _html(card: Any) -> str:
    """The HTML a panel shows in its solara.HTML widgets."""
    return " ".join(str(getattr(w, "unsafe_innerHTML", None) or "") for w in _walk(card))


def test_app_step_button_advances_steps_per_draw_and_redraws(viz: Any) -> None:
    """Pressing Step runs `DEFAULT_STEPS_PER_DRAW` model steps; the charts are redrawn."""
    import ipyvuetify as v

    k = viz.DEFAULT_STEPS_PER_DRAW
    model = DashboardModel(scenario_path=FIRE_SALE)
    _, rc = _render(viz, model, FIRE_SALE)
    before = _image(_panel(rc, "abm-price-chart"))
    step = rc.find(v.Btn, children=["Step"])
    step.assert_single()
    step.widget.click()
    step.widget.click()
    assert model.step_index == 2 * k and model.steps == 2 * k
    assert [row.step for row in model.history] == list(range(2 * k + 1))
    assert _image(_panel(rc, "abm-price-chart")) != before
    assert f"Step {2 * k}, spread" in _html(_panel(rc, "abm-book-ladder"))
    for panel in ("abm-spread-chart", "abm-market-makers", "abm-network"):
        assert _image(_panel(rc, panel)).startswith(b"\x89PNG")


def test_app_step_draws_once_per_steps_per_draw(viz: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """With 7 steps per draw, three presses of Step run 21 steps and draw the chart 3 times."""
    import ipyvuetify as v

    drawn: list[int] = []
    price_figure = viz.price_figure

    def counting(model: DashboardModel) -> Any:
        drawn.append(model.step_index)
        return price_figure(model)

    monkeypatch.setattr(viz, "price_figure", counting)
    model = DashboardModel(scenario_path=FIRE_SALE)
    _, rc = _render(viz, model, FIRE_SALE)
    rc.find(v.Slider, label=f"Steps per draw: {viz.DEFAULT_STEPS_PER_DRAW}").widget.v_model = 7
    for _ in range(3):
        rc.find(v.Btn, children=["Step"]).widget.click()
    assert model.step_index == 21
    assert drawn == [0, 7, 14, 21]  # the first draw, then one per press


def test_app_tab_title_names_the_scenario(viz: Any) -> None:
    """The page sets the browser tab's title to "abm dashboard: <scenario name>"."""
    from solara.components.title import TitleWidget

    _, rc = _render(viz, DashboardModel(scenario_path=FIRE_SALE), FIRE_SALE)
    assert rc.find(TitleWidget).widget.title == "abm dashboard: fire_sale_spiral"


def test_app_slider_labels_show_their_values(viz: Any) -> None:
    """Every slider's label ends in its value, and follows it when the slider moves."""
    import ipyvuetify as v

    _, rc = _render(viz, DashboardModel(scenario_path=FIRE_SALE), FIRE_SALE)
    labels = [w.label for w in rc.find(v.Slider).widgets]
    assert labels == [
        f"Steps per draw: {viz.DEFAULT_STEPS_PER_DRAW}",
        f"Pause per draw: {viz.DEFAULT_PAUSE_MS} ms",
        "Steps: 200",
        "Noise traders: 300",
        "Informed traders: 20",
    ]
    rc.find(v.Slider, label=f"Pause per draw: {viz.DEFAULT_PAUSE_MS} ms").widget.v_model = 250
    rc.find(v.Slider, label="Pause per draw: 250 ms").assert_single()


def test_app_changed_control_is_marked_until_reset_applies_it(viz: Any) -> None:
    """A moved slider is marked and named in the note; Reset applies it and clears both."""
    import ipyvuetify as v

    model = DashboardModel(scenario_path=FIRE_SALE)
    reactive, rc = _render(viz, model, FIRE_SALE)
    assert rc.find(v.Alert).widgets == []
    rc.find(v.Slider, label="Steps: 200").widget.v_model = 300
    rc.find(v.Slider, label="Steps: 300 *").assert_single()
    (note,) = rc.find(v.Alert).widgets
    assert "applies on Reset: Steps 200 -> 300" in str(note.children)
    assert reactive.value is model and model.scenario.steps == 200  # not applied yet
    rc.find(v.Btn, children=["Reset"]).widget.click()
    assert reactive.value.scenario.steps == 300
    rc.find(v.Slider, label="Steps: 300").assert_single()
    assert rc.find(v.Alert).widgets == []


def test_app_reset_rebuilds_the_model_from_the_controls(viz: Any) -> None:
    """Seed typed as text, a policy choice and a trader count all reach the new model."""
    import ipyvuetify as v

    model = DashboardModel(scenario_path=FIRE_SALE)
    reactive, rc = _render(viz, model, FIRE_SALE)
    seed = rc.find(v.TextField, label="Seed").widget
    seed.v_model = "11"
    seed.fire_event("keyup.enter", None)
    rc.find(v.Select, label="Market-maker policy").widget.v_model = "symmetric"
    rc.find(v.Btn, children=["Reset"]).widget.click()
    rebuilt = reactive.value
    assert rebuilt is not model and rebuilt.step_index == 0
    assert rebuilt.seed == 11
    assert {type(mm.policy).__name__ for mm in rebuilt.market_makers} == {"Symmetric"}
    assert "seed 11" in _html(_panel(rc, "abm-run"))


def test_app_network_colours_defaulted_market_makers(viz: Any) -> None:
    """After the fire-sale scenario's default shock (step 51) its four dealers show defaulted."""
    model = DashboardModel(scenario_path=FIRE_SALE)
    for _ in range(51):
        model.step()
    states = viz.node_states(model)
    assert states[:4] == [Status.DEFAULTED.value] * 4
    assert states.count(Status.DEFAULTED.value) == sum(
        mm.status is Status.DEFAULTED for mm in model.market_makers
    )


def test_app_ladder_lists_asks_above_bids(viz: Any) -> None:
    """The ladder shows the top levels, prices strictly falling from the asks to the bids."""
    model = DashboardModel(scenario_path=FIRE_SALE)
    for _ in range(10):
        model.step()
    prices = [float(price) for _, price, _ in viz.ladder_rows(model, levels=3)]
    expected = [p for p, _ in reversed(model.book.depth("sell", 3))]
    expected += [p for p, _ in model.book.depth("buy", 3)]
    assert prices == pytest.approx(expected)
    assert prices == sorted(prices, reverse=True)


def test_app_ladder_marks_an_empty_side(viz: Any) -> None:
    """Once the fire sale has emptied the bid side (step 70), the ladder says so."""
    model = DashboardModel(scenario_path=FIRE_SALE)
    for _ in range(70):
        model.step()
    assert model.book.best_bid() is None
    assert viz.ladder_rows(model)[-1] == ("", "no bids", "")
    assert "spread -" in viz.ladder_html(model)


def test_app_page_reads_the_scenario_from_the_environment(
    viz: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`solara run abm.dashboard.app` shows $ABM_DASHBOARD_SCENARIO (what `abm dashboard` sets)."""
    import solara

    monkeypatch.setenv(SCENARIO_ENV, "crisis/hot_potato.yaml")
    _, rc = solara.render(solara.AppLayout(children=[viz.Page()]), handle_error=False)
    assert "hot_potato" in _html(_panel(rc, "abm-run"))


def test_app_page_releases_replaced_models(viz: Any) -> None:
    """Reset and unmount drop models from Mesa's Agent._ids, which would keep them alive."""
    import ipyvuetify as v
    import mesa
    import solara

    registry = mesa.agent.Agent._ids
    known = set(map(id, registry))
    _, rc = solara.render(
        solara.AppLayout(children=[viz.Page(scenario_path=FIRE_SALE)]), handle_error=False
    )
    (first,) = [m for m in registry if id(m) not in known]
    rc.find(v.Btn, children=["Reset"]).widget.click()
    (second,) = [m for m in registry if id(m) not in known]
    assert second is not first and isinstance(second, DashboardModel)
    rc.close()
    assert [m for m in registry if id(m) not in known] == []


def test_app_page_displays_in_jupyter(viz: Any) -> None:
    """`from abm.dashboard.app import page; page` in a notebook cell outputs a widget view."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("from abm.dashboard.app import page\npage")]
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    outputs = notebook.cells[0].outputs
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
