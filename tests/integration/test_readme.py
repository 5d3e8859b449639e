"""Every code block of README.md runs, in a temporary copy of the repository.

How the blocks are run (one test per fenced block, ids ``L<line>-<language>``):

* The repository is copied (without ``.git``, ``.venv``, ``runs/`` and caches) into a fresh
  temporary directory for each block. The copy's ``.venv`` is a symbolic link to the environment
  running the tests (``sys.prefix``), so ``.venv/bin/abm`` and ``.venv/bin/python`` mean what
  they mean in a clone, and that ``bin`` directory goes first on ``PATH``.
* ``sh`` blocks: each command line runs in bash from the copy's root and must exit 0. The
  commands that cannot run inside the suite are listed in `NOT_RUN` with the reason; each one is
  a test of its own that is skipped with that reason, so it shows in the pytest summary. Long
  commands are shortened only through `SHORTENED` (the README command, what runs instead, why);
  the Dask cluster block runs on this machine (`IN_BACKGROUND`, `ON_THIS_MACHINE`).
  ``make run`` runs with the existing ``.venv`` (never reinstalling into it: if its install
  stamps are out of date the test is skipped, saying so).
* ``python`` blocks: saved as a plain script (no ``if __name__ == "__main__":`` guard is added)
  and run with this interpreter from the copy's root.
* ``yaml`` blocks: a complete scenario is checked with ``abm validate``; a fragment is merged into
  a shipped scenario as `FRAGMENTS` says, then validated; a sweep block must be the shipped file
  under ``sweeps/`` that it names, which `abm.experiments.sweep_spec.load_sweep` must accept.
* The sweep files are shrunk in the copy only (`SWEEP_SHRINK`: 2 replicates, 100 steps, 4
  samples), so that the README's sweep commands run in seconds; the shipped files themselves
  are validated unchanged.

A block that none of these rules claims fails `test_readme_every_block_is_claimed`.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from abm.experiments.sweep_spec import load_sweep

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
BIN = Path(sys.prefix) / "bin"

NOT_RUN = {
    "make test": "runs this test suite, so it cannot run inside it (it would recurse)",
    ".venv/bin/abm dashboard crisis/fire_sale_spiral": "serves the dashboard "
    "until killed; tests/dashboard/test_app.py and tests/dashboard/test_dashboard_browser.py "
    "drive it",
}
SHORTENED = {
    ".venv/bin/abm study avellaneda-stoikov --seeds 1000": (
        ".venv/bin/abm study avellaneda-stoikov --seeds 10",
        "2 x 1000 runs take minutes; the full study is the slow test "
        "tests/experiments/test_studies.py::test_avellaneda_stoikov_table_matches_paper_table_1_full",
    ),
    ".venv/bin/abm bench book": (
        ".venv/bin/abm bench book --ops 20000 --repeats 1 --no-memory",
        "a benchmark of 3 x 1,000,000 operations measures, it does not test",
    ),
    ".venv/bin/abm bench model": (
        ".venv/bin/abm bench model --steps 200 --no-memory",
        "a benchmark of 2 x 5,000 steps measures, it does not test",
    ),
    ".venv/bin/abm bench scale": (
        ".venv/bin/abm bench scale --quick --steps 20",
        "seven fresh processes, one of a million traders: a benchmark measures, it does not test",
    ),
    ".venv/bin/abm bench crisis": (
        ".venv/bin/abm bench crisis --steps 200",
        "a benchmark of 2 x 5,000 steps of a 100-dealer market measures, it does not test",
    ),
}
# The Dask block's machine A is this machine, on a free port ({port}); the scheduler and the
# workers serve until stopped, so they run in the background until the block's last command
# has finished, and are then stopped (their process group, by id). No dashboards: their fixed
# port 8787 could be taken.
IN_BACKGROUND = {
    "dask scheduler": "dask scheduler --host 127.0.0.1 --port {port} --no-dashboard",
    "dask worker tcp://A:8786 --nworkers auto --nthreads 1": (
        "dask worker tcp://127.0.0.1:{port} --nworkers auto --nthreads 1 --no-dashboard"
    ),
}
ON_THIS_MACHINE = {
    ".venv/bin/abm sweep sweeps/gamma_informed.yaml --out runs/gamma_informed "
    "--scheduler tcp://A:8786": ".venv/bin/abm sweep sweeps/gamma_informed.yaml "
    "--out runs/gamma_informed --scheduler tcp://127.0.0.1:{port}",
}
SWEEP_SHRINK = {"replicates": 2, "steps": 100, "samples": 4}

# YAML fragments: (phrase identifying the block, shipped scenario it is merged into, where).
FRAGMENTS = (
    ("rebalance: {kind: threshold", "scenarios/baseline.yaml", "agents.mm"),
    ("topology: {kind: core_periphery", "scenarios/baseline.yaml", "top level"),
    ("strikes: [99.0, 99.5", "scenarios/options/options_mm.yaml", "top level"),
)
SAMPLES_PHRASE = "kind: latin_hypercube"
SAMPLES_FILE = "sweeps/gamma_informed_lhs.yaml"
ELLIPSIS = "..."  # `{kind: market_maker, ..., ...}`: the rest of the group as in the base


@dataclass(frozen=True)
class Block:
    """One fenced code block of the README."""

    line: int
    language: str
    text: str

    @property
    def id(self) -> str:
        return f"L{self.line}-{self.language or 'plain'}"


def readme_blocks() -> list[Block]:
    """The fenced blocks of README.md in order, with the line of their opening fence."""
    blocks, language, start, body = [], None, 0, []
    for number, line in enumerate(README.read_text(encoding="utf-8").splitlines(), start=1):
        fence = re.match(r"^```(\w*)\s*$", line)
        if fence and language is None:
            language, start, body = fence.group(1), number, []
        elif line.startswith("```") and language is not None:
            blocks.append(Block(start, language, "\n".join(body) + "\n"))
            language = None
        elif language is not None:
            body.append(line)
    return blocks


BLOCKS = readme_blocks()


def _commands(block: Block) -> list[str]:
    lines = (line.strip() for line in block.text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _bare(command: str) -> str:
    """The command without its trailing comment and padding."""
    return re.sub(r"\s+#.*$", "", command).strip()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["MPLBACKEND"] = "Agg"
    return env


def _run(argv: list[str], cwd: Path, what: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, cwd=cwd, env=_env(), capture_output=True, text=True, check=False)
    assert done.returncode == 0, (
        f"{what} exited {done.returncode}\n--- stdout\n{done.stdout[-3000:]}\n"
        f"--- stderr\n{done.stderr[-3000:]}"
    )
    return done


def _shrink_sweeps(sweeps: Path) -> None:
    """Make the copy's sweep files small (`SWEEP_SHRINK`); comments are lost in the copy only."""
    for path in sweeps.glob("*.yaml"):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        spec["replicates"] = min(spec["replicates"], SWEEP_SHRINK["replicates"])
        spec.setdefault("overrides", {})["steps"] = SWEEP_SHRINK["steps"]
        if "samples" in spec:
            spec["samples"]["n"] = min(spec["samples"]["n"], SWEEP_SHRINK["samples"])
        path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Path]:
    """A fresh copy of the repository whose .venv is the environment running the tests.

    One copy per block (about 3 MB), so that no block passes thanks to what another wrote.
    """
    if not (BIN / "abm").exists():
        pytest.fail(f"{BIN / 'abm'} is missing: run the tests from the project's .venv")
    copy = tmp_path / "repo"
    ignored = shutil.ignore_patterns(
        ".git", ".venv", "runs", "build", "*.egg-info", "__pycache__", ".*_cache"
    )
    shutil.copytree(ROOT, copy, ignore=ignored, symlinks=True)
    (copy / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    _shrink_sweeps(copy / "sweeps")
    yield copy


def _claim(block: Block) -> str:
    """Which rule runs ``block``: 'sh', 'python', 'scenario', 'fragment', 'sweep', 'samples'."""
    if block.language in ("sh", "python"):
        return block.language
    if block.language != "yaml":
        return "unclaimed"
    if any(phrase in block.text for phrase, _, _ in FRAGMENTS):
        return "fragment"
    if SAMPLES_PHRASE in block.text and "scenario:" not in block.text:
        return "samples"
    document = yaml.safe_load(block.text)
    if isinstance(document, dict) and "scenario" in document:
        return "sweep"
    if isinstance(document, dict) and {"name", "agents"} <= set(document):
        return "scenario"
    return "unclaimed"


def test_readme_every_block_is_claimed() -> None:
    """Each README block is one a rule of this module runs (a new kind of block needs a rule)."""
    unclaimed = [block.id for block in BLOCKS if _claim(block) == "unclaimed"]
    assert not unclaimed
    assert len(BLOCKS) >= 10


def test_readme_not_run_and_shortened_commands_are_in_the_readme() -> None:
    """Every command excused or shortened here is still in the README (no stale excuse)."""
    commands = {_bare(c) for b in BLOCKS if b.language == "sh" for c in _commands(b)}
    adapted = set(NOT_RUN) | set(SHORTENED) | set(IN_BACKGROUND) | set(ON_THIS_MACHINE)
    assert adapted <= commands


@pytest.mark.parametrize("command", list(NOT_RUN))
def test_readme_command_not_run(command: str) -> None:
    """A README command the suite cannot run, with the reason (reported as a skip)."""
    pytest.skip(f"README `{command}` not run: {NOT_RUN[command]}")


def _run_make_run(repo: Path) -> None:
    stamps = [".venv/.installed", ".venv/.orderbook-ext"]
    fresh = subprocess.run(["make", "-q", *stamps], cwd=repo, env=_env(), check=False)
    if fresh.returncode != 0:
        pytest.skip(
            "`make run` not run: the .venv's install stamps are out of date, and "
            "make would reinstall into the shared environment; run `make venv` first"
        )
    done = _run(["make", "run"], repo, "make run")
    assert "results:" in done.stdout and "html:" in done.stdout


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a background command and the processes it started (its own process group)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _run_shell(block: Block, repo: Path) -> None:
    port = _free_port()
    background: list[subprocess.Popen[bytes]] = []
    try:
        for command in _commands(block):
            bare = _bare(command)
            if bare in NOT_RUN:
                continue  # its own skipped test says why
            if bare == "make run":
                _run_make_run(repo)
            elif bare in IN_BACKGROUND:
                argv = ["bash", "-c", f"exec {IN_BACKGROUND[bare].format(port=port)}"]
                background.append(
                    subprocess.Popen(
                        argv,
                        cwd=repo,
                        env=_env(),
                        start_new_session=True,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
            else:
                bare = SHORTENED.get(bare, (bare, ""))[0]
                bare = ON_THIS_MACHINE.get(bare, bare).format(port=port)
                _run(["bash", "-c", bare], repo, f"README L{block.line} `{bare}`")
    finally:
        for process in reversed(background):
            _stop(process)


def _run_python(block: Block, repo: Path) -> None:
    script = repo / f"readme_block_L{block.line}.py"
    script.write_text(block.text, encoding="utf-8")
    _run([sys.executable, script.name], repo, f"README L{block.line} as {script.name}")


def _validate(document: dict[str, Any], repo: Path, name: str) -> None:
    path = repo / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    done = _run([str(BIN / "abm"), "validate", path.name], repo, f"abm validate {path.name}")
    assert done.stdout.startswith("ok:")


def _merge_fragment(block: Block, repo: Path) -> dict[str, Any]:
    _, base_file, where = next(f for f in FRAGMENTS if f[0] in block.text)
    base = yaml.safe_load((repo / base_file).read_text(encoding="utf-8"))
    if where == "agents.mm":  # keys of one market-maker group, written indented
        base["agents"]["mm"].update(yaml.safe_load(block.text))
        return base
    fragment = yaml.safe_load(block.text)
    for name, group in fragment.pop("agents", {}).items():
        merged = base["agents"].get(name, {}) | group
        merged.pop(ELLIPSIS, None)
        base["agents"][name] = merged
    base.update(fragment)
    return base


@pytest.mark.parametrize("block", BLOCKS, ids=[block.id for block in BLOCKS])
def test_readme_block_runs(block: Block, repo: Path) -> None:
    """The README block runs (sh, python) or validates (yaml) as the module docstring says."""
    rule = _claim(block)
    if rule == "sh":
        _run_shell(block, repo)
    elif rule == "python":
        _run_python(block, repo)
    elif rule == "scenario":
        _validate(yaml.safe_load(block.text), repo, f"readme_L{block.line}")
    elif rule == "fragment":
        _validate(_merge_fragment(block, repo), repo, f"readme_L{block.line}")
    elif rule == "sweep":
        named = re.match(r"#\s*(sweeps/\S+\.yaml)", block.text)
        assert named, "a README sweep block names its file in its first comment"
        shipped = ROOT / named.group(1)
        assert yaml.safe_load(block.text) == yaml.safe_load(shipped.read_text(encoding="utf-8"))
        load_sweep(shipped)
    elif rule == "samples":
        shipped = yaml.safe_load((ROOT / SAMPLES_FILE).read_text(encoding="utf-8"))
        assert yaml.safe_load(block.text)["samples"] == shipped["samples"]
        load_sweep(ROOT / SAMPLES_FILE)
    else:
        pytest.fail(f"README block {block.id} is claimed by no rule")


def test_readme_check_determinism_from_a_script_without_main_guard(repo: Path) -> None:
    """abm.check_determinism works from a plain script, which runs exactly once (PITFALLS.md)."""
    script = repo / "determinism_no_guard.py"
    script.write_text(
        "import abm\n"
        'print("script body ran")\n'
        'scenario = abm.load_scenario("scenarios/baseline.yaml")\n'
        "report = abm.check_determinism(scenario, steps=30)\n"
        'print("identical:", report.identical, report.differences)\n',
        encoding="utf-8",
    )
    done = _run([sys.executable, script.name], repo, script.name)
    assert done.stdout.count("script body ran") == 1
    assert "identical: True []" in done.stdout


_OTHER_SEED_RUN = """
import sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from abm.run import run
from abm.scenario.schema import Scenario
scenario = Scenario.from_yaml_text(Path(sys.argv[2]).read_text(encoding="utf-8"))
run(scenario, seed=scenario.seed + 1, steps=int(sys.argv[3])).save(sys.argv[4])
"""


def test_check_determinism_compares_the_other_process_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """A second process that runs another seed is reported as different (tables named)."""
    import abm

    runner = importlib.import_module("abm.run")  # `abm.run` is also the function

    monkeypatch.setattr(runner, "_SECOND_RUN", _OTHER_SEED_RUN)
    report = abm.check_determinism(abm.load_scenario(ROOT / "scenarios/baseline.yaml"), steps=20)
    assert not report.identical
    assert "table 'trades' differs" in report.differences


def test_check_determinism_failed_second_run_raises_with_its_stderr(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A second process that fails raises DeterminismCheckError carrying its stderr."""
    import abm

    runner = importlib.import_module("abm.run")  # `abm.run` is also the function

    monkeypatch.setattr(runner, "_SECOND_RUN", "raise SystemExit('second run broke')")
    with pytest.raises(runner.DeterminismCheckError, match="second run broke"):
        abm.check_determinism(abm.load_scenario(ROOT / "scenarios/baseline.yaml"), steps=5)
