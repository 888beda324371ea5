# Everything a new machine needs comes from here: a virtualenv with the project and its tools.
# Kafka is resolved from Maven Central and started as a local JVM by the demo and the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

# Python keeps compiled modules (the clone's __pycache__, ignored by git) even where the
# environment says not to, as this machine's does: otherwise every test worker and every
# router, delivery worker or API a test starts compiles the project afresh, and pytest
# rewrites every test module's asserts again in each worker (collection: 22 s of CPU cold,
# 8-11 s with the cache).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: demo test test-slow test-federation test-faults bench bench-gateway bench-scale lint schemas migration postgres clean agency-wheel

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	# NHS England's mesh-sandbox for tests/mesh, apart from the project: it pins an older FastAPI.
	$(BIN)/python -m pip install --quiet --target $(VENV)/mesh-sandbox "mesh-sandbox==1.0.137"
	touch $@

# Two brokers (the demo partnership's and its neighbour's, Newport), the family's timeline,
# the transfer to Newport and its receipts; then the web inbox's sign-in links. In a
# terminal it keeps running until Ctrl-C; from a script it stops by itself.
demo: $(VENV)/.installed
	$(BIN)/sgb demo

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m schemas.generate --check
	$(BIN)/python -m pytest -q -p no:randomly tests/unit/test_asyncapi.py tests/unit/test_signature_vectors.py
	$(BIN)/python -m broker.rules.who_is_told --check
	$(BIN)/python -m broker.rules.wording --check
	$(BIN)/python -m broker.config --check
	$(BIN)/python -m broker.entrypoints.openapi --check
	@if command -v helm >/dev/null; then \
		helm lint --strict deploy/helm/safeguarding-broker && \
		helm template sgb deploy/helm/safeguarding-broker > /dev/null; \
	elif [ -n "$$CI" ]; then echo "helm is missing (.ci/run installs it)"; exit 1; \
	else echo "helm is not installed here: the chart's lint and template are left to CI"; fi

# Three workers (pytest-xdist) on two cores, a test file each at a time: a worker waiting on
# Kafka, a browser or a process it started leaves its core to the others (on this 2-core
# machine: 8 min 30 s on two, 7 min 49 s on three). One Kafka broker, started by the
# controller, serves them all; each worker makes its own databases. TEST_WORKERS=0 runs in one.
TEST_WORKERS ?= 3
test: lint
	$(BIN)/python -m pytest -m "not faults and not slow" -n $(TEST_WORKERS) --dist loadfile

# The generated API runs (schemathesis: fuzzing every operation, and the answers checked
# against the OpenAPI documents) and the benchmark commands on a small load: minutes of
# generated or measured work, which CI runs after `make test`.
test-slow: $(VENV)/.installed
	$(BIN)/python -m pytest -m "slow and not faults" -n $(TEST_WORKERS) --dist loadfile

# Two complete brokers side by side (also part of `make test`); each pair's set-up time is
# printed at the end of the run (tests/federation/conftest.py).
test-federation: $(VENV)/.installed
	$(BIN)/python -m pytest tests/federation -m federation

# Each fault's line of counts is printed at the end of the run (tests/faults/conftest.py).
# Every test marked faults, wherever it lives: tests/integration holds two that stop or kill
# a private Kafka of their own.
test-faults: $(VENV)/.installed
	$(BIN)/python -m pytest -m faults

# Benchmarks print one JSON document each; pass options with ARGS="--events 10000 --rate 40".
bench: $(VENV)/.installed
	$(BIN)/python -m tests.benchmark run $(ARGS)

bench-gateway: $(VENV)/.installed
	$(BIN)/python -m tests.benchmark gateway $(ARGS)

bench-scale: $(VENV)/.installed
	$(BIN)/python -m tests.benchmark scale $(ARGS)

schemas: $(VENV)/.installed
	$(BIN)/python -m schemas.generate

# The agency package alone (producers/ with schemas/) as a wheel in var/dist; its build
# backend (setuptools) comes from the package index. The build's scratch folders are removed.
agency-wheel: $(VENV)/.installed
	$(BIN)/python -m pip wheel --no-deps -w var/dist ./producers
	rm -rf producers/build producers/*.egg-info

# A new database migration from the models' changes: make migration m="what changed".
# Review the file it writes in broker/migrations/versions before committing it.
migration: $(VENV)/.installed
	@test -n "$(m)" || { echo 'usage: make migration m="what changed"'; exit 2; }
	$(BIN)/python -m broker.migrations revision "$(m)"
	$(BIN)/ruff format --quiet broker/migrations/versions
	$(BIN)/ruff check --fix --quiet broker/migrations/versions

# A local PostgreSQL on loopback (Debian's packages) for the tests' postgresql variants:
# export the URL it prints as SGB_TEST_POSTGRES_URL.
postgres:
	@$(PYTHON) -m deploy.localpostgres install
	@echo "SGB_TEST_POSTGRES_URL=$$($(PYTHON) -m deploy.localpostgres start)"

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
