"""Device scaling of the trainer: env-steps/s and gradient-steps/s of one SAC run whose slots,
replay ring and batch are split over D devices (``--mesh seed=1,data=D``).

    python -m benchmarks.scaling                      # make bench-scaling: D = 1, 2, 4 forced CPU devices
    python -m benchmarks.scaling --devices 1 2 --tasks reach-v3,push-v3 --chunks 3

Each D runs in its own process (the device count is fixed when JAX starts): on a CPU with
``XLA_FLAGS=--xla_force_host_platform_device_count=D``; with ``--real`` on the devices the
machine has (a GPU node: D up to its device count). Scaling efficiency = rate(D) / (D x rate(1)).
Forced CPU devices share the same cores, so on a CPU the efficiency measures the sharding's
overhead (ideal: 1/D), not a speed-up. The first (compiling) chunk is excluded from the rates.
Writes benchmarks/results/scaling-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import common

RESULTS = Path(__file__).resolve().parent / "results"


def worker(devices: int, tasks: str, backend: str, num_envs: int, chunks: int, chunk_length: int) -> dict:
    """One measurement in this process (jax already sees ``devices`` devices)."""
    import metaworld_jax  # noqa: PLC0415

    from drats_jax.config import SACConfig, SamplerConfig, TrainConfig  # noqa: PLC0415
    from drats_jax.driver import run  # noqa: PLC0415
    from drats_jax.mesh import MeshSpec  # noqa: PLC0415
    from drats_jax.train import make_train  # noqa: PLC0415

    env = metaworld_jax.make(tasks, backend=backend, seed=0)
    total = (chunks + 1) * chunk_length * num_envs
    cfg = TrainConfig(num_envs=num_envs, total_env_steps=total, warmup_env_steps=chunk_length * num_envs,
                      buffer_capacity=max(total, -(-256 // num_envs) * num_envs), chunk_length=chunk_length,
                      sac=SACConfig(hidden_width=256, hidden_depth=2, batch_size=256),
                      sampler=SamplerConfig(interval=chunk_length * num_envs))
    trainer = make_train(cfg, env, mesh=MeshSpec(1, devices) if devices > 1 else None)
    _, _, throughput = run(trainer, log=None)
    return {"devices": devices, **throughput}


def measure(devices=(1, 2, 4), tasks: str = "mt10", backend: str = "mujoco", num_envs: int = 20, chunks: int = 4,
            chunk_length: int = 100, real: bool = False, timeout: int = 1800) -> dict:
    """Runs :func:`worker` once per device count in a subprocess; returns the report dict
    (rates per D and scaling efficiency relative to D = 1 when measured)."""
    rows = []
    for d in devices:
        env = dict(os.environ)
        if not real:
            env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={d}".strip()
        args = [sys.executable, "-m", "benchmarks.scaling", "--worker", str(d), "--tasks", tasks, "--backend", backend,
                "--num-envs", str(num_envs), "--chunks", str(chunks), "--chunk-length", str(chunk_length)]
        proc = subprocess.run(args, env=env, cwd=RESULTS.parents[1], capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"D={d} failed: {proc.stderr.strip().splitlines()[-1:]}")
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    base = next((r for r in rows if r["devices"] == 1), None)
    for r in rows:
        for key in ("env_steps_per_s", "grad_steps_per_s"):
            r[key.replace("_per_s", "_efficiency")] = (r[key] / (r["devices"] * base[key]) if base else None)
    return {"tasks": tasks, "backend": backend, "num_envs": num_envs, "chunk_length": chunk_length,
            "forced_cpu_devices": not real, "rows": rows}


def main(argv=None) -> int:
    p = common.arg_parser("python -m benchmarks.scaling", __doc__)
    p.add_argument("--devices", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--tasks", default="mt10")
    p.add_argument("--backend", default="mujoco")
    p.add_argument("--num-envs", type=int, default=20, help="slots; every D must divide it")
    p.add_argument("--chunks", type=int, default=4, help="timed chunks after the compiling one")
    p.add_argument("--chunk-length", type=int, default=100, help="vector steps per chunk")
    p.add_argument("--real", action="store_true", help="use the machine's devices, not forced CPU ones")
    p.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker is not None:
        print(json.dumps(worker(a.worker, a.tasks, a.backend, a.num_envs, a.chunks + 1, a.chunk_length)))
        return 0
    report = measure(tuple(a.devices), a.tasks, a.backend, a.num_envs, a.chunks, a.chunk_length, a.real)
    import platform  # noqa: PLC0415
    from importlib.metadata import version  # noqa: PLC0415

    import jax  # noqa: PLC0415  (the parent process only reads the version and the devices' kind)

    report = {"benchmark": "scaling", "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "machine": {"processor": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
                          "device": str(jax.devices()[0].device_kind)},
              "versions": {k: version(k) for k in ("jax", "jaxlib", "mujoco")}, **report}
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"scaling-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print("| devices | env steps/s | gradient steps/s | efficiency (env, grad) |\n|---|---|---|---|")
    for r in report["rows"]:
        eff = (f"{r['env_steps_efficiency']:.2f}, {r['grad_steps_efficiency']:.2f}"
               if r["env_steps_efficiency"] is not None else "-")
        print(f"| {r['devices']} | {r['env_steps_per_s']:.0f} | {r['grad_steps_per_s']:.0f} | {eff} |")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
