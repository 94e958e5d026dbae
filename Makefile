# Two commands: `make dev` runs the whole stack, `make test` passes the tests.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP_DEV  := $(VENV)/.installed-dev
STAMP_TEST := $(VENV)/.installed-test

# The browser tests (tests/web) drive Debian's chromium through Playwright; `make test`
# installs it with apt when it is missing (as root, or through sudo), never a downloaded build.
CHROMIUM := /usr/bin/chromium
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: dev test install-dev install-test clean bench

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

$(CHROMIUM):
	$(SUDO) apt-get update -q
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium

test: $(STAMP_TEST) | $(CHROMIUM)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP_TEST)
	$(PY) -m bench.run $(ARGS)

clean:
	rm -rf $(VENV) .pakta .pytest_cache
