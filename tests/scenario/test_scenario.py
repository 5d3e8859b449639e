"""Tests for abm.scenario.schema: schema validation, error messages, overrides, YAML round trips."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from abm.scenario.schema import (
    AvellanedaStoikovSpec,
    EWMAVolatility,
    ExponentialDistance,
    FixedSize,
    GLFTSpec,
    MarketMakerGroup,
    MertonSpec,
    MixSpec,
    NoiseGroup,
    RecordSpec,
    Scenario,
    ScenarioError,
    SymmetricSpec,
    load_scenario,
    parse_set_option,
)

FULL = Path(__file__).parents[1] / "data" / "scenarios" / "full.yaml"
SHIPPED = sorted((Path(__file__).parents[2] / "scenarios").rglob("*.yaml"))

MINIMAL = """\
name: minimal
fundamental: {kind: arithmetic, s0: 100.0, sigma: 0.5}
agents:
  mm:
    kind: market_maker
    count: 2
    policy: {kind: avellaneda_stoikov, gamma: 0.1, k: 1.5, T: 1.0}
  informed:
    kind: informed
    count: 5
    arrival: {kind: bernoulli, rate: 0.1}
  noise:
    kind: noise
    count: 100
    arrival: {kind: poisson, rate: 0.05}
"""


def minimal_doc() -> dict[str, Any]:
    """Return a fresh plain-dict copy of the minimal valid document."""
    return yaml.safe_load(MINIMAL)


def write(tmp_path: Path, text: str, name: str = "scenario.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_of(tmp_path: Path, doc: dict[str, Any] | str) -> str:
    """Load ``doc`` from a file and return the ScenarioError message (fails if none)."""
    text = doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False)
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert str(path) in message
    return message


# --- valid documents ---


def test_load_scenario_full_fixture_keeps_every_value() -> None:
    """Every explicitly written value of the reference document is what the model holds."""
    s = load_scenario(FULL)
    assert (s.name, s.seed, s.steps, s.dt, s.tick_size, s.mark.kind) == (
        "full",
        7,
        500,
        0.5,
        0.05,
        "fundamental",
    )
    assert isinstance(s.fundamental, MertonSpec)
    assert s.fundamental.jump_mean == -0.02
    dealers = s.agents["dealers"]
    assert isinstance(dealers, MarketMakerGroup)
    assert isinstance(dealers.policy, GLFTSpec)
    assert (dealers.cash, dealers.inventory, dealers.max_inventory) == (1000.0, -2, 20)
    assert dealers.volatility.kind == "given"
    crowd = s.agents["crowd"]
    assert isinstance(crowd, NoiseGroup)
    assert (crowd.distance.kind, crowd.size.kind, crowd.placement) == (
        "power_law",
        "uniform",
        "aggressive",
    )
    assert s.record.other_agents_stride == 25
    assert [group.count for group in s.agents.values()] == [3, 4, 0, 10]


def test_scenario_defaults_match_documented_schema() -> None:
    """Omitted fields take the defaults written in the schema (DESIGN brief for scenario.py)."""
    s = Scenario.from_yaml_text(MINIMAL)
    assert (s.description, s.seed, s.steps, s.dt, s.tick_size, s.mark.kind) == (
        "",
        0,
        2000,
        1.0,
        0.01,
        "mid",
    )
    assert s.record == RecordSpec(other_agents_stride=None)
    mm = s.agents["mm"]
    assert isinstance(mm, MarketMakerGroup)
    assert mm.volatility == EWMAVolatility(kind="ewma", halflife_steps=50.0, initial_sigma=0.0)
    assert (mm.cash, mm.inventory, mm.quote_size, mm.max_inventory, mm.reference) == (
        0.0,
        0,
        1,
        None,
        "mid",
    )
    noise = s.agents["noise"]
    assert isinstance(noise, NoiseGroup)
    assert noise.mix == MixSpec(market=0.1, limit=0.6, cancel=0.3)
    assert noise.distance == ExponentialDistance(kind="exponential", mean_ticks=5.0)
    assert noise.size == FixedSize(kind="fixed", qty=1)
    assert (noise.ioc_prob, noise.buy_prob, noise.arrival.per_side) == (0.0, 0.5, False)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_load_scenario_every_shipped_scenario_is_valid(path: Path) -> None:
    """Every ready-to-run file in scenarios/ validates (DESIGN.md section 2)."""
    assert load_scenario(path).name


@pytest.mark.parametrize("group", ["mm", "informed", "noise"])
def test_load_scenario_group_count_is_required(tmp_path: Path, group: str) -> None:
    """No agent kind has a default population size: a group without count is an error."""
    doc = minimal_doc()
    del doc["agents"][group]["count"]
    message = error_of(tmp_path, doc)
    assert f": agents.{group}.count: required field is missing" in message
    assert len(message.splitlines()) == 1


def test_scenario_count_zero_is_allowed() -> None:
    """A group may be switched off with count 0 (schema: count int >= 0)."""
    s = Scenario.from_yaml_text(MINIMAL).override({"agents.noise.count": 0})
    assert s.agents["noise"].count == 0


FUNDAMENTALS = [
    {"kind": "arithmetic", "s0": 100.0, "sigma": 0.5, "mu": 0.0, "step_kind": "binomial"},
    {"kind": "gbm", "s0": 100.0, "sigma": 0.2, "mu": 0.05},
    {
        "kind": "merton",
        "s0": 50.0,
        "sigma": 0.2,
        "mu": 0.0,
        "jump_intensity": 0.5,
        "jump_mean": 0.0,
        "jump_sd": 0.1,
    },
    {
        "kind": "regime_switching",
        "s0": 100.0,
        "sigmas": [0.1, 0.4],
        "transition_rates": [[-0.1, 0.1], [0.3, -0.3]],
        "mu": 0.0,
        "initial_regime": 1,
    },
    {
        "kind": "heston",
        "s0": 100.0,
        "v0": 0.04,
        "kappa": 2.0,
        "theta": 0.04,
        "xi": 0.3,
        "rho": -0.7,
        "mu": 0.0,
    },
    {"kind": "binary", "low": 99.0, "high": 101.0, "p_high": 0.3},
]


@pytest.mark.parametrize("spec", FUNDAMENTALS, ids=[f["kind"] for f in FUNDAMENTALS])
def test_fundamental_params_are_fields_without_kind(spec: dict[str, Any]) -> None:
    """params() returns exactly the written fields minus kind (the make_fundamental kwargs)."""
    s = Scenario.from_yaml_text(MINIMAL).override({"fundamental": spec})
    assert s.fundamental.kind == spec["kind"]
    assert s.fundamental.params() == {k: v for k, v in spec.items() if k != "kind"}


POLICIES = [
    {"kind": "symmetric", "spread": 1.49},
    {"kind": "avellaneda_stoikov", "gamma": 0.1, "k": 1.5, "T": 1.0},
    {"kind": "glft", "gamma": 0.1, "k": 1.5, "A": 0.9, "xi": 0.2},
    {"kind": "ho_stoll", "spread": 1.0, "skew": 0.01},
    {
        "kind": "glosten_milgrom",
        "v_low": 99.0,
        "v_high": 101.0,
        "informed_fraction": 0.2,
        "prior_high": 0.4,
    },
]


@pytest.mark.parametrize("spec", POLICIES, ids=[p["kind"] for p in POLICIES])
def test_policy_params_are_fields_without_kind(spec: dict[str, Any]) -> None:
    """params() returns exactly the written fields minus kind (the make_policy kwargs)."""
    s = Scenario.from_yaml_text(MINIMAL).override({"agents.mm.policy": spec})
    policy = s.agents["mm"].policy  # type: ignore[union-attr]
    assert policy.params() == {k: v for k, v in spec.items() if k != "kind"}


def test_policy_glft_xi_defaults_to_none() -> None:
    """GLFT's xi is optional and defaults to None (schema)."""
    assert GLFTSpec(kind="glft", gamma=0.1, k=1.0, A=1.0).params()["xi"] is None


def test_scenario_is_frozen() -> None:
    """Validated scenarios are immutable; changes go through override()."""
    s = Scenario.from_yaml_text(MINIMAL)
    with pytest.raises(ValidationError):
        s.steps = 5  # type: ignore[misc]


# --- bad documents: each names the file, the field path and the problem ---


def _with(path: str, value: Any) -> dict[str, Any]:
    """Return the minimal document with ``value`` set at a dotted ``path``."""
    doc = minimal_doc()
    *parents, leaf = path.split(".")
    node = doc
    for key in parents:
        node = node[key]
    node[leaf] = value
    return doc


def case(name: str, doc: dict[str, Any], *fragments: str) -> Any:
    """One bad document and the message fragments it must produce."""
    return pytest.param(doc, list(fragments), id=name)


def regime(sigmas: list[float], rates: list[list[float]], **extra: Any) -> dict[str, Any]:
    spec = {"kind": "regime_switching", "s0": 1.0, "sigmas": sigmas, "transition_rates": rates}
    return _with("fundamental", spec | extra)


GM = {"kind": "glosten_milgrom", "v_low": 1.0, "v_high": 3.0, "informed_fraction": 0.1}
NOISE = minimal_doc()["agents"]["noise"]
KNOWN_AGENTS = (
    "expected one of: arbitrageur, borrower, chartist_fundamentalist, informed, liquidator, "
    "liquidity_provider, market_maker, noise, option_end_user, option_market_maker, paddrik, pov"
)

BAD_DOCUMENTS = [
    case(
        "unknown_key",
        _with("agents.mm.gama", 0.1),
        "agents.mm.gama: unknown key (allowed: cash, count, default_threshold, gap_controls, ",
        "policy",
    ),
    case("unknown_top_key", _with("stpes", 10), "stpes: unknown key (allowed: agents,"),
    case("wrong_type", _with("steps", "many"), "steps: must be a valid integer", "'many'"),
    case(
        "bool_for_int",
        _with("agents.mm.count", True),
        "agents.mm.count: must be a number, not a boolean (got true)",
    ),
    case(
        "negative_count",
        _with("agents.noise.count", -1),
        "agents.noise.count: must be greater than or equal to 0 (got -1)",
    ),
    case("dt_zero", _with("dt", 0.0), "dt: must be greater than 0 (got 0.0)"),
    case("dt_negative", _with("dt", -1.0), "dt: must be greater than 0 (got -1.0)"),
    case(
        "policy_param_bound",
        _with("agents.mm.policy.gamma", 0.0),
        "agents.mm.policy.gamma: must be greater than 0",
    ),
    case(
        "unknown_agent_kind",
        _with("agents.mm.kind", "foo"),
        "agents.mm.kind: unknown agent kind 'foo'; " + KNOWN_AGENTS,
    ),
    case(
        "unknown_policy_kind",
        _with("agents.mm.policy.kind", "as"),
        "agents.mm.policy.kind: unknown policy kind 'as'; ",
        "expected one of: avellaneda_stoikov, glft, glosten_milgrom, ho_stoll, learned, symmetric",
    ),
    case(
        "unknown_fundamental_kind",
        _with("fundamental.kind", "ou"),
        "fundamental.kind: unknown fundamental kind 'ou'; ",
        "expected one of: arithmetic, binary, gbm, heston, merton, regime_switching",
    ),
    case(
        "unknown_arrival_kind",
        _with("agents.noise.arrival.kind", "cox"),
        "agents.noise.arrival.kind: unknown arrival kind 'cox'; ",
        "expected one of: bernoulli, hawkes, poisson",
    ),
    case(
        "unknown_volatility_kind",
        _with("agents.mm.volatility", {"kind": "garch"}),
        "agents.mm.volatility.kind: unknown volatility kind 'garch'; ",
        "expected one of: ewma, given",
    ),
    case(
        "unknown_distance_kind",
        _with("agents.noise.distance", {"kind": "normal"}),
        "agents.noise.distance.kind: unknown distance kind 'normal'; ",
        "expected one of: exponential, power_law, uniform",
    ),
    case(
        "unknown_size_kind",
        _with("agents.noise.size", {"kind": "lognormal"}),
        "agents.noise.size.kind: unknown size kind 'lognormal'; expected one of: fixed, uniform",
    ),
    case(
        "missing_agent_kind",
        _with("agents.x", {"count": 1}),
        "agents.x.kind: missing agent kind; " + KNOWN_AGENTS,
    ),
    case(
        "missing_arrival_kind",
        _with("agents.noise.arrival", {"rate": 0.1}),
        "agents.noise.arrival.kind: missing arrival kind; "
        "expected one of: bernoulli, hawkes, poisson",
    ),
    case("int_group_name", _with("agents", {1: NOISE}), "agents.1: key: must be a valid string"),
    case(
        "missing_policy",
        _with("agents.mm", {"kind": "market_maker", "count": 1}),
        "agents.mm.policy: required field is missing",
    ),
    case(
        "missing_name",
        {k: v for k, v in minimal_doc().items() if k != "name"},
        "name: required field is missing",
    ),
    case(
        "mix_sum",
        _with("agents.noise.mix", {"market": 0.5, "limit": 0.6, "cancel": 0.0}),
        "agents.noise.mix: market + limit + cancel must sum to 1, got 1.1",
    ),
    case(
        "mix_negative",
        _with("agents.noise.mix", {"market": -0.1, "limit": 0.8, "cancel": 0.3}),
        "agents.noise.mix.market: must be greater than or equal to 0",
    ),
    case(
        "bernoulli_rate",
        _with("agents.informed.arrival.rate", 1.5),
        "agents.informed.arrival.rate: a bernoulli rate is a probability and must be <= 1",
    ),
    case(
        "max_below_base",
        _with("agents.informed.base_size", 20),
        "agents.informed.max_size: must be at least base_size (20), got 10",
    ),
    case(
        "uniform_size_order",
        _with("agents.noise.size", {"kind": "uniform", "low": 5, "high": 2}),
        "agents.noise.size.high: must be at least low (5), got 2",
    ),
    case(
        "power_law_alpha",
        _with(
            "agents.noise.distance",
            {"kind": "power_law", "alpha": 1.0, "min_ticks": 1, "max_ticks": 9},
        ),
        "agents.noise.distance.alpha: must be greater than 1",
    ),
    case(
        "binary_order",
        _with("fundamental", {"kind": "binary", "low": 2.0, "high": 1.0}),
        "fundamental.high: must be greater than low (2.0), got 1.0",
    ),
    case(
        "gm_order",
        _with("agents.mm.policy", GM | {"v_high": 1.0}),
        "agents.mm.policy.v_high: must be greater than v_low (1.0), got 1.0",
    ),
    case(
        "gm_fraction_one",
        _with("agents.mm.policy", GM | {"informed_fraction": 1.0}),
        "agents.mm.policy.informed_fraction: must be less than 1",
    ),
    case(
        "rates_not_square",
        regime([0.1, 0.2], [[0.0]]),
        "fundamental.transition_rates: must be a 2x2 matrix",
    ),
    case(
        "rates_row_sum",
        regime([0.1, 0.2], [[-1.0, 1.0], [1.0, -0.5]]),
        "fundamental.transition_rates: row 1 must sum to 0",
    ),
    case(
        "rates_negative",
        regime([0.1, 0.2], [[1.0, -1.0], [0.0, 0.0]]),
        "fundamental.transition_rates: row 0: off-diagonal rates must be >= 0",
    ),
    case(
        "initial_regime",
        regime([0.1], [[0.0]], initial_regime=1),
        "fundamental.initial_regime: must index sigmas (0..0), got 1",
    ),
    case(
        "negative_sigma_item",
        regime([0.1, -0.2], [[0.0, 0.0], [0.0, 0.0]]),
        "fundamental.sigmas.1: must be greater than or equal to 0",
    ),
    case(
        "heston_rho",
        _with(
            "fundamental",
            {
                "kind": "heston",
                "s0": 1.0,
                "v0": 0.1,
                "kappa": 1.0,
                "theta": 0.1,
                "xi": 0.1,
                "rho": 1.5,
            },
        ),
        "fundamental.rho: must be less than or equal to 1",
    ),
    case("no_groups", _with("agents", {}), "agents: at least one agent group is required"),
    case(
        "dotted_group_name",
        _with("agents", {"a.b": NOISE}),
        "agents: group name 'a.b' may only use letters, digits",
    ),
    case("group_not_mapping", _with("agents.mm", 3), "agents.mm: must be a mapping, got 3"),
    case(
        "stride_zero",
        _with("record", {"other_agents_stride": 0}),
        "record.other_agents_stride: must be greater than or equal to 1",
    ),
    case("bad_mark_kind", _with("mark", "median"), "mark.kind: unknown mark kind 'median'"),
    case("bad_mark_type", _with("mark", 3), "mark: must be a mark kind (mid, last, fundamental)"),
]


@pytest.mark.parametrize(("doc", "expected"), BAD_DOCUMENTS)
def test_load_scenario_bad_document_names_file_path_and_problem(
    tmp_path: Path, doc: dict[str, Any], expected: list[str]
) -> None:
    """Each bad input class yields one ScenarioError naming the file, field path and problem."""
    message = error_of(tmp_path, doc)
    for fragment in expected:
        assert fragment in message


def test_load_scenario_nan_price_is_rejected(tmp_path: Path) -> None:
    """YAML `.nan` (and `.inf`) are rejected: floats must be finite (allow_inf_nan=False)."""
    text = MINIMAL.replace("s0: 100.0", "s0: .nan").replace("sigma: 0.5", "sigma: .inf")
    message = error_of(tmp_path, text)
    assert "fundamental.s0: must be a finite number (got nan)" in message
    assert "fundamental.sigma: must be a finite number (got inf)" in message


def test_load_scenario_several_problems_one_line_each(tmp_path: Path) -> None:
    """Several problems give one `file: path: problem` line each."""
    doc = _with("steps", 0)
    doc["dt"] = -1.0
    doc["agents"]["mm"]["gama"] = 1
    path = write(tmp_path, yaml.safe_dump(doc))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    lines = str(info.value).splitlines()
    assert len(lines) == 3
    assert all(line.startswith(f"{path}: ") for line in lines)
    assert {line.split(": ")[1] for line in lines} == {"steps", "dt", "agents.mm.gama"}


def test_load_scenario_error_chains_validation_error(tmp_path: Path) -> None:
    """The ScenarioError is raised from pydantic's ValidationError (cause kept for debugging)."""
    path = write(tmp_path, yaml.safe_dump(_with("steps", -5)))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert isinstance(info.value.__cause__, ValidationError)
    assert isinstance(info.value, ValueError)


# --- file-level problems ---


def test_load_scenario_missing_file(tmp_path: Path) -> None:
    """A path that does not exist is reported with the path."""
    path = tmp_path / "nope.yaml"
    with pytest.raises(ScenarioError, match="file not found") as info:
        load_scenario(path)
    assert str(path) in str(info.value)


def test_load_scenario_directory(tmp_path: Path) -> None:
    """A directory is not a scenario file."""
    with pytest.raises(ScenarioError, match="is a directory") as info:
        load_scenario(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_load_scenario_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An OS error while reading (permission denied) becomes a ScenarioError naming the file."""
    path = write(tmp_path, MINIMAL)

    def deny(file: str, *args: Any, **kwargs: Any) -> int:
        raise PermissionError(13, "Permission denied", file)

    monkeypatch.setattr("abm.scenario.yaml_text.os.open", deny)
    with pytest.raises(ScenarioError, match="cannot read file: Permission denied") as info:
        load_scenario(path)
    assert str(path) in str(info.value)


def test_load_scenario_not_utf8(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 are reported, not a UnicodeDecodeError traceback."""
    path = tmp_path / "latin.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ScenarioError, match="not UTF-8") as info:
        load_scenario(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("text", ["", "   \n\n", "# only a comment\n"])
def test_load_scenario_empty_file(tmp_path: Path, text: str) -> None:
    """Empty, blank and comment-only files are reported as empty."""
    message = error_of(tmp_path, text)
    assert "empty" in message


def test_load_scenario_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    """A YAML syntax error names the line and column where the parser stopped."""
    message = error_of(tmp_path, "name: x\nsteps: [1, 2\ndt: 1.0\n")
    assert "invalid YAML" in message
    assert "line 3, column" in message


def test_load_scenario_duplicate_key_is_an_error(tmp_path: Path) -> None:
    """A repeated key would silently drop a group in plain YAML; here it is an error."""
    message = error_of(tmp_path, MINIMAL + "  mm:\n    kind: noise\n")
    assert "duplicate key 'mm'" in message
    assert f"line {len(MINIMAL.splitlines()) + 1}," in message


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_load_scenario_top_level_not_mapping(tmp_path: Path, text: str) -> None:
    """The document must be a mapping of scenario fields."""
    message = error_of(tmp_path, text)
    assert "<top level>: must be a mapping of scenario fields" in message


def test_from_yaml_text_default_source_is_placeholder() -> None:
    """Without a file, messages start with '<scenario>'."""
    with pytest.raises(ScenarioError, match=r"^<scenario>: steps: must be greater"):
        Scenario.from_yaml_text(MINIMAL + "steps: 0\n")


def test_from_dict_rejects_non_mapping() -> None:
    """from_dict needs a mapping at the top level."""
    with pytest.raises(ScenarioError, match="must be a mapping"):
        Scenario.from_dict([1, 2], source="x")  # type: ignore[arg-type]


# --- override ---


def test_override_leaf_changes_only_that_value() -> None:
    """A dotted leaf path changes one value and leaves the original untouched (frozen)."""
    s = Scenario.from_yaml_text(MINIMAL)
    t = s.override({"agents.mm.policy.gamma": 0.01, "steps": 10})
    assert t.agents["mm"].policy.gamma == 0.01  # type: ignore[union-attr]
    assert t.steps == 10
    assert s.agents["mm"].policy.gamma == 0.1  # type: ignore[union-attr]
    assert t.override({"agents.mm.policy.gamma": 0.1, "steps": 2000}) == s


def test_override_replaces_whole_subdocument() -> None:
    """Setting a path to a mapping replaces that sub-document, switching its kind."""
    s = Scenario.from_yaml_text(MINIMAL).override(
        {"agents.mm.policy": {"kind": "symmetric", "spread": 1.49}}
    )
    assert s.agents["mm"].policy == SymmetricSpec(kind="symmetric", spread=1.49)  # type: ignore[union-attr]


def test_override_list_item_by_index() -> None:
    """List items are addressed by index, as in error paths (fundamental.sigmas.1)."""
    s = Scenario.from_yaml_text(MINIMAL).override({"fundamental": FUNDAMENTALS[3]})
    t = s.override({"fundamental.sigmas.1": 0.9})
    assert t.fundamental.sigmas == [0.1, 0.9]  # type: ignore[union-attr]


def test_override_can_add_a_group() -> None:
    """A new last key under agents adds a group, validated like any other."""
    s = Scenario.from_yaml_text(MINIMAL).override(
        {
            "agents.extra": {
                "kind": "noise",
                "count": 3,
                "arrival": {"kind": "poisson", "rate": 0.1},
            }
        }
    )
    assert list(s.agents) == ["mm", "informed", "noise", "extra"]


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("agents.mx.policy.gamma", "agents.mx: unknown path (keys here: mm, informed, noise)"),
        ("steps.value", "steps.value: unknown path (steps is 2000)"),
        ("fundamental.sigmas.0", "fundamental.sigmas: unknown path (keys here: kind, s0,"),
        ("a..b", "malformed path"),
        ("", "malformed path"),
    ],
)
def test_override_unknown_path_errors(path: str, fragment: str) -> None:
    """A path through a key that does not exist raises ScenarioError naming the path."""
    with pytest.raises(ScenarioError) as info:
        Scenario.from_yaml_text(MINIMAL).override({path: 1})
    assert fragment in str(info.value)


def test_override_forbidden_new_leaf_errors() -> None:
    """A new leaf the schema does not allow is caught by validation as an unknown key."""
    with pytest.raises(ScenarioError, match=r"agents\.mm\.policy\.gama: unknown key"):
        Scenario.from_yaml_text(MINIMAL).override({"agents.mm.policy.gama": 0.01})


def test_override_invalid_value_errors() -> None:
    """An override that breaks a constraint is reported with its path."""
    with pytest.raises(ScenarioError, match=r"^<scenario>: dt: must be greater than 0"):
        Scenario.from_yaml_text(MINIMAL).override({"dt": 0})


# --- YAML round trip and digest ---


@pytest.mark.parametrize("source", ["minimal", "full"])
def test_to_yaml_round_trips(source: str) -> None:
    """from_yaml_text(s.to_yaml()) == s for a defaulted and a fully written scenario."""
    s = Scenario.from_yaml_text(MINIMAL) if source == "minimal" else load_scenario(FULL)
    assert Scenario.from_yaml_text(s.to_yaml()) == s


@pytest.mark.parametrize("spec", FUNDAMENTALS, ids=[f["kind"] for f in FUNDAMENTALS])
def test_to_yaml_round_trips_every_fundamental(spec: dict[str, Any]) -> None:
    """The round trip holds for every fundamental kind (lists, nested lists included)."""
    s = Scenario.from_yaml_text(MINIMAL).override({"fundamental": spec})
    assert Scenario.from_yaml_text(s.to_yaml()) == s


def test_to_yaml_round_trips_awkward_floats() -> None:
    """Tiny, huge and negative floats survive YAML exactly (repr round trip)."""
    s = Scenario.from_yaml_text(MINIMAL).override(
        {"tick_size": 1e-9, "agents.mm.cash": -1.2345678901234567e300, "dt": 0.1 + 0.2}
    )
    t = Scenario.from_yaml_text(s.to_yaml())
    assert (t.tick_size, t.agents["mm"].cash, t.dt) == (1e-9, -1.2345678901234567e300, 0.1 + 0.2)


def test_to_yaml_round_trips_awkward_strings() -> None:
    """Strings that YAML would misread unquoted (yes, multi-line, unicode) survive."""
    text = "café  two  spaces " + "x" * 150 + "\nline2: yes\n\n  indented"
    s = Scenario.from_yaml_text(MINIMAL).override({"name": "yes", "description": text})
    assert Scenario.from_yaml_text(s.to_yaml()) == s


def test_digest_identical_for_identical_scenarios() -> None:
    """Equal documents, however written (100 vs 100.0, defaults omitted), hash the same."""
    a = Scenario.from_yaml_text(MINIMAL)
    b = Scenario.from_yaml_text(MINIMAL.replace("s0: 100.0", "s0: 100") + "seed: 0\n")
    c = Scenario.from_yaml_text(a.to_yaml())
    assert a.digest() == b.digest() == c.digest()
    assert len(a.digest()) == 64
    assert int(a.digest(), 16) >= 0


def test_digest_changes_with_any_value() -> None:
    """Changing one value anywhere changes the digest."""
    s = Scenario.from_yaml_text(MINIMAL)
    assert s.override({"seed": 1}).digest() != s.digest()
    assert (
        s.override({"agents.noise.mix.market": 0.2, "agents.noise.mix.limit": 0.5}).digest()
        != s.digest()
    )


def test_digest_depends_on_group_order() -> None:
    """Group order decides agent creation order, so it is part of the digest."""
    doc = minimal_doc()
    reordered = dict(doc, agents=dict(reversed(list(doc["agents"].items()))))
    assert Scenario.from_dict(doc).digest() != Scenario.from_dict(reordered).digest()


# --- parse_set_option and groups_of ---


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("agents.mm.policy.gamma=0.01", ("agents.mm.policy.gamma", 0.01)),
        ("steps=10", ("steps", 10)),
        ("agents.n.arrival.per_side=true", ("agents.n.arrival.per_side", True)),
        ("fundamental.sigmas=[1, 2]", ("fundamental.sigmas", [1, 2])),
        ("name=abc", ("name", "abc")),
        ("description=a=b", ("description", "a=b")),
        ("agents.mm.max_inventory=null", ("agents.mm.max_inventory", None)),
        (
            "agents.mm.policy={kind: symmetric, spread: 1}",
            ("agents.mm.policy", {"kind": "symmetric", "spread": 1}),
        ),
        (" steps = 5", ("steps", 5)),
    ],
)
def test_parse_set_option_parses_yaml_values(text: str, expected: tuple[str, Any]) -> None:
    """PATH=VALUE splits on the first '=' and reads VALUE as YAML."""
    assert parse_set_option(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("steps", "expected PATH=VALUE"),
        ("=3", "malformed path"),
        ("a..b=1", "malformed path"),
        ("steps=[1", "invalid YAML"),
    ],
)
def test_parse_set_option_rejects_malformed(text: str, fragment: str) -> None:
    """No '=', an empty path or a bad YAML value raise ScenarioError."""
    with pytest.raises(ScenarioError, match=fragment.replace("[", r"\[")):
        parse_set_option(text)


def test_groups_of_returns_kind_in_document_order() -> None:
    """groups_of keeps document order and only the asked kind."""
    s = load_scenario(FULL)
    assert list(s.groups_of("noise")) == ["crowd", "more_crowd"]
    assert list(s.groups_of("market_maker")) == ["dealers"]
    assert list(Scenario.from_yaml_text(MINIMAL).groups_of("informed")) == ["informed"]


def test_groups_of_unknown_kind_errors() -> None:
    """Asking for a kind that does not exist is a typo, not an empty answer."""
    with pytest.raises(
        ScenarioError,
        match=KNOWN_AGENTS,
    ):
        load_scenario(FULL).groups_of("market-maker")


def test_policy_spec_rejects_nan_directly() -> None:
    """Specs built in Python also reject non-finite floats."""
    with pytest.raises(ValidationError):
        AvellanedaStoikovSpec(kind="avellaneda_stoikov", gamma=float("nan"), k=1.0, T=1.0)


# --- the source file's leading comment block ---

HEADED = "# Title line.\n#\n# Question: does it?\n\n# Expected outcome: yes.\n" + MINIMAL


def test_header_keeps_the_leading_comment_block() -> None:
    """The comments before the first key are the header, blank lines inside kept."""
    s = Scenario.from_yaml_text("\n" + HEADED)
    assert s.header == "# Title line.\n#\n# Question: does it?\n\n# Expected outcome: yes.\n"


def test_header_reaches_to_yaml_and_survives_override() -> None:
    """to_yaml starts with the header, so a run directory's scenario.yaml keeps it."""
    s = Scenario.from_yaml_text(HEADED).override({"steps": 7})
    assert s.to_yaml().startswith(s.header)
    assert Scenario.from_yaml_text(s.to_yaml()).header == s.header
    assert s.header.startswith("# Title line.")


def test_header_does_not_change_the_digest() -> None:
    """Comments are documentation: the digest of a headed and a bare scenario agree."""
    assert Scenario.from_yaml_text(HEADED).digest() == Scenario.from_yaml_text(MINIMAL).digest()


def test_header_is_empty_without_leading_comments() -> None:
    """A document that opens with a key has no header; a later comment is not one."""
    s = Scenario.from_yaml_text(MINIMAL + "# trailing\n")
    assert s.header == ""
    assert s.to_yaml().startswith("name: minimal")


# --- cross-field checks ---


def test_scenario_program_starting_after_the_last_step_is_rejected() -> None:
    """A pov program whose start_step is past `steps` is a ScenarioError naming the field."""
    scenario = load_scenario(Path(__file__).parents[2] / "scenarios/crisis/flash_crash_2010.yaml")
    start = scenario.agents["seller"].start_step
    with pytest.raises(ScenarioError, match=r"agents\.seller\.start_step: 9000 is after"):
        scenario.override({"steps": start - 1})
    assert scenario.override({"steps": start}).steps == start
