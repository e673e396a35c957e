"""The 50 fixed goals of each task, drawn exactly as metaworld's benchmark constructors do.

metaworld seeds numpy's legacy global generator with the benchmark seed, then for each task
in the benchmark's order resets a fresh env 50 times; every reset runs `reset_model` twice
(SawyerXYZEnv.reset, then gymnasium's MujocoEnv.reset), each drawing a fresh `rand_vec`
uniformly in the task's `_random_reset_space` (with the task's own redraw rules), and the
goal kept is the last draw. We replay those draws with a private `RandomState` (never the
global one), so `goals(["reach-v3"], s)` equals `metaworld.MT1("reach-v3", seed=s)` and
`goals(MT10, s)` equals `metaworld.MT10(seed=s)`.
"""

from __future__ import annotations

import numpy as np

from metaworld_jax.tasks.base import Task

NUM_GOALS = 50
_RESET_MODEL_CALLS_PER_RESET = 2


def goals(tasks: list[Task], seed: int) -> list[np.ndarray]:
    """Per task (in order), f64[NUM_GOALS, rand_dim] rand_vecs."""
    rng = np.random.RandomState(seed)
    out = []
    for task in tasks:
        low = np.asarray(task.rand_low, np.float64)
        high = np.asarray(task.rand_high, np.float64)

        def draw():
            return rng.uniform(low, high, size=low.size).astype(np.float64)

        vecs = []
        for _ in range(NUM_GOALS):
            for _ in range(_RESET_MODEL_CALLS_PER_RESET):
                v = task.draw_rand_vec(draw)
            vecs.append(v)
        out.append(np.stack(vecs))
    return out
