"""The user error every command reports in one line (:class:`UsageError`), and how to make
an exception's text one line (:func:`one_line`).

Raised by parsing (:mod:`drats_jax.cli`, :mod:`drats_jax.flags`), joining
(:mod:`drats_jax.distributed`), cross-process agreement (:mod:`drats_jax.processes`) and the
driver; ``python -m drats_jax.train`` prints it and exits with code 2.
"""

from __future__ import annotations


class UsageError(Exception):
    """A user error; str(error) is one line. The CLI prints it and exits with code 2."""


def one_line(exc: BaseException | str) -> str:
    """str(exc) with its whitespace runs collapsed to single spaces (the type's name if empty)."""
    text = str(exc).strip()
    return " ".join(text.split()) or type(exc).__name__
