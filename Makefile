# One entry point for people and CI. `make up` and `make test` work on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
ENV ?= dev
OPS := $(VENV)/bin/llmproxy-ops
PY := $(VENV)/bin/python
# Start-up must not wait on GitHub for LiteLLM's cost map (no internet on these machines).
export LITELLM_LOCAL_MODEL_COST_MAP := True
# Debian keeps nginx and the PostgreSQL tools in sbin / a versioned folder; tests find them.
export PATH := $(PATH):/usr/sbin

.PHONY: help install install-test lock upgrade-litellm up apply down status logs validate render smoke test test-deps test-quick lint schema bench bench-quick clean docker images-offline

help:
	@echo "make up [ENV=dev]      install, create .env, validate, render and start the proxy"
	@echo "make apply [ENV=dev]   diff the configs against the running proxy and roll out"
	@echo "make down|status|logs  stop / inspect the running proxy"
	@echo "make validate|render   check / render configs/environments/\$$ENV.yaml"
	@echo "make smoke             smoke-test the running proxy"
	@echo "make test              install what the tests drive, then the whole suite (what CI runs)"
	@echo "make test-quick        the quick tier: nothing but the venv (no litellm, no Docker)"
	@echo "make lint              ruff + mypy"
	@echo "make lock              refresh the hash locks in lock/ from pyproject.toml"
	@echo "make upgrade-litellm VERSION=x.y.z   switch the pin, locks, schema diff, checks"
	@echo "make bench             benchmarks (slow; not part of the tests)"
	@echo "make bench-quick       ~1.5 min regression guard: default >= 1.5x the seeds' way"
	@echo "make docker            install and start a Docker engine with Compose v2 (Debian, root)"
	@echo "make images-offline    build every image the compose stack uses without a registry"

# Installs are hash-checked from lock/ (`make lock` refreshes it): a package the index
# serves tomorrow, or a tampered one, is refused. llmproxy-ops itself installs editable with
# the locked build back-end (no unpinned setuptools from the index).
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
$(VENV)/.installed: pyproject.toml lock/runtime.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) --require-hashes --no-deps -r lock/runtime.txt
	$(PIP) --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed lock/test.txt
	$(PIP) --require-hashes --no-deps -r lock/test.txt
	$(PY) -m pip check
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# Refresh the hash locks from pyproject.toml and lock/*.in (needs the package index).
lock: install-test
	bash scripts/lock.sh

# Upgrade LiteLLM: pin, locks, schema (with a key-level diff), behaviour checks. VERSION=x.y.z
upgrade-litellm: install-test
	@test -n "$(VERSION)" || { echo "usage: make upgrade-litellm VERSION=x.y.z" >&2; exit 2; }
	bash scripts/upgrade-litellm.sh $(VERSION)

up: install
	$(OPS) init
	$(OPS) up --env $(ENV)

apply: install
	$(OPS) apply --env $(ENV)

down: install
	$(OPS) down --env $(ENV)

status: install
	$(OPS) status --env $(ENV)

logs: install
	$(OPS) logs --env $(ENV)

validate: install
	$(OPS) validate config --env $(ENV)

render: install
	$(OPS) render --env $(ENV)

smoke: install
	$(OPS) smoke-test --env $(ENV)

# What the tests drive for real (nginx, PostgreSQL, Docker + Compose v2, kubectl; the
# offline images are built by scripts/test-tiers.sh).
test-deps:
	bash scripts/install-test-deps.sh

# Tiers, cheapest first, stopping at the first that fails (scripts/test-tiers.sh).
test: install-test test-deps
	bash scripts/test-tiers.sh

test-quick: install-test
	bash scripts/test-tiers.sh quick

lint: install-test
	$(VENV)/bin/ruff check llmproxy_ops tests benchmarks
	$(VENV)/bin/mypy llmproxy_ops

schema: install-test
	$(PY) -m llmproxy_ops.validate.schema_gen
	$(PY) -m llmproxy_ops.validate.facts_gen

# Benchmarks drive wrk (Debian: apt-get install -y wrk) and nginx against 127.0.0.1 only.
bench: install-test
	$(PY) benchmarks/perf.py
	$(PY) benchmarks/validate_render.py
	$(PY) benchmarks/time_to_healthy.py

bench-quick: install-test
	$(PY) benchmarks/perf.py --guard

docker:
	bash scripts/provision-docker.sh

images-offline: docker
	bash scripts/build-images-offline.sh

clean:
	rm -rf build .run .pytest_cache .mypy_cache .ruff_cache
