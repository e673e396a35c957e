# Every target that runs Python creates/reuses the project-local virtualenv first,
# so each works alone on a fresh machine.
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
MTSAC_PYTHON ?= $(or $(shell command -v python3.12 2>/dev/null),$(firstword $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python)),python3.12)
MTSAC_VENV ?= $(abspath $(CURDIR)/..)/peers/venv-mtsac
MTSAC_SRC ?= $(abspath $(CURDIR)/..)/peers/metaworld-algorithms
MTSAC_REPO ?= https://github.com/rainx0r/metaworld-algorithms
MTSAC_COMMIT ?= 30c9991f5e1e6e119d3f98266add3828390a038e
export JAX_COMPILATION_CACHE_DIR ?= $(CURDIR)/.cache/jax
export METAWORLD_JAX_CACHE ?= $(CURDIR)/.cache/metaworld_jax

.PHONY: install install-warp install-gpu install-bench install-mtsac test test-slow test-warp train bench bench-mt50 bench-gpu bench-learning bench-mtsac bench-ppo bench-scaling bench-sac-update clean

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

# NVIDIA GPUs: jax's CUDA plugin (with CUDA's pip wheels) of exactly the jax version in .venv-warp
# (its pin, requirements/warp.txt, when the environment is not there yet, e.g. under make -n).
# CUDA 13 needs an NVIDIA driver >= 580; older drivers: make install-gpu CUDA=12 (driver >= 525).
CUDA ?= 13
WARP_JAX = $(or $(shell $(WARP_PY) -c "import importlib.metadata as m; print(m.version('jax'))" 2>/dev/null),\
                $(shell sed -n 's/^jax==\([0-9][0-9.]*\).*/\1/p' requirements/warp.txt))
install-gpu: install-warp
	$(WARP_PY) -m pip install -q "jax[cuda$(CUDA)]==$(WARP_JAX)"
	$(WARP_PY) -c "import jax; print('jax', jax.__version__, 'devices:', jax.devices())"

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

install-bench: $(BENCH_VENV)/.installed

# The reference MTSAC: clones MTSAC_REPO at MTSAC_COMMIT into MTSAC_SRC (kept if there), a venv at
# MTSAC_VENV with the versions of its uv.lock (requirements/mtsac.txt, jax CPU), the package from
# the clone without its dependencies. E.g. make install-mtsac MTSAC_VENV=/opt/venv-mtsac.
$(MTSAC_VENV)/.installed: requirements/mtsac.txt
	test -d $(MTSAC_SRC)/.git || git clone -q $(MTSAC_REPO) $(MTSAC_SRC)
	git -C $(MTSAC_SRC) -c advice.detachedHead=false checkout -q $(MTSAC_COMMIT)
	$(MTSAC_PYTHON) -m venv $(MTSAC_VENV)
	$(MTSAC_VENV)/bin/python -m pip install -q -r requirements/mtsac.txt
	$(MTSAC_VENV)/bin/python -m pip install -q --no-deps -e $(MTSAC_SRC)
	$(MTSAC_VENV)/bin/python -c "import jax, metaworld, metaworld_algorithms.rl.algorithms; print('jax', jax.__version__, jax.devices())"
	touch $@

install-mtsac: $(MTSAC_VENV)/.installed

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

# Device scaling: env-steps/s and gradient-steps/s for 1, 2, 4 forced CPU devices (--mesh data=D)
# and the scaling efficiency rate(D) / (D x rate(1)); BENCH_ARGS="--real --devices 1 2 4 8" on a GPU node.
bench-scaling: install
	$(PY) -m benchmarks.scaling $(BENCH_ARGS)

# Learning benchmark: our SAC vs sbx-rl's on metaworld (single task) and MT10 DRATS vs uniform task
# sampling, each with uniform and per_task replay sampling; CPU-sized (under an hour on 2 cores;
# BENCH_ARGS="--plan" prints the estimate). BENCH_ARGS: extra flags, e.g. BENCH_ARGS="--quick".
bench-learning: install install-bench
	$(PY) -m benchmarks.learning --peer-python $(BENCH_PY) $(BENCH_ARGS)
	$(PY) -m benchmarks.report

# The MT10 section with the reference MTSAC beside our runs (one process per seed). Only the reference,
# into an earlier run's work dir, then both collected: make bench-mtsac BENCH_ARGS="--mt10-peer-only
# --work-dir .cache/learning/<time>", then python -m benchmarks.learning --sections mt10
# --peer-mtsac-python $(MTSAC_VENV)/bin/python --collect .cache/learning/<time>.
bench-mtsac: install install-mtsac
	$(PY) -m benchmarks.learning --sections mt10 --peer-mtsac-python $(MTSAC_VENV)/bin/python $(BENCH_ARGS)
	$(PY) -m benchmarks.report

# PPO ours vs stable-baselines3's PPO on single MetaWorld tasks (paper settings; its own learning-*.json).
bench-ppo: install install-bench
	$(PY) -m benchmarks.learning --sections ppo --peer-python $(BENCH_PY) $(BENCH_ARGS)
	$(PY) -m benchmarks.report

# Our SAC update against sbx-rl's, K gradient steps from identical parameters, batches and noise
# (seconds; its own sac-update-check-*.json): equal to float32 tolerance, or it exits 1.
bench-sac-update: install install-bench
	$(PY) -m benchmarks.sac_update_check --peer-python $(BENCH_PY) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(WARP_VENV) $(BENCH_VENV) .cache
