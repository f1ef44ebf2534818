r"""Trains a Neural GPU.

  python experiments/train_neuralgpu.py \
      --config=experiments/configs/ngpu.py:variant=fast,task=badd --workdir=/tmp/ngpu_badd

Override any config value with --config.<path>=value (e.g. --config.model.num_maps=128).
A workdir resumes from its last checkpoint; one made with another config is refused.
"""
from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from neuralgpu import config as config_lib
from neuralgpu import train

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", None, "Neural GPU config file.", lock_config=True)
flags.DEFINE_string("workdir", None, "Directory for checkpoints, logs and results.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  logging.set_verbosity(logging.WARNING)  # checkpoint libraries log every save at INFO
  config_lib.validate(FLAGS.config)
  train.train_and_evaluate(FLAGS.config, FLAGS.workdir)


if __name__ == "__main__":
  app.run(main)
