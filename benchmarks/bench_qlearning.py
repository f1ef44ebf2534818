"""Q-learning update throughput per curriculum level, with and without env_buckets.

    python benchmarks/bench_qlearning.py                      # mul1 and add2, GRU 200
    python benchmarks/bench_qlearning.py --tasks mul1 --levels 6,10,14,18 --max_len 30

For each task: the table's column-8 configuration (GRU 200, batch 20, 10 seeds vmapped,
train_max_length = --max_len), one jitted chunk of `--updates` updates.
"full" trains on the environment of train_max_length (what a run without env_buckets
does at every level); "cap c" trains on the environment of level c (what env_buckets
does while the longest curriculum level among the training seeds is c). All seeds start
at level c. Both sides run in interleaved rounds in one process; the table gives each
side's best time and their ratio. Compile time is excluded (the first call of each program is reported apart). Results go
to results/qlearning/bench.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import jax
import jax.numpy as jnp


from rltape.qlearning import config as config_lib  # noqa: E402
from rltape.qlearning import train as train_lib  # noqa: E402


def _timed_chunk(config, cap, level, fn=None):
  """(timer of one chunk from seeds at `level`, first-call seconds: compile + run
  unless `fn` was already compiled)."""
  agent = train_lib.make_train(config, length_cap=cap)
  fn = fn or jax.jit(agent.train_chunk)
  st = agent.init(jax.random.key(0))
  st = st.replace(length=jnp.full_like(st.length, level))
  t0 = time.perf_counter()
  jax.block_until_ready(fn(st))
  compile_s = time.perf_counter() - t0

  def run():
    t = time.perf_counter()
    jax.block_until_ready(fn(st))
    return time.perf_counter() - t

  return run, compile_s


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("--tasks", default="mul1,add2")
  ap.add_argument("--levels", default="6,10")
  ap.add_argument("--max_len", type=int, default=14, help="train_max_length (>= levels)")
  ap.add_argument("--updates", type=int, default=10)
  ap.add_argument("--seeds", type=int, default=10)
  ap.add_argument("--repeats", type=int, default=3)
  ap.add_argument("--out", default="results/qlearning/bench.json")
  a = ap.parse_args()
  levels = [int(x) for x in a.levels.split(",")]
  rows = []
  for task in a.tasks.split(","):
    c = config_lib.default_config()
    c.update(config_lib.column_overrides(8))
    c.update(
        dict(
            task=task,
            controller="gru",
            num_seeds=a.seeds,
            chunk_updates=a.updates,
            num_updates=a.updates,
            train_max_length=max(a.max_len, max(levels)),
        )
    )
    config_lib.validate(c)
    full_env, _ = train_lib.make_envs(c)
    full_fn = jax.jit(train_lib.make_train(c).train_chunk)  # one program for all levels
    for level in levels:
      run_full, comp_full = _timed_chunk(c, None, level, full_fn)
      run_cap, comp_cap = _timed_chunk(c, level, level)
      cap_env, _ = train_lib.make_envs(c, level)
      best_full = best_cap = float("inf")
      for _ in range(a.repeats):
        best_full = min(best_full, run_full())
        best_cap = min(best_cap, run_cap())
      row = dict(
          task=task,
          level=level,
          updates=a.updates,
          seeds=a.seeds,
          rollout_steps_full=full_env.max_steps,
          rollout_steps_cap=cap_env.max_steps,
          full_updates_per_s=a.updates / best_full,
          cap_updates_per_s=a.updates / best_cap,
          speedup=best_full / best_cap,
          compile_s_full=comp_full,
          compile_s_cap=comp_cap,
      )
      rows.append(row)
      print(
          f"{task} level {level}: full ({full_env.max_steps} steps) "
          f"{row['full_updates_per_s']:.2f} upd/s, cap ({cap_env.max_steps} steps) "
          f"{row['cap_updates_per_s']:.2f} upd/s, speedup {row['speedup']:.2f}x",
          flush=True,
      )
  out = dict(
      machine=platform.platform(),
      backend=jax.default_backend(),
      cpu_count=os.cpu_count(),
      rows=rows,
  )
  os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
  with open(a.out, "w") as f:
    json.dump(out, f, indent=1)
  print("wrote", a.out)


if __name__ == "__main__":
  main()
