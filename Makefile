# Two commands for a fresh clone: `make run` and `make test`. Both create/update .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXT_STAMP := $(VENV)/.orderbook-ext
BYTECODE_STAMP := $(VENV)/.bytecode
READY := $(STAMP) $(EXT_STAMP) $(BYTECODE_STAMP)
SCENARIO ?= scenarios/baseline.yaml
OUT ?= runs/baseline

.PHONY: run test test-slow lint typecheck bench clean venv ext

venv: $(READY)

$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,viz,dist,rl]'
	touch $(STAMP) $(EXT_STAMP)

# `pip install -e .` compiles abm/orderbook.py with mypyc (see setup.py) to
# abm/market/orderbook*.so, which Python imports instead of the .py: rebuild after edits.
# ABM_PURE_PYTHON=1 removes them instead.
BUILD_EXT := $(BIN)/python setup.py --quiet build_ext --inplace

$(EXT_STAMP): abm/market/orderbook.py | $(STAMP)
	$(BUILD_EXT)
	touch $@

# Bytecode caches (__pycache__/*.pyc) of the package, written here because Python does not
# write them itself where PYTHONDONTWRITEBYTECODE is set (CI, sandboxes): without them every
# `abm` process compiles its ~120 modules from source, about 0.1 s of each run. An edited
# module's cache is stale, ignored, and rewritten on the next `make`.
$(BYTECODE_STAMP): $(shell find abm -name '*.py') | $(STAMP)
	$(BIN)/python -m compileall -q abm
	touch $@

ext: $(STAMP)
	$(BUILD_EXT)
	touch $(EXT_STAMP)

run: $(READY)
	$(BIN)/abm run $(SCENARIO) --out $(OUT)
	$(BIN)/abm report $(OUT)

lint: $(STAMP)
	$(BIN)/ruff check abm analysis tests notebooks
	$(BIN)/ruff format --check abm analysis tests notebooks

typecheck: $(STAMP)
	$(BIN)/mypy abm analysis

test: $(READY) lint typecheck
	$(BIN)/python -m pytest -n 2 -p no:cacheprovider

test-slow: $(READY)
	$(BIN)/python -m pytest -m slow -p no:cacheprovider

bench: $(READY)
	$(BIN)/abm bench book
	$(BIN)/abm bench model
	$(BIN)/abm bench crisis

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache build abm/market/orderbook*.so
