"""Scenarios: the root schema, strict YAML loading, dotted-path overrides and error messages.

``abm.load_scenario`` is the usual entry point; this package also offers `Scenario`,
`ScenarioError` and `parse_set_option` (the CLI's ``--set key=value``).
"""

from abm.scenario.schema import Scenario, ScenarioError, load_scenario, parse_set_option

__all__ = ["Scenario", "ScenarioError", "load_scenario", "parse_set_option"]
