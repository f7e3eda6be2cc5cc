# The two commands a newcomer needs: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: venv test test-fast lint env demo demo-script console status bench clean

$(BIN)/vextrus-console: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

venv: $(BIN)/vextrus-console

env:
	bash scripts/test-env.sh

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## make test: install what is missing, start Docker/PostgreSQL/Redis, lint, run every test.
test: venv env lint
	$(BIN)/pytest -q -p no:cacheprovider

## make test-fast: the inner loop: unit and ui layers, no real servers, no snapshots.
test-fast: venv
	$(BIN)/pytest -q -p no:cacheprovider -m "(unit or ui) and not slow"

## make demo: the whole Vextrus stack as local stand-ins (no Docker needed), then the console.
demo: venv
	$(BIN)/vextrus-console demo

## make demo-script: the same story played headless, from seed 002's matrix to 100%.
demo-script: venv
	$(BIN)/vextrus-console demo --script

console: venv
	$(BIN)/vextrus-console

status: venv
	$(BIN)/vextrus-console status

bench: venv env
	$(BIN)/python bench/refresh.py
	$(BIN)/python bench/bringup.py
	$(BIN)/python bench/log_ingest.py
	$(BIN)/python bench/startup_idle.py
	$(BIN)/python bench/demo.py
	$(BIN)/python bench/events_to_screen.py
	$(BIN)/python bench/latency_truth.py
	$(BIN)/python bench/operator_story.py
	$(BIN)/python bench/keys_pilot.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
