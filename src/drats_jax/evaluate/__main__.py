"""``python -m drats_jax.evaluate``: see :mod:`drats_jax.evaluate.command`."""

import sys

from drats_jax.evaluate.command import main

sys.exit(main())
