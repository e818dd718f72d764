# Two commands for a fresh clone with only Python 3:
#   make run    the conformance suite against the embedded simulator (or RC_BASE_URL)
#   make test   the project's own tests, lint and types
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint install clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/redcloud-check run

lint: $(STAMP)
	$(BIN)/ruff check src tests checks bench
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest tests

clean:
	rm -rf $(VENV) reports/*.html reports/*.xml reports/*.json reports/*.md
