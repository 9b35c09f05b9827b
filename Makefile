# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
#
# The two commands of the README:  make test   and   make demo
# Both set up what they need on first use (.venv from requirements.txt, colcon build into install/).

SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := help

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
# Activate the venv, then the colcon overlay; the repo root goes first on PYTHONPATH so tests and the demo run
# the working tree's sources without a rebuild (the generated msg/srv modules still come from install/).
# DDS discovery stays on this machine (loopback) unless the caller says otherwise.
ENV := source $(ROOT)/.venv/bin/activate && export AMENT_PREFIX_PATH="$$VIRTUAL_ENV" \
	&& source $(ROOT)/install/setup.bash && export PYTHONPATH="$(ROOT)$${PYTHONPATH:+:$$PYTHONPATH}" \
	&& export ROS_AUTOMATIC_DISCOVERY_RANGE="$${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"

PYTEST_ARGS ?=
DEMO_ARGS ?=
BENCH_ARGS ?=

.PHONY: help setup test lint format demo bench bench-quick clean distclean

help:
	@echo "make test         set up (first time: about 1-2 min), lint, run every test"
	@echo "make demo         set up, run the demo (sample camera -> node -> annotated images)"
	@echo "make setup        only set up: .venv from requirements.txt + colcon build into install/"
	@echo "make lint         ruff check + ruff format --check"
	@echo "make format       ruff format + ruff check --fix"
	@echo "make bench        full benchmark; make bench-quick for a short one"
	@echo "make clean        remove build/ install/ log/ (distclean also removes .venv)"
	@echo "Variables: PYTEST_ARGS='-k conversions', DEMO_ARGS=..., BENCH_ARGS=..."

setup:
	@bash $(ROOT)/tools/bootstrap.sh

lint: setup
	@$(ENV) && cd $(ROOT) && echo "[lint] ruff check" && ruff check --output-format concise . && echo "[lint] ruff format --check" \
		&& ruff format --check .

format: setup
	@$(ENV) && cd $(ROOT) && ruff format . && ruff check --fix .

# pytest exit code 5 means "no test ran": a failure for the full suite (tests went missing), but fine when
# PYTEST_ARGS selected nothing on purpose.
test: lint
	@$(ENV) && cd $(ROOT) && echo "[test] pytest test/ $(PYTEST_ARGS)" && rc=0 \
		&& python -m pytest test/ $(PYTEST_ARGS) || rc=$$?; \
	if [[ $$rc -eq 5 && -z "$(strip $(PYTEST_ARGS))" ]]; then \
		echo "[test] error: pytest collected no tests in test/ (exit code 5)" >&2; exit 5; \
	elif [[ $$rc -eq 5 ]]; then \
		echo "[test] PYTEST_ARGS='$(PYTEST_ARGS)' selected no tests"; exit 0; \
	fi; exit $$rc

demo: setup
	@$(ENV) && cd $(ROOT) && $(call require_module,grounded_sam_ros.ros.demo) && python -m grounded_sam_ros.ros.demo $(DEMO_ARGS)

bench: setup
	@$(ENV) && cd $(ROOT) && $(call require_module,bench.run) && python -m bench.run $(BENCH_ARGS)

bench-quick: setup
	@$(ENV) && cd $(ROOT) && $(call require_module,bench.run) && python -m bench.run --quick $(BENCH_ARGS)

clean:
	rm -rf $(ROOT)/build $(ROOT)/install $(ROOT)/log

distclean: clean
	rm -rf $(ROOT)/.venv

# Stop with a clear message when a module the target runs does not exist yet.
define require_module
python -c "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('$(1)') else 3)" \
	|| { echo "error: module $(1) is missing: $(subst .,/,$(1)).py does not exist in $(ROOT)" >&2; exit 3; }
endef
