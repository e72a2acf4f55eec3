# Two commands for a fresh clone:  `make demo` (quick profile end to end) and `make test`.
# Each creates/refreshes the local virtualenv .venv by itself.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The data root: $GSOC_DATA_ROOT if set, else ../shared/data when it exists (offline copies).
GSOC_DATA_ROOT ?= $(abspath $(wildcard ../shared/data))
export GSOC_DATA_ROOT
PYTEST_ARGS ?=

.PHONY: demo test venv notebooks clean-notebooks app

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev,notebooks]"
	touch $@

venv: $(BIN)/.installed

test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

demo: venv
	$(BIN)/python -m gsoc_helpers demo

app: venv
	$(BIN)/python -m gsoc_helpers app

clean-notebooks: venv
	$(BIN)/python -m gsoc_helpers notebooks --strip
