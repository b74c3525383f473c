# Two commands for a newcomer: `make run` (install + run the hub on SQLite) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= config/example.yaml

.PHONY: run test lint bench clean

$(BIN)/hub: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

# The example's `intake` webhook verifies Standard Webhooks signatures with HUB_INTAKE_SECRET;
# without one, a random secret is made once in var/ (gitignored) and used.
var/intake-secret: | $(BIN)/hub
	mkdir -p var
	umask 077 && $(BIN)/hub webhooks new-secret > $@

# The example's `hr-scim` instance takes SCIM requests with the bearer token HUB_SCIM_TOKEN; same pattern.
var/scim-token: | $(BIN)/hub
	mkdir -p var
	umask 077 && $(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(32))' > $@

run: $(BIN)/hub var/intake-secret var/scim-token
	export HUB_INTAKE_SECRET="$${HUB_INTAKE_SECRET:-$$(cat var/intake-secret)}" && \
	export HUB_SCIM_TOKEN="$${HUB_SCIM_TOKEN:-$$(cat var/scim-token)}" && \
	$(BIN)/hub --config $(CONFIG) db upgrade && \
	mkdir -p var/drop/finance && \
	$(BIN)/hub --config $(CONFIG) serve

test: $(BIN)/hub
	$(BIN)/pytest

lint: $(BIN)/hub
	$(BIN)/ruff check hub connectors tests bench
	$(BIN)/mypy hub connectors

# Benchmarks, on demand only (never part of `make test`); see bench/README.md. BENCH="intake worker"
# runs a subset, BENCH_ARGS=--quick a smoke run.
bench: $(BIN)/hub
	$(BIN)/pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m bench $(BENCH) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
