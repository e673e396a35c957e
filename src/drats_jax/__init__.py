"""drats-jax: multi-task SAC in JAX with DRATS adaptive task sampling.

Modules (one concept each):
    config          frozen hyperparameter dataclasses, validated before any compile
    allocation      which task each env slot runs: env step, statistics, sampler window, autoreset
    samplers        task samplers (DRATS, Uniform, Learning Progress, SMT) + per-task statistics
    buffer          fixed-capacity replay ring on device
    agents.sac      multi-task SAC (networks, losses, update) and its loop (train: make_train)
    loop            the Trainer interface every learner's loop returns; chunk bookkeeping
    driver, train   the Python driver; ``python -m drats_jax.train``
    evaluate        MetaWorld's evaluation protocol; ``python -m drats_jax.evaluate``: evaluate, film
                    or export a run's checkpoint
    plot            plots and rliable statistics
"""

__version__ = "0.1.0"
