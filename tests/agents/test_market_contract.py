"""The agents' contract with the model: what imports what, read from the source with `ast`.

Every ``import`` statement counts, wherever it is: at the top, under ``TYPE_CHECKING`` or
inside a function. Agents, risk, contagion and the market see the model only through
`abm.agents.base.Market`, so none of them imports `abm.model`; and no chain of imports
between abm modules comes back to where it started.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from _helpers import BASELINE  # tests/ is on sys.path under pytest

import abm
from abm.agents.base import Market
from abm.model import MarketModel
from abm.scenario.schema import load_scenario

ROOT = Path(abm.__file__).parent
FORBIDDEN_TO_IMPORT_MODEL = ("agents", "risk", "contagion", "market")


def _module_name(path: Path) -> str:
    parts = ("abm", *path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def _imports(path: Path) -> Iterator[str]:
    """Every abm module ``path`` imports (``from pkg import mod`` names ``pkg.mod``)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                target = f"{base}.{alias.name}"
                yield target if target in MODULES else base


def _is_model(target: str) -> bool:
    return target == "abm.model" or target.startswith("abm.model.")


def _graph() -> dict[str, set[str]]:
    return {
        name: {target for target in _imports(path) if target in MODULES and target != name}
        for name, path in MODULES.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan 1972)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize("package", FORBIDDEN_TO_IMPORT_MODEL)
def test_market_contract_package_never_imports_the_model(package: str) -> None:
    """No module under abm/<package> imports abm.model, not even under TYPE_CHECKING."""
    offenders = [
        name
        for name, path in MODULES.items()
        if name.startswith(f"abm.{package}.") or name == f"abm.{package}"
        if any(
            target == "abm.model" or target.startswith("abm.model.") for target in _imports(path)
        )
    ]
    assert offenders == []


def test_market_contract_abm_imports_have_no_cycle() -> None:
    """The abm import graph, TYPE_CHECKING and function-level imports included, is acyclic."""
    assert _cycles(_graph()) == []


def test_market_contract_cycle_finder_reports_a_cycle() -> None:
    """The finder itself: a -> b -> c -> a is one cycle; the tail d -> a is not in it."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_market_contract_import_reader_sees_type_checking_imports() -> None:
    """The reader counts imports under TYPE_CHECKING: agents.base imports the exchange so."""
    assert "abm.market.exchange" in set(_imports(MODULES["abm.agents.base"]))


def test_market_contract_model_has_every_market_member() -> None:
    """A built MarketModel has every member Market declares (mypy checks the types)."""
    members = [
        name
        for name, value in vars(Market).items()
        if not name.startswith("_") and (isinstance(value, property) or callable(value))
    ]
    model = MarketModel(load_scenario(BASELINE))
    try:
        assert len(members) >= 20
        assert [name for name in members if not hasattr(model, name)] == []
    finally:
        model.release()
