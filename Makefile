# Every target that runs Python creates/reuses the project-local virtualenv first,
# so each works alone on a fresh machine. `make` alone lists the targets (make help).
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# MJX-Warp needs MuJoCo 4 (metaworld's pin says 3.3.0): it gets its own environment.
WARP_VENV := .venv-warp
WARP_PY := $(WARP_VENV)/bin/python
# The learning benchmark's peer (sbx-rl SAC: Stable-Baselines3, so torch) gets its own environment.
BENCH_PYTHON ?= python3.11
BENCH_VENV := .venv-bench
BENCH_PY := $(BENCH_VENV)/bin/python
# The reference MTSAC (rainx0r/metaworld-algorithms, Python >= 3.12) for the learning benchmark's MT10
# section: its own venv and its source clone outside the tree (beside the repo by default).
# MTSAC_PYTHON: the first of python3.12 and pyenv's 3.12 builds that actually runs (pyenv's shim
# exists but fails where 3.12 is not its global version); empty where none does.
PY312_OK := -c 'import sys; sys.exit(sys.version_info[:2] < (3, 12))'
MTSAC_PYTHON ?= $(shell for p in python3.12 $(HOME)/.pyenv/versions/3.12*/bin/python; do \
  "$$p" $(PY312_OK) >/dev/null 2>&1 && { command -v "$$p"; break; }; done)
MTSAC_VENV ?= $(abspath $(CURDIR)/..)/peers/venv-mtsac
MTSAC_SRC ?= $(abspath $(CURDIR)/..)/peers/metaworld-algorithms
MTSAC_REPO ?= https://github.com/rainx0r/metaworld-algorithms
MTSAC_COMMIT ?= 30c9991f5e1e6e119d3f98266add3828390a038e
export JAX_COMPILATION_CACHE_DIR ?= $(CURDIR)/.cache/jax
export METAWORLD_JAX_CACHE ?= $(CURDIR)/.cache/metaworld_jax

.PHONY: help install lock install-warp install-gpu install-bench install-mtsac test test-slow test-warp train evaluate bench bench-compile bench-mt50 bench-gpu bench-learning bench-mtsac bench-ppo bench-scaling bench-sac-update gpu-check gpu-check-quick gpu-wheels gpu-check-py312 clean

help: ## list the targets (what plain `make` does)
	@echo "make TARGET, one of:"
	@awk 'BEGIN {FS = ":[^#]*## "} /^[a-z0-9-]+:.*## / {printf "  %-17s %s\n", $$1, $$2}' $(firstword $(MAKEFILE_LIST))

# The main environment: requirements/lock.txt (the exact versions the tests pass with), then the
# project itself with --no-deps, so nothing is resolved again; pyproject.toml keeps the ranges a
# library user installs. make lock re-resolves those ranges and rewrites the lock.
$(VENV)/.installed: pyproject.toml requirements/lock.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements/lock.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

install: $(VENV)/.installed ## .venv: the main environment from requirements/lock.txt, the project editable

LOCK_VENV := .venv-lock
lock: ## re-resolve pyproject.toml's ranges (dev and video extras) in a fresh venv; rewrite requirements/lock.txt
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install -q --upgrade pip
	$(LOCK_VENV)/bin/python -m pip install -q -e ".[dev,video]"
	{ sed -n '/^#/p' requirements/lock.txt; $(LOCK_VENV)/bin/python -m pip freeze --exclude-editable; } > requirements/lock.txt.new
	mv requirements/lock.txt.new requirements/lock.txt
	rm -rf $(LOCK_VENV)

$(WARP_VENV)/.installed: requirements/warp.txt pyproject.toml
	$(PYTHON) -m venv $(WARP_VENV)
	$(WARP_PY) -m pip install -q --upgrade pip
	$(WARP_PY) -m pip install -q -r requirements/warp.txt
	$(WARP_PY) -m pip install -q --no-deps metaworld==3.1.1
	$(WARP_PY) -m pip install -q --no-deps -e .
	touch $@

install-warp: $(WARP_VENV)/.installed ## .venv-warp: MuJoCo 4 with MJX-Warp (requirements/warp.txt), for backend=warp

# NVIDIA GPUs: jax's CUDA plugin (with CUDA's pip wheels) of exactly the jax version in .venv-warp
# (its pin, requirements/warp.txt, when the environment is not there yet, e.g. under make -n).
# CUDA 13 needs an NVIDIA driver >= 580; older drivers: make install-gpu CUDA=12 (driver >= 525).
CUDA ?= 13
WARP_JAX = $(or $(shell $(WARP_PY) -c "import importlib.metadata as m; print(m.version('jax'))" 2>/dev/null),\
                $(shell sed -n 's/^jax==\([0-9][0-9.]*\).*/\1/p' requirements/warp.txt))
# Fails with one line (drats_jax.devices) where no NVIDIA driver is visible (before downloading
# CUDA wheels) and where JAX then sees no GPU.
install-gpu: install-warp ## jax's CUDA plugin in .venv-warp (CUDA=13, or CUDA=12 for drivers < 580)
	@$(WARP_PY) -m drats_jax.devices --driver
	$(WARP_PY) -m pip install -q "jax[cuda$(CUDA)]==$(WARP_JAX)"
	@$(WARP_PY) -m drats_jax.devices

# torch is pinned to 2.13.0, whose CPU wheel (2.13.0+cpu, Python 3.11) pip finds on this machine's
# disk. A dry run first refuses any plan with a CUDA build of torch or nvidia-* packages (gigabytes
# of downloads, e.g. where that wheel is not on disk); the check after the install re-checks torch.
$(BENCH_VENV)/.installed: requirements/bench.txt
	$(BENCH_PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_PY) -m pip install -q --upgrade pip
	$(BENCH_PY) -m pip install -q --dry-run --report $(BENCH_VENV)/plan.json -r requirements/bench.txt
	$(BENCH_PY) -c "import json, sys; plan = json.load(open('$(BENCH_VENV)/plan.json'))['install']; \
	  bad = [p['metadata']['name'] + '==' + p['metadata']['version'] for p in plan if p['metadata']['name'].lower().startswith('nvidia') \
	         or (p['metadata']['name'].lower() == 'torch' and '+cpu' not in p['metadata']['version'])]; \
	  sys.exit('refusing to install CUDA builds (no CPU torch wheel found): ' + ', '.join(bad) if bad else 0)"
	$(BENCH_PY) -m pip install -q -r requirements/bench.txt
	$(BENCH_PY) -c "import torch, sys; sys.exit('torch is not a CPU build: ' + str(torch.version.cuda) if torch.version.cuda else 0)"
	touch $@

install-bench: $(BENCH_VENV)/.installed ## .venv-bench: the learning benchmark's peer (sbx-rl SAC, CPU torch)

# The reference MTSAC: clones MTSAC_REPO at MTSAC_COMMIT into MTSAC_SRC (kept if there), a venv at
# MTSAC_VENV with the versions of its uv.lock (requirements/mtsac.txt, jax CPU), the package from
# the clone without its dependencies. E.g. make install-mtsac MTSAC_VENV=/opt/venv-mtsac.
$(MTSAC_VENV)/.installed: requirements/mtsac.txt
	@if [ -z "$(MTSAC_PYTHON)" ] || ! "$(MTSAC_PYTHON)" $(PY312_OK) >/dev/null 2>&1; then \
	  echo "install-mtsac: no Python >= 3.12 that runs found (tried $(or $(MTSAC_PYTHON),python3.12 and $(HOME)/.pyenv/versions/3.12*/bin/python)); set MTSAC_PYTHON, e.g. make install-mtsac MTSAC_PYTHON=/usr/bin/python3.12"; \
	  exit 1; fi
	test -d $(MTSAC_SRC)/.git || git clone -q $(MTSAC_REPO) $(MTSAC_SRC)
	git -C $(MTSAC_SRC) -c advice.detachedHead=false checkout -q $(MTSAC_COMMIT)
	$(MTSAC_PYTHON) -m venv $(MTSAC_VENV)
	$(MTSAC_VENV)/bin/python -m pip install -q -r requirements/mtsac.txt
	$(MTSAC_VENV)/bin/python -m pip install -q --no-deps -e $(MTSAC_SRC)
	$(MTSAC_VENV)/bin/python -c "import jax, metaworld, metaworld_algorithms.rl.algorithms; print('jax', jax.__version__, jax.devices())"
	touch $@

install-mtsac: $(MTSAC_VENV)/.installed ## the reference MTSAC (Python >= 3.12; MTSAC_PYTHON=...) beside the repo

# The main suite, then the MJX-Warp tests (Warp's CPU backend here; GPU tests: -m gpu).
test: install install-warp ## the main suite in .venv, then the MJX-Warp tests in .venv-warp (builds both)
	$(PY) -m pytest -q
	$(WARP_PY) -m pytest -q -m warp_env tests/test_warp_backend.py tests/test_gpu_check.py tests/test_compile_bench.py

test-warp: install-warp ## the MJX-Warp tests only, in .venv-warp
	$(WARP_PY) -m pytest -q -m warp_env tests/test_warp_backend.py tests/test_gpu_check.py tests/test_compile_bench.py

test-slow: install ## the slow tests (full goal sweeps, scripted policies on every goal)
	$(PY) -m pytest -q -m slow

train: install ## the default run: MT10, multi-task SAC with DRATS, on this machine's backend
	$(PY) -m drats_jax.train

# RUN: a run folder or an export; EVAL_ARGS: e.g. EVAL_ARGS="--video videos --out eval.json".
evaluate: install ## evaluate a run's last checkpoint: make evaluate RUN=runs/... EVAL_ARGS="--video DIR"
	@test -n "$(RUN)" || { echo "evaluate: name the run folder or export: make evaluate RUN=runs/<name>"; exit 2; }
	$(PY) -m drats_jax.evaluate $(RUN) $(EVAL_ARGS)

# BENCH_ARGS: extra benchmarks.run flags, e.g. BENCH_ARGS="--sections env metaworld".
bench: install ## the CPU benchmark (benchmarks.run --preset cpu) and its report
	$(PY) -m benchmarks.run --preset cpu $(BENCH_ARGS)
	$(PY) -m benchmarks.report

# MT50 where it can run: where JAX in .venv-warp sees a GPU (make install-gpu), the env step on the
# GPU backend at GPU sizes (multiples of 50 tasks x 128-slot blocks) and --preset gpu-mt50 training;
# elsewhere the CPU benchmark on C MuJoCo, saying so in one line.
bench-mt50: install ## MT50: on the GPU backend where JAX sees a GPU, else the CPU benchmark
	@if [ -x $(WARP_PY) ] && $(WARP_PY) -m drats_jax.devices --quiet; then \
	  $(WARP_PY) -m benchmarks.gpu --suites mt50 --sections speed --batches 6400 12800 25600 $(BENCH_ARGS) && \
	  $(WARP_PY) -m benchmarks.gpu_check --stages train-mt50 --budget 900; \
	else \
	  echo "bench-mt50: JAX sees no GPU here (make install-gpu on a GPU machine): running the CPU benchmark, C MuJoCo"; \
	  $(PY) -m benchmarks.run --preset mt50 $(BENCH_ARGS) && $(PY) -m benchmarks.report; \
	fi

# GPU proof of the MJX backends (.venv-warp with jax's CUDA plugin): JSON written after every case.
bench-gpu: install-gpu ## GPU proof of the MJX backends (benchmarks.gpu)
	$(WARP_PY) -m benchmarks.gpu $(BENCH_ARGS)

# The device check (docs/gpu.md): <= 8 minutes on one GPU, a JSON per stage under
# benchmarks/results/gpu-check-<time>/. GPU_CHECK_ARGS: e.g. --out DIR, --stages device train-mt10.
gpu-check: install-gpu ## the device check (docs/gpu.md): <= 8 minutes on one GPU
	$(WARP_PY) -m benchmarks.gpu_check $(GPU_CHECK_ARGS)

# The same check at tiny sizes on a CPU (what CI runs: tests/test_gpu_check.py).
gpu-check-quick: install-warp ## the device check at tiny sizes on a CPU (what CI runs)
	$(WARP_PY) -m benchmarks.gpu_check --quick $(GPU_CHECK_ARGS)

# For a GPU machine without a package index (docs/gpu.md): requirements/device.txt's wheels for its
# Python 3.12, in carry folders .whl/1 .. .whl/N of <= 56 MiB, and MT10/MT50 reset tables in .whl/resets.
gpu-wheels: install install-warp ## wheels and reset tables to carry to a GPU machine without a package index
	$(PY) -m benchmarks.gpu_wheels download
	$(WARP_PY) -m benchmarks.gpu_wheels resets

# The quick check as the GPU machine would run it: Python 3.12, jax 0.11.2 (CPU) and the image's
# libraries in .venv-gpu312, the carried wheels (make gpu-wheels) installed with --target.
PY312 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python) python3.12)
DEVICE_JAX ?= 0.11.2
gpu-check-py312: gpu-wheels ## the quick check as the GPU machine runs it (Python 3.12, carried wheels)
	test -x .venv-gpu312/bin/python || $(PY312) -m venv .venv-gpu312
	.venv-gpu312/bin/python -m pip install -q "jax==$(DEVICE_JAX)" "jaxlib==$(DEVICE_JAX)" flax optax chex \
	  orbax-checkpoint scipy rich "etils[epath]" absl-py protobuf packaging
	.venv-gpu312/bin/python -m benchmarks.gpu_wheels install --target .venv-gpu312/carried
	PYTHONPATH=.venv-gpu312/carried:src:envs .venv-gpu312/bin/python -m benchmarks.gpu_check --quick $(GPU_CHECK_ARGS)

# Where the GPU path's compile time goes (benchmarks/compile.py): trace/lower/compile seconds, HLO size and
# peak memory of the env step (1 scene, MT10, MT50) and of the MT10 training program; MJX-JAX in .venv,
# MJX-Warp in .venv-warp (one JSON each in benchmarks/results/). E.g. BENCH_ARGS="--cases step-1 parts".
bench-compile: install install-warp ## compile time of the MJX backends' env step (benchmarks.compile)
	$(PY) -m benchmarks.compile --backends mjx $(BENCH_ARGS)
	$(WARP_PY) -m benchmarks.compile --backends warp $(BENCH_ARGS)

# Device scaling: env-steps/s and gradient-steps/s for 1, 2, 4 forced CPU devices (--mesh data=D)
# and the scaling efficiency rate(D) / (D x rate(1)); BENCH_ARGS="--real --devices 1 2 4 8" on a GPU node.
bench-scaling: install ## device scaling: 1, 2, 4 forced CPU devices (--mesh data=D)
	$(PY) -m benchmarks.scaling $(BENCH_ARGS)

# Learning benchmark: our SAC vs sbx-rl's on metaworld (single task) and MT10 DRATS vs uniform task
# sampling, each with uniform and per_task replay sampling; CPU-sized (under an hour on 2 cores;
# BENCH_ARGS="--plan" prints the estimate). BENCH_ARGS: extra flags, e.g. BENCH_ARGS="--quick".
bench-learning: install install-bench ## learning benchmark: our SAC vs sbx-rl's, MT10 DRATS vs uniform
	$(PY) -m benchmarks.learning --peer-python $(BENCH_PY) $(BENCH_ARGS)
	$(PY) -m benchmarks.report

# The MT10 section with the reference MTSAC beside our runs (one process per seed). Only the reference,
# into an earlier run's work dir, then both collected: make bench-mtsac BENCH_ARGS="--mt10-peer-only
# --work-dir .cache/learning/<time>", then python -m benchmarks.learning --sections mt10
# --peer-mtsac-python $(MTSAC_VENV)/bin/python --collect .cache/learning/<time>.
bench-mtsac: install install-mtsac ## the MT10 section beside the reference MTSAC
	$(PY) -m benchmarks.learning --sections mt10 --peer-mtsac-python $(MTSAC_VENV)/bin/python $(BENCH_ARGS)
	$(PY) -m benchmarks.report

# PPO ours vs stable-baselines3's PPO on single MetaWorld tasks (paper settings; its own learning-*.json).
bench-ppo: install install-bench ## PPO ours vs stable-baselines3's PPO on single MetaWorld tasks
	$(PY) -m benchmarks.learning --sections ppo --peer-python $(BENCH_PY) $(BENCH_ARGS)
	$(PY) -m benchmarks.report

# Our SAC update against sbx-rl's, K gradient steps from identical parameters, batches and noise
# (seconds; its own sac-update-check-*.json): equal to float32 tolerance, or it exits 1.
bench-sac-update: install install-bench ## our SAC update against sbx-rl's from identical inputs
	$(PY) -m benchmarks.sac_update_check --peer-python $(BENCH_PY) $(BENCH_ARGS)

clean: ## remove the virtualenvs, caches and carried wheels
	rm -rf $(VENV) $(WARP_VENV) $(BENCH_VENV) $(LOCK_VENV) .venv-gpu312 .whl .cache
