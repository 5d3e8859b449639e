"""Session-wide checks."""

from __future__ import annotations

from pathlib import Path

import pytest

import abm.market.orderbook


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--update-golden``: rewrite the golden digests (tests/integration/test_golden.py)."""
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/data/golden/*.json from the current code instead of checking them",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Refuse to test a stale mypyc build of abm/market/orderbook.py.

    An editable install compiles abm/market/orderbook.py (see setup.py) to .so files beside it,
    and Python imports those instead of the .py file, so edits made since would go
    untested.
    """
    compiled = Path(abm.market.orderbook.__file__)
    source = Path(__file__).resolve().parents[1] / "abm" / "market" / "orderbook.py"
    if compiled.suffix != ".so" or compiled.parent != source.parent:
        return  # pure Python, or an installed (not editable) abm
    if source.stat().st_mtime > compiled.stat().st_mtime:
        raise pytest.UsageError(
            f"{compiled.name} is older than {source}: rebuild it with `make ext` "
            "(or `pip install -e .`), or delete it to test the pure-Python module"
        )
