"""Sampler math on hand-worked cases (docs/drats.md), and jit/vmap/scan compatibility."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from drats_jax.config import SamplerConfig
from drats_jax.samplers import make_sampler
from drats_jax.samplers import stats as S
from drats_jax.samplers.drats import mirror_step, project_floor
from drats_jax.samplers import learning_progress


def _stats_with(window_means, *, success=None, prev=None, episodes=1, env_steps=None, w=50):
    """TaskStats whose window holds `episodes` episodes of mean return window_means[i]."""
    n = len(window_means)
    st = S.init_stats(n, w)
    ep = jnp.full((n,), episodes, jnp.int32)
    st = st.replace(window_episodes=ep, window_return_sum=jnp.asarray(window_means, jnp.float32) * ep,
                    max_return=jnp.asarray(window_means, jnp.float32),
                    min_return=jnp.asarray(window_means, jnp.float32))
    if success is not None:  # success rate per task, over a full ring
        k = (np.asarray(success) * w).round().astype(int)
        ring = np.arange(w)[None, :] < k[:, None]
        st = st.replace(success_ring=jnp.asarray(ring), success_filled=jnp.full((n,), w, jnp.int32))
    if prev is not None:
        st = st.replace(prev_window_mean=jnp.asarray(prev, jnp.float32))
    if env_steps is not None:
        st = st.replace(env_steps=jnp.asarray(env_steps, jnp.int32))
    return st


# ---------------------------------------------------------------- KL floor projection


def test_floor_binds_single_round():
    # One entry above the floor: the three small ones are fixed at eps, the big one takes the rest.
    q = project_floor(jnp.array([0.97, 0.01, 0.01, 0.01]), 0.05)
    np.testing.assert_allclose(q, [0.85, 0.05, 0.05, 0.05], rtol=1e-6)


def test_floor_cascades_over_rounds():
    # Round 1 fixes 0.1 and 0.05; rescaling [0.6, 0.25] to the remaining 0.52 gives
    # 0.153 < 0.24, fixed in round 2; round 3 gives the last entry 1 - 3 * 0.24.
    q = project_floor(jnp.array([0.6, 0.25, 0.1, 0.05]), 0.24)
    np.testing.assert_allclose(q, [0.28, 0.24, 0.24, 0.24], rtol=1e-6)


def test_floor_keeps_feasible_and_rescales_ratios():
    z = jnp.array([0.4, 0.3, 0.2, 0.1])
    np.testing.assert_allclose(project_floor(z, 0.1), z, rtol=1e-6)
    # Unnormalised input: free entries keep their ratios.
    q = project_floor(jnp.array([8.0, 4.0, 0.0]), 0.1)
    np.testing.assert_allclose(q, [0.6, 0.3, 0.1], rtol=1e-6)


def test_floor_respected_on_random_inputs_and_under_vmap():
    n, eps = 10, 0.025
    z = jax.random.dirichlet(jax.random.PRNGKey(0), jnp.full((n,), 0.2), (256,))
    q = jax.jit(jax.vmap(lambda v: project_floor(v, eps)))(z)
    assert np.all(np.asarray(q) >= eps - 1e-7)
    np.testing.assert_allclose(np.sum(q, axis=1), 1.0, rtol=1e-5)
    # Entries above the floor keep their relative sizes (KL projection = rescaling).
    qi, zi = np.asarray(q[0]), np.asarray(z[0])
    free = qi > eps + 1e-6
    np.testing.assert_allclose(qi[free] / qi[free].sum(), zi[free] / zi[free].sum(), rtol=1e-4)


def test_mirror_step_alpha_zero_leaves_q_unchanged():
    q = jnp.array([0.5, 0.3, 0.15, 0.05])
    out = mirror_step(q, jnp.array([1.0, 0.0, 2.0, -1.0]), eta=8.0, alpha=0.0, eps=0.05)
    np.testing.assert_allclose(out, q, rtol=1e-6)


def test_mirror_step_moves_mass_toward_larger_gaps():
    # From uniform: log q' = log p0 + alpha * eta * g, so q' = softmax(alpha * eta * g).
    g = jnp.array([0.0, 0.5, 1.0])
    out = mirror_step(jnp.full((3,), 1 / 3), g, eta=8.0, alpha=0.0625, eps=0.0)
    expect = np.exp(0.5 * np.array([0.0, 0.5, 1.0]))
    np.testing.assert_allclose(out, expect / expect.sum(), rtol=1e-6)
    assert out[2] > out[1] > out[0]


def test_mirror_step_alpha_one_is_target_and_floor_binds():
    q = jnp.array([0.7, 0.2, 0.1])
    g = jnp.array([0.0, 0.0, 1.0])
    out = mirror_step(q, g, eta=8.0, alpha=1.0, eps=0.0)  # q* ∝ exp(8 g)
    e8 = np.exp(8.0)
    np.testing.assert_allclose(out, np.array([1, 1, e8]) / (2 + e8), rtol=1e-5)
    floored = mirror_step(q, g, eta=8.0, alpha=1.0, eps=0.05)
    np.testing.assert_allclose(floored, [0.05, 0.05, 0.9], rtol=1e-5)


# ---------------------------------------------------------------- statistics / targets


def test_record_episodes_ring_and_window():
    st = S.init_stats(2, success_window=3)
    task = jnp.array([0, 0, 1, 0], jnp.int32)
    # Four slots, three finish task 0 in the same step (one also task 1): distinct ring slots.
    st = S.record_episodes(st, task, jnp.array([True, True, True, True]), jnp.array([1.0, 2.0, 3.0, 6.0]),
                           jnp.array([True, False, True, True]))
    np.testing.assert_array_equal(st.window_episodes, [3, 1])
    np.testing.assert_allclose(S.window_mean(st), [3.0, 3.0])
    np.testing.assert_array_equal(st.success_ring[0], [True, False, True])
    np.testing.assert_allclose(S.success_rate(st), [2 / 3, 1.0])
    # Ring wraps: two more failures of task 0 overwrite the two oldest entries.
    st = S.record_episodes(st, task, jnp.array([True, True, False, False]), jnp.zeros(4), jnp.zeros(4, bool))
    np.testing.assert_array_equal(st.success_ring[0], [False, False, True])
    np.testing.assert_allclose(st.max_return, [6.0, 3.0])
    st = S.end_window(st)
    np.testing.assert_array_equal(st.window_episodes, [0, 0])
    np.testing.assert_allclose(st.prev_window_mean, [9 / 5, 3.0])


def test_metaworld_target_switches_to_max_return_after_success():
    st = _stats_with([1000.0, 1000.0], success=[0.4, 0.6])
    st = st.replace(max_return=jnp.array([4000.0, 2000.0]))
    st, gap = S.metaworld_gap(st, 5000.0, 0.5)
    # Task 0: R_ref = 5000 -> 0.8; task 1 switched: R_ref = 2000 -> 0.5.
    np.testing.assert_allclose(gap, [0.8, 0.5], rtol=1e-6)
    np.testing.assert_array_equal(st.ref_switched, [False, True])
    # No finished episode in the window: R̄ = 0, gap 1.
    _, gap = S.metaworld_gap(S.init_stats(2), 5000.0, 0.5)
    np.testing.assert_allclose(gap, [1.0, 1.0])


def test_minmax_target():
    st = _stats_with([5.0, 10.0]).replace(max_return=jnp.array([10.0, 10.0]), min_return=jnp.array([0.0, 10.0]))
    _, gap = S.minmax_gap(st, 0.0, 0.0)
    np.testing.assert_allclose(gap, [0.5, 1.0])  # task 1: empty range -> 1


# ---------------------------------------------------------------- the samplers


def test_drats_update_prefers_large_gap():
    sampler = make_sampler(SamplerConfig(name="drats"), 4)
    state = sampler.init()
    st = _stats_with([4000.0, 3000.0, 1000.0, 0.0])
    state, _ = sampler.update(state, st)
    q = np.asarray(sampler.probabilities(state))
    assert q[3] > q[2] > q[1] > q[0]
    # Repeated with fixed gaps: converges to q* ∝ exp(8 g) with the floor binding on the
    # two easy tasks and the free tasks in the ratio of q*: exp(8 * (1.0 - 0.8)).
    state = jax.jit(lambda s: jax.lax.fori_loop(0, 300, lambda _, x: sampler.update(x, st)[0], s))(state)
    q = np.asarray(sampler.probabilities(state))
    r = np.exp(8 * 0.2)
    np.testing.assert_allclose(q, [1 / 16, 1 / 16, 0.875 / (1 + r), 0.875 * r / (1 + r)], rtol=1e-4)
    assert abs(q.sum() - 1) < 1e-6


def test_uniform_stays_uniform():
    sampler = make_sampler(SamplerConfig(name="uniform"), 5)
    state = sampler.init()
    st = _stats_with([0.0, 100.0, 4000.0, 5000.0, 1.0], success=[0, 0, 1, 1, 0])
    for _ in range(5):
        state, st = sampler.update(state, st)
    np.testing.assert_array_equal(sampler.probabilities(state), np.full(5, 0.2, np.float32))


# Learning Progress, hand-worked: N = 4, eps 0.05, eta 8, lr 0.5 (alpha 1/16). Window means
# [3000, 500, 200, 100] after [1000, 400, 200, 100]: |change| [2000, 100, 0, 0], scores
# s = |change| / 2000.01. From uniform q, the mirror step is q' ∝ exp(alpha eta s) = exp(0.5 s):
# [0.35274, 0.21936, 0.21395, 0.21395]. Task 0 (success 1.0 over its 50 episodes) is solved.
_LP_STEPPED = [0.3527398, 0.21936413, 0.21394804, 0.21394804]


def _lp_case(rule: str, success=(1.0, 0.2, 0.0, 0.0)):
    sampler = make_sampler(SamplerConfig(name="learning_progress", eps=0.05, lp_solved=rule), 4)
    st = _stats_with([3000.0, 500.0, 200.0, 100.0], prev=[1000.0, 400.0, 200.0, 100.0], success=list(success))
    return np.asarray(sampler.update(sampler.init(), st)[0].q)


def test_learning_progress_project_rule_is_the_authors_sampler_module():
    # Solved task set to eps, the rest kept: z = [0.05, 0.21936, 0.21395, 0.21395] (sum 0.69726),
    # projected: every entry is above eps, so q = z / 0.69726: the solved task ends above eps.
    q = _lp_case("project")
    np.testing.assert_allclose(q, [0.07170924, 0.31460871, 0.30684103, 0.30684103], rtol=1e-5)
    # Not solved: the plain step.
    np.testing.assert_allclose(_lp_case("project", success=(0.0, 0.2, 0.0, 0.0)), _LP_STEPPED, rtol=1e-5)


def test_learning_progress_pin_rule_is_the_authors_metaworld_trainer():
    # Solved task set to 0, projected: it is held at exactly eps and the others share 0.95.
    q = _lp_case("pin")
    np.testing.assert_allclose(q, [0.05, 0.32196622, 0.31401689, 0.31401689], rtol=1e-5)


def test_learning_progress_mt10_example_of_the_two_rules():
    """MT10, eps 0.025, nine tasks solved and the one unsolved holding q' = 0.2958 after the
    step: pinned, the nine get 0.025 and it 0.775; projected (the authors' module), the nine
    get 0.025 / (9 x 0.025 + 0.2958) = 0.048 and it 0.568."""
    n, eps = 10, 0.025
    q = jnp.full((n,), (1 - 0.2958) / 9).at[9].set(0.2958)
    st = _stats_with([100.0] * n, prev=[100.0] * n, success=[1.0] * 9 + [0.0])
    for rule, solved, unsolved in (("project", 0.025 / (0.225 + 0.2958), 0.2958 / 0.5208), ("pin", eps, 0.775)):
        # alpha 0: the step leaves q as it is (q' = q)
        out = learning_progress.update(learning_progress.ProbState(q=q), st, eta=8.0, alpha=0.0, eps=eps,
                                       solved_rule=rule)[0].q
        np.testing.assert_allclose(out[:9], solved, rtol=1e-4)
        np.testing.assert_allclose(out[9], unsolved, rtol=1e-4)


def test_learning_progress_solved_needs_a_full_success_window():
    """1 success in 1 episode is no "solved" task: the authors count a rate once the task has 50
    episodes; success_full_window=False counts it from the first episode."""
    st = _stats_with([3000.0, 500.0, 200.0, 100.0], prev=[1000.0, 400.0, 200.0, 100.0])
    st = st.replace(success_ring=st.success_ring.at[0, 0].set(True), success_filled=jnp.array([1, 0, 0, 0]))
    for full, expected in ((True, _LP_STEPPED), (False, [0.07170924, 0.31460871, 0.30684103, 0.30684103])):
        sampler = make_sampler(SamplerConfig(name="learning_progress", eps=0.05, success_full_window=full), 4)
        np.testing.assert_allclose(sampler.update(sampler.init(), st)[0].q, expected, rtol=1e-5)


def test_learning_progress_every_task_solved_is_uniform():
    for rule in ("project", "pin"):
        np.testing.assert_allclose(_lp_case(rule, success=(1.0, 1.0, 1.0, 1.0)), 0.25, rtol=1e-6)


def _smt(**kw):
    cfg = SamplerConfig(name="smt", smt_num_active=2, smt_kappa=0.8, smt_min_prob=0.025,
                        smt_low_threshold=2000.0, smt_high_threshold=3500.0, **kw)
    return make_sampler(cfg, 4, total_env_steps=1_000_000)


def test_smt_active_set_evicts_solved_task():
    sampler = _smt()
    state = sampler.init()
    np.testing.assert_array_equal(state.active, [True, True, False, False])
    np.testing.assert_allclose(state.q, [0.4, 0.4, 0.1, 0.1], rtol=1e-6)
    # Task 0 solved (4000 > 3500): leaves; the lowest-return pool task (3, return 50) enters.
    st = _stats_with([4000.0, 100.0, 500.0, 50.0], env_steps=[1000, 1000, 10, 10])
    state, _ = sampler.update(state, st)
    np.testing.assert_array_equal(state.active, [False, True, False, True])
    np.testing.assert_array_equal(state.unsolvable, [False] * 4)
    np.testing.assert_allclose(state.q, [0.1, 0.4, 0.1, 0.4], rtol=1e-6)


def test_smt_budget_spent_below_low_threshold_is_unsolvable_and_stage2():
    sampler = _smt(smt_task_budget=100)
    state = sampler.init()
    st = _stats_with([100.0, 2500.0, 500.0, 50.0], env_steps=[150, 150, 0, 0])
    state, _ = sampler.update(state, st)
    # Both active tasks spent their budget: task 0 (100 < 2000) -> unsolvable, task 1 -> pool.
    np.testing.assert_array_equal(state.unsolvable, [True, False, False, False])
    np.testing.assert_array_equal(state.active, [False, False, True, True])
    # Past 85% of the budget: the active set becomes the unsolvable set.
    st = _stats_with([100.0, 2500.0, 500.0, 50.0], env_steps=[500_000, 400_000, 50, 50])
    state, _ = sampler.update(state, st)
    assert bool(state.stage2)
    np.testing.assert_array_equal(state.active, [True, False, False, False])
    np.testing.assert_allclose(state.q, [0.8, 0.2 / 3, 0.2 / 3, 0.2 / 3], rtol=1e-5)


def test_smt_on_mt50_is_not_uniform_and_follows_its_stages():
    """The floor used to be 0.025 capped at 1/N = 0.02 on MT50: every task at 1/N, uniform for the
    whole run. Now 1/(4N) = 0.005: K = 8 active tasks share 0.8, the 42 others 0.2, which the
    floor lifts to 0.005 each (0.2 / 42 < 0.005), the active ones keeping (1 - 0.21) / 8."""
    n = 50
    sampler = make_sampler(SamplerConfig(name="smt"), n, total_env_steps=1_000_000)
    state = sampler.init()
    active = np.arange(n) < 8
    np.testing.assert_allclose(state.q, np.where(active, 0.79 / 8, 0.005), rtol=1e-5)
    # Stage 1: task 0 solved (4000 > 3500) leaves; the lowest-return pool task (49) enters.
    ret = np.full(n, 1000.0)
    ret[0], ret[49] = 4000.0, 10.0
    state, _ = sampler.update(state, _stats_with(list(ret), env_steps=[1000] * n))
    assert not state.active[0] and state.active[49] and int(np.sum(state.active)) == 8
    # Task 1 spends its budget (stage 1 = 850k env steps, 17k per task) below 2000: unsolvable.
    steps = np.full(n, 1000)
    steps[1] = 20_000
    state, _ = sampler.update(state, _stats_with(list(ret), env_steps=list(steps)))
    assert bool(state.unsolvable[1]) and not state.active[1]
    # Stage 2 (85% of the 1M budget spent, by the inactive tasks: the active ones keep their
    # budgets): the active set becomes the unsolvable set, {1}.
    steps = np.where(np.asarray(state.active), 1000, 20_100)
    state, _ = sampler.update(state, _stats_with(list(ret), env_steps=list(steps)))
    assert bool(state.stage2)
    np.testing.assert_array_equal(state.active, np.arange(n) == 1)
    # 0.2 / 49 < 0.005: the floor lifts the others to 0.005 and task 1 keeps 1 - 49 x 0.005.
    np.testing.assert_allclose(state.q, np.where(np.arange(n) == 1, 1 - 49 * 0.005, 0.005), rtol=1e-5)


def test_smt_floor_at_or_above_one_over_n_is_refused():
    with pytest.raises(ValueError, match="smt_min_prob=0.025 must be below 1/N = 0.02"):
        make_sampler(SamplerConfig(name="smt", smt_min_prob=0.025), 50, total_env_steps=1_000_000)


@pytest.mark.parametrize("name", ["drats", "uniform", "learning_progress", "smt"])
def test_samplers_run_under_jit_vmap_scan(name):
    n = 5
    sampler = make_sampler(SamplerConfig(name=name, smt_low_threshold=1.0, smt_high_threshold=3.0), n,
                           total_env_steps=1000)

    def run(key):
        def body(carry, k):
            state, st = carry
            ret = jax.random.uniform(k, (n,), maxval=4.0)
            st = st.replace(window_episodes=jnp.ones((n,), jnp.int32), window_return_sum=ret,
                            env_steps=st.env_steps + 50)
            state, st = sampler.update(state, st)
            return (state, S.end_window(st)), sampler.probabilities(state)

        carry = (sampler.init(), S.init_stats(n))
        return jax.lax.scan(body, carry, jax.random.split(key, 6))[1]

    qs = np.asarray(jax.jit(jax.vmap(run))(jax.random.split(jax.random.PRNGKey(1), 3)))
    assert qs.shape == (3, 6, n) and np.all(np.isfinite(qs))
    np.testing.assert_allclose(qs.sum(-1), 1.0, rtol=1e-5)
    assert qs.min() >= min(0.025, 1 / (4 * n)) - 1e-6
