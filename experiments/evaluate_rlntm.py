r"""Greedy accuracy of an RL-NTM workdir's seeds at other input lengths.

  python experiments/evaluate_rlntm.py --workdir=/tmp/rlntm_direct/RepeatCopy --lengths=12,50,100

Prints one JSON line per length: per-seed fraction of ``--episodes`` greedy episodes
with every target written correctly, and how many seeds got all of them right.
"""

import json

from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "An RL-NTM workdir (train_rlntm.py).")
flags.DEFINE_list("lengths", ["20"], "Input lengths.")
flags.DEFINE_integer("episodes", 256, "Greedy episodes per seed and length.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if not FLAGS.workdir:
    raise app.UsageError("--workdir is required")
  if not all(x.isdigit() and int(x) > 0 for x in FLAGS.lengths):
    raise app.UsageError(f"--lengths must be positive integers, got {FLAGS.lengths}")
  from rltape.reinforce import experiment

  try:
    res = experiment.evaluate_workdir(
        FLAGS.workdir, [int(x) for x in FLAGS.lengths], FLAGS.episodes
    )
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  for n, accs in res.items():
    print(
        json.dumps(
            {
                "length": n,
                "seeds_all_right": sum(a >= 1.0 for a in accs),
                "seeds": len(accs),
                "accuracy": [round(a, 4) for a in accs],
            }
        )
    )


if __name__ == "__main__":
  app.run(main)
