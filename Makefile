# Every target that runs Python creates/reuses the project-local virtualenv first,
# so each works alone on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# MJX-Warp needs MuJoCo 4 (metaworld's pin says 3.3.0): it gets its own environment.
WARP_VENV := .venv-warp
WARP_PY := $(WARP_VENV)/bin/python
export JAX_COMPILATION_CACHE_DIR ?= $(CURDIR)/.cache/jax
export METAWORLD_JAX_CACHE ?= $(CURDIR)/.cache/metaworld_jax

.PHONY: install install-warp test test-slow test-warp train bench bench-mt50 bench-gpu clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

$(WARP_VENV)/.installed: requirements/warp.txt pyproject.toml
	$(PYTHON) -m venv $(WARP_VENV)
	$(WARP_PY) -m pip install -q --upgrade pip
	$(WARP_PY) -m pip install -q -r requirements/warp.txt
	$(WARP_PY) -m pip install -q --no-deps metaworld==3.1.1
	$(WARP_PY) -m pip install -q --no-deps -e .
	touch $@

install-warp: $(WARP_VENV)/.installed

# The main suite, then the MJX-Warp tests (Warp's CPU backend here; GPU tests: -m gpu).
test: install install-warp
	$(PY) -m pytest -q
	$(WARP_PY) -m pytest -q -m warp_env tests/test_warp_backend.py

test-warp: install-warp
	$(WARP_PY) -m pytest -q -m warp_env tests/test_warp_backend.py

test-slow: install
	$(PY) -m pytest -q -m slow

train: install
	$(PY) -m drats_jax.train

# BENCH_ARGS: extra benchmarks.run flags, e.g. BENCH_ARGS="--sections env metaworld".
bench: install
	$(PY) -m benchmarks.run --preset cpu $(BENCH_ARGS)
	$(PY) -m benchmarks.report

bench-mt50: install
	$(PY) -m benchmarks.run --preset mt50 $(BENCH_ARGS)
	$(PY) -m benchmarks.report

# GPU proof of the MJX backends (both run in .venv-warp; on a GPU add jax's CUDA plugin there).
bench-gpu: install-warp
	$(WARP_PY) -m benchmarks.gpu $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(WARP_VENV) .cache
