"""Runs cells of the talk's RL table (Q-learning, Zaremba et al. 2016) and writes
the success percentages beside the talk's numbers.

Each cell = one task row x one of the 10 configuration columns, trained over a pool
of seeds (vmapped, one program) with `rltape.qlearning.experiment`. A seed counts as
solved when its greedy whole-sequence accuracy at the column's test length reaches
`success_accuracy` within the step and wall budgets; otherwise it is not solved.

Full table (10 seeds per cell; long on a CPU):

  nice -n 15 python -m experiments.tables.rl_table --workroot=/tmp/rl_table \
      --out=results/qlearning/table.md

The measured best-column cells of results/qlearning/table_measured.md:

  nice -n 15 python -m experiments.tables.rl_table --rows=copy,add2,walk_ff,reverse_ff,mul1 \
      --cols=8 --max_len=14 --updates=4000 --wall_per_cell=900 \
      --workroot=/tmp/rl_measured --out=results/qlearning/table_measured.md
"""

import json
import os
import time

from absl import app
from absl import flags

from rltape.qlearning import config as config_lib
from rltape.qlearning import experiment
from rltape.qlearning import table

FLAGS = flags.FLAGS
flags.DEFINE_list("rows", list(table.ROWS), f"table rows, from {sorted(table.ROWS)}")
flags.DEFINE_list("cols", [str(i) for i in range(1, 11)], "columns 1..10")
flags.DEFINE_integer("seeds", 10, "seeds per cell")
flags.DEFINE_integer("updates", 20000, "step budget (updates) per cell")
flags.DEFINE_integer("chunk", 100, "updates per jitted chunk")
flags.DEFINE_integer("max_len", 30, "largest training length (curriculum cap)")
flags.DEFINE_float("wall_per_cell", 0.0, "wall-time budget per cell, s (0: none)")
flags.DEFINE_bool("smoke", False, "tiny runs (tests)")
flags.DEFINE_list(
    "set",
    [],
    "config overrides for every cell, key=value " "(e.g. optimizer=adam,learning_rate=0.001)",
)
flags.DEFINE_string("workroot", "/tmp/rl_table", "parent of the cells' workdirs")
flags.DEFINE_string("out", "results/qlearning/table.md", "markdown output")
flags.DEFINE_list(
    "merge",
    [],
    "run nothing: render --out (and its .json) from these "
    "JSON files of earlier runs ({cell: summary}); a cell in a later file "
    "replaces the same cell of an earlier one",
)


def write_table(results: dict, rows, cols, out: str):
  json_path = os.path.splitext(out)[0] + ".json"
  os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
  with open(json_path, "w") as f:
    json.dump(results, f, indent=1)
  with open(out, "w") as f:
    f.write(table.markdown(results, rows, cols))


def main(argv):
  del argv
  cols = [int(c) for c in FLAGS.cols]
  for c in cols:
    config_lib.column_overrides(c)
  rows = list(FLAGS.rows)
  for r in rows:
    if r not in table.ROWS:
      raise app.UsageError(f"unknown row {r!r}; allowed: {sorted(table.ROWS)}")
  json_path = os.path.splitext(FLAGS.out)[0] + ".json"
  if FLAGS.merge:
    try:
      results = table.merge_results(FLAGS.merge)
    except ValueError as e:
      raise app.UsageError(str(e)) from None
    if os.path.abspath(json_path) in {os.path.abspath(p) for p in FLAGS.merge}:
      raise app.UsageError(
          f"--out {FLAGS.out!r} would overwrite the --merge file " f"{json_path!r}"
      )
    cells = set(results)
    rows = [r for r in rows if any(k.startswith(r + ":") for k in cells)]
    cols = [c for c in cols if any(k.endswith(f":{c}") for k in cells)]
    write_table(results, rows, cols, FLAGS.out)
    print(json.dumps({"out": FLAGS.out, "cells": sorted(cells)}))
    return
  results = {}
  if os.path.exists(json_path):
    with open(json_path) as f:
      results = json.load(f)
  try:  # every cell's config is checked before anything compiles
    cells = [
        (
            r,
            c,
            table.cell_config(
                r,
                c,
                seeds=FLAGS.seeds,
                updates=FLAGS.updates,
                chunk=FLAGS.chunk,
                max_len=FLAGS.max_len,
                wall=FLAGS.wall_per_cell,
                smoke=FLAGS.smoke,
                overrides=FLAGS.set,
            ),
        )
        for r in rows
        for c in cols
    ]
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  for r, c, cfg in cells:
    workdir = os.path.join(FLAGS.workroot, f"{r}_col{c}")
    t0 = time.time()
    summary = experiment.train_and_evaluate(cfg, workdir)
    summary.update(
        train_max_length=cfg.train_max_length,
        cell_wall_s=time.time() - t0,
        workdir=workdir,
        overrides=list(FLAGS.set),
    )
    results[f"{r}:{c}"] = summary
    write_table(results, rows, cols, FLAGS.out)
    print(json.dumps({"cell": f"{r}:{c}", "success_rate": summary["success_rate"]}), flush=True)


if __name__ == "__main__":
  app.run(main)
