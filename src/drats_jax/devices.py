"""What the devices of a run mean for the user: one-line warnings printed before training.

The env package says where its physics runs (``metaworld_jax.backends.mjx.warp_device``); the
trainer decides what to tell the user, since the env package never imports the trainer.
"""

from __future__ import annotations


def backend_warning(backend: str) -> str | None:
    """One line when the chosen physics backend runs somewhere it is not meant for, else None.

    backend="warp" without a GPU visible to JAX runs MJX-Warp's kernels on Warp's CPU device:
    correct, but orders of magnitude slower than C MuJoCo (tests only). Call it after the
    multi-process join (it starts JAX's backend).
    """
    if backend != "warp":
        return None
    from metaworld_jax.backends.mjx import warp_device  # noqa: PLC0415  only where warp is installed

    if warp_device() == "cuda":
        return None
    return ("--backend warp runs on Warp's CPU device here (JAX sees no GPU): for tests only, slow; "
            "on an NVIDIA GPU machine run `make install-gpu` first")
