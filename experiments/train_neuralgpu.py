r"""Trains a Neural GPU.

  python experiments/train_neuralgpu.py \
      --config=experiments/configs/ngpu.py:variant=fast,task=badd --workdir=/tmp/ngpu_badd

Override any config value with --config.<path>=value (e.g. --config.model.num_maps=128).
A workdir resumes from its last checkpoint; one made with another config is refused.

A config with a ``pool`` section (``seeds=N`` in the config argument, or a cell of the
talk's tables) trains N seeds as one sharded program (``neuralgpu.loop``) and gives its
verdict; a config without one trains its one seed the same way, as a pool of one. With
``pool.stop_when="any"`` (the main job, and any single seed) it stops at the first
solved seed and prints that seed's error table:

  python experiments/train_neuralgpu.py \
      --config=experiments/configs/ngpu_tables.py:cell=known/mul2/24,seeds=8,minutes=120 \
      --workdir=/tmp/pools/known/mul2/24

On CPU this binary exposes one host device per core (unless XLA_FLAGS already sets a
count), so the seeds of a pool run on all cores; single runs use the first device.
Several processes (one per host): pass --coordinator=<host:port>, --num_processes and
--process_id; the seed axis is then sharded over every process's devices and each
process builds and trains only its own seeds.
"""

import json
import os

if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
  os.environ["XLA_FLAGS"] = (
      os.environ.get("XLA_FLAGS", "")
      + f" --xla_force_host_platform_device_count={os.cpu_count() or 1}"
  ).strip()

from absl import app  # noqa: E402  (XLA_FLAGS must be set before jax loads)
from absl import flags  # noqa: E402
from ml_collections import config_flags

from neuralgpu import config as config_lib
from neuralgpu import evaluate
from neuralgpu import loop
from neuralgpu import pool
from runkit import distributed
from runkit import logs

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", None, "Neural GPU config file.", lock_config=True)
flags.DEFINE_string("workdir", None, "Directory for checkpoints, logs and results.")
flags.DEFINE_string("coordinator", "", "host:port of process 0 (multi-process pools only).")
flags.DEFINE_integer("num_processes", 1, "Number of processes (multi-process pools only).")
flags.DEFINE_integer("process_id", 0, "This process's index (multi-process pools only).")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  logs.quiet_libraries()  # checkpoint libraries log every save at INFO
  config_lib.validate(FLAGS.config)
  multi = FLAGS.num_processes > 1 or bool(FLAGS.coordinator)
  if "pool" not in FLAGS.config and multi:
    raise app.UsageError("--coordinator/--num_processes need a pool config (seeds > 1)")
  config = loop.as_pool(FLAGS.config)  # one seed = a pool of one
  pool.validate_pool(config)
  if multi:
    distributed.initialize(FLAGS.coordinator, FLAGS.num_processes, FLAGS.process_id)
  out = loop.train_and_evaluate(config, FLAGS.workdir)
  brief = {
      k: out.get(k)
      for k in (
          "task",
          "step",
          "stop_reason",
          "num_solved",
          "num_seeds",
          "num_seed_runs",
          "best_seed",
          "verdict",
          "train_minutes",
          "total_minutes",
      )
  }
  print(json.dumps(brief))
  if "eval" in out:
    solved = out["seeds"][out["best_seed_index"]]["solved"]
    which = f"seed {out['best_seed']}"
    if int(config.pool.num_seeds) > 1:
      which += f" of the pool ({'solved' if solved else 'none solved; lowest training error'})"
    else:
      which += " (solved)" if solved else " (not solved)"
    print(
        evaluate.format_table(
            out["eval"],
            f"{config.task}, {which} after "
            f"{out['step']} steps ({out['total_minutes']:.1f} min incl. final eval):",
        )
    )
    reused = [r for r in out["eval"] if "from_check_step" in r]
    if reused:
      print(
          f"(rows at {', '.join(str(r['length']) for r in reused)}: its solving check at step "
          f"{reused[0]['from_check_step']}, on fresh examples; eval.final_from_check)"
      )


if __name__ == "__main__":
  app.run(main)
