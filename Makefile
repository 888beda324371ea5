# Everything a new machine needs comes from here: a virtualenv with the project and its tools.
# Kafka is resolved from Maven Central and started as a local JVM by the demo and the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-faults lint schemas clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/sgb demo

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m schemas.generate --check

test: lint
	$(BIN)/python -m pytest -m "not faults"

test-faults: $(VENV)/.installed
	$(BIN)/python -m pytest -m faults

schemas: $(VENV)/.installed
	$(BIN)/python -m schemas.generate

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
