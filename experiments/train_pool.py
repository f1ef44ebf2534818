r"""Trains a seed pool of Neural GPUs (one sharded program) and gives its verdict.

  python experiments/train_pool.py \
      --config=experiments/configs/ngpu_tables.py:cell=known/mul2/24,seeds=8,minutes=120 \
      --workdir=/tmp/pools/known/mul2/24

Several processes (one per host): pass --coordinator=<host:port>,
--num_processes and --process_id; the seed axis is then sharded over every
process's devices and each process builds and trains only its own seeds.
A workdir resumes from its last checkpoint; one made with another config is refused.
"""

import json

from absl import app
from absl import flags
from ml_collections import config_flags

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", None, "Pool config file.", lock_config=True)
flags.DEFINE_string("workdir", None, "Directory for checkpoints, logs and the pool summary.")
flags.DEFINE_string("coordinator", "", "host:port of process 0 (multi-process runs only).")
flags.DEFINE_integer("num_processes", 1, "Number of processes (multi-process runs only).")
flags.DEFINE_integer("process_id", 0, "This process's index (multi-process runs only).")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  from runkit import distributed
  from neuralgpu import loop
  from neuralgpu import pool

  pool.validate_pool(FLAGS.config)
  if FLAGS.num_processes > 1 or FLAGS.coordinator:
    distributed.initialize(FLAGS.coordinator, FLAGS.num_processes, FLAGS.process_id)
  out = loop.train_pool(FLAGS.config, FLAGS.workdir)
  brief = {
      k: out[k]
      for k in (
          "task",
          "num_maps",
          "step",
          "stop_reason",
          "train_minutes",
          "num_solved",
          "num_seeds",
          "verdict",
      )
  }
  print(json.dumps(brief))


if __name__ == "__main__":
  app.run(main)
