"""Compile abm/market/orderbook.py with mypyc when possible; all other metadata is in pyproject.toml.

The extension is optional. Without a working C compiler, if mypyc rejects the module, or
with ``ABM_PURE_PYTHON=1`` at install time, the install still succeeds and
``abm.market.orderbook`` is the pure-Python module.

mypyc makes two extension modules, ``abm.market.orderbook`` (a small shim) and
``abm.orderbook__mypyc`` (the code), and the shim cannot import without the other, so
they are built all or nothing. An editable install puts both .so files next to
abm/market/orderbook.py, where they shadow it until rebuilt (``make ext``).
"""

import glob
import os

from setuptools import setup
from setuptools.command.build_ext import build_ext

MODULE = "abm/market/orderbook.py"
IN_TREE_BUILDS = ("abm/market/orderbook.*.so", "abm/market/orderbook__mypyc.*.so")


def _remove_in_tree_builds() -> None:
    """Delete compiled copies next to MODULE, which would shadow the .py file."""
    here = os.path.dirname(os.path.abspath(__file__))
    for pattern in IN_TREE_BUILDS:
        for path in glob.glob(os.path.join(here, pattern)):
            print(f"removing {path}")
            os.remove(path)


def _warn(why: object) -> None:
    print(f"WARNING: {MODULE} not compiled, using pure Python ({why})")


class BuildExtAllOrNothing(build_ext):
    """Build the mypyc extensions as a set; if any of them fails, keep none."""

    def run(self) -> None:
        """Build; on failure warn and fall back; after an in-place build, mark it fresh."""
        self._failures: list[str] = []
        self._in_place = self.inplace or getattr(self, "editable_mode", False)
        try:
            super().run()  # build_extensions() below, then the in-place copy if editable
        except Exception as exc:  # e.g. a failure before any compiling starts
            self._give_up(repr(exc))
            return
        if self._in_place:
            # An unchanged module is not recompiled; still mark the in-tree copies as
            # fresh, since tests/conftest.py compares their mtime with the source's.
            for ext in self.extensions:
                path = self.get_ext_fullpath(ext.name)
                if os.path.exists(path):
                    os.utime(path)

    def build_extension(self, ext) -> None:
        """Build one extension, recording rather than raising a failure."""
        try:
            super().build_extension(ext)
        except Exception as exc:  # no compiler, compile or link error
            self._failures.append(f"{ext.name}: {exc}")

    def build_extensions(self) -> None:
        """Build all extensions, then drop them all if any failed."""
        super().build_extensions()
        if self._failures:
            self._give_up("; ".join(self._failures))

    def _give_up(self, why: str) -> None:
        _warn(why)
        for ext in self.extensions:  # drop half-built outputs in the build dir
            path = self.get_ext_fullpath(ext.name)
            if os.path.exists(path):
                os.remove(path)
        self.extensions = []  # so nothing is copied in place or installed
        if self._in_place:
            _remove_in_tree_builds()


ext_modules = []
if os.environ.get("ABM_PURE_PYTHON", "0") not in ("", "0"):
    _warn("ABM_PURE_PYTHON is set")
else:
    try:
        from mypyc.build import mypycify

        # --config-file= ignores [tool.mypy], whose pydantic plugin is not in the build env;
        # --follow-imports=skip stops mypy from checking all of abm (via abm/__init__.py)
        # against third-party packages that the build env does not have.
        ext_modules = mypycify(["--config-file=", "--follow-imports=skip", MODULE])
    except (Exception, SystemExit) as exc:  # mypyc missing, or mypy rejects the module
        _warn(repr(exc))
if not ext_modules:
    _remove_in_tree_builds()  # they were built from an older abm/market/orderbook.py

setup(ext_modules=ext_modules, cmdclass={"build_ext": BuildExtAllOrNothing})
