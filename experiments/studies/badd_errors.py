r"""Where a trained binary-addition model goes wrong past its training length
(``neuralgpu.error_analysis``).

For a workdir's model (a pool workdir: one seed, ``--seed_index``, default the pool's
best), evaluates random examples at each ``--lengths`` entry and reports, for every
wrong output digit, its position, the true and predicted digit, and the carry into
that position (worked out with Python integers from the decoded operands); and, with
``--steps_factors``, the errors when the model runs that many times more steps than
the input length (a state that drifts over time makes more errors with more steps; a
state that holds does not).

  python -m experiments.studies.badd_errors --workdir=/tmp/ngpu_badd --lengths=201:256,401:64 \
      --steps_factors=1,2,4 --out=/tmp/badd_errors.json
"""

import json

from absl import app
from absl import flags

from neuralgpu import error_analysis

FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_string("workdir", None, "Training workdir (single run or pool).")
  flags.DEFINE_integer("seed_index", None, "Pool workdirs: which seed (default: the best).")
  flags.DEFINE_list("lengths", ["201:256", "401:64"], "length:examples to analyse.")
  flags.DEFINE_list("steps_factors", ["1"], "Run steps_factor x length steps (1 = as trained).")
  flags.DEFINE_integer("seed", 0, "PRNG seed of the examples.")
  flags.DEFINE_string("out", "", "JSON file for the report.")


def parse_lengths(items) -> list[tuple[int, int]]:
  from experiments.studies.sweep_badd_pools import parse_tests

  out = parse_tests(items)
  for n, _ in out:
    if n < 3:
      raise ValueError(
          f"--lengths entries must be length:examples with length >= 3, " f"got length {n}"
      )
  return out


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if not FLAGS.workdir:
    raise app.UsageError("--workdir is required")
  try:
    lengths = parse_lengths(FLAGS.lengths)
    factors = [float(x) for x in FLAGS.steps_factors]
    if any(f <= 0 for f in factors):
      raise ValueError(f"--steps_factors must be > 0, got {FLAGS.steps_factors}")
    rows = error_analysis.analyse_workdir(
        FLAGS.workdir,
        FLAGS.seed_index,
        lengths,
        factors,
        FLAGS.seed,
        echo=lambda s: print(s, flush=True),
    )
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  if FLAGS.out:
    with open(FLAGS.out, "w") as f:
      json.dump(rows, f, indent=1)


if __name__ == "__main__":
  define_flags()
  app.run(main)
