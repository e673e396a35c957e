"""Is our SAC update sbx-rl's SAC update? K gradient steps of both from identical inputs.

The learning benchmark compares success curves, which carry seed noise of +-0.2 at a few
seeds. This check removes the noise: it runs sbx's own jitted update (benchmarks/
sbx_sac_updates.py, in .venv-bench) and ours (``drats_jax.agents.sac``, ``SAC.update``, in this
venv) for K steps on the same batches, from the same initial parameters (sbx's, copied into
ours), with the same standard-normal draws behind each step's two action samples, at the
single-task settings of the learning benchmark (plain Adam: eps 1e-8, no gradient clip).
It compares every step's critic, actor and temperature losses and the temperature, and all
parameters (actor, critics, target critics) after the last step::

    python -m benchmarks.sac_update_check            # writes benchmarks/results/sac-update-check-*.json

Equal to float32 tolerance means the two compute the same algorithm (losses, gradient order,
Adam, Polyak update, per-step key use); a gap in the learning curves at some point is then
the seeds' noise, not the learner.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from unittest import mock

import jax
import jax.numpy as jnp
import numpy as np
from flax.traverse_util import flatten_dict, unflatten_dict

from benchmarks import common
from benchmarks.common import write
from drats_jax.agents.sac import make_sac
from drats_jax.config import SACConfig
from drats_jax.types import Transition

REPO = Path(__file__).resolve().parents[1]
TOLERANCE = 1e-4  # relative, float32 after K steps


def _parse(argv=None) -> argparse.Namespace:
    ap = common.arg_parser("python -m benchmarks.sac_update_check", __doc__)
    ap.add_argument("--peer-python", default=str(REPO / ".venv-bench" / "bin" / "python"))
    ap.add_argument("--steps", type=int, default=20, help="gradient steps K")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out-dir", default=None, help="default benchmarks/results")
    return ap.parse_args(argv)


def _ours_from_sbx(flat: dict, which: str) -> tuple[dict, dict]:
    """sbx's actor and critic (or target) params -> our Actor and TwinCritic param trees."""
    actor = {}
    n_hidden = sum(1 for k in flat if k.startswith("actor/params/Dense_") and k.endswith("/kernel")) - 2
    for i in range(n_hidden):
        for p in ("kernel", "bias"):
            actor[("params", "MLP_0", f"Dense_{i}", p)] = flat[f"actor/params/Dense_{i}/{p}"]
    for p in ("kernel", "bias"):  # sbx: two heads (mean, log-std); ours: one Dense(2A), mean first
        actor[("params", "MLP_0", f"Dense_{n_hidden}", p)] = np.concatenate(
            [flat[f"actor/params/Dense_{n_hidden}/{p}"], flat[f"actor/params/Dense_{n_hidden + 1}/{p}"]], axis=-1)
    critic = {}
    for key, value in flat.items():
        if key.startswith(f"{which}/params/VmapContinuousCritic_0/"):
            dense, p = key.split("/")[-2:]
            for q in range(2):  # sbx stacks its two critics on axis 0
                critic[("params", f"q{q + 1}", "MLP_0", dense, p)] = value[q]
    to_tree = lambda d: jax.tree.map(jnp.asarray, unflatten_dict(d))  # noqa: E731
    return to_tree(actor), to_tree(critic)


def _max_relative(a, b) -> float:
    """max |a - b| / max |b| over all leaves of two equal-structure trees."""
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    diff = max(float(jnp.max(jnp.abs(x - y))) for x, y in zip(la, lb))
    scale = max(float(jnp.max(jnp.abs(y))) for y in lb)
    return diff / scale


def run_peer(args, npz: Path) -> None:
    if not Path(args.peer_python).exists():
        raise SystemExit(f"--peer-python {args.peer_python} does not exist (make install-bench creates .venv-bench)")
    cmd = [args.peer_python, str(REPO / "benchmarks" / "sbx_sac_updates.py"), "--steps", str(args.steps),
           "--batch-size", str(args.batch_size), "--width", str(args.width), "--depth", str(args.depth),
           "--seed", str(args.seed), "--out", str(npz)]
    subprocess.run(cmd, check=True)


def run_ours(args, peer: dict):
    """Our K updates from the peer's inputs; returns (per-step metrics, final SACState)."""
    config = SACConfig(hidden_width=args.width, hidden_depth=args.depth, batch_size=args.batch_size,
                       actor_lr=3e-4, critic_lr=3e-4, alpha_lr=3e-4, adam_eps=1e-8, max_grad_norm=None,
                       gamma=0.99, tau=0.005, initial_temperature=1.0, target_entropy=-4.0)
    obs_size, action_size = peer["batch/obs"].shape[-1], peer["batch/action"].shape[-1]
    sac = make_sac(config, num_tasks=1, obs_size=obs_size, action_size=action_size)
    init = {k[len("init/"):]: v for k, v in peer.items() if k.startswith("init/")}
    actor, critic = _ours_from_sbx(init, "qf")
    _, target = _ours_from_sbx(init, "target")
    # Fresh optimiser states depend on the parameters' shapes only: sac.init's fit sbx's values.
    state = sac.init(jax.random.PRNGKey(0)).replace(
        actor_params=actor, critic_params=critic, target_critic_params=target,
        log_alpha=jnp.full((1,), init["ent/log_ent_coef"], jnp.float32))
    metrics = {"critic_loss": [], "actor_loss": [], "alpha_loss": [], "alpha": []}
    b = args.batch_size
    for i in range(args.steps):
        batch = Transition(obs=jnp.asarray(peer["batch/obs"][i]), action=jnp.asarray(peer["batch/action"][i]),
                           reward=jnp.asarray(peer["batch/reward"][i]), next_obs=jnp.asarray(peer["batch/next_obs"][i]),
                           terminal=jnp.asarray(peer["batch/terminal"][i] > 0), truncation=jnp.zeros((b,), bool),
                           task_id=jnp.zeros((b,), jnp.int32))
        # Our update draws its two standard-normal tensors in this order: the critic target's
        # next action, then the actor's action. Hand it sbx's draws instead of its own.
        draws = iter([peer["noise/critic"][i], peer["noise/actor"][i]])
        with mock.patch.object(jax.random, "normal", lambda key, shape, dtype=jnp.float32: jnp.asarray(next(draws))):
            state, m = sac.update(state, batch, jax.random.PRNGKey(i))
        if next(draws, None) is not None:
            raise RuntimeError("our update drew fewer than two normal tensors: the check no longer matches it")
        metrics["critic_loss"].append(float(m["critic_loss"]))
        metrics["actor_loss"].append(float(m["actor_loss"]))
        metrics["alpha_loss"].append(float(m["alpha_loss"]))
        metrics["alpha"].append(float(m["alpha_mean"]))
    return metrics, state


def compare(peer: dict, metrics: dict, state) -> dict:
    final = {k[len("final/"):]: v for k, v in peer.items() if k.startswith("final/")}
    actor, critic = _ours_from_sbx(final, "qf")
    _, target = _ours_from_sbx(final, "target")
    per_metric = {}
    for name, ours in metrics.items():
        theirs = np.asarray(peer[f"metrics/{name}"], np.float64)
        ours = np.asarray(ours, np.float64)
        per_metric[name] = {"ours": ours.tolist(), "sbx": theirs.tolist(),
                            "max_relative_error": float(np.max(np.abs(ours - theirs) / np.maximum(np.abs(theirs), 1e-6)))}
    params = {"actor": _max_relative(state.actor_params, actor), "critics": _max_relative(state.critic_params, critic),
              "target_critics": _max_relative(state.target_critic_params, target),
              "log_temperature_abs": float(abs(state.log_alpha[0] - final["ent/log_ent_coef"]))}
    worst = max([m["max_relative_error"] for m in per_metric.values()]
                + [params["actor"], params["critics"], params["target_critics"]])
    return {"metrics": per_metric, "final_params_max_relative_error": params, "worst_relative_error": worst,
            "tolerance": TOLERANCE, "equal": bool(worst < TOLERANCE),
            "peer_noise_check_max_abs_action_error": float(peer["noise_check/max_abs_action_error"])}


def main(argv=None) -> int:
    args = _parse(argv)
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "sbx.npz"
        run_peer(args, npz)
        peer = dict(np.load(npz))
    metrics, state = run_ours(args, peer)
    result = compare(peer, metrics, state)
    result["config"] = {k: v for k, v in vars(args).items() if k != "out_dir"}
    result["peer_versions"] = json.loads(str(peer["versions"]))
    path = write("sac-update-check", result, args.out_dir)
    for name, m in result["metrics"].items():
        print(f"{name:12s} step 1 ours {m['ours'][0]: .6f} sbx {m['sbx'][0]: .6f} | step {args.steps} ours "
              f"{m['ours'][-1]: .6f} sbx {m['sbx'][-1]: .6f} | max relative error {m['max_relative_error']:.1e}")
    print("final parameters, max |ours - sbx| / max |sbx|:", {k: f"{v:.1e}" for k, v in
                                                              result["final_params_max_relative_error"].items()})
    print(f"{'EQUAL' if result['equal'] else 'DIFFERENT'} to relative {TOLERANCE:g} after {args.steps} steps -> {path}")
    return 0 if result["equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
