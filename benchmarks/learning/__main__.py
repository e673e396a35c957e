"""``python -m benchmarks.learning`` (see benchmarks/learning/__init__.py)."""

import sys

from benchmarks.learning.cli import main

sys.exit(main())
