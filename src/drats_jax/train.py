"""``python -m drats_jax.train``: train, evaluate, log and checkpoint one run (see --help).

The pieces: the shared loop (:mod:`drats_jax.trainer`, ``make_trainer``) around a learner
(:mod:`drats_jax.agents`, ``make_train`` picks it by ``--algo``), the task allocation it steps
(:mod:`drats_jax.allocation`), and the Python driver (:mod:`drats_jax.driver`: parsing,
evaluation, logs, checkpoints).
"""

from __future__ import annotations

import sys

from drats_jax.agents import make_train
from drats_jax.agents.sac.train import TrainState
from drats_jax.driver import main, prepare, run, train_and_evaluate
from drats_jax.trainer import Trainer

__all__ = ["TrainState", "Trainer", "make_train", "main", "prepare", "run", "train_and_evaluate"]

if __name__ == "__main__":
    sys.exit(main())
