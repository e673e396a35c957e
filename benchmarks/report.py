"""Markdown performance table from the newest benchmark results (never typed by hand).

    python -m benchmarks.report                       # newest bench-cpu-*.json and bench-mt50-*.json
    python -m benchmarks.report --presets cpu         # only the cpu preset
    python -m benchmarks.report --files benchmarks/results/bench-cpu-20261121-231807.json
    python -m benchmarks.report --update docs/benchmarks.md
    python -m benchmarks.report --no-learning         # without the learning section

Also appends the learning sections (benchmarks/learning/) from the newest learning-*.json with
the SAC sections (single, mt10) and the newest with the PPO section (``make bench-ppo``), or
from ``--learning-file``. Prints the table and writes it to benchmarks/results/README_table.md.
With --update FILE (docs/benchmarks.md), also replaces the text between the lines ``<!-- bench-table:start -->``
and ``<!-- bench-table:end -->`` of that file (the markers must already be there; nothing else in
the file is touched).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmarks import common
from benchmarks.common import RESULTS
from benchmarks.learning import markdown
from benchmarks.run import validate

START, END = "<!-- bench-table:start -->", "<!-- bench-table:end -->"


def newest(results_dir: Path, preset: str) -> Path | None:
    """The newest bench-<preset>-<stamp>.json (stamps sort as text)."""
    files = sorted(p for p in results_dir.glob(f"bench-{preset}-*.json") if p.stem[len(f"bench-{preset}-"):][:1].isdigit())
    return files[-1] if files else None


def _n(x: float | None, digits: int = 0) -> str:
    if x is None:
        return "n/a"
    return f"{x:,.{digits}f}"


def _ms(s: float | None) -> str:
    if s is None:
        return "n/a"
    ms = s * 1e3
    return f"{ms:.3f}" if abs(ms) >= 0.01 else f"{ms:.2g}"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def section(result: dict, source: str) -> str:
    m, v = result["machine"], result["versions"]
    cfg = result["config"]
    lines = [
        f"### Preset `{result['preset']}` ({result['scale']} sizes)",
        "",
        f"{result['device_kind']} (`{result['device']}`), {m.get('cpu_count')} CPU cores"
        + (f" ({m['processor']})" if m.get("processor") else "")
        + f"; jax {v.get('jax')}, mujoco {v.get('mujoco')}, metaworld {v.get('metaworld')}; "
        f"physics backend `{cfg.get('backend')}`; commit `{result.get('commit')}`"
        + (" (+ local changes)" if result.get("commit_dirty") else "")
        + f"; {result['date']}; source `{source}`. "
        f"Figures are medians over repeats after a first (compiling) call; compile times with the "
        f"persistent cache {'on' if cfg.get('compilation_cache') else 'off'}.",
        "",
    ]
    if result["env_only"] or result["metaworld"]:
        lines += ["**Env only** (random actions, no resets; env-steps/s):", "",
                  "| env | slots | env-steps/s | best | vs metaworld sync | compile (s) |",
                  "|---|---:|---:|---:|---:|---:|"]
        for r in result["env_only"]:
            ratio = r.get("ratio_vs_metaworld_sync")
            lines.append(f"| metaworld_jax {r['suite']} | {r['batch']} | {_n(r['env_steps_per_s'])} | "
                         f"{_n(r['env_steps_per_s_best'])} | {_n(ratio, 1) + 'x' if ratio else 'n/a'} | "
                         f"{r['lower_s'] + r['compile_s']:.1f} |")
        sync = {r["suite"]: r["env_steps_per_s"] for r in result["metaworld"] if r["strategy"] == "sync"}
        for r in result["metaworld"]:
            ratio = r["env_steps_per_s"] / sync[r["suite"]] if r["suite"] in sync else None
            lines.append(f"| metaworld {r['suite']} `{r['strategy']}` vector env | {r['num_envs']} | "
                         f"{_n(r['env_steps_per_s'])} | {_n(r['env_steps_per_s_best'])} | "
                         f"{_n(ratio, 1) + 'x' if ratio else 'n/a'} | - |")
        lines.append("")
    lines += _training_lines(result.get("training") or {})
    lines += _training_lines(result.get("training_ppo") or {})
    bd = result.get("breakdown") or {}
    if bd:
        lines += [f"**Where the time goes** (one vector step of {bd['num_envs']} slots with {bd['sampler']} = "
                  f"{_ms(bd['vector_step_s'])} ms; each piece jitted alone at the training shapes):", "",
                  "| piece | ms per call | calls per vector step | ms per vector step | share |",
                  "|---|---:|---:|---:|---:|"]
        for p in bd["parts"]:
            if p["calls_per_vector_step"] > 0:
                lines.append(f"| {p['name']} | {_ms(p['per_call_s'])} | {p['calls_per_vector_step']:.4g} | "
                             f"{_ms(p['per_vector_step_s'])} | {_pct(p['share'])} |")
        lines.append(f"| other (stats, autoreset, plumbing, noise) | | | {_ms(bd['other_s'])} | "
                     f"{_pct(bd['other_share'])} |")
        for p in bd["parts"]:
            if p["calls_per_vector_step"] == 0:
                lines.append(f"| *{p['name']}* (reference, not summed) | {_ms(p['per_call_s'])} | | | |")
        lines.append("")
        notes = []
        if bd.get("callback_overhead_s") is not None:
            notes.append(f"host-callback overhead (physics in jit minus physics_host_only): "
                         f"{_ms(bd['callback_overhead_s'])} ms per vector step")
        for name, cost in (bd.get("sampler_cost_per_vector_step_s") or {}).items():
            notes.append(f"{name} sampler cost amortised: {_ms(cost)} ms per vector step")
        if notes:
            lines += ["; ".join(notes) + ".", ""]
    if result.get("targets"):
        lines += ["**Targets**:", "", "| target | measured | goal | met |", "|---|---:|---:|:---:|"]
        for name, t in result["targets"].items():
            extra = f" (batch {t['at_batch']})" if "at_batch" in t else ""
            lines.append(f"| {t['what']} | {t['value']:.3f}{extra} | >= {t['target']} | "
                         f"{'yes' if t['met'] else '**no**'} |")
        lines.append("")
    return "\n".join(lines)


def render(paths: list[Path], learning_paths: list[Path] | dict[Path, tuple[str, ...]] = ()) -> str:
    """Markdown of bench results, then of learning results (a dict: only the sections named per path)."""
    names = [p.name for p in paths] + [p.name for p in learning_paths]
    parts = [f"<!-- generated by `python -m benchmarks.report` from {', '.join(names)}; do not edit by hand -->"]
    for p in paths:
        result = json.loads(p.read_text())
        errs = validate(result)
        if errs:
            raise ValueError(f"{p}: not a benchmarks.run result: {'; '.join(errs[:5])}")
        parts.append(section(result, _source(p)))
    only = learning_paths if isinstance(learning_paths, dict) else {}
    parts += [render_learning(p, only.get(p, markdown.SECTIONS)) for p in learning_paths]
    return "\n\n".join(parts).rstrip() + "\n"


def _source(path: Path) -> str:
    """The result's path as the report names it: relative to here if below here, else its name."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return path.name


def render_learning(path: Path, only: tuple[str, ...] = markdown.SECTIONS) -> str:
    """The learning section of one learning-*.json (benchmarks.learning), its sections among ``only``."""
    result = json.loads(path.read_text())
    errs = markdown.validate(result)
    if errs:
        raise ValueError(f"{path}: not a benchmarks.learning result: {'; '.join(errs[:5])}")
    return markdown.section(result, _source(path), only)


def update_readme(readme: Path, table: str) -> None:
    """Replace the text between the bench-table markers of ``readme`` (any markdown file)."""
    text = readme.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{readme}: add the lines {START} and {END} where the table goes")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{table}{END}{tail}")


def _training_lines(tr: dict) -> list[str]:
    """The table of one training section (SAC's ``training`` or PPO's ``training_ppo``)."""
    if not tr:
        return []
    c = tr["config"]
    if tr.get("algo", "sac") == "ppo":
        ppo = c["ppo"]
        learner = (f"PPO {ppo['hidden_depth']}x{ppo['hidden_width']}, {ppo['num_epochs']} epochs x "
                   f"{ppo['num_minibatches']} minibatches per rollout (at most; target KL {ppo['target_kl']}), "
                   f"one chunk = one rollout")
    else:
        sac = c["sac"]
        learner = (f"SAC {sac['hidden_depth']}x{sac['hidden_width']} batch {sac['batch_size']}, "
                   f"{c['updates_per_step']} gradient step(s) per vector step, chunks of {tr['chunk_length']} vector steps")
    lines = [f"**Training, {tr.get('algo', 'sac').upper()}** ({tr['suite']}, {tr['num_envs']} env slots, {learner}, "
             f"{_window_text(tr)}; chunks of the two samplers timed alternately):", "",
             "| task allocation | env-steps/s | grad-steps/s | compile (s) |",
             "|---|---:|---:|---:|"]
    for name, r in tr["runs"].items():
        lines.append(f"| {name} | {_n(r['env_steps_per_s'])} | {_n(r['grad_steps_per_s'], 1)} | "
                     f"{_compile_text(r['compile_s'])} |")
    if tr.get("ratio_drats_over_uniform") is not None:
        lines.append(f"| **DRATS / uniform** | **{tr['ratio_drats_over_uniform']:.3f}** | "
                     f"(best-of {tr['ratio_drats_over_uniform_best']:.3f}) | |")
    return lines + [""]


def _compile_text(cs: dict) -> str:
    """Seconds per program: init and the one steps program of warm-up and learning (results
    from before they were one program: init, warm-up and chunk)."""
    if "steps" in cs:
        return f"init {cs.get('init', 0):.1f}, steps {cs['steps']:.1f}"
    return f"init {cs.get('init', 0):.1f}, warm-up {cs.get('warmup', 0):.1f}, chunk {cs.get('chunk', 0):.1f}"


def _window_text(training: dict) -> str:
    """Results from before the window was counted in env steps have no window_steps."""
    interval = training["config"]["sampler"]["interval"]
    if "window_steps" not in training:
        return f"sampler update every {interval} vector steps"
    return f"sampler window {interval:,} env steps ({training['window_steps']} vector steps)"


def main(argv=None) -> int:
    ap = common.arg_parser("python -m benchmarks.report", __doc__)
    ap.add_argument("--results-dir", default=str(RESULTS))
    ap.add_argument("--presets", nargs="+", default=["cpu", "mt50"], help="newest result of each (default cpu mt50)")
    ap.add_argument("--files", nargs="+", default=None, help="explicit result JSONs instead of the newest")
    ap.add_argument("--out", default=None, help="markdown output (default <results-dir>/README_table.md)")
    ap.add_argument("--update", "--update-readme", dest="update", default=None, metavar="FILE",
                    help="also splice the tables into FILE between its bench-table markers (docs/benchmarks.md)")
    ap.add_argument("--learning-file", nargs="+", default=None, help="these learning-*.json instead of the newest")
    ap.add_argument("--no-learning", action="store_true", help="leave the learning section out")
    args = ap.parse_args(argv)
    results_dir = Path(args.results_dir)
    if args.files:
        paths = [Path(f) for f in args.files]
    else:
        paths = [p for p in (newest(results_dir, preset) for preset in args.presets) if p is not None]
    learning_paths = []
    if not args.no_learning:
        learning_paths = ([Path(f) for f in args.learning_file] if args.learning_file
                          else markdown.newest_per_section(results_dir))
    if not paths and not learning_paths:
        print(f"no bench-{{{','.join(args.presets)}}}-*.json (nor learning-*.json) in {results_dir}; "
              "run `make bench` first", file=sys.stderr)
        return 1
    table = render(paths, learning_paths)
    out = Path(args.out) if args.out else results_dir / "README_table.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(table)
    print(table)
    print(f"wrote {out}", file=sys.stderr)
    if args.update:
        update_readme(Path(args.update), table)
        print(f"updated {args.update}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())


