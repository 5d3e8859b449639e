"""Scenarios: the root schema, strict YAML loading, dotted-path overrides and error messages.

``abm.load_scenario`` is the usual entry point; this package also offers `Scenario`,
`ScenarioError` and `parse_set_option` (the CLI's ``--set key=value``).

The names load lazily (PEP 562): the specs of the parts a scenario is made of live beside
what they build (policies, fundamentals, risk tools, shocks, ...) and import
:mod:`abm.scenario.types`, so importing that leaf must not load the root schema, which
imports them all.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Scenario", "ScenarioError", "load_scenario", "parse_set_option"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("abm.scenario.schema"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
