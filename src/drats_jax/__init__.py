"""drats-jax: multi-task SAC and PPO in JAX with DRATS adaptive task sampling.

Modules, one line each, in the order one vector step's data flows through them
(the env itself is the separate package ``metaworld_jax``, in envs/):
    types        Transition (what a vector step hands the learner) and the env's batched step
    allocation   the vector env: steps every slot, per-task statistics, sampler window, autoreset
    samplers     task samplers (DRATS, Uniform, Learning Progress, SMT) + per-task statistics
    buffer       fixed-capacity replay ring on device (SAC)
    agents       learners (sac, ppo: networks, losses, update, Learner in train.py), common pieces, LEARNERS
    trainer      the loop every learner shares: make_trainer -> Trainer (warm-up, chunks, metrics, sharding)
    mesh         the device mesh (seed x data) and the collectives a learner uses over data
    chunk_loop   the driver's loop over jitted chunks: log, checkpoint, evaluate, stop on NaN or a signal
    safety       the divergence (NaN/inf) and preemption (SIGTERM/SIGINT) stops
    driver       prepares a run (parse, validate, build, restore) and trains it chunk by chunk
    train        ``python -m drats_jax.train``: the command (driver.main)
    cli          the run's flags (RunConfig around config.TrainConfig), presets, run folders, resume checks
    flags        reading flags before the parse; the parse every process agrees on
    config       every hyperparameter as frozen dataclasses; all validity checks; resolve
    errors       UsageError: the one-line user error every command reports
    gpu_presets  the GPU presets and JAX's GPU memory settings read from argv
    devices      the backend a machine defaults to, GPU memory settings, GPU checks
    distributed  joining a multi-process run (flags, SLURM, Open MPI), bounded in time
    processes    who writes in a multi-process run; outcomes every process agrees on
    logger       metrics to jsonl, csv, TensorBoard and wandb
    progress     the live progress bar
    checkpoint   orbax checkpoints of the whole state, exact resume, policy export
    evaluate     MetaWorld's evaluation protocol; ``python -m drats_jax.evaluate``: evaluate, film, export
    aggregate    rliable statistics across seeds
    plot         figures and tables of runs
    warm_cache   compiles a run's programs into JAX's persistent cache ahead of time

docs/architecture.md walks one vector step through them.
"""

__version__ = "0.1.0"
