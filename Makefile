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

.PHONY: dev test check install-dev install-test clean bench lock

# Every install takes the exact versions in constraints.txt (see its header); `make lock`
# picks them anew, the newest within pyproject.toml's ranges, in a venv of its own.
CONSTRAINTS := constraints.txt
LOCK_VENV   := .lock-venv

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP_DEV): pyproject.toml $(CONSTRAINTS) | $(PY)
	$(PY) -m pip install --progress-bar off -c $(CONSTRAINTS) -e '.[embedded]'
	touch $@

$(STAMP_TEST): pyproject.toml $(CONSTRAINTS) | $(PY)
	$(PY) -m pip install --progress-bar off -c $(CONSTRAINTS) -e '.[test]'
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

# Each run's temporary files (servers' data dirs and logs) go to a directory of its own under
# the checkout, not pytest's shared /tmp/pytest-of-<user>/pytest-<N>: there, any later run on
# the machine (another checkout's suite beside) counts towards the 3 kept and deletes a failed
# run's logs, and a fixed --basetemp is emptied by the next run given it. A passed run's is
# removed; a failed run's stays (pytest prints paths into it) until `make clean`.
PYTEST_TMP := .pytest-tmp

test: check | $(CHROMIUM)
	@echo "== tests"
	@mkdir -p $(PYTEST_TMP)
	run=$$(mktemp -d $(PYTEST_TMP)/run-XXXXXX) && \
	  $(PY) -m pytest --basetemp="$$run" $(PYTEST_ARGS) && \
	  rm -rf "$$run"

bench: $(STAMP_TEST)
	$(PY) -m bench.run $(ARGS)

lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LOCK_VENV)/bin/python -m pip install --progress-bar off '.[test]'
	{ sed -n '/^#/p' $(CONSTRAINTS); $(LOCK_VENV)/bin/python -m pip freeze --exclude-editable | grep -v '^pakta @'; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)
	rm -rf $(LOCK_VENV)
	@echo "constraints.txt written: run make test, then commit it"

clean:
	rm -rf $(VENV) $(LOCK_VENV) .pakta $(PYTEST_TMP) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .grimp_cache
