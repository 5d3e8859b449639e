"""abm: an agent-based market microstructure simulator.

Public API::

    scenario = abm.load_scenario("baseline")      # a bundled name, or a YAML file path
    result = abm.run(scenario.override({"agents.mm.policy.gamma": 0.01}))
    result = abm.run("baseline", seed=7, steps=500)  # a path or bundled name: loaded first
    result.market, result.trades, result.agents   # pandas DataFrames
    result.save("runs/baseline"); abm.RunResult.load("runs/baseline")
    model = abm.MarketModel(scenario); model.step()  # step by step, e.g. in a notebook
    abm.check_determinism(scenario, steps=200)
    abm.__version__                                  # the installed distribution's version
    except abm.AbmError as error: ...                # the root of every error abm raises on purpose

``import abm`` is cheap: it loads `abm.errors` only. Every other public name is imported
from its module on first use (PEP 562), so a script that only catches `AbmError`, and the
``abm`` command before it knows which sub-command runs, never pay for Mesa, pandas or
pydantic. Each name is the very object its module defines (``abm.Scenario`` is
`abm.scenario.schema.Scenario`; ``abm.run`` is the function `abm.run.run`), and ``abm.run``
stays that function even after the submodule of the same name is imported (``import abm.run``,
``from abm.run import summarize``), which would otherwise rebind it to the module.

``__version__`` is read from the installed package metadata of the distribution
``abm-microstructure`` (``pyproject.toml``'s ``version``; the import package is ``abm``),
so it cannot drift from what pip installed; a source tree that was never installed reports
``0+unknown``.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from abm.errors import AbmError

if TYPE_CHECKING:  # what mypy and IDEs see; at run time `__getattr__` imports on first use
    from abm.model import MarketModel
    from abm.results.run_result import RunResult
    from abm.run import check_determinism, run
    from abm.scenario.schema import Scenario, ScenarioError, load_scenario

    __version__: str

__all__ = [
    "AbmError",
    "MarketModel",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "__version__",
    "check_determinism",
    "load_scenario",
    "run",
]

_LAZY = {
    "MarketModel": "abm.model",
    "RunResult": "abm.results.run_result",
    "Scenario": "abm.scenario.schema",
    "ScenarioError": "abm.scenario.schema",
    "check_determinism": "abm.run",
    "load_scenario": "abm.scenario.schema",
    "run": "abm.run",
}
"""Each public name imported on first use, and the module it is imported from."""
_DISTRIBUTION = "abm-microstructure"  # pyproject.toml's [project].name


def _import_on_first_use(name: str) -> Any:
    """Import the public ``name`` from its module on first use and keep it (PEP 562)."""
    if name == "__version__":
        value: Any = _installed_version()
    elif name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later look-ups find it without calling this function
    return value


if not TYPE_CHECKING:
    # hidden from type checkers, which would otherwise accept any ``abm.<name>`` as Any
    __getattr__ = _import_on_first_use


def __dir__() -> list[str]:
    """The module's attributes, with the public names not imported yet."""
    return sorted(set(globals()) | set(__all__))


def _installed_version() -> str:
    import importlib.metadata  # ~40 ms: only when the version is asked for

    try:
        return importlib.metadata.version(_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:  # imported from a source tree, not installed
        return "0+unknown"


class _Package(types.ModuleType):
    """The class of the ``abm`` module: keeps ``abm.run`` the function, not the submodule.

    Importing a submodule sets it as an attribute of its package once it has run; for
    ``abm.run`` that attribute is the public function's name. Setting the submodule there is
    ignored, so ``abm.run`` stays the function already kept, or is imported on first use.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "run" and getattr(value, "__name__", None) == "abm.run":
            return  # the import system binding the submodule `abm.run`
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
