"""Golden runs: seeded scenarios' tables, digested column by column, against committed digests.

A golden run guards against unintended change (DESIGN.md 7): any change of any value, row
count, column or dtype in the tables of these runs fails here, naming the table and column.
The digests are bit-exact (float64 bytes), so they hold on one platform and library stack;
a new numpy or pandas that changes a float result shows up here first.

After an intended change of the engine's output, update the digests with one command and
commit them with the change, saying why in the commit message::

    .venv/bin/python -m pytest tests/integration/test_golden.py --update-golden
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import abm

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "data" / "golden"

# Short, seeded runs that between them write every table and most event kinds: the book
# and its depth, market-maker rows, hedging, regimes, a contagion network with defaults,
# margin calls and fire sales, and an execution program with a circuit breaker.
GOLDEN_RUNS = {
    "baseline": ("scenarios/baseline.yaml", {"steps": 400}),
    "hedge_full": ("scenarios/inventory_risk/hedge_full.yaml", {}),
    "regimes_on": ("scenarios/inventory_risk/regimes_on.yaml", {}),
    "fire_sale_spiral": ("scenarios/crisis/fire_sale_spiral.yaml", {}),
    "margin_spiral_vol_linked": ("scenarios/crisis/margin_spiral_vol_linked.yaml", {}),
    "flash_crash_2010": ("scenarios/crisis/flash_crash_2010.yaml", {"steps": 12000}),
}


def column_digest(column: pd.Series) -> str:
    """SHA-256 of a column's dtype and values, bit-exact for numbers, NaN/NA-aware."""
    h = hashlib.sha256(str(column.dtype).encode())
    if isinstance(column.dtype, pd.CategoricalDtype):
        values = column.astype(object)
        h.update("\x1f".join("\x00" if pd.isna(v) else str(v) for v in values).encode())
    elif column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
        h.update("\x1f".join("\x00" if pd.isna(v) else str(v) for v in column).encode())
    elif pd.api.types.is_extension_array_dtype(column.dtype):  # nullable integers
        mask = column.isna().to_numpy()
        h.update(mask.tobytes())
        h.update(column.fillna(0).to_numpy(dtype=np.int64).tobytes())
    else:
        h.update(np.ascontiguousarray(column.to_numpy()).tobytes())
    return h.hexdigest()


def run_digest(path: str, overrides: dict[str, object]) -> dict[str, object]:
    """Every table of one seeded run: its row count and one digest per column, in order."""
    scenario = abm.load_scenario(ROOT / path)
    if overrides:
        scenario = scenario.override(overrides)
    result = abm.run(scenario)
    return {
        table: {
            "rows": len(frame),
            "columns": {name: column_digest(frame[name]) for name in frame.columns},
        }
        for table, frame in result.tables().items()
    }


def _differences(expected: dict[str, object], actual: dict[str, object]) -> list[str]:
    found = []
    for table in sorted(set(expected) | set(actual)):
        old, new = expected.get(table), actual.get(table)
        if old is None or new is None:
            found.append(f"table {table!r} {'added' if old is None else 'removed'}")
            continue
        assert isinstance(old, dict) and isinstance(new, dict)
        if old["rows"] != new["rows"]:
            found.append(f"{table}: {old['rows']} rows expected, {new['rows']} now")
        if list(old["columns"]) != list(new["columns"]):
            found.append(f"{table} columns: {list(old['columns'])} -> {list(new['columns'])}")
        for name, digest in old["columns"].items():
            if name in new["columns"] and new["columns"][name] != digest:
                found.append(f"{table}.{name} differs")
    return found


@pytest.mark.parametrize("name", sorted(GOLDEN_RUNS))
def test_golden_run_tables_match_committed_digest(
    name: str, request: pytest.FixtureRequest
) -> None:
    """The run's tables digest to the committed tests/data/golden/<name>.json (bit-exact)."""
    path, overrides = GOLDEN_RUNS[name]
    actual = run_digest(path, overrides)
    golden = GOLDEN / f"{name}.json"
    if request.config.getoption("--update-golden"):
        golden.write_text(json.dumps(actual, indent=1, sort_keys=False) + "\n", encoding="utf-8")
        return
    assert golden.exists(), f"{golden} is missing: run the update command of this module"
    expected = json.loads(golden.read_text(encoding="utf-8"))
    differences = _differences(expected, actual)
    assert not differences, (
        f"golden run {name!r} changed: " + "; ".join(differences) + ". If the change is intended, "
        "update with `.venv/bin/python -m pytest tests/integration/test_golden.py --update-golden`"
    )


def test_golden_column_digest_sees_one_ulp() -> None:
    """A one-ulp change of one float, or a flipped NA, changes the column digest."""
    values = pd.Series([1.0, 2.0, np.nan])
    nudged = values.copy()
    nudged.iloc[1] = np.nextafter(2.0, 3.0)
    assert column_digest(values) != column_digest(nudged)
    ints = pd.Series([1, None, 3], dtype="Int64")
    assert column_digest(ints) != column_digest(pd.Series([1, 0, 3], dtype="Int64"))
    labels = pd.Series(["buy", "sell"], dtype="category")
    assert column_digest(labels) != column_digest(pd.Series(["sell", "buy"], dtype="category"))
