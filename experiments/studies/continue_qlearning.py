r"""Continue a trained Q-learning workdir under another success test.

A seed that passed its run's test is frozen there. This copies the source workdir's
latest checkpoint into a new workdir, with a new test (e.g. 500 episodes instead of 100)
and every seed unfrozen, and trains on until each seed passes the new test or the budget
runs out:

  python -m experiments.studies.continue_qlearning --src=/tmp/rl_add2/add2_col8 --dst=/tmp/add2_strict \
      --test_batch=500 --wall_budget_s=1800

The source is only read. Run the same command again to resume ``--dst`` from its last
checkpoint (the test flags must match the first run; budgets may change).
"""

import json
import os

from absl import app
from absl import flags

from runkit import workdir as workdir_lib

FLAGS = flags.FLAGS
flags.DEFINE_string("src", None, "Q-learning workdir to continue (read only).")
flags.DEFINE_string("dst", None, "New workdir (made by the first run, resumed after).")
flags.DEFINE_integer("test_length", 0, "New test length (0: the source's).")
flags.DEFINE_integer("test_batch", 0, "New episodes per test (0: the source's).")
flags.DEFINE_float("success_accuracy", -1.0, "New pass mark in [0, 1] (-1: the source's).")
flags.DEFINE_integer(
    "num_updates", 0, "Step budget, counted from update 0 of the source " "(0: the source's)."
)
flags.DEFINE_float("wall_budget_s", 0.0, "Wall budget of this process, s (0: none).")
flags.DEFINE_integer("test_every_chunks", 0, "Test every N chunks (0: the source's).")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if not FLAGS.src or not FLAGS.dst:
    raise app.UsageError("--src and --dst are required")
  if FLAGS.wall_budget_s < 0:
    raise app.UsageError(f"--wall_budget_s must be >= 0, got {FLAGS.wall_budget_s}")
  test = {}
  if FLAGS.test_length:
    test["test_length"] = FLAGS.test_length
  if FLAGS.test_batch:
    test["test_batch"] = FLAGS.test_batch
  if FLAGS.success_accuracy != -1.0:
    test["success_accuracy"] = FLAGS.success_accuracy
  budget = {"wall_budget_s": FLAGS.wall_budget_s}
  if FLAGS.num_updates:
    budget["num_updates"] = FLAGS.num_updates
  if FLAGS.test_every_chunks:
    budget["test_every_chunks"] = FLAGS.test_every_chunks

  import ml_collections
  from rltape.qlearning import config as config_lib
  from rltape.qlearning import experiment

  try:
    marker = os.path.join(FLAGS.dst, "continued_from.json")
    if os.path.exists(marker):  # resume an earlier continuation
      with open(marker) as f:
        origin = json.load(f)
      if os.path.abspath(FLAGS.src) != origin["workdir"]:
        raise ValueError(
            f"{FLAGS.dst!r} continues {origin['workdir']!r}, " f"not {os.path.abspath(FLAGS.src)!r}"
        )
      config = ml_collections.ConfigDict(workdir_lib.read_config_dict(FLAGS.dst, "a Q-learning"))
      config.update(test)  # a changed test is refused by the workdir check
      config.update(budget)
      config_lib.validate(config)
    else:
      if not test:
        raise ValueError("give a new test: --test_batch, --test_length or " "--success_accuracy")
      config = experiment.retest_workdir(FLAGS.src, FLAGS.dst, {**test, **budget})
    summary = experiment.train_and_evaluate(config, FLAGS.dst)
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  print(
      json.dumps(
          {
              k: summary[k]
              for k in ("success_rate", "solved_at", "updates_run", "wall_s_this_process")
          }
      )
  )


if __name__ == "__main__":
  app.run(main)
