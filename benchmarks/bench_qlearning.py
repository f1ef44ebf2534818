"""Q-learning update throughput per curriculum level, with and without env_buckets.

    python -m benchmarks.bench_qlearning                      # mul1 and add2, GRU 200
    python -m benchmarks.bench_qlearning --tasks mul1 --levels 6,10,14,18 --max_len 30

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

import json
import os
import platform
import sys
import time

from absl import flags
import jax
import jax.numpy as jnp

from benchmarks import common
from rltape.qlearning import config as config_lib
from rltape.qlearning import train as train_lib


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


def define_flags(fv):
  flags.DEFINE_list("tasks", ["mul1", "add2"], "Q-learning tasks.", flag_values=fv)
  flags.DEFINE_list("levels", ["6", "10"], "Curriculum levels to time.", flag_values=fv)
  flags.DEFINE_integer("max_len", 14, "train_max_length (>= levels).", flag_values=fv)
  flags.DEFINE_integer("updates", 10, "Updates per timed chunk.", flag_values=fv)
  flags.DEFINE_integer("seeds", 10, "Pool size.", flag_values=fv)
  flags.DEFINE_integer("repeats", 3, "Timed rounds per form.", flag_values=fv)
  flags.DEFINE_string("out", "results/qlearning/bench.json", "JSON record.", flag_values=fv)


def main(argv=None):
  a = common.parse_flags(define_flags, sys.argv[1:] if argv is None else argv, "bench_qlearning")
  try:
    levels = [int(x) for x in a.levels]
  except ValueError:
    raise SystemExit(f"--levels must be integers, got {a.levels}") from None
  rows = []
  for task in a.tasks:
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
