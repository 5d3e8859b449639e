"""Quoting policies for market makers: closed-form quote formulas and thin policy objects.

Every formula is a pure function of floats returning ``(bid, ask)`` in price units; a policy
class holds the parameters (and, for Glosten-Milgrom, the belief that lives across steps) and
maps a :class:`QuoteContext` to a :class:`Quote` (``quote``), or the same context given as bare
floats to a ``(bid, ask)`` tuple (``quote_prices``, the market maker's per-step path, which checks
nothing the spec already checked). Nothing here knows about ticks, the order
book or Mesa: the caller rounds prices to ticks and enforces inventory limits by withdrawing a
side (``None`` in :class:`Quote`).

Each formula family is a module holding its specs, formulas and policy classes:
:mod:`abm.policies.fixed_spread` (symmetric, Ho-Stoll), :mod:`abm.policies.intensity`
(Avellaneda-Stoikov, GLFT), :mod:`abm.policies.glosten_milgrom` and
:mod:`abm.policies.learned` (a linear quote rule read from a JSON file, as `abm.envs` trains
one). :data:`POLICIES` maps a spec's ``kind`` to its policy class; :func:`build_policy` builds
one from a validated spec (what the engine does) and :func:`make_policy` from a kind and bare
numbers (validated by the same spec, the one place a policy's parameters are declared).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError

from abm.policies.base import PolicyError, PolicySpecBase, Quote, QuoteContext, QuotingPolicy
from abm.policies.fixed_spread import (
    HoStoll,
    HoStollSpec,
    Symmetric,
    SymmetricSpec,
    ho_stoll_quotes,
    symmetric_quotes,
)
from abm.policies.glosten_milgrom import (
    GlostenMilgrom,
    GlostenMilgromSpec,
    glosten_milgrom_posterior,
    glosten_milgrom_quotes,
)
from abm.policies.intensity import (
    GLFT,
    AvellanedaStoikov,
    AvellanedaStoikovSpec,
    GLFTSpec,
    avellaneda_stoikov_quotes,
    avellaneda_stoikov_reservation,
    avellaneda_stoikov_spread,
    glft_quotes,
)
from abm.policies.learned import Learned, LearnedSpec, LinearQuoteRule

PolicySpec = Annotated[
    SymmetricSpec
    | AvellanedaStoikovSpec
    | GLFTSpec
    | HoStollSpec
    | GlostenMilgromSpec
    | LearnedSpec,
    Field(discriminator="kind"),
]

POLICIES: Mapping[str, type[QuotingPolicy]] = MappingProxyType(
    {
        cls.name: cls
        for cls in (Symmetric, AvellanedaStoikov, GLFT, HoStoll, GlostenMilgrom, Learned)
    }
)

_POLICY_SPEC: TypeAdapter[PolicySpecBase] = TypeAdapter(PolicySpec)


def build_policy(spec: PolicySpecBase) -> QuotingPolicy:
    """Build the policy a validated spec describes (``POLICIES[spec.kind](spec)``)."""
    return POLICIES[spec.kind](spec)


def make_policy(kind: str, **params: Any) -> QuotingPolicy:
    """Build a registered quoting policy from its name and keyword parameters.

    The parameters are validated by the policy's spec, exactly as a scenario's are.

    Args:
        kind: A key of :data:`POLICIES`.
        **params: The fields of the policy's spec.

    Returns:
        The constructed policy.

    Raises:
        PolicyError: If ``kind`` is unknown (the message lists the known kinds), a parameter is
            missing or not accepted by that policy, or a value is invalid (the message names
            the parameter and the problem).
    """
    cls = POLICIES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise PolicyError(
            f"unknown policy kind {kind!r}; known kinds: {', '.join(sorted(POLICIES))}"
        )
    accepted = [name for name in cls.spec_type.model_fields if name != "kind"]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise PolicyError(
            f"policy {kind!r} does not accept parameter(s) {', '.join(unknown)}; "
            f"accepted: {', '.join(accepted)}"
        )
    missing = [
        name
        for name in accepted
        if cls.spec_type.model_fields[name].is_required() and name not in params
    ]
    if missing:
        raise PolicyError(f"policy {kind!r} is missing parameter(s) {', '.join(missing)}")
    try:
        spec = _POLICY_SPEC.validate_python({"kind": kind, **params})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(item) for item in error['loc'][1:])}: "
            f"{error['msg'].removeprefix('Value error, ')} (got {error['input']!r})"
            for error in exc.errors()
        )
        raise PolicyError(f"policy {kind!r}: {problems}") from exc
    return build_policy(spec)


__all__ = [
    "GLFT",
    "POLICIES",
    "AvellanedaStoikov",
    "AvellanedaStoikovSpec",
    "GLFTSpec",
    "GlostenMilgrom",
    "GlostenMilgromSpec",
    "HoStoll",
    "HoStollSpec",
    "Learned",
    "LearnedSpec",
    "LinearQuoteRule",
    "PolicyError",
    "PolicySpec",
    "PolicySpecBase",
    "Quote",
    "QuoteContext",
    "QuotingPolicy",
    "Symmetric",
    "SymmetricSpec",
    "avellaneda_stoikov_quotes",
    "avellaneda_stoikov_reservation",
    "avellaneda_stoikov_spread",
    "build_policy",
    "glft_quotes",
    "glosten_milgrom_posterior",
    "glosten_milgrom_quotes",
    "ho_stoll_quotes",
    "make_policy",
    "symmetric_quotes",
]
