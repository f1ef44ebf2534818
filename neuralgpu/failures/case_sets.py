"""Failure sets on disk: JSON (integers as decimal strings, each case's truth checked
on load), reusable as a test suite and as a training set."""

from __future__ import annotations

import json
import os
from typing import Sequence

import numpy as np

from neuralgpu import tasks as tasks_lib
from neuralgpu.failures.suites import Case, fits

SET_FORMAT = "neuralgpu-failure-set/1"


def save_cases(path: str, cases: Sequence[Case], meta: dict | None = None) -> None:
  """Writes a failure set (integers as decimal strings, with their truth) atomically."""
  data = {
      "format": SET_FORMAT,
      "meta": meta or {},
      "cases": [
          {
              "task": c.task,
              "a": str(c.a),
              "b": str(c.b),
              "length": c.length,
              "family": c.family,
              "param": c.param,
              "note": c.note,
              "truth": str(c.truth),
          }
          for c in cases
      ],
  }
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    json.dump(data, f, indent=1)
  os.replace(tmp, path)


def load_cases(path: str, task: str | None = None) -> list[Case]:
  """Reads a set written by :func:`save_cases`; refuses a file that is not one, a case
  whose stored truth is not ``a op b`` or that does not fit its length, and (with
  ``task``) cases of another task, naming the file and the case."""
  if not os.path.exists(path):
    raise ValueError(f"failure set {path!r} does not exist")
  try:
    with open(path) as f:
      data = json.load(f)
  except (OSError, json.JSONDecodeError) as e:
    raise ValueError(f"failure set {path!r} is not JSON: {e}") from None
  if not isinstance(data, dict) or data.get("format") != SET_FORMAT:
    raise ValueError(f"{path!r} is not a failure set (format {SET_FORMAT!r})")
  want = tasks_lib.get_task(task).name if task else None
  cases = []
  for i, d in enumerate(data["cases"]):
    try:
      c = Case(
          tasks_lib.get_task(d["task"]).name,
          int(d["a"]),
          int(d["b"]),
          int(d["length"]),
          d.get("family", "adversarial"),
          int(d.get("param", 0)),
          d.get("note", ""),
      )
      truth = int(d["truth"])
    except (KeyError, ValueError, TypeError) as e:
      raise ValueError(f"{path!r} case {i} is malformed: {e}") from None
    if truth != c.truth:
      raise ValueError(f"{path!r} case {i}: stored truth {truth} is not {c.a} op {c.b}")
    if want and c.task != want:
      raise ValueError(f"{path!r} case {i} is of task {c.task!r}, not {want!r}")
    t = tasks_lib.get_task(c.task)
    if not (fits(t, c.a, c.length) and fits(t, c.b, c.length)):
      raise ValueError(f"{path!r} case {i}: operands do not fit length {c.length}")
    cases.append(c)
  return cases


def training_rows(cases: Sequence[Case], bucket: int) -> tuple[np.ndarray, np.ndarray]:
  """The cases that fit a training bin of ``bucket`` positions, encoded at their own
  length and padded to ``bucket`` (``[N, bucket]`` each; N may be 0)."""
  xs, ys = [], []
  for c in cases:
    if c.length <= bucket:
      x, y = c.encode()
      xs.append(np.pad(x, (0, bucket - c.length)))
      ys.append(np.pad(y, (0, bucket - c.length)))
  if not xs:
    return np.zeros((0, bucket), np.int32), np.zeros((0, bucket), np.int32)
  return np.stack(xs), np.stack(ys)
