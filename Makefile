# Hearth's one-command entry points. `make demo` and `make test` set everything up first.
SHELL := /bin/bash
PYTHON3 ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
HEARTH := $(VENV)/bin/hearth
STAMP := $(VENV)/.setup-done
# hnswlib has no wheel: build it portable, not for this one CPU.
export HNSWLIB_NO_NATIVE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PIP_PROGRESS_BAR := off

.PHONY: setup model demo test test-python bench clean-venv

setup: $(STAMP) model

# llama-cpp-python builds from source once (about 12 minutes on 2 cores); pip keeps the built
# wheel in its cache, so later installs, and fresh clones on the same machine, take seconds.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON3) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[test,server]'
	touch $@

model: $(STAMP)
	$(HEARTH) models pull

demo: setup
	$(PY) examples/demo.py

test: setup
	$(PY) -m pytest

bench: setup
	$(PY) tests/bench/bench_lsp.py

clean-venv:
	rm -rf $(VENV)
