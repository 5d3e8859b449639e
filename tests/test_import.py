"""What ``import abm`` and the ``abm`` command's start-up load (issue 17, target 5).

Each check runs in a fresh interpreter: the test process has long since imported Mesa, pandas
and the rest for other tests. The reference is that interpreter's own record, ``sys.modules``
(and, for the public names, the module each name is defined in). No check is timed: the
start-up times are measured with whole-process medians, outside the test suite.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("mesa", "pandas", "numpy", "scipy", "networkx", "matplotlib", "seaborn", "pyarrow")
"""Libraries that cost a tenth of a second or more each to import here."""
SCHEMA = ("pydantic", "yaml")
"""What the scenario schema needs: loaded by a command that reads a scenario, by no other."""
PUBLIC = {
    "AbmError": "abm.errors",
    "MarketModel": "abm.model",
    "RunResult": "abm.results.run_result",
    "Scenario": "abm.scenario.schema",
    "ScenarioError": "abm.scenario.schema",
    "check_determinism": "abm.run",
    "load_scenario": "abm.scenario.schema",
    "run": "abm.run",
}
"""Every public name of abm but ``__version__``, and the module that defines it."""
RUN_IS_THE_FUNCTION = (
    "import sys, types\n"
    "import abm\n"
    "assert isinstance(abm.run, types.FunctionType), abm.run\n"
    "assert abm.run is sys.modules['abm.run'].run\n"
    "print('ok')\n"
)
"""Appended to each import order below: ``abm.run`` is the function of the module abm.run."""


def _python(code: str) -> str:
    """Run ``code`` in a fresh interpreter from the repository root; return its stdout."""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _loaded_after(code: str, names: tuple[str, ...]) -> list[str]:
    """Which of the top-level packages ``names`` are in ``sys.modules`` after ``code`` ran."""
    report = f"import sys, json\nprint(json.dumps([n for n in {names!r} if n in sys.modules]))\n"
    return json.loads(_python(f"{code}\n{report}").splitlines()[-1])


def test_import_abm_loads_no_heavy_library() -> None:
    """``import abm`` loads none of Mesa, pandas, numpy, scipy, networkx, the plotting libraries."""
    assert _loaded_after("import abm", HEAVY + SCHEMA) == []


def test_import_abm_loads_only_the_package_and_its_errors() -> None:
    """The abm modules after ``import abm`` are the package and `abm.errors` (a leaf)."""
    code = (
        "import sys\nimport abm\n"
        "print(sorted(m for m in sys.modules if m == 'abm' or m.startswith('abm.')))\n"
    )
    assert _python(code).strip() == "['abm', 'abm.errors']"


def test_import_abm_public_names_are_the_objects_of_their_modules() -> None:
    """Each name of ``abm.__all__`` is the object its module defines; ``__all__`` lists them all."""
    code = (
        "import importlib, importlib.metadata, json\nimport abm\n"
        f"public = {PUBLIC!r}\n"
        "assert sorted(abm.__all__) == sorted([*public, '__version__']), abm.__all__\n"
        "same = {name: getattr(abm, name) is getattr(importlib.import_module(module), name)\n"
        "        for name, module in public.items()}\n"
        "version = importlib.metadata.version('abm-microstructure')\n"
        "same['__version__'] = abm.__version__ == version\n"
        "print(json.dumps(same))\n"
    )
    same = json.loads(_python(code))
    assert same == dict.fromkeys([*PUBLIC, "__version__"], True)


def test_import_abm_from_import_star_gives_every_public_name() -> None:
    """``from abm import *`` binds every name of ``__all__`` (each imported on that first use)."""
    code = (
        "from abm import *\n"
        f"print(sorted(name for name in {[*PUBLIC, '__version__']!r} if name in globals()))\n"
    )
    assert _python(code).strip() == str(sorted([*PUBLIC, "__version__"]))


def test_import_abm_dir_lists_the_public_names_before_first_use() -> None:
    """``dir(abm)`` (what tab completion reads) shows every public name before it is imported."""
    code = "import abm\nprint(sorted(set(abm.__all__) - set(dir(abm))))\n"
    assert _python(code).strip() == "[]"


def test_import_abm_unknown_name_raises_attribute_error() -> None:
    """A name abm does not have is an AttributeError naming it, as for any module."""
    code = (
        "import abm\n"
        "try:\n    abm.no_such_name\n"
        "except AttributeError as exc:\n    print(exc)\n"
        "print(hasattr(abm, 'no_such_name'))\n"
    )
    assert _python(code).splitlines() == [
        "module 'abm' has no attribute 'no_such_name'",
        "False",
    ]


@pytest.mark.parametrize(
    "first",
    [
        "import abm.run",
        "from abm.run import summarize",
        "import abm\nabm.run\nimport abm.run",
        "import abm\nimport importlib\nimportlib.import_module('abm.run')",
        "import abm.experiments.compare",  # a library module that imports abm.run itself
    ],
    ids=["import-submodule", "from-submodule", "function-first", "import_module", "indirect"],
)
def test_import_abm_run_stays_the_function_after_its_submodule_is_imported(first: str) -> None:
    """``abm.run`` is `abm.run.run`, whichever order the function and the submodule load in.

    Importing a submodule sets it on its package, which would make ``abm.run`` the module.
    """
    assert _python(f"{first}\n{RUN_IS_THE_FUNCTION}").strip() == "ok"


def test_import_abm_help_loads_no_schema_or_heavy_library() -> None:
    """``abm --help`` builds every command's parser without pydantic, Mesa, pandas or numpy."""
    code = (
        "import contextlib, io\nfrom abm.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['--help'])\n"
    )
    assert _loaded_after(code, HEAVY + SCHEMA) == []


def test_import_abm_version_loads_no_schema_or_heavy_library() -> None:
    """``abm --version`` prints the installed version without importing the engine."""
    code = (
        "import contextlib, importlib.metadata, io\nfrom abm.cli.main import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
        "    main(['--version'])\n"
        "assert out.getvalue() == f\"abm {importlib.metadata.version('abm-microstructure')}\\n\"\n"
    )
    assert _loaded_after(code, HEAVY + SCHEMA) == []


def test_import_abm_validate_loads_only_the_schema_libraries() -> None:
    """``abm validate`` reads the scenario (pydantic, yaml, numpy) without Mesa or pandas."""
    code = (
        "import contextlib, io\nfrom abm.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['validate', 'scenarios/baseline.yaml']) == 0\n"
    )
    assert _loaded_after(code, HEAVY) == ["numpy"]


MESA_STATE = (
    "import inspect, json, sys\n"
    "functions = (inspect.stack, inspect.getouterframes, inspect.getmodule)\n"
    "{imports}\n"
    "import mesa.mesa_logging as logging_\n"
    "from mesa.model import Model\n"
    "wrapper = Model.__init__\n"
    "names = wrapper.__code__.co_freevars\n"
    "cells = dict(zip(names, (cell.cell_contents for cell in wrapper.__closure__)))\n"
    "print(json.dumps({\n"
    "    'loggers': sorted(logging_._module_loggers),\n"
    "    'classname': cells.get('classname'),\n"
    "    'inspect_restored': functions == (inspect.stack, inspect.getouterframes,\n"
    "                                      inspect.getmodule),\n"
    "}))\n"
)
"""Prints what Mesa's import-time frame inspection produced, after ``{imports}`` ran."""


def test_mesa_imported_through_abm_is_mesa_as_a_plain_import_leaves_it() -> None:
    """`abm.mesa_import` gives Mesa the same module loggers and method-logger class name.

    Reference: the same interpreter state after a plain ``import mesa``. The look-ups that
    abm skips while Mesa imports (`abm.mesa_import`) change nothing Mesa keeps, and
    ``inspect``'s own functions are back in place afterwards.
    """
    plain = json.loads(_python(MESA_STATE.replace("{imports}", "import mesa")))
    through_abm = json.loads(_python(MESA_STATE.replace("{imports}", "import abm.model")))
    assert plain["classname"] == "Model"
    assert through_abm == plain
    assert through_abm["inspect_restored"] is True


def test_abm_modules_import_mesa_only_through_abm_mesa_import() -> None:
    """No engine module imports Mesa directly, so none pays for Mesa's frame inspection."""
    direct = [
        path.relative_to(ROOT).as_posix()
        for path in sorted((ROOT / "abm").rglob("*.py"))
        if path.name != "mesa_import.py"
        and any(
            line.startswith(("import mesa", "from mesa import", "from mesa."))
            for line in path.read_text(encoding="utf-8").splitlines()
        )
    ]
    assert direct == []


EXPERIMENTAL_USES = (
    "import json, sys, types\n"
    "{imports}\n"
    "before = 'scipy' in sys.modules\n"
    "import mesa\n"
    "from mesa.experimental.devs.simulator import Simulator\n"
    "from mesa.experimental import continuous_space\n"
    "space = mesa.experimental.continuous_space.ContinuousSpace\n"
    "print(json.dumps({\n"
    "    'scipy_before_use': before,\n"
    "    'all': sorted(mesa.experimental.__all__),\n"
    "    'plain_module': type(sys.modules['mesa.experimental']) is types.ModuleType,\n"
    "    'names': [Simulator.__name__, space.__name__, continuous_space.__name__],\n"
    "}))\n"
)
"""Uses ``mesa.experimental`` in three ways after ``{imports}``; prints what it found."""


def test_mesa_experimental_runs_on_first_use_and_then_is_mesas_own() -> None:
    """Importing the engine loads no scipy; ``mesa.experimental`` still works when used.

    Reference: the same uses after a plain ``import mesa`` (which loads scipy through the
    subpackage). `abm.mesa_import` defers ``mesa.experimental`` to its first use; after it,
    the subpackage is an ordinary module with Mesa's own names.
    """
    plain = json.loads(_python(EXPERIMENTAL_USES.replace("{imports}", "import mesa")))
    through_abm = json.loads(_python(EXPERIMENTAL_USES.replace("{imports}", "import abm.model")))
    assert plain["scipy_before_use"] is True  # the cost abm avoids
    assert through_abm["scipy_before_use"] is False
    assert {**through_abm, "scipy_before_use": True} == plain
    assert through_abm["plain_module"] is True
