"""Shared pytest setup: the persistent JAX compilation cache lives in <repo>/.cache/jax."""

from __future__ import annotations

import pathlib

import jax

REPO = pathlib.Path(__file__).resolve().parents[1]
jax.config.update("jax_compilation_cache_dir", str(REPO / ".cache" / "jax"))
# Cache every program: the trainer's chunks take seconds to compile on CPU.
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
