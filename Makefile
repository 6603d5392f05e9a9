# Reelscope: `make run` starts the app, `make test` runs every check.
# Both install what is missing first (Debian packages as root, then .venv).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
XVFB   := xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp"

.PHONY: run test lint typecheck unit xvfb-tests system-run system-test bench samples clean

run: system-run $(STAMP)
	@packaging/run-app.sh $(BIN) $(ARGS)

test: system-test $(STAMP) lint typecheck unit xvfb-tests

system-run:
	@PYTHON=$(PYTHON) packaging/system-deps.sh run

system-test:
	@PYTHON=$(PYTHON) packaging/system-deps.sh test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=25.1"
	$(BIN)/python -m pip install -q -e . --group dev
	@touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy player telemetry ui

unit: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest -m "not xvfb" $(PYTEST_ARGS)

xvfb-tests: $(STAMP)
	QT_QPA_PLATFORM=xcb $(XVFB) $(BIN)/pytest -m xvfb $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m benchmarks

samples:
	resources/make_samples.sh

clean:
	rm -rf $(VENV) build *.egg-info
