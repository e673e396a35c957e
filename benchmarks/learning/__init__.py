"""Learning benchmark: does our SAC learn like a trusted SAC, and what do DRATS and uniform do on MT10.

    python -m benchmarks.learning                    # make bench-learning (about an hour on 2 cores)
    python -m benchmarks.learning --plan             # the jobs and the time estimate, nothing run
    python -m benchmarks.learning --quick            # smoke run (tiny budgets, a few minutes)
    python -m benchmarks.report                      # README section from the newest learning-*.json

Sections (``--sections``, default both):
  single  Single-task SAC, ours (``python -m drats_jax.train --algo sac``, one env, one gradient
          step per env step, the seeds vmapped in one process) against sbx-rl's SAC
          (Stable-Baselines3 in JAX, ``benchmarks/sbx_sac.py`` run by ``--peer-python``, one
          process per seed) on the real ``metaworld`` env, same settings (``plan.SHARED``; the
          remaining differences are listed in the JSON and the report), several tasks of different
          difficulty, several seeds. Both evaluate with MetaWorld's protocol at the same env-step
          counts. Per task and evaluation point: IQM and mean success over seeds with rliable's 95%
          stratified-bootstrap CIs, and whether ours lies within, above or below the peer's CI.
  mt10    MT10 multi-task at the CLI's CPU-default config (``drats_jax.cli.cpu_train_config()``,
          read at run time) for the first ``--mt10-steps`` env steps of its budget: every pair of
          task sampler (``--samplers``, default drats uniform) and replay sampling
          (``--buffer-samplings``, default uniform per_task: uniform over stored transitions, our
          default, and the reference MTSAC's equal share per task), several seeds vmapped: curves
          of mean and worst-task success with rliable CIs, final per-task success.

Jobs (one subprocess each) run ``--jobs`` at a time (default 2, one per core here), longest
first. Throughput figures are measured while the other slot is busy too (both learners alike):
env-steps/s per process = seeds in the process x env steps / training time (evaluation time
excluded), steady state = between the first and the last evaluation point. Writes
benchmarks/results/learning-<time>.json and a PNG with the same stem; run folders go to
``--work-dir`` (default .cache/learning/<time>).

With ``--peer-mtsac-python`` (``make install-mtsac``) the mt10 section also runs the reference
MTSAC (rainx0r/metaworld-algorithms' own MTSAC on metaworld's MT10 env, ``benchmarks/mtsac_peer.py``,
one process per seed) at the same budget, settings where it lets them be set, and evaluation
points; it enters the MT10 statistics as the run ``reference-mtsac``. ``--mt10-peer-only`` runs only
its jobs, also into an earlier run's work dir, so that ``--collect`` on that dir reports both.

Modules: ``plan`` (settings, budgets, commands, estimates), ``jobs`` (subprocess runner and
timings), ``curves`` (run folders -> curves, rliable statistics), ``single`` and ``mt10`` (the
two sections), ``plot``, ``markdown`` (the report section), ``cli`` (arguments, the driver).
"""
