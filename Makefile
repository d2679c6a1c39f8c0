# Caviar: `make up` runs the service on this machine; `make test` runs the test suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
HOST    ?= 127.0.0.1
PORT    ?= 8000
WORKERS ?= 2

.PHONY: install up test lint bench bench-install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

up: $(STAMP)
	$(BIN)/caviar up --host $(HOST) --port $(PORT) --workers $(WORKERS)

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench-install: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'

bench: bench-install
	$(BIN)/python bench/bench_asktell.py

clean:
	rm -rf $(VENV) caviar-data
