"""drats-jax: multi-task SAC in JAX with DRATS adaptive task sampling.

Modules (one concept each):
    config     frozen hyperparameter dataclasses, validated before any compile
    buffer     fixed-capacity replay ring on device
    samplers   task samplers (DRATS, Uniform, Learning Progress, SMT) + per-task statistics
    agents.sac multi-task SAC (networks, losses, update)
    train      the PureJaxRL-style training loop: make_train(config, env)
"""

__version__ = "0.1.0"
