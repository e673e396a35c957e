"""Evaluation: MetaWorld's protocol as one jitted program, and the command that evaluates,
films and exports a run's checkpoint.

    protocol   make_evaluate / summarize / return_scale: the protocol (used by training too)
    policy     the policy of a checkpoint or an export, restored without the replay buffer;
               the weights-only export
    video      recorded episodes -> one MP4 per task (MuJoCo's renderer, via metaworld_jax.render)
    command    ``python -m drats_jax.evaluate RUN_DIR``: see its docstring
"""

from drats_jax.evaluate.protocol import MAX_REWARD_PER_STEP, make_evaluate, return_scale, summarize

__all__ = ["MAX_REWARD_PER_STEP", "make_evaluate", "return_scale", "summarize"]
