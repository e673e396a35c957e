"""Multi-task PPO: GAE with truncation bootstrapping, advantage normalisation, the clipped
loss and target-KL stop, learning on the point-mass env, seed-vmap determinism, and a
SIGKILLed CLI run resumed to exactly the uninterrupted run's logs."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from drats_jax.agents.ppo import Batch, make_ppo
from drats_jax.agents.ppo.losses import clipped_surrogate, gae, normalize_advantages
from drats_jax.config import PPOConfig, SamplerConfig, TrainConfig
from drats_jax.logger import read_rows
from drats_jax.train import make_train
from tests.pointmass import PointMass
from tests.seed_runs import assert_seeds_match, single_and_vmapped

REPO = pathlib.Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------- advantages


def _gae_reference(reward, value, next_value, terminal, truncation, gamma, lam):
    """A_t = sum_{k=t}^{end} (gamma lam)^(k-t) delta_k, end = the episode's last step in the
    rollout; written as explicit sums (not the recursion under test)."""
    t_len, e_len = reward.shape
    adv = np.zeros((t_len, e_len))
    delta = reward + gamma * (1.0 - terminal) * next_value - value
    for e in range(e_len):
        for t in range(t_len):
            k = t
            while True:
                adv[t, e] += (gamma * lam) ** (k - t) * delta[k, e]
                if terminal[k, e] or truncation[k, e] or k == t_len - 1:
                    break
                k += 1
    return adv, adv + value


def test_gae_matches_reference_and_bootstraps_from_the_true_final_observation():
    rng = np.random.default_rng(0)
    t_len, e_len, gamma, lam = 7, 3, 0.9, 0.8
    reward = rng.normal(size=(t_len, e_len))
    value = rng.normal(size=(t_len, e_len))
    next_value = np.roll(value, -1, axis=0)  # V(next_obs_t) = V(obs_{t+1}) inside an episode
    next_value[-1] = rng.normal(size=e_len)  # the rollout's last step: V of the next observation
    terminal = np.zeros((t_len, e_len), bool)
    truncation = np.zeros((t_len, e_len), bool)
    truncation[2, 0] = True  # slot 0: time limit at t = 2, next row is a fresh episode
    next_value[2, 0] = 5.0  # V(final obs) differs from V(obs of the reset, value[3, 0])
    terminal[4, 1] = True  # slot 1: true terminal at t = 4 (V(next) must not count)
    next_value[4, 1] = 100.0
    truncation[1, 2], terminal[5, 2] = True, True  # slot 2: both kinds
    next_value[1, 2] = -3.0
    args = (reward, value, next_value, terminal, truncation)
    adv, ret = gae(*(jnp.asarray(x, jnp.float32 if x.dtype != bool else bool) for x in args), gamma, lam)
    ref_adv, ref_ret = _gae_reference(*args, gamma, lam)
    np.testing.assert_allclose(adv, ref_adv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ret, ref_ret, rtol=1e-5, atol=1e-5)
    # The truncated step's advantage is its one-step TD error bootstrapped from V(final obs) ...
    np.testing.assert_allclose(adv[2, 0], reward[2, 0] + gamma * 5.0 - value[2, 0], rtol=1e-5)
    assert abs(next_value[2, 0] - value[3, 0]) > 1.0  # ... not from the next row's (reset) obs
    # ... the terminal's ignores V(next) and the last step bootstraps from V(next_obs).
    np.testing.assert_allclose(adv[4, 1], reward[4, 1] - value[4, 1], rtol=1e-5)
    np.testing.assert_allclose(adv[-1], reward[-1] + gamma * next_value[-1] - value[-1], rtol=1e-5, atol=1e-6)


def test_advantage_normalisation_modes():
    rng = np.random.default_rng(1)
    task = np.array([0] * 30 + [1] * 12 + [3])  # task 2 absent, task 3 has one sample
    adv = jnp.asarray(rng.normal(size=task.size) * np.array([1.0, 5.0, 0.0, 2.0])[task] + 3.0 * task, jnp.float32)
    task_j = jnp.asarray(task, jnp.int32).reshape(43)
    out = np.asarray(normalize_advantages(adv, task_j, 4, "per_task"))
    assert np.all(np.isfinite(out))
    for k in (0, 1):
        assert abs(out[task == k].mean()) < 1e-5 and abs(out[task == k].std() - 1.0) < 1e-4
    assert out[task == 3] == 0.0  # one sample: centred, std guarded
    # shapes are kept ([T, E] in, [T, E] out)
    out2 = normalize_advantages(adv[:42].reshape(6, 7), task_j[:42].reshape(6, 7), 4, "per_task")
    assert out2.shape == (6, 7)
    batch = np.asarray(normalize_advantages(adv, task_j, 4, "batch"))
    assert abs(batch.mean()) < 1e-5 and abs(batch.std() - 1.0) < 1e-4
    np.testing.assert_array_equal(normalize_advantages(adv, task_j, 4, "none"), adv)


# ---------------------------------------------------------------------- losses, KL stop


def test_clipped_surrogate_on_crafted_ratios():
    ratio = np.array([1.1, 1.5, 1.5, 0.5, 0.5])
    adv = np.array([2.0, 1.0, -1.0, 1.0, -1.0])
    # min(r A, clip(r) A): inside the range; clipped at 1.2 (A > 0); unclipped (A < 0, the
    # pessimistic side); unclipped (r < 0.8, A > 0); clipped at 0.8 (A < 0).
    expected = -np.mean([2.2, 1.2, -1.5, 0.5, -0.8])
    old = np.array([0.3, -1.0, 0.0, 2.0, -0.5])
    loss, info = clipped_surrogate(jnp.asarray(old + np.log(ratio), jnp.float32), jnp.asarray(old, jnp.float32),
                                   jnp.asarray(adv, jnp.float32), 0.2)
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    np.testing.assert_allclose(info["clip_frac"], 0.8)
    np.testing.assert_allclose(info["approx_kl"], np.mean((ratio - 1) - np.log(ratio)), rtol=1e-4)


def _agent_and_rollout(target_kl, **kw):
    cfg = PPOConfig(hidden_width=16, hidden_depth=1, lr=1e-2, num_epochs=3, num_minibatches=4, target_kl=target_kl,
                    **kw)
    agent = make_ppo(cfg, num_tasks=3, obs_size=4, action_size=2)
    ks = jax.random.split(jax.random.PRNGKey(0), 5)
    b = 64
    obs = jax.random.normal(ks[0], (b, 4))
    task = jnp.arange(b, dtype=jnp.int32) % 3
    state = agent.init(ks[1])
    u, logp = agent.sample(state, obs, task, ks[2])
    batch = Batch(obs=obs, task_id=task, action=u, log_prob=logp, advantage=jax.random.normal(ks[3], (b,)),
                  returns=jax.random.normal(ks[4], (b,)))
    return agent, state, batch


def test_target_kl_stops_the_rollout_updates():
    agent, state, batch = _agent_and_rollout(target_kl=1e-7)
    new, m = jax.jit(agent.update)(state, batch, jax.random.PRNGKey(1))
    # The first minibatch starts from the rollout's policy (KL ~ 0) and steps; the second
    # measures the KL of that step, which is past 1e-7: it and everything after make none.
    assert int(m["updates"]) == 1 and bool(m["kl_stopped"])
    assert m["approx_kl"] > 1e-7
    assert not np.array_equal(new.actor_params["params"]["MLP_0"]["Dense_0"]["kernel"],
                              state.actor_params["params"]["MLP_0"]["Dense_0"]["kernel"])
    assert int(new.actor_opt[1][0].count) == 1  # Adam stepped once (chain(clip, adam))
    agent, state, batch = _agent_and_rollout(target_kl=None)
    _, m = jax.jit(agent.update)(state, batch, jax.random.PRNGKey(1))
    assert int(m["updates"]) == 3 * 4 and not bool(m["kl_stopped"])
    assert all(np.isfinite(m[k]) for k in ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_frac"))
    for mode in ("batch", "none"):  # the other advantage normalisations run end to end
        agent, state, batch = _agent_and_rollout(target_kl=None, advantage_norm=mode)
        _, m = jax.jit(agent.update)(state, batch, jax.random.PRNGKey(1))
        assert int(m["updates"]) == 12 and np.isfinite(m["policy_loss"])


def test_actions_are_clipped_gaussian_samples():
    agent, state, batch = _agent_and_rollout(None)
    a = agent.act(state, batch.obs, batch.task_id, jax.random.PRNGKey(2))
    assert np.all(np.abs(a) <= 1.0) and np.any(np.abs(a) == 1.0)  # std ~1 at init: some clipped
    mean, _ = agent.actor.apply(state.actor_params, batch.obs, batch.task_id)
    np.testing.assert_array_equal(agent.act(state, batch.obs, batch.task_id, None, deterministic=True),
                                  jnp.clip(mean, -1, 1))


def test_multi_head_reads_the_tasks_slice():
    agent, state, batch = _agent_and_rollout(None)  # 3 tasks, 2 actions: heads of 2 x 2 units
    head = state.actor_params["params"]["MLP_0"]["Dense_1"]
    assert head["kernel"].shape == (16, 3 * 4)
    zeroed = {"kernel": head["kernel"].at[:, 4:8].set(0.0), "bias": head["bias"].at[4:8].set(0.0)}
    params = {"params": {"MLP_0": {**state.actor_params["params"]["MLP_0"], "Dense_1": zeroed}}}
    mean, log_std = agent.actor.apply(params, batch.obs, batch.task_id)
    mean0, log_std0 = agent.actor.apply(state.actor_params, batch.obs, batch.task_id)
    task1 = np.asarray(batch.task_id) == 1
    assert np.all(mean[task1] == 0.0) and np.all(log_std[task1] == 0.0)  # task 1 reads units 4..7
    np.testing.assert_array_equal(mean[~task1], mean0[~task1])
    np.testing.assert_array_equal(log_std[~task1], log_std0[~task1])
    value = agent.value(state, batch.obs, batch.task_id)
    assert value.shape == (64,) and state.critic_params["params"]["MLP_0"]["Dense_1"]["kernel"].shape == (16, 3)
    shared, shared_state, _ = _agent_and_rollout(None, multi_head=False)
    assert shared_state.actor_params["params"]["MLP_0"]["Dense_1"]["kernel"].shape == (16, 4)
    assert shared.value(shared_state, batch.obs, batch.task_id).shape == (64,)


# ---------------------------------------------------------------------- the loop


def test_ppo_learns_the_easy_pointmass_tasks():
    """Seeds 0..2 vmapped: 30 rollouts of 32 slots x one 50-step episode. The first rollout
    is the initial, near-random policy (N(~0, 1) clipped): about 45-90 and 5-50 return on
    the two easy tasks; after training about 360-390 and 280-330 (holding the goal gives
    about 400-450)."""
    e, rollouts = 32, 30
    cfg = TrainConfig(algo="ppo", num_envs=e, total_env_steps=e * 50 * rollouts,
                      sampler=SamplerConfig(name="uniform", interval=e * 50, initial_ref_return=500.0),
                      ppo=PPOConfig(hidden_width=64, hidden_depth=2, num_epochs=8, num_minibatches=4, lr=3e-3,
                                    entropy_coef=0.0))
    trainer = make_train(cfg, PointMass())
    assert trainer.chunk_length == 50 and trainer.num_chunks == rollouts and trainer.warmup_steps == 0
    keys = jax.vmap(jax.random.PRNGKey)(jnp.arange(3))
    state, m = jax.device_get(jax.jit(jax.vmap(trainer))(keys))
    ret = m["episode_return"]  # [seed, rollout, task]
    random_return = ret[:, 0, :2]
    final = np.nanmean(ret[:, -3:, :2], axis=1)
    assert np.all(np.isfinite(random_return)), random_return
    assert np.all(final > 3 * random_return) and np.all(final > 200.0), (final, random_return)
    np.testing.assert_array_equal(state.grad_steps, m["updates"].sum(axis=1))
    assert np.all(m["updates"] >= 1) and np.all(m["updates"] <= 32)
    np.testing.assert_array_equal(m["q"], np.full((3, rollouts, 4), 0.25, np.float32))
    for name, first_bad in m["health"].items():
        assert np.all(first_bad == -1), name


def test_vmapped_seeds_equal_single_seed_runs():
    """As tests/test_train.py's SAC test: to float tolerance against single runs (AVX2 CPUs
    accumulate batched matmuls in another order), bit-identical for the same program. With
    a random-action warm-up and the default target KL."""
    env = PointMass(episode_length=20)
    cfg = TrainConfig(algo="ppo", num_envs=4, total_env_steps=40 + 3 * 80, warmup_env_steps=40,
                      sampler=SamplerConfig(interval=80, initial_ref_return=200.0),
                      ppo=PPOConfig(hidden_width=16, hidden_depth=2, num_epochs=2, num_minibatches=4))
    trainer = make_train(cfg, env)
    assert (trainer.warmup_steps, trainer.chunk_length, trainer.num_chunks) == (10, 20, 3)
    keys = jax.random.split(jax.random.PRNGKey(7), 2)
    runs, both = single_and_vmapped(trainer, keys)
    assert int(runs[0][0].step) == 10 + 3 * 20
    assert_seeds_match(runs, both)
    assert not np.array_equal(runs[0][0].agent.actor_params["params"]["MLP_0"]["Dense_0"]["kernel"],
                              runs[1][0].agent.actor_params["params"]["MLP_0"]["Dense_0"]["kernel"])


# ---------------------------------------------------------------------- CLI resume

# Rollouts of one sampler window: interval 100 is rounded up to one 500-step episode of 2
# slots = 1,000 env steps; 4 rollouts, evaluated every rollout, checkpointed every 2.
ARGS = ["--algo", "ppo", "--tasks", "reach-v3,push-v3", "--train.num-envs", "2", "--total-steps", "4000",
        "--train.warmup-env-steps", "0", "--train.ppo.hidden-width", "16", "--train.ppo.hidden-depth", "1",
        "--train.ppo.num-epochs", "2", "--train.ppo.num-minibatches", "4", "--train.sampler.interval", "100",
        "--eval-episodes", "2", "--eval-interval", "1000", "--checkpoint-interval", "2000", "--no-progress"]


def _cli(*args):
    return [sys.executable, "-m", "drats_jax.train", *args]


def test_sigkill_and_resume_equals_uninterrupted_run(tmp_path):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    ref, run = tmp_path / "ref", tmp_path / "run"
    full = subprocess.Popen(_cli(*ARGS, "--out", str(ref)), cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    # SIGKILL at 3,000 env steps: after the checkpoint at 2,000, so the train log runs ahead
    # of it and resuming must drop and redo that row (and the evaluation at 3,000).
    kill = dict(env, DRATS_JAX_TEST_SIGNAL_AT="SIGKILL:3000")
    proc = subprocess.run(_cli(*ARGS, "--out", str(run)), cwd=REPO, env=kill, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, timeout=240)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    assert (run / "checkpoints" / "2000").is_dir() and not (run / "checkpoints" / "3000").exists()
    assert not (run / "summary.json").exists()
    assert max(r["env_steps"] for r in read_rows(run / "train.jsonl")) == 3000

    resumed = subprocess.run(_cli("--resume", str(run), "--no-progress"), cwd=REPO, env=env, capture_output=True,
                             text=True, timeout=240)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed" in resumed.stdout
    assert full.wait(timeout=240) == 0, full.stderr.read().decode()[-2000:]

    a = {s: read_rows(ref / f"{s}.jsonl") for s in ("train", "eval")}
    b = {s: read_rows(run / f"{s}.jsonl") for s in ("train", "eval")}
    assert [r["env_steps"] for r in a["train"]] == [1000, 2000, 3000, 4000]
    assert len(a["eval"]) == 4 and a == b  # value for value, every row of both streams
    assert all(r["grad_steps"] > 0 and "approx_kl" in r for r in a["train"])
    for name in ("train.jsonl", "eval.jsonl", "train.csv", "eval.csv"):
        assert (ref / name).read_bytes() == (run / name).read_bytes(), name

    # SIGTERM while the rollout that starts at 1,000 env steps runs: the state it started from is
    # saved at once (no wait for the rollout and its epochs), the process exits 0 without waiting
    # for the abandoned chunk, and the resumed run ends exactly as the uninterrupted one.
    term = tmp_path / "term"
    stopped = subprocess.run(_cli(*ARGS, "--out", str(term)), cwd=REPO, capture_output=True, text=True,
                             env=dict(env, DRATS_JAX_TEST_SIGNAL_AT="SIGTERM:1000:mid"), timeout=240)
    assert stopped.returncode == 0, stopped.stderr[-2000:]
    assert "checkpoint at 1,000 env steps saved" in stopped.stdout, stopped.stdout[-2000:]
    assert "stopped by SIGTERM at 1,000 env steps" in stopped.stdout
    assert (term / "checkpoints" / "1000").is_dir() and not (term / "checkpoints" / "2000").exists()
    # As if a kill had come during the evaluation that follows a checkpoint (saving comes first):
    # the resumed run evaluates at 1,000 before it goes on.
    evals = read_rows(term / "eval.jsonl")
    (term / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in evals if r["env_steps"] != 1000))
    resumed = subprocess.run(_cli("--resume", str(term), "--no-progress"), cwd=REPO, env=env, capture_output=True,
                             text=True, timeout=240)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert {s: read_rows(term / f"{s}.jsonl") for s in ("train", "eval")} == a


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
