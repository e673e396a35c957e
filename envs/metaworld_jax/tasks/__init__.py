"""One module per MetaWorld task (or per family sharing a scene); importing this package
registers every task in `base.REGISTRY`."""

import importlib
import pkgutil

from metaworld_jax.tasks.base import REGISTRY, Task, register

for _mod in pkgutil.iter_modules(__path__):
    if _mod.name != "base":
        importlib.import_module(f"{__name__}.{_mod.name}")

__all__ = ["REGISTRY", "Task", "register"]
