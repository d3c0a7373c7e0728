# The two commands: `make demo` and `make test`. Each installs everything first.
PYTHON ?= python3
# uv runs as a module, so it works wherever pip put it (user site or the interpreter's).
UV := $(PYTHON) -m uv
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint typecheck browser bench clean

install:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv \
		|| $(PYTHON) -m pip install --quiet --user uv
	$(UV) sync --frozen --all-groups --compile-bytecode
	@# Where PYTHONDONTWRITEBYTECODE is set nothing caches compiled modules, and every
	@# command would spend about 1.5 s compiling its imports; compiled here once instead.
	@$(BIN)/python -m compileall -q src >/dev/null

demo: install
	$(BIN)/greenloop demo

# Two workers by default (the CI machine has two cores); each test file stays on one
# worker, so its module fixtures (a served store, a browser) are made once.
TEST_WORKERS ?= 2

test: install lint typecheck browser
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The dashboard's browser tests drive Debian's chromium (Playwright never downloads a
# browser here). Best effort: without apt-get or root they skip, saying why.
browser:
	@command -v chromium >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1 \
		|| { (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		chromium) >/dev/null 2>&1 || echo "note: could not install chromium; browser tests skip"; }

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports --no-cache

typecheck: install
	$(BIN)/mypy

bench: install
	$(BIN)/python benchmarks/sync.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
