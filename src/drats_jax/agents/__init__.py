"""Learners. Each has networks / losses / update modules and a ``train.py`` whose
``make_learner(config, env, sizes, data)`` returns the :class:`drats_jax.trainer.Learner` the
shared loop (:func:`drats_jax.trainer.make_trainer`) runs. :data:`LEARNERS` names them."""

from __future__ import annotations

from drats_jax.agents.ppo.train import make_learner as ppo_learner
from drats_jax.agents.sac.train import make_learner as sac_learner

# config.algo -> the learner's make_learner (config.ALGOS lists the same names).
LEARNERS = {"sac": sac_learner, "ppo": ppo_learner}


def make_train(config, env, sampler=None, mesh=None):
    """The :class:`drats_jax.trainer.Trainer` of the learner named by ``config.algo``."""
    from drats_jax.trainer import make_trainer  # noqa: PLC0415

    return make_trainer(config, env, LEARNERS[config.algo], sampler, mesh)
