# alnn: from raw data to paper/main.pdf.  `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

PYTHON_BOOT ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.alnn-installed

# Raw data mirror: the loaders look here after data/raw and the system copy.
ALNN_DATA_MIRROR ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),)
export ALNN_DATA_MIRROR

##@ Main jobs
.PHONY: help
help: ## List the targets people use
	@awk 'BEGIN {FS = ":.*## "} /^##@/ {printf "\n%s\n", substr($$0, 5)} /^[a-zA-Z0-9_.%-]+:.*## / {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

##@ Set-up
.PHONY: setup
setup: $(STAMP) ## Create .venv and install the pinned package (once)

$(STAMP): pyproject.toml
	@$(PYTHON_BOOT) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "alnn needs Python >= 3.11; found " + sys.version.split()[0])'
	@test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

##@ Tests
.PHONY: test
test: $(STAMP) ## Run the test suite (sets everything up first)
	$(PY) -m pytest -q
