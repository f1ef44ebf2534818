"""Trains the Q-learning tape agents (Zaremba et al. 2016) over a pool of seeds.

  nice -n 15 python experiments/train_qlearning.py \
      --config=experiments/configs/qlearning.py:task=copy,col=8 --workdir=/tmp/rl/copy

Writes checkpoints, TensorBoard events, metrics.jsonl and summary.json to --workdir;
rerunning with the same workdir resumes from the latest checkpoint.
"""

import json

from absl import app
from absl import flags
from ml_collections import config_flags

from runkit import logs
from rltape.qlearning import experiment

_CONFIG = config_flags.DEFINE_config_file("config", None, "Config file.", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Output directory.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  logs.quiet_libraries()
  summary = experiment.train_and_evaluate(_CONFIG.value, _WORKDIR.value)
  print(json.dumps(summary))


if __name__ == "__main__":
  app.run(main)
