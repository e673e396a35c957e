"""The C MuJoCo backend under concurrent callbacks (one per shard under shard_map): each call
uses its own MjData workers, so concurrent calls give exactly the serial results."""

from __future__ import annotations

import threading

import jax
import numpy as np

import metaworld_jax

TASKS = ["reach-v3", "push-v3"]


def test_concurrent_host_steps_equal_serial_steps():
    # One thread per call: each call steps its slots on the calling thread (callbacks of
    # different shards run on different threads), the old shared-worker race at its plainest.
    env = metaworld_jax.make(TASKS, seed=0, num_threads=1)
    b, steps = 8, 25
    tasks = np.arange(b, dtype=np.int32) % len(TASKS)
    goals = (np.arange(b, dtype=np.int32) * 7) % 50
    physics = np.asarray(jax.vmap(env.reset, in_axes=(None, 0, 0))(jax.random.PRNGKey(0), tasks, goals)
                         .physics.backend)
    rng = np.random.default_rng(0)
    controls = [np.concatenate([a[:, :3] * np.float32(0.01), a[:, 3:]], axis=1)
                for a in rng.uniform(-1, 1, (steps, b, 4)).astype(np.float32)]

    serial, p = [], physics
    for c in controls:
        p, r = env.backend._host_step(p, tasks, goals, c)
        serial.append((p, r))

    halves = (slice(0, b // 2), slice(b // 2, b))  # two "shards", stepped at the same time
    out = {0: [], 1: []}
    start = threading.Barrier(2)

    def shard(i):
        s = halves[i]
        p = physics[s]
        start.wait()
        for c in controls:
            p, r = env.backend._host_step(p, tasks[s], goals[s], c[s])
            out[i].append((p, r))

    threads = [threading.Thread(target=shard, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(steps):
        for i, s in enumerate(halves):
            np.testing.assert_array_equal(out[i][k][0], serial[k][0][s], err_msg=f"step {k} shard {i}")
            np.testing.assert_array_equal(out[i][k][1], serial[k][1][s], err_msg=f"step {k} shard {i}")
    assert len(env.backend._worker_sets) <= 2  # one set per concurrent call at most
