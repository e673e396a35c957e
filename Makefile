# Every target that runs Python creates/reuses the project-local virtualenv first,
# so each works alone on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export JAX_COMPILATION_CACHE_DIR ?= $(CURDIR)/.cache/jax
export METAWORLD_JAX_CACHE ?= $(CURDIR)/.cache/metaworld_jax

.PHONY: install test test-slow train bench bench-mt50 clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

test: install
	$(PY) -m pytest -q

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

clean:
	rm -rf $(VENV) .cache
