"""Every hyperparameter of a training run, with its default, as frozen dataclasses.

Validation happens in ``__post_init__`` (checks that need only the config) and in
:func:`validate_for_env` (every check that needs the env or the device mesh), which
``make_train`` calls before anything is traced, so a bad config fails with a clear
``ValueError`` instead of an XLA error after minutes of compiling.

Units: ``*_env_steps`` and ``sampler.interval`` count transitions summed over all env slots;
``chunk_length`` counts vector steps (one step of every slot = one scan iteration).
:func:`resolve` fills every ``None`` default from the env (N tasks, slots, episode length).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, get_args

import tyro

# Every choice is a Literal, so tyro lists it in --help; the tuples are the same values for code.
NetworkInit = Literal["reference", "lecun"]  # see drats_jax.agents.common
SamplerName = Literal["drats", "uniform", "lp", "learning_progress", "smt"]  # lp: short for learning_progress
LPSolvedRule = Literal["project", "pin"]  # see samplers/learning_progress.py
ReturnTarget = Literal["metaworld", "minmax"]
BufferSampling = Literal["uniform", "per_task"]
Algo = Literal["sac", "ppo"]
AdvantageNorm = Literal["per_task", "per_task_minibatch", "batch", "none"]
TruncationBootstrap = Literal["always", "rollout_end"]

NETWORK_INITS = get_args(NetworkInit)
SAMPLER_ALIASES = {"lp": "learning_progress"}  # short names accepted for SamplerConfig.name
SAMPLER_NAMES = tuple(n for n in get_args(SamplerName) if n not in SAMPLER_ALIASES)
LP_SOLVED_RULES = get_args(LPSolvedRule)
RETURN_TARGETS = get_args(ReturnTarget)
BUFFER_SAMPLING = get_args(BufferSampling)
ALGOS = get_args(Algo)
ADVANTAGE_NORMALIZATION = get_args(AdvantageNorm)
TRUNCATION_BOOTSTRAP = get_args(TruncationBootstrap)


def _positive(name: str, value: Any) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")


def _in_unit(name: str, value: float, *, low_open: bool = False, high_open: bool = False) -> None:
    lo_ok = value > 0 if low_open else value >= 0
    hi_ok = value < 1 if high_open else value <= 1
    if not (lo_ok and hi_ok):
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise ValueError(f"{name} must be in {lo}0, 1{hi}, got {value!r}")


@dataclass(frozen=True)
class SACConfig:
    """Multi-task SAC. Networks see ``concat(obs, one_hot(task_id, N))``."""

    hidden_width: int = 400  # units per hidden layer
    hidden_depth: int = 3  # number of hidden layers
    layer_norm: bool = False  # LayerNorm after each hidden Dense (before ReLU)
    # Initialisers: "reference" (the reference MTSAC's: He-uniform, small uniform output layers)
    # or "lecun" (flax's Dense default, as sbx's SAC): see drats_jax.agents.common.
    init_scheme: NetworkInit = "reference"
    actor_lr: float = 3e-4  # Adam learning rate of the actor
    critic_lr: float = 3e-4  # Adam learning rate of the two critics
    alpha_lr: float = 3e-4  # Adam learning rate of the per-task log-temperatures
    # Global-norm clip of the actor's and the critics' gradients (not the temperature's); None: no clip.
    max_grad_norm: float | None = 1.0
    adam_eps: float = 1e-5  # Adam's epsilon (the reference's; optax's default is 1e-8)
    gamma: float = 0.99  # discount factor of the critics' TD targets
    tau: float = 0.005  # Polyak rate of the target critics
    initial_temperature: float = 1.0  # alpha_i at start, every task
    target_entropy: float | None = None  # None -> -action_size
    batch_size: int = 1280  # transitions per gradient step
    log_std_min: float = -20.0  # lower clip of the actor's log-std
    log_std_max: float = 2.0  # upper clip of the actor's log-std

    def __post_init__(self) -> None:
        _positive("sac.hidden_width", self.hidden_width)
        _positive("sac.hidden_depth", self.hidden_depth)
        _positive("sac.batch_size", self.batch_size)
        for name in ("actor_lr", "critic_lr", "alpha_lr", "adam_eps", "initial_temperature"):
            _positive(f"sac.{name}", getattr(self, name))
        if self.max_grad_norm is not None:
            _positive("sac.max_grad_norm", self.max_grad_norm)
        if self.init_scheme not in NETWORK_INITS:
            raise ValueError(f"sac.init_scheme must be one of {NETWORK_INITS}, got {self.init_scheme!r}")
        _in_unit("sac.gamma", self.gamma, high_open=True)
        _in_unit("sac.tau", self.tau, low_open=True)
        if not self.log_std_min < self.log_std_max:
            raise ValueError(f"sac.log_std_min ({self.log_std_min}) must be < sac.log_std_max ({self.log_std_max})")


@dataclass(frozen=True)
class SamplerConfig:
    """Task sampler and the per-task statistics it reads (see docs/drats.md)."""

    # Task sampler: drats, uniform, lp (= learning_progress) or smt.
    name: Annotated[SamplerName, tyro.conf.arg(name="sampler", prefix_name=False)] = "drats"
    eta: float = 8.0  # inverse temperature of q* ∝ p0·exp(eta·g)
    lr: float = 0.5  # the authors' step size: alpha = lr / eta unless alpha is given (so it follows eta)
    alpha: float | None = None  # mirror step size in [0, 1]; None -> lr / eta
    eps: float | None = None  # probability floor; None -> 1 / (4N); must be <= 1/N
    # Env steps (summed over slots) per sampler window: q is updated when a window ends.
    # None -> interval_per_task x N. Rounded up to whole vector steps and to at least one
    # episode length, so every slot finishes an episode in every window.
    interval: int | None = None
    # The window when interval is None, per task: 10,000 is the paper's 10,000 vector steps of one
    # slot per task (~20 episodes of each task per window under uniform, 5 at the floor 1/(4N)).
    interval_per_task: int = 10_000
    # Reference return R_ref of the gap: metaworld (5,000, then the max return once solved half the
    # time) or minmax (the observed range); see samplers/stats.py.
    return_target: ReturnTarget = "metaworld"
    initial_ref_return: float = 5000.0  # MetaWorld: 500 steps x max reward 10
    ref_success_threshold: float = 0.5  # R_ref tracks the max return once success rate > this
    success_window: int = 50  # episodes in the per-task success ring
    # Success rates (the R_ref switch, LP's solved test) count once a task has success_window
    # episodes (the authors' code); False: from its first episode.
    success_full_window: bool = True
    # Learning Progress.
    lp_solved_threshold: float = 0.9  # success rate above which a task counts as solved
    # Solved tasks: project (set to eps, then the floor projection: they may end above eps; the
    # authors' sampler module) or pin (held at exactly eps; the authors' MetaWorld trainer).
    lp_solved: LPSolvedRule = "project"
    # SMT ("Hard Tasks First").
    smt_num_active: int | None = None  # K; None -> max(1, min(8, N // 2))
    smt_kappa: float = 0.8  # total probability of the active set
    smt_min_prob: float | None = None  # floor for every task, < 1/N; None -> 1 / (4N) (0.025 on MT10)
    smt_low_threshold: float = 2000.0  # leaving below this -> "unsolvable" set
    smt_high_threshold: float = 3500.0  # return above this -> solved, leaves the active set
    smt_task_budget: int | None = None  # env steps a task may use while active; None -> stage-1 / N
    smt_stage1_fraction: float = 0.85  # stage 2 (unsolvable set active) after this share

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", SAMPLER_ALIASES.get(self.name, self.name))
        if self.name not in SAMPLER_NAMES:
            raise ValueError(f"sampler.name must be one of {SAMPLER_NAMES}, got {self.name!r}")
        if self.return_target not in RETURN_TARGETS:
            raise ValueError(f"sampler.return_target must be one of {RETURN_TARGETS}, got {self.return_target!r}")
        _positive("sampler.eta", self.eta)
        _positive("sampler.lr", self.lr)
        if self.alpha is not None:
            _in_unit("sampler.alpha", self.alpha)
        elif self.lr > self.eta:
            raise ValueError(f"sampler.lr / sampler.eta = {self.lr} / {self.eta} is the step size alpha and must be "
                             "<= 1; lower --train.sampler.lr or give --train.sampler.alpha")
        if self.eps is not None:
            _in_unit("sampler.eps", self.eps, low_open=True)
        if self.interval is not None:
            _positive("sampler.interval", self.interval)
        _positive("sampler.interval_per_task", self.interval_per_task)
        _positive("sampler.initial_ref_return", self.initial_ref_return)
        _in_unit("sampler.ref_success_threshold", self.ref_success_threshold)
        _positive("sampler.success_window", self.success_window)
        _in_unit("sampler.lp_solved_threshold", self.lp_solved_threshold)
        if self.lp_solved not in LP_SOLVED_RULES:
            raise ValueError(f"sampler.lp_solved must be one of {LP_SOLVED_RULES}, got {self.lp_solved!r}")
        if self.smt_num_active is not None:
            _positive("sampler.smt_num_active", self.smt_num_active)
        _in_unit("sampler.smt_kappa", self.smt_kappa)
        if self.smt_min_prob is not None:
            _in_unit("sampler.smt_min_prob", self.smt_min_prob)
        if not self.smt_low_threshold <= self.smt_high_threshold:
            raise ValueError(f"sampler.smt_low_threshold ({self.smt_low_threshold}) must be <= "
                             f"sampler.smt_high_threshold ({self.smt_high_threshold})")
        if self.smt_task_budget is not None:
            _positive("sampler.smt_task_budget", self.smt_task_budget)
        _in_unit("sampler.smt_stage1_fraction", self.smt_stage1_fraction)

    # Resolved values (need N).
    def resolved_interval(self, num_tasks: int) -> int:
        """Requested window in env steps (before rounding to whole vector steps)."""
        return self.interval_per_task * num_tasks if self.interval is None else int(self.interval)

    def resolved_alpha(self) -> float:
        return self.lr / self.eta if self.alpha is None else float(self.alpha)

    def resolved_eps(self, num_tasks: int) -> float:
        return 1.0 / (4 * num_tasks) if self.eps is None else float(self.eps)

    def resolved_smt_min_prob(self, num_tasks: int) -> float:
        return 1.0 / (4 * num_tasks) if self.smt_min_prob is None else float(self.smt_min_prob)

    def resolved_num_active(self, num_tasks: int) -> int:
        return max(1, min(8, num_tasks // 2)) if self.smt_num_active is None else int(self.smt_num_active)


@dataclass(frozen=True)
class PPOConfig:
    """Multi-task PPO (the DRATS paper's learner; defaults = its MT10 settings, docs/drats.md).

    One rollout is one sampler window (``sampler.interval`` env steps): q is updated after
    every rollout. Networks see ``concat(obs, one_hot(task_id, N))``. Where the DRATS authors'
    PPO differs from the textbook choice it is an option here (docs/drats.md lists them); the
    ``drats-paper-*`` presets set the authors' values.
    """

    hidden_width: int = 400  # units per hidden layer (actor and critic)
    hidden_depth: int = 3  # hidden layers
    multi_head: bool = True  # one output head per task (actor and critic); False: one shared head
    # Initialisers: "reference" (He-uniform, small uniform output layers, as SAC's default) or
    # "lecun" (flax's Dense default): see drats_jax.agents.common.
    init_scheme: NetworkInit = "reference"
    lr: float = 5e-4  # Adam learning rate, actor and critic
    adam_eps: float = 1e-5  # Adam's epsilon (actor and critic)
    max_grad_norm: float | None = 1.0  # global-norm clip per network; None: no clip
    gamma: float = 0.99  # discount factor of the returns and advantages
    gae_lambda: float = 0.97  # GAE's lambda (bias-variance trade-off of the advantages)
    # Truncated episodes in GAE: always (bootstrap every truncation from V(final observation)) or
    # rollout_end (the authors': only the rollout's last step bootstraps; a truncation inside the
    # rollout ends the return like a terminal).
    bootstrap_truncation: TruncationBootstrap = "always"
    clip_eps: float = 0.2  # clipped surrogate: ratio in [1 - clip_eps, 1 + clip_eps]
    num_epochs: int = 16  # passes over each rollout
    num_minibatches: int = 32  # minibatches per epoch (shuffled on device)
    # Early stop: a minibatch whose approx. KL (measured before its step) exceeds target_kl x
    # kl_stop_factor ends the rollout's updates; None: never. The authors stop at 1.5 x target.
    target_kl: float | None = 0.05
    kl_stop_factor: float = 1.0  # the stop triggers above target_kl x this (the authors': 1.5)
    # Whether the minibatch that triggered the stop keeps its step (the authors': yes) or not.
    kl_stop_keeps_step: bool = False
    entropy_coef: float = 0.01  # entropy bonus (the paper: 0.01 on MT10, 0.03 on MT50)
    value_coef: float = 0.5  # weight of the value loss (critic has its own optimiser; the authors': 0.001)
    # Advantage normalisation: per_task (once per rollout, each task's mean and std), per_task_minibatch
    # (the authors': inside every minibatch, std + 1e-3), batch (whole minibatch) or none.
    advantage_norm: AdvantageNorm = "per_task"
    log_std_min: float = -20.0  # lower clip of the Gaussian's log-std head
    log_std_max: float = 2.0  # upper clip of the Gaussian's log-std head

    def __post_init__(self) -> None:
        for name in ("hidden_width", "hidden_depth", "lr", "adam_eps", "clip_eps", "num_epochs", "num_minibatches",
                     "value_coef", "kl_stop_factor"):
            _positive(f"ppo.{name}", getattr(self, name))
        if self.max_grad_norm is not None:
            _positive("ppo.max_grad_norm", self.max_grad_norm)
        if self.target_kl is not None:
            _positive("ppo.target_kl", self.target_kl)
        _in_unit("ppo.gamma", self.gamma, high_open=True)
        _in_unit("ppo.gae_lambda", self.gae_lambda)
        if self.entropy_coef < 0:
            raise ValueError(f"ppo.entropy_coef must be >= 0, got {self.entropy_coef}")
        if self.init_scheme not in NETWORK_INITS:
            raise ValueError(f"ppo.init_scheme must be one of {NETWORK_INITS}, got {self.init_scheme!r}")
        if self.advantage_norm not in ADVANTAGE_NORMALIZATION:
            raise ValueError(f"ppo.advantage_norm must be one of {ADVANTAGE_NORMALIZATION}, got {self.advantage_norm!r}")
        if self.bootstrap_truncation not in TRUNCATION_BOOTSTRAP:
            raise ValueError(f"ppo.bootstrap_truncation must be one of {TRUNCATION_BOOTSTRAP}, "
                             f"got {self.bootstrap_truncation!r}")
        if not self.log_std_min < self.log_std_max:
            raise ValueError(f"ppo.log_std_min ({self.log_std_min}) must be < ppo.log_std_max ({self.log_std_max})")


@dataclass(frozen=True)
class TrainConfig:
    """The training loop. See the module docstring for units."""

    seed: Annotated[int, tyro.conf.arg(name="seed", prefix_name=False)] = 0  # base PRNG seed of the run
    # Learner: sac (off-policy, replay ring) or ppo (on-policy, one rollout per sampler window).
    algo: Annotated[Algo, tyro.conf.arg(name="algo", prefix_name=False)] = "sac"
    num_envs: int | None = None  # env slots stepped in parallel; None -> one per task
    # Consecutive slots that share one task draw at reset; None -> gcd(num_envs, env.block_size):
    # 1 on the C backend (every slot draws), a block of one scene on the MJX backends.
    task_block: int | None = None
    # Transitions over all slots (per seed), warm-up included (the reference MTSAC: 20M on MT10).
    total_env_steps: Annotated[int, tyro.conf.arg(name="total-steps", prefix_name=False)] = 20_000_000
    # Random-action transitions before learning starts (rounded up to whole vector steps).
    # None -> warmup_per_task x N.
    warmup_env_steps: int | None = None
    # The warm-up when warmup_env_steps is None, per task; None: SAC 4,000 (the reference's 4,000
    # warm-up steps of one env per task), PPO 0.
    warmup_per_task: int | None = None
    updates_per_step: int = 1  # gradient steps per vector step (scan iteration)
    # Transitions. uniform: one shared ring, a multiple of num_envs. per_task: one ring of
    # capacity/N rows per task (the reference MTSAC's layout), a multiple of N.
    buffer_capacity: int = 1_000_000
    # uniform: batches drawn over all stored transitions (the allocation reaches the updates);
    # per_task: an equal share of every batch per task (the reference MTSAC). See buffer.py.
    buffer_sampling: BufferSampling = "uniform"
    chunk_length: int = 1_000  # vector steps per jitted run_chunk call
    sac: SACConfig = field(default_factory=SACConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)

    def __post_init__(self) -> None:
        if self.num_envs is not None:
            _positive("num_envs", self.num_envs)
        if self.task_block is not None:
            _positive("task_block", self.task_block)
        _positive("total_env_steps", self.total_env_steps)
        for name in ("warmup_env_steps", "warmup_per_task"):
            if getattr(self, name) is not None and getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        _positive("updates_per_step", self.updates_per_step)
        _positive("buffer_capacity", self.buffer_capacity)
        _positive("chunk_length", self.chunk_length)
        if self.algo not in ALGOS:
            raise ValueError(f"algo must be one of {ALGOS}, got {self.algo!r}")
        if self.buffer_sampling not in BUFFER_SAMPLING:
            raise ValueError(f"buffer_sampling must be one of {BUFFER_SAMPLING}, got {self.buffer_sampling!r}")
        if self.algo == "sac" and self.buffer_capacity < self.sac.batch_size:
            raise ValueError(f"buffer_capacity ({self.buffer_capacity}) is smaller than one batch "
                             f"(sac.batch_size={self.sac.batch_size})")
        if self.warmup_env_steps is not None and self.warmup_env_steps >= self.total_env_steps:
            raise ValueError(f"warmup_env_steps ({self.warmup_env_steps}) must be < total_env_steps "
                             f"({self.total_env_steps})")

    def replace(self, **changes: Any) -> "TrainConfig":
        return dataclasses.replace(self, **changes)

    def resolved_warmup_env_steps(self, num_tasks: int) -> int:
        if self.warmup_env_steps is not None:
            return int(self.warmup_env_steps)
        if self.warmup_per_task is not None:
            return self.warmup_per_task * num_tasks
        return 4_000 * num_tasks if self.algo == "sac" else 0

    def resolved_num_envs(self, num_tasks: int) -> int:
        return num_tasks if self.num_envs is None else int(self.num_envs)

    def resolved_task_block(self, num_envs: int, env_block_size: int = 1) -> int:
        return math.gcd(num_envs, int(env_block_size)) if self.task_block is None else int(self.task_block)


def validate_for_env(config: TrainConfig, env: Any, mesh: Any = None) -> None:
    """Every check that needs the env (N tasks, sizes) or the device mesh, in one place (the
    config-only checks are the dataclasses' ``__post_init__``). Raises ValueError (one line
    naming the flag); traces nothing. ``mesh``: a :class:`drats_jax.mesh.MeshSpec` or None."""
    n = int(getattr(env, "num_tasks", 0))
    if n <= 0:
        raise ValueError(f"the env has {n} tasks; need at least one task")
    for attr in ("observation_size", "action_size", "episode_length", "num_goals"):
        if int(getattr(env, attr, 0)) <= 0:
            raise ValueError(f"env.{attr} must be > 0, got {getattr(env, attr, None)!r}")
    _check_sampler(config.sampler, n)
    e = config.resolved_num_envs(n)
    _check_replay(config, n, e)
    block = config.resolved_task_block(e, getattr(env, "block_size", 1))
    if e % block != 0:
        raise ValueError(f"num_envs ({e}) must be a multiple of task_block ({block}): slots draw tasks per block")
    warmup = config.resolved_warmup_env_steps(n)
    if config.warmup_env_steps is None and warmup >= config.total_env_steps:  # (a given one: __post_init__)
        raise ValueError(f"warmup_env_steps ({warmup}) must be < total_env_steps ({config.total_env_steps})")
    if config.total_env_steps - warmup < e:
        raise ValueError(f"total_env_steps - warmup_env_steps must cover at least one vector step of {e} slots")
    sizes = _sizes(config, env)
    if config.algo == "ppo" and sizes.window_env_steps < config.ppo.num_minibatches:
        raise ValueError(f"a PPO rollout (one sampler window, {sizes.window_env_steps} env steps) must hold at "
                         f"least ppo.num_minibatches ({config.ppo.num_minibatches}) transitions")
    if mesh is not None:
        from drats_jax.mesh import validate_sizes  # noqa: PLC0415  (mesh imports jax)

        validate_sizes(mesh, num_envs=e, task_block=block, algo=config.algo, batch_size=config.sac.batch_size,
                       buffer_capacity=config.buffer_capacity,
                       rings=n if config.buffer_sampling == "per_task" else 1,
                       minibatch=sizes.window_env_steps // config.ppo.num_minibatches)
    _check_learning_steps(config, sizes)


def _check_sampler(s: SamplerConfig, n: int) -> None:
    eps = s.resolved_eps(n)
    if eps > 1.0 / n:
        raise ValueError(f"sampler.eps={eps} is larger than 1/N = {1.0 / n:.6g} for N={n} tasks: "
                         "no distribution can give every task that much probability")
    if s.name == "smt" and not 1 <= s.resolved_num_active(n) <= n:
        raise ValueError(f"sampler.smt_num_active must be in [1, N={n}], got {s.smt_num_active}")


def _check_replay(config: TrainConfig, n: int, e: int) -> None:
    """SAC's replay ring against N and E (its capacity against one batch: __post_init__)."""
    if config.algo == "sac" and config.buffer_sampling == "uniform" and config.buffer_capacity % e != 0:
        raise ValueError(f"buffer_capacity ({config.buffer_capacity}) must be a multiple of num_envs ({e}): "
                         "each vector step writes one contiguous block of num_envs rows into the ring")
    if config.algo == "sac" and config.buffer_sampling == "per_task" and (
            config.buffer_capacity % n != 0 or config.buffer_capacity // n < e):
        raise ValueError(f"buffer_capacity ({config.buffer_capacity}) must be a multiple of the {n} tasks with at "
                         f"least num_envs ({e}) rows per task: per_task replay keeps one ring of capacity/N rows "
                         "per task")


def _check_learning_steps(config: TrainConfig, sizes: "Resolved") -> None:
    """What is left after the warm-up must hold one PPO rollout (one sampler window) or one SAC vector step."""
    e = sizes.num_envs
    learn_steps = config.total_env_steps // e - sizes.warmup_steps
    if config.algo == "ppo" and learn_steps < sizes.window_steps:
        raise ValueError(f"total_env_steps={config.total_env_steps} leaves {max(learn_steps, 0) * e} env steps after "
                         f"warm-up, less than one PPO rollout (one sampler window, {sizes.window_env_steps} env steps)")
    if learn_steps < 1:
        raise ValueError(f"total_env_steps={config.total_env_steps} leaves no learning step after "
                         f"{sizes.warmup_steps} warm-up vector steps of {e} slots")


@dataclass(frozen=True)
class Resolved:
    """Sizes derived from a TrainConfig and an env (all ints; see make_train).

    num_envs: E slots; task_block: slots per task draw; warmup_steps: vector steps of
    random actions; window_steps: vector steps per sampler window (interval / E rounded
    up, at least one episode); window_env_steps = window_steps x E.
    """

    num_envs: int
    task_block: int
    warmup_steps: int
    window_steps: int

    @property
    def window_env_steps(self) -> int:
        return self.window_steps * self.num_envs

    @property
    def warmup_env_steps(self) -> int:
        return self.warmup_steps * self.num_envs


def _sizes(config: TrainConfig, env: Any) -> Resolved:
    n = int(env.num_tasks)
    e = config.resolved_num_envs(n)
    warmup_steps = math.ceil(config.resolved_warmup_env_steps(n) / e)
    window_steps = max(math.ceil(config.sampler.resolved_interval(n) / e), int(env.episode_length))
    return Resolved(num_envs=e, task_block=config.resolved_task_block(e, getattr(env, "block_size", 1)),
                    warmup_steps=warmup_steps, window_steps=window_steps)


def resolve(config: TrainConfig, env: Any, mesh: Any = None) -> tuple[TrainConfig, Resolved]:
    """Validates ``config`` for ``env`` and ``mesh`` (:func:`validate_for_env`) and fills its
    None defaults with the values used.

    Returns (config with warmup_env_steps and sampler.interval set to what the loop runs,
    the derived sizes). Saving the returned config records the resolved window and warm-up.
    """
    validate_for_env(config, env, mesh)
    sizes = _sizes(config, env)
    sampler = dataclasses.replace(config.sampler, interval=sizes.window_env_steps)
    return config.replace(warmup_env_steps=sizes.warmup_env_steps, sampler=sampler), sizes
