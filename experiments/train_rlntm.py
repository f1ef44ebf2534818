"""Trains RL-NTM agents (REINFORCE + memory tape) on a pool of seeds.

  nice -n 15 python experiments/train_rlntm.py \\
      --config=experiments/configs/rlntm.py:task=Copy,seeds=10 --workdir=/tmp/rlntm/copy
"""

import json

from absl import app, flags
from ml_collections import config_flags

from runkit import logs
from rltape.reinforce import experiment

_CONFIG = config_flags.DEFINE_config_file("config", None, "RL-NTM config file.", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Output directory (checkpoints, metrics).")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  logs.quiet_libraries()
  summary = experiment.train_and_evaluate(_CONFIG.value, _WORKDIR.value)
  print(json.dumps(summary))


if __name__ == "__main__":
  app.run(main)
