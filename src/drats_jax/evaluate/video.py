"""Videos of evaluated episodes: one MP4 per task, rendered with MuJoCo's renderer.

The evaluation records its first V episodes of every task as they ran
(``make_evaluate(..., record=V)``: the same goals, actions and physics as the protocol's
numbers); each task's video shows them one after another, every ``stride``-th step
(fps = 80 / stride: MetaWorld's real time, 12.5 ms per step), each frame captioned with the
task, the episode and its goal, the step, the return so far and success. An episode ends
where the protocol's does: at its first success or at truncation.

OpenGL: MuJoCo reads ``MUJOCO_GL`` once, when ``mujoco`` is first imported, and a GL library
that cannot load can fail that import. So :func:`choose_gl` runs before anything imports
mujoco: it tries the user's ``MUJOCO_GL``, else ``egl`` then ``osmesa`` where an NVIDIA driver
is visible and ``osmesa`` then ``egl`` elsewhere, each in a subprocess; where none works it
returns one line saying what to install and sets ``MUJOCO_GL=disable`` (MuJoCo then loads no
GL at all), so the evaluation still runs and writes its results.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import warnings
from typing import Any

import numpy as np

STEP_SECONDS = 0.0125  # MetaWorld: frame_skip 5 x 2.5 ms
# A context on an empty model: what the renderer needs, without loading a scene.
_PROBE = """
import sys
try:
    import mujoco
    r = mujoco.Renderer(mujoco.MjModel.from_xml_string("<mujoco/>"), 16, 16)
    r.render()
    r.close()
except Exception as exc:
    print(" ".join(f"{type(exc).__name__}: {exc}".split())[:200])
    sys.exit(1)
"""


class VideoUnavailable(RuntimeError):
    """Videos cannot be written here (a missing package); str(error) is one line."""


def choose_gl() -> str | None:
    """Sets MUJOCO_GL to a GL that makes a context here. -> None, or one line saying why none
    does (MUJOCO_GL is then "disable"). Call before ``mujoco`` is imported; once it is, the
    choice is MuJoCo's and a failure shows at the first frame (RenderUnavailable)."""
    if "mujoco" in sys.modules:
        return None
    given = os.environ.get("MUJOCO_GL")
    if given:
        candidates = [given]
    else:
        from drats_jax.devices import driver_check  # noqa: PLC0415

        candidates = ["egl", "osmesa"] if driver_check()[0] else ["osmesa", "egl"]
    reasons = []
    for gl in candidates:
        env = dict(os.environ, MUJOCO_GL=gl)
        if not given:  # mujoco sets PYOPENGL_PLATFORM to match MUJOCO_GL unless it is set already
            env.pop("PYOPENGL_PLATFORM", None)
        try:
            probe = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True,
                                   timeout=120)
            why = None if probe.returncode == 0 else (probe.stdout.strip() or f"exit code {probe.returncode}")
        except (OSError, subprocess.TimeoutExpired) as exc:
            why = f"{type(exc).__name__}: {exc}"
        if why is None:
            os.environ["MUJOCO_GL"] = gl
            if not given:
                os.environ.pop("PYOPENGL_PLATFORM", None)
            return None
        reasons.append(f"MUJOCO_GL={gl}: {why}")
    os.environ["MUJOCO_GL"] = "disable"
    from metaworld_jax.render import GL_HELP  # noqa: PLC0415  (mujoco loads no GL now)

    return f"no OpenGL context could be made ({'; '.join(reasons)}); {GL_HELP}"


def check_writer() -> None:
    """VideoUnavailable (one line) unless imageio can write MP4s here."""
    try:
        import imageio.v2  # noqa: F401, PLC0415
        import imageio_ffmpeg  # noqa: F401, PLC0415  (imageio's MP4 writer)
    except ImportError as exc:
        raise VideoUnavailable(f"MP4 videos need imageio and imageio-ffmpeg ({exc}); "
                               "pip install 'drats-jax[video]'") from None


def write_videos(env: Any, recorded: dict, folder: pathlib.Path, *, size: tuple[int, int] = (480, 480),
                 camera: str | None = None, stride: int = 2) -> dict[str, dict]:
    """One MP4 per recorded task in ``folder`` (``<task>.mp4``, written atomically).

    ``recorded``: ``make_evaluate``'s ``"recorded"`` of one seed, as numpy (R = N x V slots,
    task-major). ``size``: (width, height), multiples of 16 (H.264's macroblocks).
    Returns {task: {"file", "frames", "episodes": [{"goal", "success", "return"}]}}. Raises
    VideoUnavailable (no imageio) or metaworld_jax.render.RenderUnavailable (no GL).
    """
    check_writer()
    import imageio.v2 as imageio  # noqa: PLC0415

    from metaworld_jax import render  # noqa: PLC0415

    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tasks = np.asarray(recorded["task"])
    out = {}
    with render.Renderer(env, width=size[0], height=size[1], camera=camera or render.CAMERA) as renderer:
        for task in dict.fromkeys(tasks.tolist()):
            name = env.task_names[task]
            slots = np.flatnonzero(tasks == task)
            frames, episodes = [], []
            for j, slot in enumerate(slots):
                goal = int(recorded["goal"][slot])
                episodes.append({"goal": goal, "success": bool(recorded["success"][slot]),
                                 "return": float(recorded["return"][slot])})
                for t, caption in _captions(recorded, slot, stride):
                    physics = _at(recorded["state"].physics, t, slot)
                    frame = renderer.frame(task, goal, physics)
                    frames.append(_caption(frame, f"{name}  episode {j + 1}/{len(slots)}, goal {goal}", caption))
            path = folder / f"{name}.mp4"
            tmp = folder / f".{name}.partial.mp4"  # ffmpeg picks the container from the extension
            with warnings.catch_warnings():
                # imageio starts ffmpeg with fork + exec: the child runs no JAX code.
                warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)
                with imageio.get_writer(tmp, fps=1.0 / (STEP_SECONDS * stride), codec="libx264", quality=7,
                                        macro_block_size=16, ffmpeg_log_level="error") as writer:
                    for frame in frames:
                        writer.append_data(frame)
            os.replace(tmp, path)
            out[name] = {"file": str(path), "frames": len(frames), "episodes": episodes}
    return out


def _captions(recorded: dict, slot: int, stride: int):
    """(row t, caption) of the frames of one slot's episode: every stride-th step and its last."""
    shown = np.asarray(recorded["shown"][:, slot])
    last = int(np.flatnonzero(shown)[-1])
    reward = np.asarray(recorded["state"].reward[:, slot], np.float64)
    success = np.asarray(recorded["state"].info["success"][:, slot], bool)
    ret, hit = np.cumsum(reward[: last + 1]), np.cumsum(success[: last + 1]) > 0
    for t in [*range(0, last, stride), last]:
        yield t, f"step {t}  return {ret[t]:.0f}" + ("  success" if hit[t] else "")


def _at(tree: Any, t: int, slot: int) -> Any:
    import jax  # noqa: PLC0415

    return jax.tree.map(lambda x: np.asarray(x[t, slot]), tree)


def _caption(frame: np.ndarray, *lines: str) -> np.ndarray:
    """The frame with ``lines`` in white on a dark band along its top edge."""
    from PIL import Image, ImageDraw, ImageFont  # noqa: PLC0415  (Pillow: imageio's and matplotlib's dependency)

    image = Image.fromarray(frame)
    size = max(8, min(frame.shape[0] // 24, frame.shape[1] // 28))
    try:
        font = ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow < 10.1 or without FreeType: the fixed bitmap font
        font = ImageFont.load_default()
    draw = ImageDraw.Draw(image)
    line = int(size * 1.3)
    draw.rectangle((0, 0, frame.shape[1], line * len(lines) + size // 2), fill=(0, 0, 0))
    for i, text in enumerate(lines):
        draw.text((4, size // 4 + i * line), text, fill=(255, 255, 255), font=font)
    return np.asarray(image)


def parse_size(text: str) -> tuple[int, int]:
    """"WxH" -> (W, H), each a positive multiple of 16; ValueError (one line) otherwise."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--video-size must be WIDTHxHEIGHT (e.g. 480x480), got {text!r}") from None
    if width <= 0 or height <= 0 or width % 16 or height % 16:
        raise ValueError(f"--video-size {text}: width and height must be positive multiples of 16")
    return width, height
