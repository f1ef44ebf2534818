r"""Throughput of a seed pool against the same seeds trained one after another.

  nice -n 15 python -m benchmarks.bench_pool --cell=known/mul2/24 \
      --seeds=8 --buckets=5,13 --steps=10 --rounds=3 --out=results/neuralgpu/pool_bench.json

Both sides run the same faithful train step (the cell's config) at a fixed
padded length: the pool as one jitted program over the seeds (one device), for
each ``--seed_loops`` form (``vmap``: batched over seeds; ``map``: ``lax.map``, the
seeds one after another inside the program), the sequential side as ``seeds``
separate runs of the single-seed step, each ``steps`` steps. Rounds alternate pool and sequential so load from other
processes on the machine hits both alike; the reported ratio is the median of
the per-round ratios of seed-steps per second. Compilation is excluded (one
warm-up step each).
"""

import json
import os
import time

from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_string("cell", "known/mul2/24", "Table cell whose config is benchmarked.")
flags.DEFINE_integer("seeds", 8, "Pool size.")
flags.DEFINE_string("buckets", "5,13", "Padded lengths to time, comma-separated.")
flags.DEFINE_integer("steps", 10, "Steps per seed per round.")
flags.DEFINE_integer("rounds", 3, "Alternating pool / sequential rounds.")
flags.DEFINE_string("out", "", "JSON file for the results.")
flags.DEFINE_list("seed_loops", ["vmap", "map"], "Pool forms to time (vmap, map).")


def main(argv):
  del argv
  import jax
  import numpy as np
  from neuralgpu import talk_tables as ngpu_tables
  from neuralgpu import pool, tasks as tasks_lib, train
  from neuralgpu import resolve as resolve_lib

  cfg = ngpu_tables.get_config(f"cell={FLAGS.cell},seeds={FLAGS.seeds}")
  buckets = [int(b) for b in FLAGS.buckets.split(",")]
  for b in buckets:
    if b not in [int(x) for x in cfg.curriculum.buckets]:
      raise ValueError(f"bucket {b} not in curriculum.buckets={cfg.curriculum.buckets}")
  tasks = tuple(tasks_lib.get_task(n) for n in cfg.task.split(","))
  mcfg = resolve_lib.resolve_model_config(cfg)
  s = FLAGS.seeds
  rows = []
  for loop in FLAGS.seed_loops:
    if loop not in ("vmap", "map"):
      raise ValueError(f"--seed_loops entry {loop!r}; allowed: vmap, map")
  for b in buckets:
    one_fn = jax.jit(train.make_train_step(cfg, tasks, b, mcfg), donate_argnums=0)
    singles = [train.init_state(jax.random.key(i), cfg, len(tasks)) for i in range(s)]
    t0 = time.time()
    singles = [jax.block_until_ready(one_fn(st)) for st in singles]
    compile_one = time.time() - t0
    for loop in FLAGS.seed_loops:
      pool_fn = jax.jit(pool.make_pool_step(cfg, tasks, b, mcfg, loop), donate_argnums=0)
      ps = pool.init_pool(np.arange(s), cfg, len(tasks))
      t0 = time.time()
      ps = jax.block_until_ready(pool_fn(ps))
      compile_pool = time.time() - t0
      ratios, pool_rates, seq_rates = [], [], []
      for _ in range(FLAGS.rounds):
        t0 = time.time()
        for _ in range(FLAGS.steps):
          ps = pool_fn(ps)
        jax.block_until_ready(ps)
        pool_rate = s * FLAGS.steps / (time.time() - t0)
        t0 = time.time()
        for i in range(s):
          st = singles[i]
          for _ in range(FLAGS.steps):
            st = one_fn(st)
          singles[i] = jax.block_until_ready(st)
        seq_rate = s * FLAGS.steps / (time.time() - t0)
        pool_rates.append(pool_rate)
        seq_rates.append(seq_rate)
        ratios.append(pool_rate / seq_rate)
      row = {
          "bucket": b,
          "seed_loop": loop,
          "pool_seed_steps_per_s": pool_rates,
          "sequential_seed_steps_per_s": seq_rates,
          "ratio_per_round": ratios,
          "median_ratio": float(np.median(ratios)),
          "first_step_seconds_pool": compile_pool,
          "first_step_seconds_single_x_seeds": compile_one,
      }
      rows.append(row)
      print(json.dumps(row), flush=True)
  out = {
      "cell": FLAGS.cell,
      "task": cfg.task,
      "num_maps": int(cfg.model.num_maps),
      "batch_size": int(cfg.batch_size),
      "seeds": s,
      "steps_per_round": FLAGS.steps,
      "rounds": FLAGS.rounds,
      "devices": [d.device_kind for d in jax.devices()],
      "cpu_count": os.cpu_count(),
      "load_avg_at_end": os.getloadavg(),
      "rows": rows,
  }
  if FLAGS.out:
    with open(FLAGS.out, "w") as f:
      json.dump(out, f, indent=2)


if __name__ == "__main__":
  app.run(main)
