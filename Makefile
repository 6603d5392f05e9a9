# Reelscope: `make run` starts the app, `make test` runs every check.
# Both install what is missing first (Debian packages as root, then .venv).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PACKAGING_STAMP := $(VENV)/.packaging-stamp
XVFB   := xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp"

.PHONY: run test lint typecheck unit xvfb-tests system-run system-test bench fleet samples clean \
        bundle bundle-test install-desktop system-bundle

run: system-run $(STAMP)
	@$(BIN)/python -m compileall -q player telemetry ui  # bytecode, as an installed app has
	@packaging/run-app.sh $(BIN) $(ARGS)

test: system-test $(STAMP) lint typecheck unit xvfb-tests

system-run:
	@PYTHON=$(PYTHON) packaging/system-deps.sh run

system-test:
	@PYTHON=$(PYTHON) packaging/system-deps.sh test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=25.1"
	$(BIN)/python -m pip install -q -e ".[app,collector,recommend,scale]" --group dev
	@touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy player telemetry ui tools

unit: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest -m "not xvfb and not bundle" $(PYTEST_ARGS)

xvfb-tests: $(STAMP)
	QT_QPA_PLATFORM=xcb $(XVFB) $(BIN)/pytest -m xvfb $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# Clients under injected faults against a real collector; bounded by itself (< 5 min).
fleet: $(STAMP)
	$(BIN)/python -m tools.fleet --clients 8 --duration 150 --json benchmarks/results/fleet.json

# The Linux one-folder bundle (PyInstaller) and its archive in dist/; see packaging/README.md.
bundle: system-bundle $(PACKAGING_STAMP)
	$(BIN)/python packaging/build_bundle.py

# Starts the built bundle with the system's libVLC hidden and plays a sample to its end.
bundle-test: bundle
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest -m bundle tests/packaging $(PYTEST_ARGS)

# The launcher, icons and metadata for the current user, running this checkout's venv.
install-desktop: $(STAMP)
	packaging/linux/install-desktop.sh "$(CURDIR)/$(BIN)/reelscope"

system-bundle:
	@PYTHON=$(PYTHON) packaging/system-deps.sh bundle

$(PACKAGING_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q --group packaging
	@touch $@

samples:
	resources/make_samples.sh

clean:
	rm -rf $(VENV) build *.egg-info
