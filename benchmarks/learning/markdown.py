"""The README section of a learning-*.json (``python -m benchmarks.report`` puts it under Performance)."""

from __future__ import annotations

import copy
import json
import math
import shlex
from pathlib import Path

from benchmarks.learning.plan import BENCH, mt10_label
from benchmarks.learning.single import add_differences


def _f(x, d=2):
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{d}f}"


def _ci(est: dict, key: str) -> str:
    lo, hi = est[f"{key}_ci"]
    return f"{_f(est[key])} [{_f(lo)}, {_f(hi)}]"


SECTIONS = ("single", "mt10", "ppo")


def _n(x, d=0):
    return "n/a" if x is None else f"{x:,.{d}f}"


def newest(results_dir: Path) -> Path | None:
    files = sorted(p for p in Path(results_dir).glob(f"{BENCH}-*.json") if p.stem[len(BENCH) + 1:][:1].isdigit())
    return files[-1] if files else None


def newest_per_section(results_dir: Path) -> dict[Path, tuple[str, ...]]:
    """For each section (single, mt10, ppo), the newest learning-*.json that has it:
    {path: the sections to show from it}, oldest first. A section re-run on its own (e.g. the
    single-task one, or ``--collect`` of MT10 with the reference MTSAC added) thus replaces only
    that section of an older result."""
    files = sorted(p for p in Path(results_dir).glob(f"{BENCH}-*.json") if p.stem[len(BENCH) + 1:][:1].isdigit())
    chosen: dict[Path, list[str]] = {}
    for key in SECTIONS:
        for p in reversed(files):
            try:
                result = json.loads(p.read_text())
            except (OSError, ValueError):
                continue
            if result.get(key):
                chosen.setdefault(p, []).append(key)
                break
    return {p: tuple(chosen[p]) for p in sorted(chosen)}


def validate(result: dict) -> list[str]:
    errs = [f"missing top-level key {k!r}" for k in ("benchmark", "schema_version", "config", "date", "machine",
                                                     "versions", "commit", "single", "mt10", "peer_mtsac",
                                                     "runtime_s") if k not in result]
    if result.get("benchmark") != BENCH:
        errs.append(f"benchmark is {result.get('benchmark')!r}, not {BENCH!r}")
    if (result.get("mt10") or {}) and "runs" not in result["mt10"]:
        errs.append("mt10 has no 'runs' (a schema 1 result: its multi-task runs were keyed by sampler only)")
    return errs


def section(result: dict, source: str, only: tuple[str, ...] = SECTIONS) -> str:
    """Markdown of one learning-*.json: its sections among ``only``."""
    result = {**result, **{k: None for k in SECTIONS if k not in only}}
    for name in ("single", "ppo"):  # results written before the difference statistic existed
        if result.get(name) and result[name].get("verdicts") and "difference_counts" not in result[name]:
            result[name] = add_differences(copy.deepcopy(result[name]), result["config"].get("reps") or 2000)
    m, v, cfg = result["machine"], result["versions"], result["config"]
    titles = {"single": "single-task SAC against sbx-rl", "mt10": "MT10, task samplers and replay samplings",
              "ppo": "single-task PPO against Stable-Baselines3"}
    title = "; ".join(titles[k] for k in titles if result.get(k))
    lines = [f"### Learning: {title}{' (quick smoke run: budgets too small to mean anything)' if cfg.get('quick') else ''}",
             "",
             f"{m.get('cpu_count')} CPU cores" + (f" ({m['processor']})" if m.get("processor") else "")
             + f"; jax {v.get('jax')}, mujoco {v.get('mujoco')}, metaworld {v.get('metaworld')}; commit "
             f"`{result.get('commit')}`" + (" (+ local changes)" if result.get("commit_dirty") else "")
             + f"; {result['date']}; {cfg['jobs']} jobs at a time; "
             + ("written with `--collect` from run folders (a stopped run's, or runs merged into one folder; its "
                "jobs' wall times are below); " if cfg.get("collect") else f"total {result['runtime_s'] / 60:.1f} min; ")
             + f"source `{source}` (curves: `{result.get('png')}`).", ""]
    if result.get("single"):
        lines += _single_lines(result["single"], cfg.get("ours_args") or [])
    if result.get("mt10"):
        lines += _mt10_lines(result["mt10"])
    if result.get("ppo"):
        lines += _ppo_lines(result["ppo"])
    if not result.get("mt10"):
        return "\n".join(lines)
    pm = result.get("peer_mtsac") or {}
    ran = (f"run ({len(pm.get('seeds_finished') or [])} of {pm.get('seeds_planned')} seeds finished), in the MT10 "
           "tables above" if pm.get("ran") else "not run")
    lines += [f"**Reference MTSAC (rainx0r/metaworld-algorithms) on MT10**: {ran}"
              + (f" -- {pm.get('reason')}" if pm.get("reason") else "") + ".", ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- single task


def _single_lines(single: dict, ours_args: list[str]) -> list[str]:
    peer = single["peer"]
    pv = peer.get("versions") or {}
    versions = (f" (sbx-rl {pv.get('sbx-rl')}, stable-baselines3 {pv.get('stable-baselines3')}, jax "
                f"{pv.get('jax')}, on metaworld {pv.get('metaworld')}'s own env)" if pv else "")
    lines = [f"**Single-task SAC, ours vs sbx-rl's SAC**{versions}. "
             f"{single['seeds']} seeds each; MetaWorld's evaluation ({single['eval_episodes']} episodes, episode "
             "k on goal k, deterministic actions, success at any step) at the same env steps; "
             "IQM over seeds with rliable 95% stratified-bootstrap CIs"
             + (" (with fewer than 4 seeds the IQM is the mean)" if single["seeds"] < 4 else "")
             + "; last column: our IQM against the peer's CI.", ""]
    if not peer.get("ran"):
        lines += [f"Peer not run: {peer.get('reason')}.", ""]
    sh = single["shared"]
    lines += ["Same on both: " + ", ".join([
        f"{sh['hidden_depth']}x{sh['hidden_width']} actor and critics", f"batch {sh['batch_size']}",
        f"lr {sh['lr']:g} (actor, critic, temperature)", f"{sh['warmup_env_steps']:,} random warm-up steps",
        "1 env, 1 gradient step per env step", f"gamma {sh['gamma']}", f"tau {sh['tau']}",
        f"initial temperature {sh['initial_temperature']:g}", f"target entropy {sh['target_entropy']:g}",
        "replay buffer holding the whole run", "bootstrap through truncation", sh["env"]]) + ".", ""]
    if ours_args:
        lines += [f"Our runs also pass `{shlex.join(ours_args)}` (`--ours-args`; "
                  "the remaining differences below reflect it).", ""]
    lines += _curve_table(single, "sbx-rl")
    lines.append("")
    lines += _verdict_lines(single)
    lines += _single_speed_lines(single)
    lines += ["Remaining differences:", "", "| what | ours | sbx-rl |", "|---|---|---|"]
    lines += [f"| {d['what']} | {d['ours']} | {d['peer']} |" for d in single.get("differences") or []]
    return lines + [""]


def _curve_table(section: dict, peer: str) -> list[str]:
    """Per task and evaluation point: our and the peer's success IQM [95% CI], and the verdict."""
    lines = [f"| task | env steps | ours success | {peer} success | ours vs {peer} CI | ours - {peer}, mean [95% CI] |",
             "|---|---:|---:|---:|:---:|---:|"]
    for task, entry in section["tasks"].items():
        st = entry.get("stats")
        if not st:
            lines.append(f"| {task} | - | no result ({(entry['ours']['job'].get('error') or '')[:80]}) | | | |")
            continue
        for row in st["rows"]:
            p = row.get("peer")
            lines.append(f"| {task} | {row['env_steps']:,} | {_ci(row['ours'], 'iqm')} | "
                         f"{_ci(p, 'iqm') if p else 'n/a'} | {row.get('ours_vs_peer_ci', {}).get('iqm', '-')} | "
                         f"{_difference(row.get('difference'))} |")
    return lines


def _difference(d: dict | None) -> str:
    if not d:
        return "-"
    text = f"{d['mean']:+.2f} [{d['ci'][0]:+.2f}, {d['ci'][1]:+.2f}]"
    return f"**{text}**" if d["gap"] != "no gap detected" else text


def _ppo_lines(ppo: dict) -> list[str]:
    peer, sh = ppo["peer"], ppo["shared"]
    pv = peer.get("versions") or {}
    versions = (f" (stable-baselines3 {pv.get('stable-baselines3')}, torch {pv.get('torch')}, on metaworld "
                f"{pv.get('metaworld')}'s own env)" if pv else "")
    lines = [f"**Single-task PPO, ours vs Stable-Baselines3's PPO**{versions}. {ppo['seeds']} seeds each; "
             f"MetaWorld's evaluation ({ppo['eval_episodes']} episodes) after the same rollouts; IQM over seeds with "
             "rliable 95% stratified-bootstrap CIs" + (" (with fewer than 4 seeds the IQM is the mean)"
                                                     if ppo["seeds"] < 4 else "") + ".", ""]
    if not peer.get("ran"):
        lines += [f"Peer not run: {peer.get('reason')}.", ""]
    lines += ["Same on both (the DRATS paper's PPO): " + ", ".join([
        f"{sh['num_envs']} env copies of the task, rollouts of {sh['rollout_steps']} steps per copy",
        f"{sh['hidden_depth']}x{sh['hidden_width']} ReLU actor and critic", f"Adam lr {sh['lr']:g}",
        f"{sh['epochs']} epochs x {sh['minibatches']} minibatches", f"clip {sh['clip']}",
        f"GAE lambda {sh['gae_lambda']}, gamma {sh['gamma']}", f"target KL {sh['target_kl']}",
        f"entropy {sh['entropy_coef']}", f"value coefficient {sh['value_coef']}",
        f"gradient-norm clip {sh['max_grad_norm']}", sh["env"]]) + ".", ""]
    lines += _curve_table(ppo, "SB3") + [""]
    lines += _verdict_lines(ppo)
    lines += _single_speed_lines(ppo, "SB3")
    lines += ["Remaining differences:", "", "| what | ours | stable-baselines3 |", "|---|---|---|"]
    lines += [f"| {d['what']} | {d['ours']} | {d['peer']} |" for d in ppo.get("differences") or []]
    return lines + [""]


def _peer_seed_note(section: dict) -> list[str]:
    """Where fewer peer seeds finished than were planned (a run collected with --collect)."""
    short = [f"{t}: {len((e.get('peer') or {}).get('seeds') or [])}" for t, e in section["tasks"].items()
             if len((e.get("peer") or {}).get("seeds") or []) < section["seeds"]]
    if not short or not section["peer"].get("ran"):
        return []
    return [f"**Peer seeds that finished** (of {section['seeds']} planned; the run was stopped and collected): "
            + ", ".join(short) + ". Where no peer seed finished there is no comparison; with one, its CI is a point.",
            ""]


def _verdict_lines(single: dict) -> list[str]:
    lines = _peer_seed_note(single)
    if not single.get("verdicts"):
        return lines
    vc = single.get("verdict_counts_iqm") or {}
    below = [f"{x['task']} @ {x['env_steps']:,}" for x in single["verdicts"] if x["iqm"] == "below"]
    lines += [f"Our success (IQM) lies within the peer's 95% CI at {vc.get('within', 0)} and above it at "
             f"{vc.get('above', 0)} of {len(single['verdicts'])} evaluation points"
             + (f"; below it at {', '.join(below)}." if below else ": at every point within or above."), ""]
    dc = single.get("difference_counts")
    if dc:
        lines += [f"Difference of mean success, ours - peer, with a 95% CI from resampling both sides' seeds (bold "
                  f"where the CI excludes 0): ours behind at {dc['ours behind']}, no gap detected at "
                  f"{dc['no gap detected']}, ours ahead at {dc['ours ahead']} of {len(single['verdicts'])} points.", ""]
    fa = single.get("final_all_tasks")
    if fa:
        lines += [f"Final points, all tasks together (stratified by task): ours {_ci(fa['ours'], 'iqm')}, "
                  f"peer {_ci(fa['peer'], 'iqm')} (IQM); means {_ci(fa['ours'], 'mean')} vs "
                  f"{_ci(fa['peer'], 'mean')}.", ""]
    return lines


def _single_speed_lines(single: dict, peer: str = "sbx-rl") -> list[str]:
    lines = ["Throughput (env steps/s per process = seeds in the process x env steps / training time, "
             "evaluation excluded; steady = between the first and the last evaluation; wall = whole "
             "process incl. start-up, compiles and evaluations):", "",
             "| learner | task | seeds per process | env-steps/s steady | per seed | wall (s) per process |",
             "|---|---|---:|---:|---:|---:|"]
    for task, entry in single["tasks"].items():
        t = entry["ours"].get("timing") or {}
        r = t.get("env_steps_per_s_steady")
        lines.append(f"| ours | {task} | {t.get('seeds_per_process')} | {_n(r)} | "
                     f"{_n(r / t['seeds_per_process'] if r else None)} | {_n(t.get('wall_s'))} |")
        pt = (entry.get("peer") or {}).get("timing") or []
        if pt:
            rates = [x["env_steps_per_s_steady"] for x in pt if x.get("env_steps_per_s_steady")]
            walls = [x["wall_s"] for x in pt if x.get("wall_s")]
            r = sum(rates) / len(rates) if rates else None
            lines.append(f"| {peer} | {task} | 1 ({len(pt)} processes) | {_n(r)} | {_n(r)} | "
                         f"{_n(sum(walls) / len(walls) if walls else None)} |")
    return lines + [""]


# ----------------------------------------------------------------------------- MT10


def _window(mt10: dict) -> int | None:
    """The sampler window the runs used (their saved config: the interval as the loop resolved it)."""
    for run in mt10["runs"].values():
        if run.get("config"):
            return run["config"]["train"]["sampler"]["interval"]
    return (mt10["config"]["cpu_train_config"].get("sampler") or {}).get("interval")


def _mt10_intro(mt10: dict) -> str:
    c = mt10["config"]
    cpu, sac = c["cpu_train_config"], c["cpu_train_config"].get("sac", {})
    suite = "MT10" if c.get("tasks", "mt10") == "mt10" else c.get("tasks")
    steps, budget = c["total_env_steps"], cpu.get("total_env_steps")
    part = (f"its whole budget of {steps:,} env steps" if steps == budget
            else f"first {steps:,} env steps of its {budget:,}-step budget")
    return (f"**{suite}, CLI CPU-default config, {part}** (`cpu_train_config()`: {cpu.get('num_envs')} env slots, "
            f"{sac.get('hidden_depth')}x{sac.get('hidden_width')} networks, batch {sac.get('batch_size')}, "
            f"{cpu.get('updates_per_step')} gradient step per vector step, {_n(cpu.get('warmup_env_steps'))} "
            f"warm-up env steps, sampler window {_n(_window(mt10))} env steps; "
            "only `--total-steps` changed"
            + (f"; quick-run overrides `{' '.join(c['overrides'])}`" if c.get("overrides") else "") + "). "
            f"Task sampler ({', '.join(c['samplers'])}) x replay sampling `--train.buffer-sampling` "
            f"({', '.join(c['buffer_samplings'])}: `uniform` draws uniformly over stored transitions, our default, "
            "so the task allocation reaches the updates; `per_task` gives every task an equal share of each batch, "
            f"the reference MTSAC's rule), `--algo sac`; {c['seeds']} seeds vmapped per configuration, "
            f"{c['eval_episodes']} eval episodes per task. Mean-task success: IQM over seeds x tasks; worst-task "
            "success: IQM over seeds; rliable 95% stratified-bootstrap CIs.")


def _mt10_peer_lines(mt10: dict) -> list[str]:
    """What the reference MTSAC ran with, and where it differs from our runs."""
    peer = mt10.get("peer") or {}
    if not peer.get("ran"):
        return [f"Reference MTSAC not run: {peer.get('reason')}.", ""] if peer else []
    v, s = peer.get("versions") or {}, peer.get("settings") or {}
    c = mt10["config"]
    done, planned = peer.get("seeds_finished") or [], peer.get("seeds_planned")
    if not done:
        return [f"Reference MTSAC: none of its {planned} seeds finished (their errors are in the table).", ""]
    points = ", ".join(f"{p:,}" for p in c.get("eval_points") or [])
    ours_batch = c["cpu_train_config"]["sac"]["batch_size"]
    return [f"**Reference MTSAC** (rainx0r/metaworld-algorithms {v.get('metaworld-algorithms') or ''}, jax "
            f"{v.get('jax')}, flax {v.get('flax')}, on metaworld {v.get('metaworld')}'s `Meta-World/MT10` env: "
            "`benchmarks/mtsac_peer.py`, one process per seed, its 10 env subprocesses): its own MTSAC, replay "
            "buffer and env setup, our width/depth, learning rates, gamma, tau and budget, the rest as its MT10 "
            "example (clip 1.0 on actor and critics, Adam eps 1e-5, log-std in [-20, 2], one temperature per task); "
            f"{len(done)} of {planned} seeds finished; evaluated at our points ({points}) with the same protocol "
            f"({c['eval_episodes']} episodes per task, episode k on goal k, deterministic, success at any step). "
            f"Differences it imposes: batch {s.get('batch_size', 'n/a')} (a multiple of the 10 tasks; ours "
            f"{ours_batch}), an equal share of each batch per task (our `per_task` replay), warm-up counted in "
            f"vector steps ({s.get('warmstart_vector_steps', 'n/a')}; its first gradient step one vector step after "
            "ours), float32 observations in its buffer. Its worst-task and per-task success are computed as ours.", ""]


def _mt10_lines(mt10: dict) -> list[str]:
    lines = [_mt10_intro(mt10), ""] + _mt10_peer_lines(mt10)
    runs, st = mt10["runs"], mt10.get("stats")
    lines += [f"Final ({st['points'][-1]:,} env steps per seed):" if st else "No evaluation result:", "",
              "| task sampler | replay sampling | mean-task success, IQM | mean-task success, mean | "
              "worst-task success, IQM | env-steps/s (all seeds, steady) | wall (s) | error |",
              "|---|---|---:|---:|---:|---:|---:|---|"]
    for name, r in runs.items():
        fin = (st or {}).get("final", {}).get(name)
        cells = ([_ci(fin["success"], "iqm"), _ci(fin["success"], "mean"), _ci(fin["worst_success"], "iqm")]
                 if fin else ["n/a"] * 3)
        t = r.get("timing") or {}
        who = f"{r['label']}: {r['sampler']}" if r.get("label") else r["sampler"]
        lines.append(f"| {who} | {r['buffer_sampling']} | " + " | ".join(cells)
                     + f" | {_n(t.get('env_steps_per_s_steady'))} | {_n(t.get('wall_s'))} | "
                     + f"{(r['job'].get('error') or '')[:100]} |")
    lines.append("")
    if not st:
        return lines
    lines += ["Curves: mean-task success IQM [95% CI] / worst-task success IQM, at each evaluation:", "",
              "| configuration | " + " | ".join(f"{p:,}" for p in st["points"]) + " |",
              "|---|" + "---:|" * len(st["points"])]
    for name in st["runs"]:
        a, w = st["success"][name], st["worst_success"][name]
        lines.append(f"| {mt10_label(runs[name])} | " + " | ".join(
            f"{_f(a['iqm'][i])} [{_f(a['iqm_ci'][i][0])}, {_f(a['iqm_ci'][i][1])}] / {_f(w['iqm'][i])}"
            for i in range(len(st["points"]))) + " |")
    lines.append("")
    names = mt10.get("task_names") or []
    lines += [f"Final success per task (mean of seeds, {st['points'][-1]:,} env steps):", "",
              "| task | " + " | ".join(mt10_label(runs[n]) for n in st["runs"]) + " |",
              "|---|" + "---:|" * len(st["runs"])]
    lines += [f"| {t} | " + " | ".join(_f(st["final_per_task"][n][t]) for n in st["runs"]) + " |" for t in names]
    return lines + [""]
