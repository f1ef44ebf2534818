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
from runkit import config_args

# Row key -> (label in the talk, task, controller, extra config).
ROWS = {
    "copy": ("Copying", "copy", "gru", {}),
    "reverse": ("Reverse", "reverse", "gru", {}),
    "reverse_ff": ("Reverse (FF controller)", "reverse", "ff", {}),
    "walk": ("Walk", "walk", "gru", {}),
    "walk_ff": ("Walk (FF controller)", "walk", "ff", {}),
    "add2": ("2-row Addition", "add2", "gru", {}),
    "add3": ("3-row Addition", "add3", "gru", {}),
    "add3_extra": (
        "3-row Addition (extra curriculum)",
        "add3",
        "gru",
        {"no_carry_curriculum": True},
    ),
    "mul1": ("Single Digit Multiplication", "mul1", "gru", {}),
}

# The talk's RL table, success % per column 1..10.
TALK = {
    "copy": (30, 60, 90, 50, 70, 90, 100, 100, 100, 100),
    "reverse": (0,) * 10,
    "reverse_ff": (0, 0, 0, 0, 0, 0, 100, 90, 100, 90),
    "walk": (0, 0, 0, 0, 0, 0, 10, 90, 10, 80),
    "walk_ff": (0, 0, 0, 0, 0, 0, 100, 100, 100, 100),
    "add2": (10, 70, 70, 70, 80, 60, 60, 100, 40, 100),
    "add3": (0,) * 10,
    "add3_extra": (0, 50, 80, 40, 50, 50, 80, 80, 10, 60),
    "mul1": (0, 0, 0, 0, 0, 100, 100, 100, 0, 0),
}

FLAGS = flags.FLAGS
flags.DEFINE_list("rows", list(ROWS), f"table rows, from {sorted(ROWS)}")
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


def parse_overrides(items, c) -> dict:
  """``key=value`` strings -> values of the type of ``c[key]`` (``--config.key=value``'s
  reading, ``runkit.config_args.typed_value``); ValueError if the key is unknown."""
  out = {}
  for item in items:
    key, sep, value = item.partition("=")
    if not sep or key not in c:
      raise ValueError(
          f"--set entry {item!r} must be key=value with a config key "
          f"(e.g. optimizer=adam); keys: {sorted(c.keys())}"
      )
    out[key] = config_args.typed_value(f"--set {key}", c[key], value)
  return out


def cell_config(
    row: str,
    col: int,
    *,
    seeds: int,
    updates: int,
    chunk: int,
    max_len: int,
    wall: float,
    smoke: bool,
    overrides=(),
):
  """The config of one table cell; raises ValueError on bad names."""
  if row not in ROWS:
    raise ValueError(f"unknown table row {row!r}; allowed: {sorted(ROWS)}")
  _, task, controller, extra = ROWS[row]
  c = config_lib.default_config()
  c.task, c.controller = task, controller
  c.no_carry_curriculum = bool(extra.get("no_carry_curriculum", False))
  c.update(config_lib.column_overrides(col))
  c.update(
      dict(
          num_seeds=seeds,
          num_updates=updates,
          chunk_updates=chunk,
          train_max_length=max_len,
          wall_budget_s=wall,
      )
  )
  c.update(parse_overrides(overrides, c))
  if smoke:
    c.update(
        dict(
            units=16,
            num_seeds=2,
            batch_size=4,
            num_updates=2,
            chunk_updates=1,
            train_max_length=8,
            curriculum_episodes=8,
            test_length=min(c.test_length, 10),
            test_batch=4,
            wall_budget_s=0.0,
        )
    )
  config_lib.validate(c)
  return c


def markdown(results: dict, rows, cols) -> str:
  lines = ["| Task | " + " | ".join(f"col {c}" for c in cols) + " |", "|---|" + "---|" * len(cols)]
  for r in rows:
    cells = []
    for c in cols:
      talk = TALK[r][c - 1]
      res = results.get(f"{r}:{c}")
      if res is None:
        cells.append(f"not run (talk {talk}%)")
      else:
        cells.append(
            f"**{100 * res['success_rate']:.0f}%** of " f"{res['num_seeds']} (talk {talk}%)"
        )
    lines.append(f"| {ROWS[r][0]} | " + " | ".join(cells) + " |")
  lines.append("")
  lines.append(
      "| Cell | seeds | updates run / budget | wall s (budget) | "
      "train max len | test len | solved at update | final curriculum len | "
      "overrides |"
  )
  lines.append("|---|---|---|---|---|---|---|---|---|")
  for r in rows:
    for c in cols:
      res = results.get(f"{r}:{c}")
      if res is None:
        continue
      lines.append(
          f"| {ROWS[r][0]}, col {c} | {res['num_seeds']} | "
          f"{res['updates_run']} / {res['step_budget']} | "
          f"{res['wall_s_this_process']:.0f} ({res['wall_budget_s']:.0f}) | "
          f"{res['train_max_length']} | {res['test_length']} | "
          f"{res['solved_at']} | {res['final_length']} | "
          f"{' '.join(res.get('overrides') or []) or 'none'} |"
      )
  return "\n".join(lines) + "\n"


def merge_results(paths) -> dict:
  """{cell: summary} of the JSON files in ``paths`` (a later file's cell replaces an
  earlier file's); ValueError naming a missing or malformed file."""
  out = {}
  for p in paths:
    if not os.path.exists(p):
      raise ValueError(f"--merge file {p!r} does not exist")
    try:
      with open(p) as f:
        d = json.load(f)
    except json.JSONDecodeError as e:
      raise ValueError(f"--merge file {p!r} is not JSON: {e}") from None
    if not isinstance(d, dict):
      raise ValueError(f"--merge file {p!r} does not hold a {{cell: summary}} object")
    for cell, res in d.items():
      r, _, c = cell.partition(":")
      if r not in ROWS or not c.isdigit() or not isinstance(res, dict) or "success_rate" not in res:
        raise ValueError(
            f"--merge file {p!r}: entry {cell!r} is not a " f"'row:col' cell summary of rl_table.py"
        )
      out[cell] = res
  return out


def write_table(results: dict, rows, cols, out: str):
  json_path = os.path.splitext(out)[0] + ".json"
  os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
  with open(json_path, "w") as f:
    json.dump(results, f, indent=1)
  with open(out, "w") as f:
    f.write(markdown(results, rows, cols))


def main(argv):
  del argv
  cols = [int(c) for c in FLAGS.cols]
  for c in cols:
    config_lib.column_overrides(c)
  rows = list(FLAGS.rows)
  for r in rows:
    if r not in ROWS:
      raise app.UsageError(f"unknown row {r!r}; allowed: {sorted(ROWS)}")
  json_path = os.path.splitext(FLAGS.out)[0] + ".json"
  if FLAGS.merge:
    try:
      results = merge_results(FLAGS.merge)
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
            cell_config(
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
