"""Multi-device checks, run in a subprocess with N forced host CPU devices (conftest has already
started JAX with one device in the test process):

    XLA_FLAGS=--xla_force_host_platform_device_count=4 python -m tests.mesh_checks NAME

Each check prints one JSON line ``RESULT {...}`` that tests/test_mesh.py asserts on, so the
assertions (and their failure messages) live in the test.
"""

from __future__ import annotations

import json
import sys

import jax
import jax.numpy as jnp
import numpy as np

from drats_jax.config import SACConfig, SamplerConfig, TrainConfig
from drats_jax.mesh import DataAxis, MeshSpec, make_mesh
from drats_jax.train import make_train
from tests.pointmass import PointMass

CFG = TrainConfig(num_envs=8, total_env_steps=800, warmup_env_steps=160, buffer_capacity=800, chunk_length=20,
                  sac=SACConfig(hidden_width=16, hidden_depth=1, batch_size=16),
                  sampler=SamplerConfig(interval=160, initial_ref_return=500.0))
ENV = PointMass(episode_length=20)


def _run(mesh, seeds: int, chunks: int = 1, cfg=CFG):
    """(state after warm-up, state after ``chunks`` chunks, last metrics), as jax arrays."""
    trainer = make_train(cfg, ENV, mesh=mesh)
    init, warm, chunk = trainer.jitted(seeds)
    state, _ = warm(init(jax.random.split(jax.random.PRNGKey(0), seeds)))
    warmed = jax.device_get(state)
    metrics = None
    for _ in range(chunks):
        state, metrics = chunk(state)
    return warmed, state, metrics


def _diff(a, b) -> list[str]:
    """Leaves of two pytrees that are not bit-identical, with their largest difference."""
    out = []
    for (path, x), y in zip(jax.tree_util.tree_leaves_with_path(a), jax.tree.leaves(b)):
        x, y = np.asarray(x), np.asarray(y)
        if x.shape != y.shape or not np.array_equal(x, y, equal_nan=True):
            x64, y64 = x.astype(np.float64), y.astype(np.float64)
            # |x - y| / (|y| + 1): relative for large values, absolute for small ones; -1: shapes differ.
            gap = float(np.nanmax(np.abs(x64 - y64) / (np.abs(y64) + 1.0))) if x.shape == y.shape else -1
            out.append(f"{jax.tree_util.keystr(path)}: {gap:.3g}")
    return out


def seeds_sharded() -> dict:
    """Seeds over 2 and 4 devices vs the vmapped one-device program of the same seeds.

    Keys "seeds=N/seed=S": N seeds split over S devices (N/S per device).
    """
    out = {}
    for seeds, splits in ((4, (2, 4)), (8, (4,))):
        _, ref, ref_m = _run(None, seeds)
        ref = jax.device_get((ref, ref_m))
        for s in splits:
            _, state, m = _run(MeshSpec(seed=s, data=1), seeds)
            out[f"seeds={seeds}/seed={s}"] = {"diff": _diff(ref, jax.device_get((state, m))),
                                              "sharding": str(state.agent.log_alpha.sharding.spec)}
    return out


def _per_device_equal(x: jax.Array) -> bool:
    """Every device's copy of a leaf replicated over data holds the same bits."""
    shards = {}
    for sh in x.addressable_shards:
        shards.setdefault(str(sh.index), []).append(np.asarray(sh.data))
    return all(np.array_equal(c[0], o, equal_nan=True) for c in shards.values() for o in c[1:])


def data_parallel() -> dict:
    """data=2 (and seed=2 x data=2): replicated parts equal on every device; the warm-up (random
    actions, global draws sliced per device) equals the one-device run slot for slot."""
    ref_warm, _, _ = _run(None, 2)
    out = {}
    for spec in (MeshSpec(seed=1, data=2), MeshSpec(seed=2, data=2)):
        warm, state, m = _run(spec, 2)
        rep = {"q": m["q"], "stats": state.alloc.stats, "sampler": state.alloc.sampler, "agent": state.agent,
               "step": state.step, "metrics": m}
        out[str(spec)] = {
            "not_replicated": [jax.tree_util.keystr(p) for p, x in jax.tree_util.tree_leaves_with_path(rep)
                               if not _per_device_equal(x)],
            "warmup_alloc_diff": _diff(ref_warm.alloc, warm.alloc),
            "buffer_rows_equal": _buffer_rows_equal(ref_warm.buffer, warm.buffer, spec.data),
            "env_steps": int(np.asarray(m["env_steps"]).reshape(-1)[0]),
            "finite": bool(all(np.all(np.isfinite(np.asarray(v))) for v in jax.tree.leaves(state.agent))),
        }
    return out


def _buffer_rows_equal(one, split, d: int) -> bool:
    """Device k's ring holds, step after step, the rows of slots [k E/D, (k+1) E/D)."""
    e, steps = CFG.num_envs, int(np.asarray(one.size).reshape(-1)[0]) // CFG.num_envs
    for a, b in zip(jax.tree.leaves(one.data), jax.tree.leaves(split.data)):
        a = np.asarray(a)[:, : steps * e].reshape((a.shape[0], steps, d, e // d) + a.shape[2:])
        b = np.asarray(b).reshape((b.shape[0], d, -1) + b.shape[2:])[:, :, : steps * e // d]
        b = b.reshape((b.shape[0], d, steps, e // d) + b.shape[3:]).swapaxes(1, 2)
        if not np.array_equal(a, b):
            return False
    return True


def gradient_mean() -> dict:
    """The SAC critic's gradient of a batch split over data=2 and averaged with DataAxis.mean
    vs the one-device gradient of the same global batch; and the sum (the check_vma trap's
    D x error) for contrast."""
    from drats_jax.agents.sac.update import make_sac  # noqa: PLC0415

    sac = make_sac(SACConfig(hidden_width=16, hidden_depth=1), 4, 4, 2)
    params = sac.critic.init(jax.random.PRNGKey(1), jnp.zeros((1, 8)), jnp.zeros((1, 2)))
    k_x, k_a, k_y = jax.random.split(jax.random.PRNGKey(2), 3)
    x, a = jax.random.normal(k_x, (32, 8)), jax.random.uniform(k_a, (32, 2), minval=-1, maxval=1)
    y = jax.random.normal(k_y, (32,))

    def loss(p, x, a, y):
        q1, q2 = sac.critic.apply(p, x, a)
        return jnp.mean((q1 - y) ** 2 + (q2 - y) ** 2)

    ref = jax.grad(loss)(params, x, a, y)
    mesh = make_mesh(MeshSpec(seed=1, data=2), jax.devices()[:2])
    data = DataAxis(2)
    spec = jax.sharding.PartitionSpec("data")
    out = {}
    for name, reduce in (("mean", data.mean), ("sum", data.sum)):
        fn = jax.shard_map(lambda p, x, a, y, r=reduce: r(jax.grad(loss)(p, x, a, y)), mesh=mesh,
                           in_specs=(jax.sharding.PartitionSpec(), spec, spec, spec),
                           out_specs=jax.sharding.PartitionSpec(), check_vma=False)
        got = jax.jit(fn)(params, x, a, y)
        gaps = [float(np.max(np.abs(np.asarray(g) - np.asarray(r)) / (np.abs(np.asarray(r)) + 1e-6)))
                for g, r in zip(jax.tree.leaves(got), jax.tree.leaves(ref))]
        out[name] = max(gaps)
    return out


def ppo_data_parallel() -> dict:
    """PPO with data=2: replicated parts equal on every device after a rollout and its update;
    advantages normalised over the global batch (split over data) equal the one-device ones."""
    from drats_jax.agents.ppo.losses import normalize_advantages  # noqa: PLC0415
    from drats_jax.config import PPOConfig  # noqa: PLC0415

    cfg = TrainConfig(algo="ppo", num_envs=8, total_env_steps=640, warmup_env_steps=0,
                      ppo=PPOConfig(hidden_width=16, hidden_depth=1, num_epochs=2, num_minibatches=4),
                      sampler=SamplerConfig(interval=160, initial_ref_return=500.0))
    _, state, m = _run(MeshSpec(seed=1, data=2), 2, cfg=cfg)
    rep = {"q": m["q"], "stats": state.alloc.stats, "agent": state.agent, "metrics": m, "grad": state.grad_steps}
    out = {"not_replicated": [jax.tree_util.keystr(p) for p, x in jax.tree_util.tree_leaves_with_path(rep)
                              if not _per_device_equal(x)],
           "finite": bool(all(np.all(np.isfinite(np.asarray(v))) for v in jax.tree.leaves(state.agent))),
           "grad_steps": int(np.asarray(state.grad_steps).reshape(-1)[0])}
    k_a, k_t = jax.random.split(jax.random.PRNGKey(3))
    adv = jax.random.normal(k_a, (64,)) * 3 + 1
    task = jax.random.randint(k_t, (64,), 0, 4)
    mesh = make_mesh(MeshSpec(seed=1, data=2), jax.devices()[:2])
    spec = jax.sharding.PartitionSpec("data")
    for mode in ("per_task", "batch"):
        ref = normalize_advantages(adv, task, 4, mode)
        fn = jax.shard_map(lambda a, t, mode=mode: normalize_advantages(a, t, 4, mode, DataAxis(2)), mesh=mesh,
                           in_specs=(spec, spec), out_specs=spec, check_vma=False)
        out[f"adv_{mode}"] = float(np.max(np.abs(np.asarray(jax.jit(fn)(adv, task)) - np.asarray(ref))))
    return out


def sac_learns() -> dict:
    """tests/test_train.py's learning run (uniform sampler, 20k env steps) with data=2: the
    random warm-up's and the last two chunks' mean return of the two easy tasks."""
    cfg = TrainConfig(total_env_steps=20_000, warmup_env_steps=800, buffer_capacity=20_000, chunk_length=500,
                      sac=SACConfig(hidden_width=64, hidden_depth=2, batch_size=128),
                      sampler=SamplerConfig(name="uniform", interval=200, initial_ref_return=500.0))
    trainer = make_train(cfg, PointMass(), mesh=MeshSpec(seed=1, data=2))
    init, warmup, chunk = trainer.jitted()
    state, warm = warmup(init(jax.random.PRNGKey(0)))
    history = []
    for _ in range(trainer.num_chunks):
        state, m = chunk(state)
        history.append(jax.device_get(m))
    final = np.mean([h["episode_return"] for h in history[-2:]], axis=0)
    return {"random": np.asarray(jax.device_get(warm)["episode_return"])[:2].tolist(), "final": final[:2].tolist(),
            "q": np.asarray(history[-1]["q"]).tolist(),
            "grad_steps": int(state.grad_steps), "expected_grad_steps": trainer.num_chunks * trainer.chunk_length}


def evaluation_split() -> dict:
    """Evaluation (rounds of the steps program on the evaluation slots) with each task's 4
    episodes split over data=2 and seeds over seed=2 vs the one-device evaluation of the same
    agents: largest gap per result key; whether the rest of both states came back unchanged."""
    trainer = make_train(CFG, ENV, mesh=MeshSpec(seed=2, data=2))
    init, warm, chunk = trainer.jitted(2)
    state, _ = chunk(warm(init(jax.random.split(jax.random.PRNGKey(0), 2)))[0])
    _, one, _ = _run(None, 2)
    one = jax.device_get(one).replace(agent=jax.device_get(state.agent))  # the mesh run's agents
    training = lambda s: jax.device_get(s.replace(alloc=s.alloc.replace(eval_slots=None)))  # noqa: E731
    before = training(state)
    ref_state, ref = make_train(CFG, ENV).evaluator(4, 2)(jax.device_put(one))
    got_state, got = trainer.evaluator(4, 2)(state)
    ref, got = jax.device_get(ref), jax.device_get(got)
    return {k: float(np.max(np.abs(np.asarray(got[k]) - np.asarray(ref[k])))) for k in ref} | {
        "return_mean": float(np.mean(ref["return"])),
        "training_state_diff": _diff(before, training(got_state)) + _diff(training(one), training(ref_state))}


if __name__ == "__main__":
    result = globals()[sys.argv[1]]()
    print("RESULT " + json.dumps(result))
