"""GPU presets of the trainer (``--preset gpu-mt10``, ``--preset gpu-mt50``) and JAX's GPU memory
settings read from a command line before JAX starts. ``cli.PRESETS`` names the presets; the
recipe and its sources are in :func:`gpu_preset` and docs/gpu.md.
"""

from __future__ import annotations

import json
import pathlib

from drats_jax import cli
from drats_jax.cli import RunConfig
from drats_jax.flags import flag_value
from drats_jax.config import SACConfig, TrainConfig

# GPU presets: slots = SLOT_BLOCKS x N tasks x block (the MJX backends' block of one scene, 128),
# the multiple of N x block nearest to FastTD3's env counts for MetaWorld MT10 / MT50 (4,096 / 8,192).
GPU_SLOT_BLOCKS = {"mt10": 3, "mt50": 1}  # 3,840 / 6,400 slots
GPU_VECTOR_STEPS = {"mt10": 10_000, "mt50": 20_000}  # the budget, in vector steps (see gpu_preset)
GPU_ROWS_PER_SLOT = 2_048  # replay rows per slot: buffer = 2,048 x slots (FastTD3's MetaWorld buffer_size)
GPU_BATCH = 32_768  # transitions per gradient step (FastTD3's and FastSAC's batch_size)
GPU_UPDATES_PER_STEP = 2  # gradient steps per vector step (FastTD3's and FastSAC's num_updates)
GPU_WARMUP_VECTOR_STEPS = 10  # random-action vector steps before learning (FastTD3's learning_starts)


def gpu_preset(suite: str) -> RunConfig:
    """Multi-task SAC at GPU scale, on the GPU backend (docs/gpu.md has the recipe and its sources).

    Off-policy learners that train from thousands of GPU-simulated envs (FastTD3 and FastSAC:
    Seo et al. 2025, github.com/younggyoseo/FastTD3, whose MetaWorld MT10/MT50 settings run 4,096 /
    8,192 envs) keep the learner busy with large batches and several updates per vector step
    instead of the one small update per vector step of CPU-era MTSAC; their MetaWorld settings:
    batch 32,768, 2 updates per vector step, 2,048 replay rows per env, learning from the 10th
    vector step. Here: slots = GPU_SLOT_BLOCKS x N x 128 (3,840 for MT10, 6,400 for MT50: whole
    blocks of one scene, N x block a divisor so that every task can hold the same number of
    blocks), buffer 2,048 x slots (7.9M / 13.1M rows), batch 32,768,
    2 gradient steps per vector step, 10 vector steps of random warm-up; the budget in vector
    steps of FastTD3's MetaWorld notes (10k for MT10, 20k for MT50); evaluation and checkpoints
    every 1,000 vector steps. Networks, learning rates and the rest: TrainConfig()'s (the
    reference MTSAC's). Physics on devices.GPU_BACKEND in blocks of 128 slots; JAX's GPU memory
    taken as needed up to devices.GPU_MEMORY_FRACTION (room for MJX-Warp); on several GPUs the
    seeds-first mesh (pass --seeds D on D GPUs for one seed per GPU). These are starting points
    from published recipes, not settings measured on our GPU runs.
    """
    from drats_jax.devices import GPU_BACKEND, GPU_MEMORY_FRACTION  # noqa: PLC0415
    from drats_jax.mesh import SEEDS_FIRST  # noqa: PLC0415
    from metaworld_jax.backends.mjx import DEFAULT_BLOCK_SIZE  # noqa: PLC0415

    n = {"mt10": 10, "mt50": 50}[suite]
    slots = GPU_SLOT_BLOCKS[suite] * n * DEFAULT_BLOCK_SIZE
    train = TrainConfig(
        num_envs=slots, total_env_steps=GPU_VECTOR_STEPS[suite] * slots,
        warmup_env_steps=GPU_WARMUP_VECTOR_STEPS * slots, updates_per_step=GPU_UPDATES_PER_STEP,
        buffer_capacity=GPU_ROWS_PER_SLOT * slots, chunk_length=50, sac=SACConfig(batch_size=GPU_BATCH))
    every = 1_000 * slots
    return RunConfig(preset=f"gpu-{suite}", tasks=suite, backend=GPU_BACKEND, block_size=DEFAULT_BLOCK_SIZE,
                     mesh=SEEDS_FIRST, eval_interval=every, checkpoint_interval=every,
                     gpu_memory_fraction=GPU_MEMORY_FRACTION, train=train)


def gpu_memory_fraction(argv: list[str]) -> float | None:
    """The run's gpu_memory_fraction from the command line alone, for setting JAX's GPU memory
    before JAX starts (no JAX backend, no tyro): --gpu-memory-fraction, else the resumed run's
    saved value, else the preset's, else the default (None). A value that does not parse gives
    None here; parse_args then reports it in one line."""
    value = flag_value(argv, "--gpu-memory-fraction")
    if value is not None:
        try:
            return None if value == "None" else float(value)
        except ValueError:
            return None
    resume, preset = flag_value(argv, "--resume"), flag_value(argv, "--preset")
    if resume is not None:
        try:
            return json.loads((pathlib.Path(resume) / cli.CONFIG_FILE).read_text()).get("gpu_memory_fraction")
        except (OSError, ValueError, AttributeError):
            return None
    return cli.PRESETS[preset]().gpu_memory_fraction if preset in cli.PRESETS else RunConfig.gpu_memory_fraction
