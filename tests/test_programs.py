"""A run's compiled programs: each traces once over a whole CLI run (MetaWorld, C backend),
and `python -m drats_jax.warm_cache` compiles exactly the programs the run then takes from
JAX's persistent cache."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import subprocess
import sys

import chex

from drats_jax import driver, evaluate, programs
from drats_jax.evaluate import rounds
from drats_jax.logger import read_rows

REPO = pathlib.Path(__file__).resolve().parents[1]
RUN = ["--tasks", "reach-v3,push-v3", "--seeds", "2", "--eval-episodes", "2", "--no-progress",
       "--eval-interval", "200", "--checkpoint-interval", "200", "--train.num-envs", "2",
       "--total-steps", "1000", "--train.warmup-env-steps", "200", "--train.chunk-length", "50",
       "--train.buffer-capacity", "1000", "--train.sac.batch-size", "16", "--train.sac.hidden-width", "16",
       "--train.sampler.interval", "1000"]


def test_a_cli_run_traces_each_program_once(tmp_path, monkeypatch):
    """init and the steps program (2 warm-up calls, the learning chunks' 8 calls and the 4
    evaluations' 2 rounds of 10 calls each: one program), the evaluation rounds' reset and
    its per-task means trace once each; the run compiles no evaluation program of its own."""
    made = []

    def counted_programs(self, num_seeds):
        once = {name: chex.assert_max_traces(getattr(self, name), n=1) for name in ("init", "run_steps")}
        counted = dataclasses.replace(self, **once)
        made.append(counted)
        return jitted(counted, num_seeds)

    def counted_rounds(*args, **kwargs):
        r = make_rounds(*args, **kwargs)
        return r._replace(begin=chex.assert_max_traces(r.begin, n=1), result=chex.assert_max_traces(r.result, n=1))

    jitted, make_rounds = programs.jitted, rounds.make_rounds
    monkeypatch.setattr(programs, "jitted", counted_programs)
    monkeypatch.setattr(rounds, "make_rounds", counted_rounds)
    for module in (evaluate, evaluate.protocol):  # training builds no one-shot evaluation program
        monkeypatch.setattr(module, "make_evaluate", None)
    assert driver.main([*RUN, "--out", str(tmp_path / "run")]) == 0
    assert len(made) == 1  # the evaluation runs the chunks' program object
    evals = (tmp_path / "run" / "eval.csv").read_text().splitlines()
    assert len(evals) - 1 == 2 * 4  # 2 seeds x 4 evaluations


def warm_cache_fills_what_the_run_uses(tmp_path, *backend_args: str):
    """Runs `python -m drats_jax.warm_cache` then the same run on `backend` in subprocesses with
    a fresh persistent cache: the run finds every program it compiles there."""
    cache = tmp_path / "cache"
    env = {**os.environ, "DRATS_JAX_CACHE_DIR": str(cache), "PYTHONPATH": str(REPO)}

    def run(module, *args):
        done = subprocess.run([sys.executable, "-m", module, *RUN, *backend_args, *args], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=1200)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    out = run("drats_jax.warm_cache", "--out", str(tmp_path / "ignored"))
    assert "steps: trace" in out and "eval_begin: trace" in out and "eval_result: trace" in out
    assert not (tmp_path / "ignored").exists()  # nothing but the cache is written
    warmed = sorted(p.name for p in cache.iterdir())
    # one program holds the physics: warm-up, learning and evaluation (and init, and the
    # evaluation's resets and means); no evaluation program of its own
    assert sum(name.startswith("jit_run_steps") for name in warmed) == 1, warmed
    assert not any(name.startswith("jit_evaluate") for name in warmed), warmed
    run("drats_jax.train", "--out", str(tmp_path / "run"))
    assert sorted(p.name for p in cache.iterdir()) == warmed  # every program came from the cache


def test_warm_cache_refuses_the_c_backend_in_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "drats_jax.warm_cache", *RUN, "--out", str(tmp_path / "x")], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "host callbacks" in lines[0] and not (tmp_path / "x").exists()


def test_a_warmup_that_ends_inside_a_chunk_runs_the_same_steps(tmp_path):
    """The warm-up and the learning chunks are one program (`Trainer.run_steps`, a traced
    `phase` flag): a warm-up of 125 vector steps in chunks of 75 is a full call and a call
    with 50 active steps; in chunks of 25 it is 5 full calls. After 500 vector steps (warm-up
    and 375 learning steps both ways) the two runs' final evaluations (MetaWorld, C backend,
    SAC, 2 seeds) are the same to the last bit, and so are their gradient-step counts."""
    def final_rows(chunk: int) -> list[dict]:
        out = tmp_path / f"chunk{chunk}"
        argv = [*RUN, "--out", str(out), "--train.warmup-env-steps", "250", "--train.chunk-length", str(chunk),
                "--eval-interval", "1000", "--checkpoint-interval", "1000"]
        assert driver.main(argv) == 0
        rows = read_rows(out / "eval.jsonl")
        assert {r["env_steps"] for r in rows} == {1000}
        train = read_rows(out / "train.jsonl")
        return [rows, max(r["grad_steps"] for r in train)]

    assert final_rows(75) == final_rows(25)


def test_evaluating_changes_nothing_the_run_trains(tmp_path):
    """Evaluation runs in the training program, on slots of its own (`Trainer.evaluator`): a
    run that evaluates every 200 env steps (MetaWorld, C backend, SAC, 2 seeds: 4
    evaluations of 2 rounds each) logs the same training rows, to the last bit, as one that
    evaluates only at its end, and the same final evaluation."""
    def rows(interval: int, evaluated: set) -> tuple[list, list]:
        out = tmp_path / f"every{interval}"
        assert driver.main([*RUN, "--out", str(out), "--eval-interval", str(interval)]) == 0
        evals = read_rows(out / "eval.jsonl")
        assert {r["env_steps"] for r in evals} == evaluated
        return read_rows(out / "train.jsonl"), [r for r in evals if r["env_steps"] == 1000]

    assert rows(200, {400, 600, 800, 1000}) == rows(1000, {1000})
