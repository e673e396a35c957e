"""Effect of each MJX scene-adapter edit on agreement with metaworld's stock scene.

    python -m benchmarks.adapter_effect                          # all 50 tasks (MT50)
    python -m benchmarks.adapter_effect --tasks mt10
    python -m benchmarks.adapter_effect --tasks reach-v3,push-v3 --out /tmp/ae
    python -m benchmarks.adapter_effect --variants stock all floor hulls32 solver

Everything runs on the C MuJoCo backend, so only the scene differs between variants (MJX's
float32 numerics are left out). Variants (see `backends/scene_adapter.py`):

  stock    metaworld's scene
  all      every edit (scene_variant="mjx", what backend="mjx" simulates)
  prisms   collision cylinders -> prisms only
  hulls    collision meshes -> <= 64-vertex hulls only
  hulls32  collision meshes -> <= 32-vertex hulls only
  margins  margin/gap -> 0 on geoms that can touch a mesh, boxes grown by that margin, only
           (with prisms off, only the stock meshes count, so this may edit fewer geoms)
  floor    the floor plane collides with nothing, only
  solver   solver iterations 5, line-search iterations 8 (MJX's guidance; MuJoCo
           Playground's Panda), only
  visuals  visual-only meshes removed (their geoms become 1 mm spheres), only: what
           backend="warp" simulates
  zero_margins  every edit, margins zeroed without growing the boxes (the first design)
MJX's `max_contact_points` (part of "all") is ignored by C MuJoCo, so no run here measures it;
instead every variant's run records the most contacts C MuJoCo had at once in any slot,
per contact dimension (`max_contacts`): when that stays below the cap, the cap drops no
contact C MuJoCo would have used.

Per task and variant:
  1. successes of metaworld's scripted policy over the 50 goals (500 steps, success = any
     step's info["success"]; the batch stops early once every goal has succeeded);
  2. divergence from the stock run under identical actions, for goals 0, 17, 42:
     "random": 100 steps of uniform actions in [-1, 1] (np.random.default_rng(0));
     "policy": the scripted policy's first 150 actions on the stock run, replayed open loop.
     Reported: max |obs - obs_stock| over the object block obs[4:18] and the hand obs[0:3]
     after step 50 and after the last step (max over the goals), and max |reward diff|
     over all steps and goals.

Writes benchmarks/results/adapter-effect-<stamp>.json (rewritten after every task, with
"complete": false until the sweep ends) and a markdown table adapter-effect-<stamp>.md.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

import metaworld_jax
from metaworld_jax.host_sim import STATE_SPEC
from metaworld_jax.backends import scene_adapter
from metaworld_jax.backends.scene_adapter import AdapterOptions

from benchmarks import common

RESULTS = Path(__file__).parent / "results"

_NONE = {"prisms": False, "hulls": False, "margins": False, "floor": False, "iterations": None, "ls_iterations": None,
         "visuals": False, "max_contact_points": None}
VARIANTS = {
    "stock": "stock",
    "all": "mjx",
    "prisms": AdapterOptions(**{**_NONE, "prisms": True}),
    "hulls": AdapterOptions(**{**_NONE, "hulls": True}, hull_vertices=64),
    "hulls32": AdapterOptions(**{**_NONE, "hulls": True}, hull_vertices=32),
    "margins": AdapterOptions(**{**_NONE, "margins": True}),
    "floor": AdapterOptions(**{**_NONE, "floor": True}),
    "solver": AdapterOptions(**{**_NONE, "iterations": 5, "ls_iterations": 8}),
    "visuals": AdapterOptions(**{**_NONE, "visuals": True}),  # backend="warp"'s only edit
    "zero_margins": AdapterOptions(inflate=False),  # all edits, margins zeroed without inflating
}
SINGLE = ("prisms", "hulls", "hulls32", "margins", "floor", "solver", "visuals", "zero_margins")
NUM_GOALS = 50
POLICY_STEPS = 500
DIVERGENCE_GOALS = (0, 17, 42)
RANDOM_STEPS = 100
REPLAY_STEPS = 150
CHECK_STEP = 50  # divergence is also reported after this many steps
OBJ, HAND = slice(4, 18), slice(0, 3)


def make_env(task: str, variant):
    """A single-task C MuJoCo env on one scene variant, with jitted batched reset and step."""
    env = metaworld_jax.make(task, backend="mujoco", seed=0, scene_variant=variant, num_threads=1)
    reset = jax.jit(jax.vmap(env.reset, in_axes=(None, 0, 0)))
    return env, reset, jax.jit(jax.vmap(env.step))


def start(reset, goals) -> "metaworld_jax.State":
    """Batched reset of task 0 on `goals`."""
    goals = jnp.asarray(goals, jnp.int32)
    return reset(jax.random.PRNGKey(0), jnp.zeros_like(goals), goals)


class ContactCensus:
    """The most contacts C MuJoCo holds at once in one slot, per contact dimension, over the
    states it is shown (each slot's state replayed into a private MjData of the scene)."""

    def __init__(self, env, variant):
        self.backend = env.backend
        self.model = scene_adapter.load(env.tasks[0].scene, variant)
        self.data = mujoco.MjData(self.model)
        self.size = mujoco.mj_stateSize(self.model, STATE_SPEC)
        self.max = {}

    def add(self, state, goals) -> None:
        states = np.asarray(state.physics.backend).view(np.float64)
        for g, x in zip(goals, states):
            self.backend.apply_overrides(self.model, 0, int(g))
            mujoco.mj_setState(self.model, self.data, x[: self.size].copy(), STATE_SPEC)
            mujoco.mj_forward(self.model, self.data)
            dims, counts = np.unique(self.data.contact.dim[: self.data.ncon], return_counts=True)
            for d, c in zip(dims.tolist(), counts.tolist()):
                self.max[d] = max(self.max.get(d, 0), c)


def scripted_successes(task: str, reset, step, record_steps: int, census: ContactCensus | None = None):
    """Run metaworld's scripted policy on all 50 goals at once.

    Returns (bool[50] success per goal, f32[record_steps, 50, 4] the first actions taken,
    steps run). Stops once every goal has succeeded and `record_steps` actions are recorded.
    `census` sees every step's states.
    """
    from metaworld.policies import ENV_POLICY_MAP

    policy = ENV_POLICY_MAP[task]()
    state = start(reset, np.arange(NUM_GOALS))
    ok = np.zeros(NUM_GOALS, bool)
    actions_taken = []
    for t in range(POLICY_STEPS):
        obs = np.asarray(state.obs, np.float64)
        # .copy(): some scripted policies edit the observation they are given in place.
        actions = np.stack([policy.get_action(o.copy()) for o in obs]).astype(np.float32)
        if t < record_steps:
            actions_taken.append(actions)
        state = step(state, jnp.asarray(actions))
        if census is not None:
            census.add(state, range(NUM_GOALS))
        ok |= np.asarray(state.info["success"])
        if ok.all() and t + 1 >= record_steps:
            break
    return ok, np.stack(actions_taken), t + 1


def rollout(reset, step, goals, actions: np.ndarray, census: ContactCensus | None = None):
    """Open-loop rollout of f32[T, B, 4] actions -> (obs f32[T, B, 39], reward f32[T, B]) after each step."""
    state = start(reset, goals)
    obs, rew = [], []
    for a in actions:
        state = step(state, jnp.asarray(a))
        if census is not None:
            census.add(state, goals)
        obs.append(np.asarray(state.obs))
        rew.append(np.asarray(state.reward))
    return np.stack(obs), np.stack(rew)


def divergence(run: tuple[np.ndarray, np.ndarray], ref: tuple[np.ndarray, np.ndarray]) -> dict:
    """Max |run - ref| over the object block and the hand after step CHECK_STEP and at the end,
    and max |reward diff| over the whole rollout (all maxima also over the goals)."""
    (obs, rew), (ref_obs, ref_rew) = run, ref
    d = np.abs(obs.astype(np.float64) - ref_obs)
    at = lambda t, part: float(d[t, :, part].max())
    return {
        "obj_at_50": at(CHECK_STEP - 1, OBJ), "obj_end": at(-1, OBJ), "obj_max": float(d[:, :, OBJ].max()),
        "hand_at_50": at(CHECK_STEP - 1, HAND), "hand_end": at(-1, HAND),
        "reward_max": float(np.abs(rew.astype(np.float64) - ref_rew).max()),
    }


def measure_task(task: str, variants=tuple(VARIANTS)) -> tuple[dict, str, list[str]]:
    """The variants of one task -> (per-variant results, scene, the "all" variant's edits)."""
    random_actions = np.random.default_rng(0).uniform(-1, 1, (RANDOM_STEPS, len(DIVERGENCE_GOALS), 4)).astype(np.float32)
    out, ref, replay, scene = {}, {}, None, None
    for name in ("stock", *(v for v in variants if v != "stock")):  # the others are compared with stock
        variant = VARIANTS[name]
        t0 = time.perf_counter()
        env, reset, step = make_env(task, variant)
        scene = env.tasks[0].scene
        census = ContactCensus(env, variant)
        ok, actions, steps_run = scripted_successes(task, reset, step, REPLAY_STEPS, census)
        if name == "stock":
            replay = actions[:, list(DIVERGENCE_GOALS)]
        runs = {"random": rollout(reset, step, DIVERGENCE_GOALS, random_actions, census),
                "policy": rollout(reset, step, DIVERGENCE_GOALS, replay, census)}
        if name == "stock":
            ref = runs
        edits = [] if variant == "stock" else list(scene_adapter.adapt(scene, _options(variant)).edits)
        out[name] = {
            "successes": int(ok.sum()),
            "success_goals": np.flatnonzero(ok).tolist(),
            "policy_steps_run": steps_run,
            "n_edits": len(edits),
            "max_contacts": {str(k): v for k, v in sorted(census.max.items())},
            **{kind: divergence(runs[kind], ref[kind]) for kind in runs},
            "time_s": round(time.perf_counter() - t0, 2),
        }
        del env, reset, step
        jax.clear_caches()
    return out, scene, list(scene_adapter.adapt(scene).edits)


def _options(variant) -> AdapterOptions:
    return AdapterOptions() if variant == "mjx" else variant


def markdown(results: dict) -> str:
    """Success counts per variant, the most contacts at once, and the divergence of "all"
    from stock, one row per task."""
    variants = [v for v in ("stock", "all", *SINGLE) if v in next(iter(results.values()))]
    has_all = "all" in variants
    cols = [v.replace("_", " ") for v in variants] + ["most contacts at once (stock / all)"]
    if has_all:
        cols += ["all Δobj random @50 / end", "all Δobj policy @50 / end", "all Δhand policy end",
                 "all max Δreward (random / policy)"]
    lines = ["| task | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]

    def contacts(r):
        return ", ".join(f"{n} (dim {d})" for d, n in r.get("max_contacts", {}).items()) or "-"

    for task, r in results.items():
        row = f"| {task} | " + " | ".join(str(r[v]["successes"]) for v in variants)
        row += f" | {contacts(r['stock'])} / {contacts(r['all']) if has_all else '-'}"
        if has_all:
            a = r["all"]
            row += (f" | {a['random']['obj_at_50']:.2g} / {a['random']['obj_end']:.2g}"
                    f" | {a['policy']['obj_at_50']:.2g} / {a['policy']['obj_end']:.2g}"
                    f" | {a['policy']['hand_end']:.2g} | {a['random']['reward_max']:.2g} / {a['policy']['reward_max']:.2g}")
        lines.append(row + " |")
    totals = {v: sum(r[v]["successes"] for r in results.values()) for v in variants}
    n = NUM_GOALS * len(results)
    lines.append(f"| **total** (/{n}) | " + " | ".join(str(totals[v]) for v in variants) + " |" * (len(cols) - len(variants) + 1))
    kept = {v: min(r[v]["successes"] / max(r["stock"]["successes"], 1) for r in results.values()) for v in variants}
    lines.append("| worst task's share of its stock successes | " + " | ".join(f"{kept[v]:.2f}" for v in variants)
                 + " |" * (len(cols) - len(variants) + 1))
    notes = [
        f"- {task}: " + ", ".join(f"{v} {r[v]['successes']}" for v in variants)
        for task, r in results.items()
        if any(r["stock"]["successes"] - r[v]["successes"] > 5 for v in variants)
    ]
    header = "Success counts /50 (scripted policy, 500 steps, C MuJoCo); Δ = max |variant - stock| (m / reward units).\n\n"
    return header + "\n".join(lines) + ("\n\nDrops of more than 5:\n" + "\n".join(notes) if notes else "") + "\n"


def environment() -> dict:
    """Library versions and the machine (no git calls)."""
    versions = {}
    for p in ("mujoco", "metaworld", "jax", "jaxlib", "numpy"):
        try:
            versions[p] = importlib.metadata.version(p)
        except importlib.metadata.PackageNotFoundError:
            versions[p] = None
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    cpu_model = next((line.split(":", 1)[1].strip() for line in _read_lines("/proc/cpuinfo")
                      if line.startswith("model name")), None)
    return {
        "versions": versions,
        "machine": {"platform": platform.platform(), "processor": platform.processor() or cpu_model,
                    "cpu_model": cpu_model, "cpu_count": os.cpu_count(),
                    "cpus_usable": affinity, "python": platform.python_version()},
    }


def _read_lines(path: str) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except OSError:
        return []


def main(argv=None) -> None:
    parser = common.arg_parser("python -m benchmarks.adapter_effect", __doc__)
    parser.add_argument("--tasks", default="mt50", help="mt10, mt50 or a comma-separated list of tasks")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS),
                        help="scene variants to run (stock always runs: the others are compared with it)")
    parser.add_argument("--out", default=str(RESULTS), help="output folder")
    args = parser.parse_args(argv)
    tasks, _ = metaworld_jax.resolve_tasks(args.tasks)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    json_path, md_path = out_dir / f"adapter-effect-{stamp}.json", out_dir / f"adapter-effect-{stamp}.md"
    payload = {
        "benchmark": "adapter-effect",
        "command": " ".join([sys.executable, "-m", "benchmarks.adapter_effect", *sys.argv[1:]]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **environment(),
        "settings": {"backend": "mujoco", "seed": 0, "num_goals": NUM_GOALS, "policy_steps": POLICY_STEPS,
                     "divergence_goals": list(DIVERGENCE_GOALS), "random_steps": RANDOM_STEPS,
                     "replay_steps": REPLAY_STEPS, "check_step": CHECK_STEP, "action_rng": "np.random.default_rng(0)",
                     "variants": {k: v if isinstance(v, str) else repr(v) for k, v in VARIANTS.items()}},
        "tasks": list(tasks),
        "complete": False,
        "results": {},
        "scene_edits": {},
    }
    t0 = time.perf_counter()
    for i, task in enumerate(tasks):
        res, scene, edits = measure_task(task, args.variants)
        payload["results"][task] = {"scene": scene, **res}
        payload["scene_edits"][scene] = edits
        payload["wall_time_s"] = round(time.perf_counter() - t0, 1)
        json_path.write_text(json.dumps(payload, indent=2))
        print(f"[{i + 1}/{len(tasks)}] {task}: " + ", ".join(f"{v} {r['successes']}" for v, r in res.items())
              + f"  ({payload['wall_time_s']:.0f} s)",
              flush=True)
    payload["complete"] = True
    json_path.write_text(json.dumps(payload, indent=2))
    table = markdown({t: payload["results"][t] for t in tasks})
    md_path.write_text(table + f"\nTotal wall time {payload['wall_time_s']:.0f} s. JSON: {json_path.name}\n")
    print(table)
    print(f"wrote {json_path}\nwrote {md_path}\ntotal wall time {payload['wall_time_s']:.0f} s")


if __name__ == "__main__":
    main()
