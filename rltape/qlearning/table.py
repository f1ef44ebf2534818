"""The talk's RL table (Q-learning, Zaremba et al. 2016, "Learning Simple Algorithms
from Examples"): its rows (task, controller), the talk's success percentages per
column, the config of one cell, and the markdown of measured cells beside the talk's.
The binary that runs cells is ``experiments/tables/rl_table.py``.
"""

from __future__ import annotations

import json
import os

from rltape.qlearning import config as config_lib
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
            f"--merge file {p!r}: entry {cell!r} is not a "
            f"'row:col' cell summary of the RL table"
        )
      out[cell] = res
  return out
