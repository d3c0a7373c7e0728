# The two commands: `make demo` and `make test`. Each installs everything first.
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint typecheck unit bench clean

$(UV):
	$(PYTHON) -m pip install --quiet --user uv || $(PYTHON) -m pip install --quiet uv

install: $(UV)
	$(UV) sync --frozen --all-groups

demo: install
	$(BIN)/greenloop demo

test: install lint typecheck
	$(BIN)/pytest -q $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: install
	$(BIN)/mypy

bench: install
	$(BIN)/python benchmarks/sync.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
