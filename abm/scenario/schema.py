"""The scenario root schema and `load_scenario`.

YAML text is read by `abm.scenario.yaml_text`; dotted-path overrides are `abm.scenario.overrides`;
the constraints between fields that validation checks are `abm.scenario.cross_checks`.

A scenario is the single source of everything a run needs (DESIGN.md section 1). It is
validated by frozen pydantic models that forbid unknown keys and non-finite floats. The
specs of the parts live beside what they build (`abm.fundamental`, `abm.policies`,
`abm.risk`, `abm.shocks`, `abm.market`, `abm.contagion.specs`) and the agent groups in
:mod:`abm.scenario.specs`; the ones agents and tests name are re-exported here. Every
problem a user can make in a scenario file surfaces as one :class:`ScenarioError` whose
message has one line per problem, shaped
``<file>: <field path>: <problem>``, where the field path is the dotted path into the YAML
document (the same path ``override`` takes); :mod:`abm.scenario.errors` writes those lines.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from hashlib import sha256
from typing import Any

import yaml
from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from abm.contagion.specs import NetworkSpec
from abm.fundamental import (
    ArithmeticSpec,
    BinarySpec,
    FundamentalSpec,
    GBMSpec,
    HestonSpec,
    MertonSpec,
    RegimeSwitchingSpec,
)
from abm.market.amm.spec import AmmSpec
from abm.market.circuit_breaker import CircuitBreakerSpec
from abm.market.hedge import HedgeInstrumentSpec
from abm.market.mark import MarkSpec
from abm.market.options.spec import OptionsSpec, check_options_fit_the_tick
from abm.policies import (
    AvellanedaStoikovSpec,
    GLFTSpec,
    GlostenMilgromSpec,
    HoStollSpec,
    PolicySpec,
    SymmetricSpec,
)
from abm.scenario.budget import LimitsSpec
from abm.scenario.cross_checks import (
    check_amm_section,
    check_lending_section,
    check_network_fits_the_market_makers,
    check_prices_fit_the_tick,
    check_programs_start_within_the_run,
    check_step_resolves_arrivals,
    edge_list_path,
)
from abm.scenario.errors import (
    ScenarioError,
    ScenarioTypeError,
    describe_type,
    explain,
    kind_variants,
    show,
)
from abm.scenario.groups import (
    AgentGroup,
    ChartistFundamentalistGroup,
    InformedGroup,
    MarketMakerGroup,
    NoiseGroup,
    PovGroup,
)
from abm.scenario.lending import LendingSpec
from abm.scenario.overrides import SOURCE, assign, parse_set_option
from abm.scenario.paddrik import PaddrikGroup, PaddrikRole, paddrik_role_defaults
from abm.scenario.specs import (
    ArrivalLaw,
    ArrivalSpec,
    DiscreteSize,
    DistanceSpec,
    EWMAVolatility,
    ExponentialDistance,
    FixedSize,
    GivenVolatility,
    HawkesArrivalSpec,
    MixSpec,
    PopulationSizeSpec,
    PowerLawDistance,
    RecordSpec,
    SizeSpec,
    UniformDistance,
    UniformSize,
    VolatilitySpec,
)
from abm.scenario.types import (
    MAX_DT,
    Float,
    Int,
    NonNegFloat,
    NonNegInt,
    PosFloat,
    PosInt,
    PriceReference,
    Probability,
    Spec,
    StepLength,
)
from abm.scenario.yaml_text import leading_comment_block, parse_yaml_strict, read_yaml_file
from abm.shocks import ShockSpec

__all__ = [
    "AgentGroup",
    "AmmSpec",
    "ArithmeticSpec",
    "ArrivalLaw",
    "ArrivalSpec",
    "AvellanedaStoikovSpec",
    "BinarySpec",
    "ChartistFundamentalistGroup",
    "CircuitBreakerSpec",
    "DiscreteSize",
    "DistanceSpec",
    "EWMAVolatility",
    "ExponentialDistance",
    "FixedSize",
    "Float",
    "FundamentalSpec",
    "GBMSpec",
    "GLFTSpec",
    "GivenVolatility",
    "GlostenMilgromSpec",
    "HawkesArrivalSpec",
    "HestonSpec",
    "HoStollSpec",
    "InformedGroup",
    "Int",
    "LimitsSpec",
    "MarketMakerGroup",
    "MertonSpec",
    "MixSpec",
    "NoiseGroup",
    "NonNegFloat",
    "NonNegInt",
    "PaddrikGroup",
    "PaddrikRole",
    "PolicySpec",
    "PopulationSizeSpec",
    "PosFloat",
    "PosInt",
    "PovGroup",
    "PowerLawDistance",
    "PriceReference",
    "Probability",
    "RecordSpec",
    "RegimeSwitchingSpec",
    "Scenario",
    "ScenarioError",
    "SizeSpec",
    "SymmetricSpec",
    "UniformDistance",
    "UniformSize",
    "VolatilitySpec",
    "load_scenario",
    "paddrik_role_defaults",
    "parse_set_option",
]

_SOURCE = SOURCE
NAME_PATTERN = r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$"
"""What a scenario ``name`` may be: a plain file name, since it names the run directory.

Letters, digits, ``_``, ``-`` and ``.``, not starting with ``.`` (so never ``..``, a hidden
name or a path: no ``/``).
"""
MAX_NAME_LENGTH = 100
"""The longest scenario ``name`` (file systems allow 255 bytes per name; temporaries add more)."""
ABSENT_SECTIONS_LEFT_OUT = ("options", "lending")
"""Optional top-level sections (venues a scenario turns on) left out of `Scenario.digest` and
`Scenario.to_yaml` when absent (None): a scenario without them keeps the digest and the saved
``scenario.yaml`` it had before they existed."""


class Scenario(Spec):
    """Everything one run needs: clock, tick size, fundamental process, agents, recording.

    Attributes:
        name: Non-empty label; names the run.
        description: Free text.
        seed: Root of the run's ``numpy.random.SeedSequence`` (>= 0).
        steps: Number of model steps (> 0).
        dt: Model time per step (> 0); step ``n`` is time ``n * dt``.
        tick_size: Price of one tick (> 0).
        mark: How equity, pnl, margin and defaults are marked (`abm.market.mark`; a kind or a spec).
        fundamental: The exogenous value process.
        agents: Group name -> group, in document order (at least one group). Group names
            use letters, digits, ``_`` and ``-`` so that they can appear in dotted paths.
        hedge_instrument: The hedge instrument outside the book (basis noise, fee, impact).
        shocks: Scheduled shocks (price gaps, volatility spikes, losses, defaults, ...).
        network: The market makers' contagion network and channels (None: no links).
        circuit_breaker: The exchange's trading halts (`abm.market.circuit_breaker`; None: none).
        amm: An AMM pool beside the book (`abm.market.amm.spec.AmmSpec`; None: none).
        options: Option series on the underlying, each with its own book (the options venue,
            `abm.market.options`; None: none).
        lending: A lending pool of cash against the underlying (`abm.scenario.lending`, the
            lending venue `abm.market.lending.venue`; None: none).
        record: Recording options.
        limits: Ceilings on the estimated cost (`abm.scenario.budget`); not part of the digest.
    """

    name: str = Field(
        min_length=1,
        max_length=MAX_NAME_LENGTH,
        json_schema_extra={"pattern": NAME_PATTERN},
        description="Label of the run; names its directory (runs/<name>), so it is a plain "
        "file name: letters, digits, _, - and . (not first), at most 100 characters.",
    )
    description: str = Field(default="", description="Free text.")
    seed: NonNegInt = Field(
        default=0, description="Root of the run's numpy SeedSequence: same seed, same run."
    )
    steps: PosInt = Field(default=2000, description="Number of model steps.")
    dt: StepLength = Field(
        default=1.0,
        description=f"Model time per step; step n is time n * dt (at most {MAX_DT:g}: "
        "volatilities scale with sqrt(dt), and a longer step overflows every quote).",
    )
    tick_size: PosFloat = Field(default=0.01, description="Price of one tick, price units.")
    mark: MarkSpec = Field(
        default="mid",
        validate_default=True,
        description="How positions are valued for equity, pnl, margin and defaults "
        "(abm.market.mark).",
    )
    fundamental: FundamentalSpec = Field(description="The exogenous value process.")
    agents: dict[str, AgentGroup] = Field(
        description="Group name -> group, in document order (at least one). Names use letters, "
        "digits, _ and - (dots separate override paths).",
        # in the schema only: the validator below says it in its own words
        json_schema_extra={"minProperties": 1},
    )
    hedge_instrument: HedgeInstrumentSpec = Field(
        default=HedgeInstrumentSpec(),
        description="The hedge instrument outside the book (basis noise, fee, impact).",
    )
    shocks: list[ShockSpec] = Field(
        default=[], description="Scheduled shocks (price gaps, losses, defaults, ...)."
    )
    network: NetworkSpec | None = Field(
        default=None, description="The market makers' contagion network (null: no links)."
    )
    circuit_breaker: CircuitBreakerSpec | None = Field(
        default=None, description="The exchange's trading halts (null: none)."
    )
    amm: AmmSpec | None = Field(
        default=None,
        description="An AMM pool trading the book's instrument beside the book, settling in "
        "blocks (abm.market.amm.venue; null: none).",
    )
    options: OptionsSpec | None = Field(
        default=None,
        description="Option series on the underlying, traded on the options venue "
        "(abm.market.options; null: none).",
    )
    lending: LendingSpec | None = Field(
        default=None,
        description="A lending pool lending cash against the underlying, with an oracle, "
        "liquidations settling in blocks (abm.market.lending.venue; null: none).",
    )
    record: RecordSpec = Field(default=RecordSpec(), description="Recording options.")
    limits: LimitsSpec = Field(
        default=LimitsSpec(),
        description="Ceilings on the run's estimated work and memory, checked before it is "
        "built (abm.scenario.budget); they do not change what the run produces.",
    )
    # The source file's leading comment block: documentation, not part of the run (nor of the
    # digest), but kept so that the resolved scenario.yaml of a run still says what it studies.
    _header: str = PrivateAttr(default="")

    @property
    def header(self) -> str:
        """The comment block that opened the source YAML (``#`` lines), or "" if none.

        Read by `from_yaml_text` (and so `load_scenario`), kept by `override`, written first by
        `to_yaml`; `digest` ignores it.
        """
        return self._header

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str) -> str:
        if not re.fullmatch(NAME_PATTERN, name):
            raise ValueError(
                f"{show(name)} is not a plain name: use letters, digits, '_', '-' and '.' "
                "(not first); it names the run directory, so no '/' or leading '.'"
            )
        return name

    @field_validator("agents")
    @classmethod
    def _check_groups(cls, agents: dict[str, Any]) -> dict[str, Any]:
        if not agents:
            raise ValueError("at least one agent group is required")
        for name in agents:
            if not name or not all(c.isalnum() or c in "_-" for c in name):
                raise ValueError(
                    f"group name {show(name)} may only use letters, digits, '_' and '-' "
                    "(dots separate override paths)"
                )
        return agents

    # the constraints between fields live in abm.scenario.cross_checks; pydantic needs the
    # validators on the class, and runs them in this order
    @model_validator(mode="after")
    def _check_step_resolves_arrivals(self) -> Scenario:
        check_step_resolves_arrivals(self.agents, self.dt)
        return self

    @model_validator(mode="after")
    def _check_programs_start_within_the_run(self) -> Scenario:
        check_programs_start_within_the_run(self.agents, self.steps)
        return self

    @model_validator(mode="after")
    def _check_prices_fit_the_tick(self) -> Scenario:
        check_prices_fit_the_tick(self.fundamental, self.agents, self.tick_size)
        return self

    @model_validator(mode="after")
    def _check_options_fit_the_tick(self) -> Scenario:
        check_options_fit_the_tick(self.options, self.tick_size, self.agents)
        return self

    @model_validator(mode="after")
    def _check_network_fits_the_market_makers(self) -> Scenario:
        if self.network is not None:
            check_network_fits_the_market_makers(self.network, self.groups_of("market_maker"))
        return self

    @model_validator(mode="after")
    def _check_amm_section(self) -> Scenario:
        check_amm_section(self.amm is not None, self.agents, [shock.kind for shock in self.shocks])
        return self

    @model_validator(mode="after")
    def _check_lending_section(self) -> Scenario:
        check_lending_section(
            self.lending,
            self.amm is not None,
            self.agents,
            [shock.kind for shock in self.shocks],
            self.groups_of("market_maker"),
        )
        return self

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = _SOURCE) -> Scenario:
        """Validate a plain document (as parsed from YAML).

        Args:
            data: The scenario document.
            source: Where the document came from; starts every error line.

        Raises:
            ScenarioError: One line ``source: field.path: problem`` per problem.
        """
        if not isinstance(source, str):
            raise ScenarioTypeError(f"source: must be a str, got {type(source).__name__}")
        if not isinstance(data, Mapping):
            # the type only: a file that is not YAML (/etc/passwd) must not be echoed
            raise ScenarioError(
                f"{source}: <top level>: must be a mapping of scenario fields, got "
                f"{describe_type(data)}"
            )
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            lines = [f"{source}: {path}: {problem}" for path, problem in explain(exc, cls)]
            raise ScenarioError("\n".join(lines)) from exc

    @classmethod
    def from_yaml_text(cls, text: str, *, source: str = _SOURCE) -> Scenario:
        """Parse and validate a YAML scenario document.

        Duplicate keys in a mapping are an error (plain YAML loaders keep the last one).

        Raises:
            ScenarioError: On a YAML syntax error (with line and column), an empty
                document, a top level that is not a mapping, or any validation problem.
        """
        if not isinstance(source, str):
            raise ScenarioTypeError(f"source: must be a str, got {type(source).__name__}")
        data = parse_yaml_strict(text, source)
        if data is None:
            raise ScenarioError(
                f"{source}: <top level>: the document is empty; "
                "expected a mapping of scenario fields (name, fundamental, agents, ...)"
            )
        scenario = cls.from_dict(data, source=source)
        scenario._header = leading_comment_block(text)
        return scenario

    def to_yaml(self) -> str:
        """Return a YAML document that ``from_yaml_text`` reads back to an equal scenario.

        The document starts with `header` (the source file's leading comments), if any.
        """
        # default limits are left out: they say nothing about the run
        unset = {"limits"} if self.limits == LimitsSpec() else set()
        unset |= self._absent_sections()
        body = yaml.safe_dump(
            self.model_dump(mode="json", exclude=unset),
            sort_keys=False,
            allow_unicode=True,
            width=100,
        )
        return self._header + body

    def _absent_sections(self) -> set[str]:
        return {name for name in ABSENT_SECTIONS_LEFT_OUT if getattr(self, name) is None}

    def digest(self) -> str:
        """Return the sha256 hex digest of a canonical JSON dump of the scenario.

        Fields appear in schema order and agent groups in document order (group order
        decides agent creation order, so it is part of what a run depends on). Validated
        numbers are normalised (``100`` and ``100.0`` for a float field hash the same).
        ``limits`` is left out: a ceiling on the cost does not change what the run produces.
        """
        canonical = json.dumps(
            self.model_dump(mode="json", exclude={"limits", *self._absent_sections()}),
            separators=(",", ":"),
            ensure_ascii=True,
            allow_nan=False,
        )
        return sha256(canonical.encode("ascii")).hexdigest()

    def override(self, changes: Mapping[str, Any]) -> Scenario:
        """Return a copy with values replaced at dotted document paths, re-validated.

        Example: ``{"agents.mm.policy.gamma": 0.01}`` sets a leaf and
        ``{"agents.mm.policy": {"kind": "symmetric", "spread": 1.0}}`` replaces a whole
        sub-document. Changes apply in order on ``model_dump()``. List items are addressed
        by index (``fundamental.sigmas.0``). A new last key is allowed here (a new agent
        group, say) and judged by validation.

        Raises:
            ScenarioError: If an intermediate key does not exist, a path is malformed, or
                the changed document is invalid; `ScenarioTypeError` (a `ScenarioError` and a
                ``TypeError``) if ``changes`` is not a mapping.
        """
        if not isinstance(changes, Mapping):
            raise ScenarioTypeError(
                f"{_SOURCE}: override: changes must be a mapping of dotted paths to values "
                f"(e.g. {{'steps': 100}}), got {type(changes).__name__}"
            )
        document = self.model_dump()
        for path, value in changes.items():
            assign(document, path, value)
        changed = type(self).from_dict(document)
        changed._header = self._header
        return changed

    def groups_of(self, kind: str) -> dict[str, AgentGroup]:
        """Return the groups of one agent kind (e.g. ``"market_maker"``), in document order.

        Raises:
            ScenarioError: If ``kind`` is not an agent kind.
        """
        known = kind_variants(AgentGroup)
        if known is None or kind not in known:
            raise ScenarioError(
                f"{_SOURCE}: agents: unknown agent kind {kind!r}; "
                f"expected one of: {', '.join(sorted(known or ()))}"
            )
        return {name: group for name, group in self.agents.items() if group.kind == kind}


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read and validate a scenario: a YAML file, or a bundled name such as ``baseline``.

    An existing file is read as is; any other ``path`` is looked up among the scenarios shipped
    with abm (`abm.scenario.bundle`: ``crisis/fire_sale_spiral``, with or without ``.yaml``).
    Files the scenario names (an ``edge_list`` network's CSV) are relative to the scenario's
    own directory, bundled or not; the returned scenario holds their absolute paths.

    Raises:
        ScenarioError: Naming ``path`` if it is neither a file nor a bundled name (with the
            closest bundled names), a directory or another file that is not regular, too
            large, unreadable, not UTF-8, empty, not valid YAML, or not a valid scenario
            (including an edge list that is not a file);
            `ScenarioTypeError` (also a ``TypeError``) if ``path`` is not a str or path.
    """
    from abm.scenario.bundle import resolve_scenario  # it imports this module

    if not isinstance(path, str | os.PathLike):
        raise ScenarioTypeError(
            f"load_scenario: path must be a file path or a bundled scenario name (a str or "
            f"os.PathLike), got {type(path).__name__}"
        )
    source = os.fspath(path)
    if not isinstance(source, str):
        raise ScenarioTypeError(f"load_scenario: path must be a text path, got {source!r:.80}")
    file = resolve_scenario(path)
    text = read_yaml_file(file, what="scenario")
    if not text.strip():
        raise ScenarioError(
            f"{source}: the file is empty; expected a mapping of scenario fields "
            "(name, fundamental, agents, ...)"
        )
    scenario = Scenario.from_yaml_text(text, source=source)
    edge_list = edge_list_path(scenario.network, file.parent, source=source)
    if edge_list is None:
        return scenario
    return scenario.override({"network.topology.path": edge_list})
