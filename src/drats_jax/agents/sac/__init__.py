"""Multi-task SAC: networks (networks.py), losses (losses.py), state and step (update.py), the
learner the shared trainer runs (train.py)."""

from drats_jax.agents.sac.update import SAC, SACState, make_sac, task_conditioned

__all__ = ["SAC", "SACState", "make_sac", "task_conditioned"]
