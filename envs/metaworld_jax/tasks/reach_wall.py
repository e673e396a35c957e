"""reach-wall-v3: reach a goal point behind a wall (sawyer_reach_wall_v3.xml)."""

from __future__ import annotations

from metaworld_jax.tasks.base import register
from metaworld_jax.tasks.reach import Reach


@register
class ReachWall(Reach):
    """Same puck, redraw rule and reward as reach-v3; only the scene, ranges and the goal
    site (moved in the model at reset) differ."""

    name = "reach-wall-v3"
    scene = "sawyer_xyz/sawyer_reach_wall_v3.xml"
    goal_low = (-0.05, 0.85, 0.05)
    goal_high = (0.05, 0.9, 0.3)
    rand_low = (-0.05, 0.6, 0.015, -0.05, 0.85, 0.05)
    rand_high = (0.05, 0.65, 0.015, 0.05, 0.9, 0.3)
    GOAL_SITE = True
