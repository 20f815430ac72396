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
# llama-cpp-python builds from source too. Not with -march=native: on a CPU that advertises
# AMX inside a VM that does not grant it, the native build faults on its first tile
# instruction (ldtilecfg, SIGSEGV) at the first prompt. AVX2 with FMA and F16C runs on any
# x86-64-v3 machine; the AVX-512 extensions this CPU has are added (never AMX): prompt
# evaluation 45% faster here (docs/BENCHMARKS.md, "Build").
CPU_FLAGS := $(shell cat /proc/cpuinfo 2>/dev/null | grep -m1 '^flags')
has = $(if $(filter $(1),$(CPU_FLAGS)),$(2))
AVX512_ARGS := $(if $(and $(filter avx512f,$(CPU_FLAGS)),$(filter avx512cd,$(CPU_FLAGS)),$(filter avx512vl,$(CPU_FLAGS)),$(filter avx512dq,$(CPU_FLAGS)),$(filter avx512bw,$(CPU_FLAGS))),-DGGML_AVX512=ON $(call has,avx512vbmi,-DGGML_AVX512_VBMI=ON) $(call has,avx512_vnni,-DGGML_AVX512_VNNI=ON) $(call has,avx512_bf16,-DGGML_AVX512_BF16=ON))
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON $(AVX512_ARGS) -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PIP_PROGRESS_BAR := off

.PHONY: setup setup-editors setup-extension model embedder demo test bench bench-quality bench-index bench-fix bench-memory bench-security bench-guardrails fuzz clean-venv

# The code-tuned retrieval embedder is not made here: the language server indexes with the
# packaged one at once and makes the tuned one in the background (docs/memory.md);
# `make embedder` makes it now.
setup: $(STAMP) model

# llama-cpp-python builds from source once (about 12 minutes on 2 cores); pip keeps the built
# wheel in its cache, so later installs, and fresh clones on the same machine, take seconds.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON3) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[test,server]'
	touch $@

# Every model the actions use by default (Generate the 1.5B model, the rest the 0.5B one),
# each verified by sha256; already pulled, a model is checked and kept.
model: $(STAMP)
	$(HEARTH) models pull

# The retrieval embedder tuned for code on this Python's standard library: once (about 10
# minutes on 2 cores), then kept in the user cache; later runs find it and return at once.
# If a language server is making it in the background, this waits for that one.
embedder: $(STAMP)
	$(HEARTH) tune-embedder

demo: setup
	$(PY) examples/demo.py

# Neovim 0.7, Emacs 28 and eglot from Debian for the editors' end-to-end tests. Exit 3 means
# the packages cannot be had here: the tests then skip with that reason.
setup-editors:
	bash tests/e2e/editors/setup.sh || test $$? -eq 3

setup-extension: node_modules/.package-lock.json
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

test: setup setup-editors setup-extension
	$(PY) -m pytest
	npm run typecheck
	npm test
	npm run test:e2e

# Benchmarks are never part of `make test`; each writes JSON under .bench/ and prints its
# figures (docs/BENCHMARKS.md says which command produced which figure).
bench: setup
	$(PY) tests/bench/bench_lsp.py
	$(PY) tests/bench/bench_start.py
	$(PY) tests/bench/bench_fix.py --samples 1,5
	$(PY) tests/bench/bench_memory_rss.py --runs 3

bench-quality: setup
	$(PY) tests/bench/bench_corpus.py --split dev --samples 1,5
	$(PY) tests/bench/bench_corpus.py --split heldout --samples 1,5
	$(PY) tests/bench/bench_quality.py --limit 20

# Inline completion on the pinned sdists (tests/completion_corpus/README.md): the configurations
# hearth and plain on dev and on held out (tune on dev only), then typing through the server.
.PHONY: bench-complete
bench-complete: setup
	test -f tests/completion_corpus/positions.json || $(PY) tests/completion_corpus/build.py
	$(PY) tests/bench/bench_complete.py --split dev --configs hearth,plain
	$(PY) tests/bench/bench_complete.py --split heldout --configs hearth,plain
	$(PY) tests/bench/bench_complete.py --typing

bench-index: setup
	$(PY) tests/bench/bench_index.py

# Precision of the security rules on real code, recall on vulnerable snippets, and bandit on the
# same files (docs/security-rules.md).
bench-security: setup
	$(PIP) install --quiet 'bandit==1.9.4'
	$(PY) tests/bench/bench_security.py

# The guardrail corpus: caught and refused per category (docs/guardrails.md); no model.
bench-guardrails: setup
	$(PY) tests/bench/bench_guardrails.py

# The LSP fuzzer's long run (docs/fuzzing.md); `make test` runs a short one.
fuzz: setup
	$(PY) -m tests.fuzz.run --sequences 10000 --seed 1 --jobs 8

# The history: a scripted session on tests/bench/memory_project, history off then on, then
# the response cache through the core call and a language server (docs/history.md).
bench-memory: setup
	$(PY) tests/bench/bench_memory.py

bench-fix: setup
	$(PY) tests/bench/bench_fix.py --samples 1,5

clean-venv:
	rm -rf $(VENV)
