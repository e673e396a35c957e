"""Agents. Only multi-task SAC for now (:mod:`drats_jax.agents.sac`)."""
