"""Reading flags outside the full parse, and making all processes agree on the parse.

:func:`flag_value` reads one flag from argv before :func:`drats_jax.cli.parse_args` runs (the
process options must be known before a JAX backend starts; presets and GPU memory settings
choose defaults of the parse). :func:`flatten` turns a config dict into dotted keys (compared
when resuming and across processes). :func:`parse_agreed` is the parse of a multi-process run:
the same config, or the same one-line error, on every process.
"""

from __future__ import annotations

from drats_jax.errors import UsageError


def flag_value(argv: list[str], flag: str) -> str | None:
    """The value of ``--flag VALUE`` or ``--flag=VALUE`` in argv (last one wins), else None."""
    value = None
    for i, a in enumerate(argv):
        if a == flag and i + 1 < len(argv):
            value = argv[i + 1]
        elif a.startswith(flag + "="):
            value = a.split("=", 1)[1]
    return value


def int_flag(argv: list[str], flag: str) -> int | None:
    """:func:`flag_value` as an int (None when absent or "None"); UsageError if not an integer."""
    text = flag_value(argv, flag)
    if text is None or text == "None":
        return None
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"{flag} must be an integer, got {text!r}") from None


def flatten(d: dict, prefix: str = "") -> dict:
    """Nested dict -> {"a.b.c": leaf}."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def parse_agreed(argv: list[str] | None):
    """cli.parse_args on every process of the run: a parse error on any process, or flags that
    differ between processes (all but the process options), is the same one-line UsageError on
    every process, instead of the others waiting forever in the first collective."""
    from drats_jax import cli, processes  # noqa: PLC0415  (cli imports this module)

    parsed = {}
    processes.collectively("parse", lambda: parsed.update(cfg=cli.parse_args(argv)))
    cfg = parsed["cfg"]
    flat = {k: v for k, v in flatten(cli.to_dict(cfg)).items() if k not in cli.PROCESS_FIELDS}
    processes.check_same("flags", flat, "the processes were started with different flags (only --process-id "
                         "may differ)")
    return cfg
