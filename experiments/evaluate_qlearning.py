r"""Greedy whole-sequence accuracy of a Q-learning workdir's seeds at other test lengths.

  python experiments/evaluate_qlearning.py --workdir=/tmp/rl/reverse_ff_col8 --lengths=100,200,400

Lengths are complexities in the run's own unit (``complexity_unit``: with "paper", 200 is
100 digits for reverse and 100 columns for add2).
"""

import json

from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "A Q-learning workdir (train_qlearning.py / rl_table.py).")
flags.DEFINE_list("lengths", ["100"], "Test lengths (complexities).")
flags.DEFINE_integer("test_batch", 0, "Episodes per seed and length (0: the run's own).")
flags.DEFINE_integer(
    "salt",
    0,
    "0: the episodes of the run's own test at the checkpoint's "
    "update; N >= 1: fresh episodes, keyed by fold_in(seed key, N).",
)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if not FLAGS.workdir:
    raise app.UsageError("--workdir is required")
  if not all(x.isdigit() for x in FLAGS.lengths):
    raise app.UsageError(f"--lengths must be positive integers, got {FLAGS.lengths}")
  from rltape.qlearning import experiment

  try:
    res = experiment.evaluate_workdir(
        FLAGS.workdir, [int(x) for x in FLAGS.lengths], FLAGS.test_batch or None, FLAGS.salt
    )
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  for n, accs in res.items():
    solved = sum(a >= 1.0 for a in accs)
    print(
        json.dumps(
            {
                "length": n,
                "seeds_all_right": solved,
                "seeds": len(accs),
                "accuracy": [round(a, 3) for a in accs],
            }
        )
    )


if __name__ == "__main__":
  app.run(main)
