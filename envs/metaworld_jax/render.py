"""Frames of MetaWorld slots from their physics state, with MuJoCo's renderer (host code).

    renderer = Renderer(env, width=480, height=480)       # any backend
    frame = renderer.frame(task_id, goal_index, physics)  # u8[height, width, 3]
    renderer.close()

``physics`` is one slot's ``State.physics`` as numpy (the env's ``Sim``). Its backend writes
it into a host ``MjData`` of the task's stock scene (``backend.write_host``, the inverse of
its ``pack``: float64 words on the C backend, the flat f32 ``StateLayout`` vector on
mjx/warp), with the goal's moved bodies set on the model, and ``mujoco.Renderer`` draws it.
The stock scene on every backend: the MJX variants drop the visual-only meshes and reshape
collision geoms, but share its bodies, joints and state layout, so every backend's state
is drawn as MetaWorld shows it.

OpenGL: MuJoCo chooses its GL library from ``MUJOCO_GL`` when ``mujoco`` is first imported
(``egl`` on GPU nodes; ``osmesa``, Debian's ``libosmesa6``, on CPUs). Where no context can
be made, the first frame raises :class:`RenderUnavailable` with one line.
"""

from __future__ import annotations

import os

import mujoco
import numpy as np

from metaworld_jax import assets

# MetaWorld's own corner camera over the table (its scenes define corner, corner2..4, topview,
# behindGripper, gripperPOV).
CAMERA = "corner2"
GL_HELP = ("install OSMesa for CPU rendering (Debian/Ubuntu: apt-get install libosmesa6; then MUJOCO_GL=osmesa) "
           "or, on an NVIDIA GPU node, use EGL (MUJOCO_GL=egl)")


class RenderUnavailable(RuntimeError):
    """No OpenGL context can be made here; str(error) is one line saying what to install."""


class Renderer:
    """Renders slots of ``env`` (a MetaWorldEnv) seen from one of its scenes' cameras.

    One private model, MjData and ``mujoco.Renderer`` per scene, made at its first frame.
    """

    def __init__(self, env, width: int = 480, height: int = 480, camera: str = CAMERA):
        if width < 1 or height < 1:
            raise ValueError(f"frame size must be positive, got {width}x{height}")
        self.env, self.width, self.height, self.camera = env, int(width), int(height), camera
        self._scenes: dict[str, tuple] = {}  # scene -> (model, data, mujoco.Renderer)

    def frame(self, task: int, goal: int, physics) -> np.ndarray:
        """u8[height, width, 3]: slot (task, goal) in the state ``physics`` (its State.physics)."""
        model, data, renderer = self._scene(int(task))
        self.env.backend.write_host(int(task), int(goal), np.asarray(physics.backend), model, data)
        renderer.update_scene(data, camera=self.camera)
        # MetaWorld's named cameras are oriented for mujoco-py, whose images have their rows
        # bottom-up; mujoco.Renderer's run top-down, so the frame is flipped back upright.
        return np.ascontiguousarray(renderer.render()[::-1])

    def _scene(self, task: int):
        scene = self.env.tasks[task].scene
        if scene not in self._scenes:
            model = assets.load_model(scene)  # a private copy of the stock scene
            _check_camera(model, scene, self.camera)
            # The offscreen buffer must hold the frame (MetaWorld's scenes allow 640x480).
            model.vis.global_.offwidth = max(model.vis.global_.offwidth, self.width)
            model.vis.global_.offheight = max(model.vis.global_.offheight, self.height)
            try:
                renderer = mujoco.Renderer(model, self.height, self.width)
            except Exception as exc:  # noqa: BLE001  any GL failure: the library, the display, the driver
                gl = os.environ.get("MUJOCO_GL") or "MuJoCo's default (glfw)"
                raise RenderUnavailable(f"no OpenGL context could be made (MUJOCO_GL={gl}: {_one_line(exc)}); "
                                        f"{GL_HELP}") from None
            # Shadow maps cost most of a software-rendered frame (OSMesa: 7x at 240x240, measured).
            renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
            self._scenes[scene] = (model, mujoco.MjData(model), renderer)
        return self._scenes[scene]

    def close(self) -> None:
        """Frees the GL contexts (before interpreter exit, where their finalisers can fail)."""
        for _, _, renderer in self._scenes.values():
            renderer.close()
        self._scenes.clear()

    def __enter__(self) -> "Renderer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def check_camera(env, camera: str) -> None:
    """ValueError (one line) unless the first task's scene has ``camera`` (MetaWorld's scenes
    share their cameras), before anything is rendered."""
    scene = env.tasks[0].scene
    _check_camera(assets.load_model(scene), scene, camera)


def _check_camera(model: mujoco.MjModel, scene: str, camera: str) -> None:
    if mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera) < 0:
        names = [model.camera(i).name for i in range(model.ncam)]
        raise ValueError(f"scene {scene} has no camera {camera!r}; its cameras: {', '.join(names)}")


def _one_line(exc: BaseException) -> str:
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text[:200] + "..." if len(text) > 200 else text
