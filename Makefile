# Caviar: `make up` runs the service on this machine; `make test` runs the test suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RUNTIME := $(VENV)/.installed-runtime
DEV     := $(VENV)/.installed-dev
HOST    ?= 127.0.0.1
PORT    ?= 8000
WORKERS ?= 2

.PHONY: install up test lint bench bench-install clean

# `make up` installs what the service needs; `make test` (and lint, bench) add the dev extras.
$(RUNTIME): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUNTIME)

$(DEV): $(RUNTIME)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(DEV)

install: $(RUNTIME)

up: $(RUNTIME)
	$(BIN)/caviar up --host $(HOST) --port $(PORT) --workers $(WORKERS)

# Three test processes (pytest-xdist): most tests wait on real processes (apis, workers, a
# browser), so three keep two cores about 80% busy; a module's tests stay together with its api.
TEST_JOBS ?= 3

test: $(DEV)
	$(BIN)/python -m pytest -n $(TEST_JOBS) --dist loadfile --no-loadscope-reorder

lint: $(DEV)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench-install: $(DEV)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'

bench: bench-install
	$(BIN)/python bench/bench_asktell.py

clean:
	rm -rf $(VENV) caviar-data
