"""CLI: --help, every usage error (one line, exit code 2, no traceback, nothing compiled),
config saved as JSON, resume config checks."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

from drats_jax import cli
from drats_jax.train import main

REPO = pathlib.Path(__file__).resolve().parents[1]
SMALL = ["--tasks", "reach-v3,push-v3", "--train.num-envs", "2", "--total-steps", "600", "--train.warmup-env-steps", "200",
         "--train.chunk-length", "100", "--train.buffer-capacity", "600", "--train.sac.hidden-width", "16",
         "--train.sac.hidden-depth", "1", "--train.sac.batch-size", "32", "--train.sampler.interval", "50",
         "--eval-episodes", "2", "--no-progress"]


def _error(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("drats_jax.train: error: "), err
    assert "\n" not in err and "Traceback" not in err, err
    return err


def test_help_lists_every_option_with_defaults():
    out = subprocess.run([sys.executable, "-m", "drats_jax.train", "--help"], capture_output=True, text=True,
                         cwd=REPO, env={"COLUMNS": "200", "PATH": ""}, timeout=120)
    assert out.returncode == 0, out.stderr
    for flag in ("--tasks", "--sampler", "--backend", "--seeds", "--total-steps", "--out", "--resume",
                 "--eval-interval", "--checkpoint-interval", "--wandb", "--train.sac.hidden-width",
                 "--train.sampler.eta", "--train.updates-per-step"):
        assert flag in out.stdout, flag
    assert "(default: mt10)" in out.stdout and "(default: drats)" in out.stdout


@pytest.mark.parametrize("argv, match", [
    (["--tasks", "reach-v9"], "unknown task(s) 'reach-v9'"),
    (["--sampler", "greedy"], "invalid choice 'greedy' for argument '--sampler'. Expected one of ('drats', 'uniform', "),
    (["--backend", "warp"], "backend 'warp' needs a mujoco-mjx with impl='warp'"),
    (["--block-size", "64"], "--block-size applies to the mjx and warp backends"),
    (["--backend", "mjx", "--block-size", "0"], "must be >= 1"),
    (["--backend", "bullet"], "invalid choice 'bullet' for argument '--backend'"),
    (["--preset", "nope"], "unknown preset 'nope'; known: drats-paper-mt10, drats-paper-mt50, mtsac-mt10, "),
    (["--total-steps", "1000", "--train.warmup-env-steps", "5000"], "warmup_env_steps (5000) must be <"),
    (["--seeds", "0"], "--seeds must be > 0"),
    (["--no-such-flag"], "no-such-flag"),
])
def test_usage_errors_are_one_line(argv, match, capsys, tmp_path):
    err = _error(argv + ["--out", str(tmp_path / "run")], capsys)
    assert match in err
    assert not (tmp_path / "run").exists()


def test_budget_smaller_than_one_update(capsys, tmp_path):
    # 2 slots: 200 warm-up steps + 1 env step leaves no full vector step to learn on.
    err = _error(SMALL[:2] + ["--total-steps", "201", "--train.warmup-env-steps", "200",
                              "--out", str(tmp_path / "r")], capsys)
    assert "at least one vector step" in err
    assert not (tmp_path / "r").exists()


def test_existing_or_unwritable_out_folder(capsys, tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "x").write_text("")
    assert "already exists; pass --resume" in _error(SMALL + ["--out", str(tmp_path / "old")], capsys)
    (tmp_path / "file").write_text("")
    assert "cannot be created" in _error(SMALL + ["--out", str(tmp_path / "file" / "run")], capsys)


def test_resume_errors(capsys, tmp_path):
    assert "no config.json" in _error(["--resume", str(tmp_path)], capsys)
    (tmp_path / "config.json").write_text("{not json")
    assert "unreadable config.json" in _error(["--resume", str(tmp_path)], capsys)
    cfg = cli.parse_args(SMALL + ["--out", str(tmp_path / "a")])
    (tmp_path / "a").mkdir()
    cli.save_config(cfg, tmp_path / "a")
    err = _error(["--resume", str(tmp_path / "a"), "--train.sac.hidden-width", "32"], capsys)
    assert "incompatible config: train.sac.hidden_width=32 (saved: 16)" in err


def test_config_round_trip_and_resume_overrides(tmp_path):
    cfg = cli.parse_args(SMALL + ["--sampler", "lp", "--seeds", "3", "--out", str(tmp_path / "a")])
    assert cfg.train.sampler.name == "learning_progress" and cfg.seeds == 3
    assert cfg.train.total_env_steps == 600 and cfg.train.sac.hidden_width == 16
    (tmp_path / "a").mkdir()
    cli.save_config(cfg, tmp_path / "a")
    assert json.loads((tmp_path / "a" / "config.json").read_text())["train"]["sac"]["batch_size"] == 32
    again = cli.parse_args(["--resume", str(tmp_path / "a"), "--keep-checkpoints", "5"])
    assert again.train == cfg.train and again.keep_checkpoints == 5 and again.resume == str(tmp_path / "a")


def test_defaults_are_cpu_sized():
    cfg = cli.parse_args([])
    assert cfg.tasks == "mt10" and cfg.backend == "mujoco" and cfg.eval_episodes == 50
    assert cfg.train.sac.hidden_width * cfg.train.sac.batch_size <= 256 * 256
    assert cfg.train.total_env_steps <= 500_000


def test_presets_give_the_papers_settings_and_flags_override_them(capsys, tmp_path):
    cfg = cli.parse_args(["--preset", "drats-paper-mt10", "--seeds", "2"])
    t = cfg.train
    assert (cfg.tasks, cfg.seeds, t.algo, t.num_envs, t.total_env_steps, cfg.eval_interval) == (
        "mt10", 2, "ppo", None, 100_000_000, 2_000_000)
    p = t.ppo
    assert (p.hidden_width, p.hidden_depth, p.multi_head, p.lr, p.clip_eps, p.gae_lambda, p.gamma, p.num_epochs,
            p.num_minibatches, p.target_kl, p.entropy_coef) == (400, 3, True, 5e-4, 0.2, 0.97, 0.99, 16, 32, 0.05, 0.01)
    # The authors' PPO rules (docs/drats.md), not the textbook defaults.
    assert (p.kl_stop_factor, p.kl_stop_keeps_step, p.advantage_norm, p.bootstrap_truncation, p.value_coef) == (
        1.5, True, "per_task_minibatch", "rollout_end", 0.001)
    assert (t.sampler.name, t.sampler.eta, t.sampler.resolved_alpha(), t.sampler.resolved_eps(10),
            t.sampler.resolved_interval(10), t.sampler.lp_solved) == ("drats", 8.0, 0.0625, 0.025, 100_000, "pin")
    mt50 = cli.parse_args(["--preset", "drats-paper-mt50", "--train.ppo.num-epochs", "8"]).train
    assert mt50.ppo.entropy_coef == 0.03 and mt50.ppo.num_epochs == 8 and mt50.sampler.resolved_eps(50) == 0.005
    # The paper's MT50 + MOORE setting is eta 3 with the same lr 0.5: alpha = lr / eta follows eta.
    eta3 = cli.parse_args(["--preset", "drats-paper-mt50", "--train.sampler.eta", "3"]).train.sampler
    assert eta3.resolved_alpha() == 0.5 / 3
    assert cli.parse_args(["--preset", "drats-paper-mt50", "--train.sampler.eta", "3", "--train.sampler.alpha",
                           "0.1"]).train.sampler.resolved_alpha() == 0.1  # given explicitly: kept
    assert "must be <= 1" in _error(["--train.sampler.eta", "0.25", "--out", str(tmp_path / "r")], capsys)
    assert "unknown preset 'paper'" in _error(["--preset", "paper", "--out", str(tmp_path / "r")], capsys)
    assert cli.parse_args(["--algo", "ppo"]).train.algo == "ppo"
    assert "invalid choice 'dqn' for argument '--algo'" in _error(["--algo", "dqn", "--out", str(tmp_path / "r")], capsys)


class _Suite:
    """What config.resolve reads of an env: N tasks of 500-step episodes (no physics loaded)."""

    def __init__(self, n):
        self.num_tasks, self.observation_size, self.action_size, self.episode_length, self.num_goals = n, 39, 4, 500, 50


@pytest.mark.parametrize("n, warmup, window", [(10, 10_000, 50_000), (50, 50_000, 250_000), (1, 1_000, 5_000)])
def test_cli_window_and_warmup_scale_with_the_number_of_tasks(n, warmup, window):
    """The CPU default's window (5,000 env steps per task) and warm-up (1,000 per task) are resolved
    for N when the run starts (saved so in config.json): a task at the floor 1/(4N) gets 2.5
    episodes per window on any suite, not 0.5 on MT50 as with a fixed 50,000."""
    from drats_jax.config import resolve  # noqa: PLC0415

    resolved, _ = resolve(cli.parse_args([]).train, _Suite(n))
    assert (resolved.warmup_env_steps, resolved.sampler.interval) == (warmup, window)
    assert cli.window_warning(resolved, n, 500) is None
    fixed, _ = resolve(cli.parse_args(["--train.sampler.interval", "50000"]).train, _Suite(50))
    assert "0.5 episodes per window (< 2)" in cli.window_warning(fixed, 50, 500)
    ppo, _ = resolve(cli.parse_args(["--algo", "ppo"]).train, _Suite(n))
    assert ppo.warmup_env_steps == 0  # PPO learns from its first rollout


def _literal_choices(tp) -> tuple | None:
    """The Literal's values of a field type (through Annotated and Optional), else None."""
    import typing  # noqa: PLC0415

    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    if typing.get_origin(tp) is typing.Literal:
        return typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return ("None", *_literal_choices(inner[0])) if len(inner) == 1 and _literal_choices(inner[0]) else None
    return None


def test_help_lists_the_choices_of_every_literal_option_and_gives_every_option_its_own_help():
    """Every choice typed as a Literal is listed by --help as {a,b,...}; every option has a help
    text of its own (tyro falls back to a neighbouring comment when a field has none)."""
    import collections  # noqa: PLC0415
    import dataclasses  # noqa: PLC0415
    import re  # noqa: PLC0415
    import typing  # noqa: PLC0415

    from drats_jax import config  # noqa: PLC0415

    out = subprocess.run([sys.executable, "-m", "drats_jax.train", "--help"], capture_output=True, text=True,
                         cwd=REPO, env={"COLUMNS": "80", "PATH": ""}, timeout=120)
    assert out.returncode == 0, out.stderr
    flat = re.sub(r"[\s│]", "", out.stdout)
    literals = 0
    for cls in (cli.RunConfig, config.TrainConfig, config.SACConfig, config.PPOConfig, config.SamplerConfig):
        hints = typing.get_type_hints(cls, include_extras=True)
        for f in dataclasses.fields(cls):
            choices = _literal_choices(hints[f.name])
            if choices:
                literals += 1
                listed = "{" + ",".join(str(c) for c in choices) + "}"
                assert listed in flat, (cls.__name__, f.name, listed)
    assert literals >= 11, literals
    # One help per option: the text under each option, without its default.
    helps, current = {}, None
    for line in out.stdout.splitlines():
        line = line.strip(" │")
        if line.startswith(("╭", "╰")):
            current = None
        elif re.match(r"--[\w.\-]+", line):
            current = line.split()[0]
            helps[current] = ""
        elif current is not None and line:
            helps[current] += " " + line
    helps = {k: re.sub(r"\(default:.*?\)\s*$", "", " ".join(v.split())).strip() for k, v in helps.items()}
    assert len(helps) > 60
    assert not [k for k, v in helps.items() if not v], "options without help"
    counts = collections.Counter(helps.values())
    assert not {k: v for k, v in helps.items() if counts[v] > 1}, "options sharing one help text"


def test_choice_literals_match_the_registries():
    import typing  # noqa: PLC0415

    from metaworld_jax.backends import BACKENDS  # noqa: PLC0415

    assert set(typing.get_args(cli.PresetName)) == set(cli.PRESETS)
    assert set(typing.get_args(cli.Backend)) == set(BACKENDS)


def test_mtsac_preset_is_the_reference_setting():
    from drats_jax.config import SamplerConfig, TrainConfig  # noqa: PLC0415

    cfg = cli.parse_args(["--preset", "mtsac-mt10"])
    assert cfg.tasks == "mt10" and cfg.preset == "mtsac-mt10"
    assert cfg.train == TrainConfig(buffer_sampling="per_task", sampler=SamplerConfig(name="uniform"))
    assert cfg.train.sac.batch_size == 1280 and cfg.train.total_env_steps == 20_000_000
    assert cli.parse_args(["--preset", "mtsac-mt10", "--sampler", "drats"]).train.sampler.name == "drats"
