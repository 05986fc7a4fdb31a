# The two commands a person needs: `make run` and `make test` (see README.md).
# Each creates .venv on first use and reinstalls only when setup.cfg changes.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export LIMS_INSTANCE_PATH ?= $(CURDIR)/instance

.PHONY: run test bench lint babel clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed-run: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/lims db upgrade
	$(BIN)/lims demo --if-empty
	$(BIN)/lims serve --host 127.0.0.1 --port 5000

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench $(BENCH_ARGS)

babel: $(VENV)/.installed-dev
	$(BIN)/python -m lims.i18n.catalogs update

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis
