"""Multi-task PPO: networks (networks.py), losses and advantages (losses.py), state and
update (update.py), the learner the shared trainer runs (train.py)."""

from drats_jax.agents.ppo.update import PPO, Batch, PPOState, make_ppo

__all__ = ["PPO", "Batch", "PPOState", "make_ppo"]
