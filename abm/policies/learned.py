"""Learned quoting: a linear quote rule read from a JSON file (never pickle).

A :class:`LinearQuoteRule` quotes around the reference price ``s`` with a skew and a half
spread linear in inventory-risk features::

    skew = skew_inventory * q + skew_risk * q * sigma^2 * tau
    half = max(half_spread + half_spread_risk * sigma^2 * tau, 0)
    bid, ask = s - skew - half, s - skew + half

with ``q`` the inventory (lots), ``sigma`` the market maker's volatility estimate and
``tau = max(T - t, 0)`` the time left to the rule's horizon ``T``. The class holds
Avellaneda and Stoikov (2008, eqs. 29-30) exactly: ``skew_risk = gamma``,
``half_spread_risk = gamma / 2``, ``half_spread = ln(1 + gamma / k) / gamma`` and
``skew_inventory = 0`` (:meth:`LinearQuoteRule.from_avellaneda_stoikov`); a rule learned by
`abm.envs.train` is a point of the same four-dimensional family, so it carries over to
scenarios of another volatility (the risk terms scale with ``sigma^2``).

The file format (``format: abm.linear_quote_rule``, ``version: 1``) is plain JSON::

    {"format": "abm.linear_quote_rule", "version": 1, "horizon": 1.0,
     "coefficients": {"skew_inventory": 0.0, "skew_risk": 0.1,
                      "half_spread": 0.6, "half_spread_risk": 0.05},
     "meta": {...}}

``meta`` is free-form provenance (training scenario, seed, budget) and is not read.

In a scenario: ``policy: {kind: learned, path: rules/mm.json}``; an optional ``T`` replaces
the file's horizon (a scenario of another length). A relative ``path`` is looked up in the
current directory, then in the bundled scenarios folder (``abm.scenarios``), so a bundled
scenario can name a bundled rule (``rl/avellaneda_stoikov_linear.json``) from anywhere.

References:
    Avellaneda, M. and Stoikov, S. (2008). High-frequency trading in a limit order book.
    Quantitative Finance 8(3), 217-224.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from abm.policies.base import PolicyError, PolicySpecBase, QuotingPolicy
from abm.scenario.types import PosFloat

RULE_FORMAT = "abm.linear_quote_rule"
"""The ``format`` key of a rule file."""
RULE_VERSION = 1
"""The ``version`` of the format this module reads and writes."""
MAX_RULE_BYTES = 1 << 20
"""Largest rule file read (1 MiB): a rule is a few hundred bytes."""
MAX_COEFFICIENT = 1e9
"""Largest absolute coefficient a rule file may hold (the quotes must stay finite)."""
COEFFICIENTS = ("skew_inventory", "skew_risk", "half_spread", "half_spread_risk")
"""The coefficient names, in the order of :meth:`LinearQuoteRule.as_vector`."""


@dataclass(frozen=True, slots=True)
class LinearQuoteRule:
    """A skew and a half spread linear in inventory-risk features (module docstring).

    Attributes:
        skew_inventory: Price units of skew per lot of inventory.
        skew_risk: Skew per lot per unit of ``sigma^2 * tau`` (a risk aversion, as AS gamma).
        half_spread: Half spread at ``tau = 0``, price units.
        half_spread_risk: Half spread per unit of ``sigma^2 * tau``.
        horizon: ``T``, the model time the rule counts its time left to; > 0.
    """

    skew_inventory: float
    skew_risk: float
    half_spread: float
    half_spread_risk: float
    horizon: float

    @classmethod
    def from_avellaneda_stoikov(cls, gamma: float, k: float, horizon: float) -> LinearQuoteRule:
        """The rule that quotes Avellaneda and Stoikov (2008), eqs. (29)-(30), exactly."""
        if not (gamma > 0 and k > 0 and horizon > 0):
            raise PolicyError(f"gamma, k and horizon must be > 0, got {gamma}, {k}, {horizon}")
        return cls(0.0, gamma, math.log1p(gamma / k) / gamma, gamma / 2, horizon)

    @classmethod
    def from_vector(cls, theta: Any, horizon: float) -> LinearQuoteRule:
        """A rule from its four coefficients in `COEFFICIENTS` order (e.g. a numpy array)."""
        values = [float(value) for value in theta]
        if len(values) != len(COEFFICIENTS):
            raise PolicyError(f"a rule has {len(COEFFICIENTS)} coefficients, got {len(values)}")
        return cls(values[0], values[1], values[2], values[3], float(horizon))

    def as_vector(self) -> tuple[float, float, float, float]:
        """The four coefficients in `COEFFICIENTS` order."""
        return (self.skew_inventory, self.skew_risk, self.half_spread, self.half_spread_risk)

    def skew_and_half_spread(
        self, inventory: float, time: float, sigma: float
    ) -> tuple[float, float]:
        """``(skew, half)`` in price units at model time ``time`` (module docstring)."""
        risk = sigma * sigma * max(self.horizon - time, 0.0)
        skew = (self.skew_inventory + self.skew_risk * risk) * inventory
        half = max(self.half_spread + self.half_spread_risk * risk, 0.0)
        return skew, half

    def to_json(self, meta: dict[str, Any] | None = None) -> str:
        """The rule as the JSON document of the file format (module docstring)."""
        coefficients = {name: value for name, value in asdict(self).items() if name != "horizon"}
        document = {
            "format": RULE_FORMAT,
            "version": RULE_VERSION,
            "horizon": self.horizon,
            "coefficients": coefficients,
            "meta": meta or {},
        }
        return json.dumps(document, indent=2, sort_keys=True) + "\n"

    def save(self, path: str | Path, meta: dict[str, Any] | None = None) -> Path:
        """Write the rule to ``path`` as JSON (no pickle); returns the path."""
        target = Path(path)
        target.write_text(self.to_json(meta), encoding="utf-8")
        return target


def _number(document: dict[str, Any], key: str, where: str) -> float:
    value = document.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PolicyError(f"{where}{key}: must be a number, got {value!r}")
    if not math.isfinite(value) or abs(value) > MAX_COEFFICIENT:
        raise PolicyError(f"{where}{key}: must be finite and at most {MAX_COEFFICIENT:g}")
    return float(value)


def parse_rule(text: str, *, source: str = "rule") -> LinearQuoteRule:
    """Read a rule from the text of a rule file.

    Raises:
        PolicyError: ``source: key: problem`` if the text is not JSON, not this format or
            version, or a coefficient is missing, not a number, or not finite.
    """
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise PolicyError(f"{source}: not a JSON document ({exc})") from exc
    if not isinstance(document, dict):
        raise PolicyError(f"{source}: must be a JSON object, got {type(document).__name__}")
    if document.get("format") != RULE_FORMAT:
        raise PolicyError(
            f"{source}: format: must be {RULE_FORMAT!r}, got {document.get('format')!r}"
        )
    if document.get("version") != RULE_VERSION:
        raise PolicyError(
            f"{source}: version: must be {RULE_VERSION}, got {document.get('version')!r}"
        )
    coefficients = document.get("coefficients")
    if not isinstance(coefficients, dict):
        raise PolicyError(f"{source}: coefficients: must be an object of {', '.join(COEFFICIENTS)}")
    unknown = sorted(set(coefficients) - set(COEFFICIENTS))
    if unknown:
        raise PolicyError(f"{source}: coefficients: unknown key(s) {', '.join(unknown)}")
    horizon = _number(document, "horizon", f"{source}: ")
    if horizon <= 0:
        raise PolicyError(f"{source}: horizon: must be > 0, got {horizon}")
    values = [_number(coefficients, name, f"{source}: coefficients.") for name in COEFFICIENTS]
    return LinearQuoteRule.from_vector(values, horizon)


def resolve_rule_path(path: str) -> Path:
    """The file a ``path`` names: as given, or relative to the bundled scenarios folder.

    Raises:
        PolicyError: ``path: ...`` if neither is a file.
    """
    candidate = Path(path)
    tried = [candidate]
    if not candidate.is_absolute():
        from abm.scenario.bundle import bundle_dir

        tried.append(bundle_dir() / candidate)
    for option in tried:
        try:
            if option.is_file():
                return option
        except OSError:  # a name the file system refuses (too long, say)
            continue
    raise PolicyError(
        f"path: {path!r} is not a file (looked in the current directory and the bundled "
        "scenarios); give a rule file written by LinearQuoteRule.save"
    )


def load_rule(path: str | Path) -> LinearQuoteRule:
    """Read a rule file (`resolve_rule_path`, then `parse_rule`).

    Raises:
        PolicyError: Naming ``path`` and the problem, for a missing, oversized or invalid file.
    """
    found = resolve_rule_path(str(path))
    if found.stat().st_size > MAX_RULE_BYTES:
        raise PolicyError(f"path: {str(path)!r} is larger than {MAX_RULE_BYTES} bytes")
    try:
        text = found.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"path: {str(path)!r} cannot be read as UTF-8 text ({exc})") from exc
    return parse_rule(text, source=f"path: {str(path)!r}")


class LearnedSpec(PolicySpecBase):
    """A learned linear quote rule, read from a JSON rule file (`abm.policies.learned`)."""

    kind: Literal["learned"] = Field(description="A linear quote rule read from a JSON file.")
    path: str = Field(
        description="Rule file (JSON, format abm.linear_quote_rule); relative paths are looked "
        "up in the current directory, then in the bundled scenarios."
    )
    T: PosFloat | None = Field(
        default=None, description="Horizon in model time; replaces the file's horizon if given."
    )

    @field_validator("path")
    @classmethod
    def _check_path(cls, path: str) -> str:
        # read once here so that `abm validate` reports a bad file under its scenario field
        try:
            load_rule(path)
        except PolicyError as exc:
            raise ValueError(str(exc).removeprefix("path: ")) from exc
        return path


class Learned(QuotingPolicy):
    """Quotes a :class:`LinearQuoteRule` loaded from its spec's file."""

    name = "learned"
    spec_type = LearnedSpec

    def __init__(self, spec: LearnedSpec) -> None:
        rule = load_rule(spec.path)
        if spec.T is not None:
            rule = LinearQuoteRule.from_vector(rule.as_vector(), spec.T)
        self.rule = rule

    def quote_prices(
        self, reference: float, inventory: int, time: float, sigma: float
    ) -> tuple[float, float]:
        """Quote ``reference - skew -/+ half`` (module docstring)."""
        skew, half = self.rule.skew_and_half_spread(inventory, time, sigma)
        centre = reference - skew
        return centre - half, centre + half
