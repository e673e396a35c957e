"""Measures the trainer's env steps/s and gradient steps/s on the point-mass test env.

    .venv/bin/python -m tests.pointmass_throughput [--width 400 --depth 3 --batch 1280 ...]

Defaults are the production SAC network (3 x 400, batch 1280) with 10 point-mass tasks and
one slot per task, 1 gradient step per vector step. The first chunk (compilation) is
excluded from the rates.
"""

from __future__ import annotations

import argparse

from drats_jax.config import SACConfig, SamplerConfig, TrainConfig
from drats_jax.train import make_train, run
from tests.pointmass import PointMass


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tasks", type=int, default=10)
    p.add_argument("--width", type=int, default=400)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--batch", type=int, default=1280)
    p.add_argument("--updates-per-step", type=int, default=1)
    p.add_argument("--chunk-length", type=int, default=200)
    p.add_argument("--chunks", type=int, default=4, help="chunks to time (the first one compiles)")
    p.add_argument("--num-seeds", type=int, default=None)
    args = p.parse_args()

    env = PointMass(distances=tuple(0.2 + 0.15 * i for i in range(args.tasks)))
    e = env.num_tasks
    warmup = 2 * args.batch
    warmup += (-warmup) % e
    total = warmup + e * args.chunk_length * args.chunks
    cfg = TrainConfig(total_env_steps=total, warmup_env_steps=warmup, buffer_capacity=e * 10_000,
                      chunk_length=args.chunk_length, updates_per_step=args.updates_per_step,
                      sac=SACConfig(hidden_width=args.width, hidden_depth=args.depth, batch_size=args.batch),
                      sampler=SamplerConfig(name="drats", interval=200, initial_ref_return=500.0))
    trainer = make_train(cfg, env)
    print(f"point mass: N={e} tasks, E={trainer.num_envs} slots, MLP {args.depth}x{args.width}, "
          f"batch {args.batch}, {args.updates_per_step} grad step(s) per vector step, "
          f"{trainer.num_chunks} chunks x {trainer.chunk_length} vector steps")
    run(trainer, seed=0, num_seeds=args.num_seeds)


if __name__ == "__main__":
    main()
