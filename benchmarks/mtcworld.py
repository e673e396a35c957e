"""Env-steps/s of the peer package MTCWorldMJX (PyPI ``mtcworldmjx``, import ``MTCWorldMJX``).

MTCWorldMJX 0.4.0 is MetaWorld v3 on MJX with the Warp backend (NVIDIA GPU). Its MT suites are
one ``VectorEnv`` per task (one MuJoCo model each, ``num_envs`` lanes, vmapped jittable ``step``
with on-device autoreset); ``make_mt_envs("MT10"|"MT50", num_envs=k)`` gives every task the same
``k`` lanes. To hit an exact ``batch`` we build the same ``VectorEnv``s it builds (same arguments,
from its public ``MT10``/``MT50`` task pools) with lane counts differing by at most one, and step
all of them, one ``VectorEnv.step`` per task, inside ONE jitted ``lax.scan`` (the pattern of its
own ``rollout``, applied to every task at once). An env-step is one lane stepping once
(``frame_skip`` = 5 physics substeps, MetaWorld's control step).

Its metadata pins ``mujoco-mjx[warp]~=3.10.0`` (hence ``warp-lang==1.13.0``), which conflicts with
``requirements/warp.txt`` (mujoco-mjx 3.17.0, warp-lang 1.18.0): install it into ``.venv-warp``
with ``pip install --no-deps mtcworldmjx==0.4.0`` to keep our pins; ``requirements()`` records the
pin in the JSON so a reader sees the mismatch. Where ``mujoco.mjNEQDATA`` is 12 (MuJoCo 4.0.0;
as in our assets.py) its ``SawyerXYZEnv._reset_mocap_welds`` (envs/sawyer_xyz.py:81-88) assigns 11
floats to a whole weld row and every env construction fails (ValueError: could not broadcast (11,)
into (12,)); ``bench(compat=True)`` then writes the same 11 floats into the first 11 slots, as
``metaworld_jax.assets.finish_model`` does for our scenes, and records that in the result.
"""

from __future__ import annotations

import importlib.metadata
import statistics
import time

DIST = "mtcworldmjx"
SUITES = {"mt10": "MT10", "mt50": "MT50"}


def _version() -> str | None:
    try:
        return importlib.metadata.version(DIST)
    except importlib.metadata.PackageNotFoundError:
        return None


def available() -> tuple[bool, str]:
    """``(True, "MTCWorldMJX <version>")`` if it imports here, else ``(False, reason)``."""
    try:
        import MTCWorldMJX  # noqa: F401
    except Exception as exc:  # ImportError, or an error raised while importing mujoco/warp
        return False, f"{type(exc).__name__}: {exc}"
    return True, f"MTCWorldMJX {_version()}"


def requirements() -> list[str]:
    """Its ``Requires-Dist`` lines from the installed metadata (``[]`` if not installed)."""
    try:
        return list(importlib.metadata.requires(DIST) or [])
    except importlib.metadata.PackageNotFoundError:
        return []


_WELD = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 5.0)  # its values, sawyer_xyz.py:86-88


def _weld_compat() -> str | None:
    """Patches its weld fix for 12-float eq_data rows if this MuJoCo needs it; returns what was done."""
    import mujoco
    from MTCWorldMJX.envs import sawyer_xyz

    if mujoco.mjNEQDATA == len(_WELD):
        return None

    def reset_mocap_welds(model) -> None:
        if model.nmocap > 0:
            for i in range(model.neq):
                if model.eq_type[i] == mujoco.mjtEq.mjEQ_WELD:
                    model.eq_data[i, : len(_WELD)] = _WELD

    sawyer_xyz.SawyerXYZEnv._reset_mocap_welds = staticmethod(reset_mocap_welds)
    return (f"SawyerXYZEnv._reset_mocap_welds writes its 11 weld floats into the first 11 of "
            f"mjNEQDATA={mujoco.mjNEQDATA} (mujoco {mujoco.__version__}); the rest keep the model's values")


def _lanes(batch: int, num_tasks: int) -> list[int]:
    """``batch`` lanes over ``num_tasks`` tasks, counts differing by at most one (first tasks get more)."""
    q, r = divmod(batch, num_tasks)
    return [q + (i < r) for i in range(num_tasks)]


def bench(suite: str, batch: int, steps: int, repeats: int, seed: int = 0, compat: bool = True) -> dict:
    """Env-steps/s of MTCWorldMJX's MT10/MT50 at ``batch`` lanes in total.

    suite: "mt10"/"MT10" or "mt50"/"MT50". batch: total lanes (>= number of tasks), spread over
    the tasks as evenly as possible. steps: vector steps per timed call. repeats: timed calls
    after a first (compiling) call and one warm call. Actions: (lanes_of_task, 4) float32,
    uniform in [-1, 1], fresh each step from a jax PRNGKey. Episodes continue across calls (the
    state is carried; its autoreset restarts finished lanes on device).
    Returns times in seconds and throughput in env-steps/s (= batch * steps / time).
    compat: apply the weld-row fix above when this MuJoCo needs it (recorded as "compat_patch").
    Raises RuntimeError if MTCWorldMJX does not import or cannot build its envs here, ValueError
    on a bad suite/batch.
    """
    ok, why = available()
    if not ok:
        raise RuntimeError(f"MTCWorldMJX ({DIST}) is not importable: {why}")
    name = SUITES.get(str(suite).lower())
    if name is None:
        raise ValueError(f"MTCWorldMJX suites here: {sorted(SUITES)}, got {suite!r}")

    import jax

    import MTCWorldMJX as mtc

    num_tasks = len(mtc.mt_benchmarks.MT10_ENV_NAMES) if name == "MT10" else len(mtc.ENV_CLS_MAP)
    if batch < num_tasks:
        raise ValueError(f"batch {batch} < {num_tasks} tasks of {name}")
    patch = _weld_compat() if compat else None
    t0 = time.perf_counter()
    try:
        bench_tasks = getattr(mtc, name)(seed=seed)  # 50 frozen rand_vecs per task
        names = list(bench_tasks.train_classes)
        lanes = _lanes(batch, len(names))
        # The arguments make_mt_envs gives each VectorEnv (mt_benchmarks.py:697-708).
        venvs = [mtc.VectorEnv(n, mtc.rand_vecs_for_env(bench_tasks.train_tasks, n), k,
                               partially_observable=False, task_select="random",
                               terminate_on_success=False, autoreset=True, seed=seed)
                 for n, k in zip(names, lanes)]
    except Exception as exc:
        import mujoco

        raise RuntimeError(f"MTCWorldMJX {_version()} cannot build {name} with mujoco {mujoco.__version__}"
                           f" (compat_patch={patch!r}): {type(exc).__name__}: {exc}") from exc
    reset_keys = jax.random.split(jax.random.PRNGKey(seed), len(venvs))
    states = jax.block_until_ready(tuple(v.reset(k) for v, k in zip(venvs, reset_keys)))
    make_s = time.perf_counter() - t0
    act_dim = venvs[0].env.action_size  # 4: xyz delta + gripper

    def run(states, key):
        def body(states, k):
            ks = jax.random.split(k, len(venvs))
            states = tuple(v.step(s, jax.random.uniform(kk, (v.num_envs, act_dim), minval=-1.0, maxval=1.0))
                           for v, s, kk in zip(venvs, states, ks))
            return states, None

        return jax.lax.scan(body, states, jax.random.split(key, steps))[0]

    run = jax.jit(run)
    t0 = time.perf_counter()
    states = jax.block_until_ready(run(states, jax.random.PRNGKey(seed + 1)))
    first = time.perf_counter() - t0
    # Its reset returns weakly typed scalars that its step returns strongly typed, so the call on a
    # stepped state compiles once more: one untimed warm call, then check nothing compiles in timing.
    t0 = time.perf_counter()
    states = jax.block_until_ready(run(states, jax.random.PRNGKey(seed + 2)))
    warm = time.perf_counter() - t0
    compiles = run._cache_size()
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        states = jax.block_until_ready(run(states, jax.random.PRNGKey(seed + 3 + r)))
        times.append(time.perf_counter() - t0)
    med, best = statistics.median(times), min(times)
    return {
        "suite": suite, "batch": batch, "num_tasks": len(names), "lanes_per_task": [min(lanes), max(lanes)],
        "steps_per_call": steps,
        "env_steps_per_s": batch * steps / med, "env_steps_per_s_best": batch * steps / best,
        "times_s": times, "first_call_s": first, "warm_call_s": warm, "make_s": make_s,
        "jit_compiles": compiles, "recompiled_while_timed": run._cache_size() != compiles,
        "version": _version(), "compat_patch": patch,
        "api": (f"MTCWorldMJX.{name}(seed) task pools -> one VectorEnv(task, rand_vecs_for_env(..), lanes, "
                "partially_observable=False, autoreset=True) per task (as make_mt_envs builds them); "
                "VectorEnv.reset(key); jit(lax.scan(steps) of [VectorEnv.step(state, U[-1,1] (lanes, 4))"
                " for every task])"),
        "jitted_scan": True,
    }
