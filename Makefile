# Two commands for a fresh clone with only Python 3:
#   make run    the conformance suite against the embedded simulator (or RC_BASE_URL)
#   make test   the project's own tests, lint and types
#   make test-fast  the same without the tests marked slow (whole runs, outside programs,
#                   long property tests, real waits: tests/pytest.ini says which): the
#                   inner loop, under a minute on 2 cores
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test test-fast lint install clean

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

test-fast: lint
	$(BIN)/python -m pytest tests -m "not slow"

clean:
	rm -rf $(VENV) reports/*.html reports/*.xml reports/*.json reports/*.md
