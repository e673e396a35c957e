"""Learners. Each has networks / losses / update modules and a loop (``train.py``) whose
``make_train(config, env, sampler=None)`` returns a :class:`drats_jax.loop.Trainer`."""

from __future__ import annotations


def make_train(config, env, sampler=None, mesh=None):
    """The loop of the learner named by ``config.algo`` ("sac" or "ppo")."""
    if config.algo == "ppo":
        from drats_jax.agents.ppo.train import make_train as learner_train  # noqa: PLC0415
    else:
        from drats_jax.agents.sac.train import make_train as learner_train  # noqa: PLC0415
    return learner_train(config, env, sampler, mesh)
