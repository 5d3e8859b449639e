# Two commands for a fresh clone: `make run` and `make test`. Both create/update .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SCENARIO ?= scenarios/baseline.yaml
OUT ?= runs/baseline

.PHONY: run test test-slow lint typecheck bench clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,viz,dist]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/abm run $(SCENARIO) --out $(OUT)
	$(BIN)/abm report $(OUT)

lint: $(STAMP)
	$(BIN)/ruff check abm analysis tests
	$(BIN)/ruff format --check abm analysis tests

typecheck: $(STAMP)
	$(BIN)/mypy abm analysis

test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -n 2 -p no:cacheprovider

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/abm bench book
	$(BIN)/abm bench model
	$(BIN)/abm bench crisis

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
