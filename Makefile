# tls-provider: `make test` runs everything CI runs (except lint), `make demo` shows the charm at work.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

CARGO ?= cargo
PYTHON ?= python3
export PATH := $(HOME)/.cargo/bin:$(PATH)

DEMO_SCENARIO ?= demo/scenario.yaml
# Arguments of the demo, e.g. `make demo ARGS=--verbose` (full PEMs, status tables, hook runs).
ARGS ?=
CHARM := dist/tls-provider.charm
# Fuzzing (README "Fuzzing"): seconds per target for `make fuzz` (0 = until Ctrl-C) and in CI.
FUZZ_SECONDS ?= 600
FUZZ_CI_SECONDS ?= 20
FUZZ_TARGETS ?=

.PHONY: help venv charmcraft-venv test-charms build charm ship-check test test-python test-build demo demo-scenario lint fmt clean-dist fuzz fuzz-ci fuzz-lint

help:
	@echo "make test         build, then run every test (needs Python 3.10+ and PyPI once for .venv)"
	@echo "make demo         the charm at work in the local Juju simulator (ARGS=--verbose for PEMs)"
	@echo "make demo-scenario  run $(DEMO_SCENARIO) with the simulator's CLI (raw tables and output)"
	@echo "make charm        pack $(CHARM) without charmcraft (for: juju deploy ./$(CHARM))"
	@echo "make ship-check   make charm, then charmcraft analyse it and validate charmcraft.yaml (CI runs it)"
	@echo "make lint         cargo fmt --check and clippy -D warnings (also of fuzz/)"
	@echo "make fuzz         AFL++ session per target, FUZZ_SECONDS each (0: until Ctrl-C); FUZZ_TARGETS=csr ..."
	@echo "make fuzz-ci      what CI runs: install cargo-afl if missing, replay the corpus, FUZZ_CI_SECONDS per target"
	@echo "make venv         create .venv with the test charms' Python dependencies"
	@echo "make test-charms  build the Python test charms into build/charms/"
	@echo "make charmcraft-venv  create .venv-charmcraft with the pinned charmcraft (PyPI once)"

venv:
	scripts/setup-venv.sh

charmcraft-venv:
	scripts/setup-charmcraft.sh

test-charms: venv
	scripts/build-test-charms.sh --no-venv

build:
	$(CARGO) build --workspace --bins

charm:
	$(CARGO) build --release --bin tls-provider
	$(PYTHON) scripts/pack-charm.py --binary target/release/tls-provider --output $(CHARM)

# The packed charm as charmhub would see it (charmcraft analyse: every linter OK or not applicable,
# see scripts/ship-check.py), and charmcraft.yaml still loads, so `charmcraft pack` cannot rot.
# `make charm` itself refuses a binary that cannot run on a declared base.
ship-check: charmcraft-venv charm
	.venv-charmcraft/bin/python3 scripts/ship-check.py --charm $(CHARM)

# The Rust build (bins and test binaries) runs alongside the venv, the test charms and their
# pytest suite. Then scripts/run-tests.py runs what `cargo test --workspace --no-fail-fast`
# runs, several test binaries at a time (TEST_JOBS, default 3; TEST_THREADS per binary,
# default 2), and the leadership changes and departures again under Juju 4.x rules (no
# leader-settings-changed).
test:
	$(MAKE) --no-print-directory -j2 --output-sync=target test-python test-build
	CARGO=$(CARGO) $(PYTHON) scripts/run-tests.py \
		--rerun 'JUJUSIM_LEADERSHIP=4 legacy_sim,interop_modern leader departure'

test-python: venv test-charms
	.venv/bin/python3 -m pytest -q tests/charms/pytests

test-build:
	$(CARGO) test --workspace --no-run

# examples/demo.rs drives the simulator library; it finds the jujusim binary next to its own.
demo: venv test-charms charm
	$(CARGO) build -p jujusim --bin jujusim
	$(CARGO) build --example demo
	$(CARGO) run -q --example demo -- $(ARGS)

demo-scenario: venv test-charms charm
	$(CARGO) run -p jujusim -- run $(DEMO_SCENARIO)

lint: fuzz-lint
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# The corpus replay (plain cargo test, no AFL) is also part of `make test`.
fuzz:
	scripts/fuzz.sh install
	$(CARGO) test --test fuzz_replay
	scripts/fuzz.sh build
	scripts/fuzz.sh run $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-ci:
	$(CARGO) test --test fuzz_replay
	scripts/fuzz.sh ci $(FUZZ_CI_SECONDS)

fuzz-lint:
	cd fuzz && $(CARGO) fmt --all -- --check
	cd fuzz && $(CARGO) clippy --locked --all-targets -- -D warnings

clean-dist:
	rm -rf dist
