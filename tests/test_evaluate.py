"""Evaluation protocol on the point-mass env: deterministic actions, success at any step,
terminate on success, goal k % num_goals, per-task means; the full-length return of the same
episodes (every step until done); equal to a plain Python loop."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from drats_jax import evaluate as ev
from drats_jax.agents import make_train
from drats_jax.agents.sac import make_sac
from drats_jax.config import SACConfig, TrainConfig
from tests.pointmass import PointMass


class GoTo:
    """Scripted agent: heads to the goal when cos(goal angle) > 0.1, else stands still."""

    def act(self, agent_state, obs, task_id, rng, deterministic=False):
        assert deterministic
        pos, goal = obs[:, :2], obs[:, 2:]
        go = (goal[:, :1] > 0.1 * jnp.linalg.norm(goal, axis=1, keepdims=True))
        return jnp.where(go, jnp.clip((goal - pos) / 0.1, -1.0, 1.0), 0.0)


def _reference(env, agent, episodes):
    """One episode at a time in Python, MetaWorld's evaluation loop; the episode then goes on
    to its done for the full-length return."""
    shape = (env.num_tasks, episodes)
    success, returns, full = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    reset, step = jax.jit(env.reset), jax.jit(lambda s: env.step(s, agent.act(None, s.obs[None], None, None, True)[0]))
    for t in range(env.num_tasks):
        for k in range(episodes):
            s, ended = reset(jax.random.PRNGKey(0), t, k % env.num_goals), False
            for _ in range(env.episode_length):
                s = step(s)
                full[t, k] += float(s.reward)
                if not ended:
                    returns[t, k] += float(s.reward)
                    if bool(s.info["success"]):
                        success[t, k], ended = 1, True
                if bool(s.done):
                    break
    return success.mean(1), returns.mean(1), full.mean(1)


def test_protocol_matches_python_loop_and_goal_cycling():
    env = PointMass(distances=(0.3, 1.8), episode_length=30, num_goals=8)
    agent = GoTo()
    out = jax.device_get(jax.jit(ev.make_evaluate(env, agent, episodes_per_task=10))(None))
    # goals 0..7, 0, 1 -> cos > 0.1 for goals 0, 1, 7 -> 5 of 10 episodes head to the goal
    np.testing.assert_allclose(out["success"], [0.5, 0.5])
    ref_success, ref_return, ref_full = _reference(env, agent, 10)
    np.testing.assert_allclose(out["success"], ref_success)
    np.testing.assert_allclose(out["return"], ref_return, rtol=1e-5)
    np.testing.assert_allclose(out["return_full"], ref_full, rtol=1e-5)
    # terminate on success: a successful near episode ends after 3 steps, not 30
    assert out["return"][0] < 0.5 * 30 * 10
    # the full return runs on to step 30: the 5 near successes sit on the goal (reward 10 x
    # exp(-5 d), d < 0.1) for the rest of their episode, so it is far above the protocol's
    assert np.all(out["return_full"] >= out["return"])  # rewards are >= 0
    assert out["return_full"][0] > 0.5 * 27 * 10 * np.exp(-0.5) > out["return"][0]


def test_full_return_is_the_sum_over_every_step():
    """A stand-still agent never succeeds on the far task: both returns are the sum of all
    30 rewards; on the near task (goal 0.3 away, reward 10 exp(-1.5) each step) too."""

    class Still:
        def act(self, agent_state, obs, task_id, rng, deterministic=False):
            return jnp.zeros((obs.shape[0], 2))

    env = PointMass(distances=(0.3, 1.8), episode_length=30, num_goals=8)
    out = jax.device_get(jax.jit(ev.make_evaluate(env, Still(), episodes_per_task=4))(None))
    expected = 30 * 10 * np.exp(-5 * np.array([0.3, 1.8]))
    np.testing.assert_allclose(out["return_full"], expected, rtol=1e-5)
    np.testing.assert_allclose(out["return"], expected, rtol=1e-5)
    np.testing.assert_array_equal(out["success"], [0.0, 0.0])


def test_summary_and_seed_vmap_of_sac_agent():
    env = PointMass(episode_length=20)
    sac = make_sac(SACConfig(hidden_width=16, hidden_depth=1, batch_size=8), env.num_tasks, 4, 2)
    states = jax.vmap(sac.init)(jax.random.split(jax.random.PRNGKey(0), 3))
    out = jax.device_get(jax.jit(jax.vmap(ev.make_evaluate(env, sac, 4)))(states))
    assert out["success"].shape == out["return"].shape == out["return_full"].shape == (3, 4)
    single = jax.device_get(jax.jit(ev.make_evaluate(env, sac, 4))(jax.tree.map(lambda x: x[1], states)))
    np.testing.assert_allclose(out["return"][1], single["return"], rtol=1e-6)
    np.testing.assert_allclose(out["return_full"][1], single["return_full"], rtol=1e-6)
    s = ev.summarize(out, ev.return_scale(env))
    assert ev.return_scale(env) == 200.0
    np.testing.assert_allclose(s["mean_success"], out["success"].mean(1))
    np.testing.assert_allclose(s["worst_success"], out["success"].min(1))
    np.testing.assert_allclose(s["normalized_return"], (out["return"] / 200.0).mean(1), rtol=1e-6)
    np.testing.assert_allclose(s["normalized_return_full"], (out["return_full"] / 200.0).mean(1), rtol=1e-6)
    assert "normalized_return_full" not in ev.summarize({k: out[k] for k in ("success", "return")}, 200.0)


def test_deterministic_action_is_tanh_of_mean():
    sac = make_sac(SACConfig(hidden_width=16, hidden_depth=1, batch_size=8), 2, 4, 2)
    st = sac.init(jax.random.PRNGKey(1))
    obs, task = jnp.ones((3, 4)), jnp.array([0, 1, 1])
    a1 = sac.act(st, obs, task, jax.random.PRNGKey(2), deterministic=True)
    a2 = sac.act(st, obs, task, jax.random.PRNGKey(3), deterministic=True)
    np.testing.assert_array_equal(a1, a2)
    from drats_jax.agents.sac.update import task_conditioned
    mean, _ = sac.actor.apply(st.actor_params, task_conditioned(obs, task, 2))
    np.testing.assert_allclose(a1, jnp.tanh(mean))


def test_block_padding_changes_nothing():
    """With env.block_size b (MJX backends), each task's episodes are padded to whole blocks
    of one task; the padding episodes are not counted."""
    agent = GoTo()
    plain = PointMass(distances=(0.3, 1.8), episode_length=30, num_goals=8)
    blocked = PointMass(distances=(0.3, 1.8), episode_length=30, num_goals=8)
    blocked.block_size = 4  # 10 episodes -> 12 slots per task
    a = jax.device_get(jax.jit(ev.make_evaluate(plain, agent, episodes_per_task=10))(None))
    b = jax.device_get(jax.jit(ev.make_evaluate(blocked, agent, episodes_per_task=10))(None))
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_task_subset_and_recording_change_no_number():
    """tasks=[...] evaluates those tasks only (as the whole evaluation does them); record=V
    also returns the first V episodes of each task step by step, with the protocol's goals,
    success and return, and the protocol's numbers unchanged."""
    env = PointMass(distances=(0.3, 0.6, 1.8), episode_length=30, num_goals=8)
    agent = GoTo()
    full = jax.device_get(jax.jit(ev.make_evaluate(env, agent, episodes_per_task=10))(None))
    sub = jax.device_get(jax.jit(ev.make_evaluate(env, agent, episodes_per_task=10, tasks=[2, 0], record=3))(None))
    rec = sub.pop("recorded")
    for k in full:
        np.testing.assert_array_equal(sub[k], full[k][[2, 0]])
    np.testing.assert_array_equal(rec["task"], [2, 2, 2, 0, 0, 0])
    np.testing.assert_array_equal(rec["goal"], [0, 1, 2, 0, 1, 2])
    state, shown = rec["state"], rec["shown"]
    assert shown.shape == (31, 6) and state.physics["pos"].shape == (31, 6, 2)
    # Goals 0 and 1 lie ahead (GoTo heads there and succeeds within 30 steps), goal 2 does not.
    np.testing.assert_array_equal(rec["success"], [True, True, False, True, True, False])
    hit = state.info["success"].astype(bool) & shown
    first = np.argmax(hit, axis=0)  # the step of each episode's first success
    np.testing.assert_array_equal(shown.sum(0), np.where(rec["success"], first + 1, 31))  # reset + steps to the end
    assert first[3] == 3 and first[0] > 10  # 0.3 away: 3 steps; 1.8 away: more than 10
    np.testing.assert_array_equal(state.physics["pos"][0], 0.0)  # row 0: the reset state
    np.testing.assert_allclose(rec["return"], (state.reward * shown)[1:].sum(0), rtol=1e-6)


@pytest.mark.parametrize("block", [1, 2])
def test_training_program_evaluates_the_protocol_and_changes_nothing_else(block):
    """A run evaluates in rounds of its E slots with its one steps program (trainer.evaluator):
    the same episodes, goals and per-task means as make_evaluate's one-shot program (here 5
    episodes x 2 tasks on 4 slots: 3 rounds, the last one partly padding; with blocks of 2,
    each task's 5 episodes padded to 6), and the training state comes back unchanged."""
    env = PointMass(distances=(0.3, 1.8), episode_length=30, num_goals=8)
    env.block_size = block
    cfg = TrainConfig(num_envs=4, total_env_steps=400, warmup_env_steps=100, chunk_length=20, buffer_capacity=400,
                      sac=SACConfig(hidden_width=16, hidden_depth=1, batch_size=8))
    trainer = make_train(cfg, env)
    init, warmup, chunk = trainer.jitted(2)
    state, _ = chunk(warmup(init(jax.random.split(jax.random.PRNGKey(0), 2)))[0])
    training = lambda s: jax.device_get(s.replace(alloc=s.alloc.replace(eval_slots=None)))  # noqa: E731
    before = training(state)
    evaluate = trainer.evaluator(5, 2)
    assert evaluate.rounds == 3
    state, got = evaluate(state)
    ref = jax.device_get(jax.jit(jax.vmap(ev.make_evaluate(env, trainer.agent, 5)))(state.agent))
    assert ref["return"].min() > 0  # the episodes ran
    for key in ("success", "return", "return_full"):  # the policy's batch differs (E rows vs N x k)
        np.testing.assert_allclose(np.asarray(got[key]), ref[key], rtol=1e-5, atol=1e-6, err_msg=key)
    chex.assert_trees_all_equal(training(state), before)
    state, again = evaluate(state)  # evaluating twice: the same numbers
    chex.assert_trees_all_equal(jax.device_get(again), jax.device_get(got))
