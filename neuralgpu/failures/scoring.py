"""Asking a trained Neural GPU the cases: its answer, whether it is right and where its
first wrong digit falls, per case; summaries per family; answers written out."""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from neuralgpu import evaluate
from neuralgpu import model as model_lib
from neuralgpu import tasks as tasks_lib
from neuralgpu.failures.suites import FAMILIES, Case, carry_positions


class Predictor:
  """A trained Neural GPU as a function of input rows: ``predictor(inputs) -> logits``
  (``[B, n]`` int32 -> ``[B, n, classes]``), compiled once per shape. Anything with the
  same call and the attributes ``stripped`` (DNGPU's target form) and ``cells`` (state
  floats per position, to size chunks) can stand in for it."""

  def __init__(self, params, active_sets, mcfg):
    self.params, self.active_sets, self.mcfg = params, active_sets, mcfg
    self.stripped = model_lib.stripped(mcfg)
    self.cells = int(mcfg.height) * int(mcfg.num_maps)

  def __call__(self, inputs, targets=None):
    inputs = np.asarray(inputs)
    positions = inputs > 0 if targets is None else (inputs > 0) | (np.asarray(targets) > 0)
    return evaluate.predict_logits(self.params, inputs, self.mcfg, self.active_sets, positions)


@jax.jit
def _jit_scores(logits, targets):
  return _scores(logits, targets)


def _scores(logits, targets):
  """Per example: wrong digits, CE summed over the scored positions, the lowest wrong
  position (n if none) and the predicted symbols."""
  mask = targets > 0
  pred = jnp.argmax(logits, -1)
  wrong = (pred != targets) & mask
  logp = jax.nn.log_softmax(logits.astype(jnp.float32), -1)
  ce = -jnp.take_along_axis(logp, targets[..., None], -1)[..., 0]
  ce = jnp.sum(jnp.where(mask, ce, 0.0), -1)
  n = targets.shape[-1]
  first = jnp.min(jnp.where(wrong, jnp.arange(n), n), -1)
  return jnp.sum(wrong, -1), ce, first, pred


def score_rows(
    model, inputs: np.ndarray, targets: np.ndarray, chunk: int = 64
) -> dict[str, np.ndarray]:
  """Scores rows ``[N, n]`` of one length: ``wrong`` digits, ``ce`` of the true answer,
  ``first`` wrong position (``n`` if right) and the predicted symbols ``pred``, in chunks
  of a few shapes (a power of two up to ``chunk``, the last chunk padded), so that few
  compiled forwards serve every call.
  Stripped-target models are scored on their own target form (padding above the
  result's top digit)."""
  inputs, targets = np.asarray(inputs), np.asarray(targets)
  total, n = inputs.shape
  cap = max(1, min(chunk, (1 << 24) // max(n * int(model.cells), 1)))
  size = min(cap, 1 << max(total - 1, 0).bit_length())  # a power of two: few shapes
  out = {"wrong": [], "ce": [], "first": [], "pred": []}
  for s in range(0, total, size):
    x, y = inputs[s : s + size], targets[s : s + size]
    take = len(x)
    if take < size:
      x = np.pad(x, ((0, size - take), (0, 0)))
      y = np.pad(y, ((0, size - take), (0, 0)))
    logits = model(x, y)
    yy = jnp.asarray(y)
    if model.stripped:
      yy = tasks_lib.strip_high_zeros(yy)
    wrong, ce, first, pred = jax.device_get(_jit_scores(logits, yy))
    for k, v in zip(("wrong", "ce", "first", "pred"), (wrong, ce, first, pred)):
      out[k].append(np.asarray(v)[:take])
  return {k: np.concatenate(v) for k, v in out.items()}


def _decode_prediction(task, pred_row, n: int):
  digits = [int(p) - tasks_lib.DIGIT_OFFSET for p in pred_row[:n]]
  if all(0 <= d < task.base for d in digits):
    return tasks_lib.digits_to_int(digits, task.base)
  return None


def evaluate_cases(model, cases: Sequence[Case], chunk: int = 64) -> list[dict]:
  """The model's answer to every case: ``correct``, ``wrong_digits``, ``first_wrong``
  (lowest wrong output position, 0 = least significant; None if right), ``answer`` (the
  integer it wrote, None if a position holds a non-digit) and ``truth``. Cases are
  grouped by length, so each length compiles once. ``model``: a :class:`Predictor`."""
  by_len: dict[int, list[int]] = {}
  for i, c in enumerate(cases):
    by_len.setdefault(int(c.length), []).append(i)
  results: list[dict | None] = [None] * len(cases)
  for n, idx in sorted(by_len.items()):
    rows = [cases[i].encode() for i in idx]
    x = np.stack([r[0] for r in rows])
    y = np.stack([r[1] for r in rows])
    s = score_rows(model, x, y, chunk)
    for j, i in enumerate(idx):
      c = cases[i]
      task = tasks_lib.get_task(c.task)
      width = int(np.count_nonzero(y[j]))
      wrong = int(s["wrong"][j])
      results[i] = {
          "task": c.task,
          "family": c.family,
          "param": c.param,
          "note": c.note,
          "length": n,
          "a": c.a,
          "b": c.b,
          "truth": c.truth,
          "answer": _decode_prediction(task, s["pred"][j], width),
          "correct": wrong == 0,
          "wrong_digits": wrong,
          "first_wrong": None if wrong == 0 else int(s["first"][j]),
          "result_digits": width,
          "ce": float(s["ce"][j]),
      }
  return results


def summarise(results: Sequence[dict]) -> list[dict]:
  """Per (family, param): cases, wrong sequences, sequence error and the median first
  wrong position of the wrong ones."""
  groups: dict[tuple, list[dict]] = {}
  for r in results:
    groups.setdefault((r["family"], r["param"]), []).append(r)
  rows = []
  for (fam, param), rs in sorted(
      groups.items(),
      key=lambda kv: (FAMILIES.index(kv[0][0]) if kv[0][0] in FAMILIES else 99, kv[0][1]),
  ):
    wrong = [r for r in rs if not r["correct"]]
    firsts = [r["first_wrong"] for r in wrong]
    rows.append(
        {
            "family": fam,
            "param": param,
            "cases": len(rs),
            "wrong": len(wrong),
            "seq_error": len(wrong) / len(rs),
            "median_first_wrong": float(np.median(firsts)) if firsts else None,
        }
    )
  return rows


def first_failing_param(summary: Sequence[dict], family: str) -> int | None:
  """The smallest parameter (e.g. carry-chain length) of ``family`` with a wrong case."""
  bad = [r["param"] for r in summary if r["family"] == family and r["wrong"]]
  return min(bad) if bad else None


def _to_str(x, base):
  if x is None:
    return "(not a number)"
  return np.base_repr(x, base) if base <= 36 else str(x)


def digit_str(digits, base, width):
  """Little-endian digits (any ints; non-digits as '?') as a most-significant-first
  string of ``width`` characters."""
  chars = [np.base_repr(d, base) if 0 <= d < base else "?" for d in digits]
  chars = (chars + ["0"] * width)[:width]
  return "".join(reversed(chars))


def answer_lines(r: dict, task, digits: int, show_carries: bool = True) -> list[str]:
  """The lines a person reads for one answer of ``evaluate.answer``: the question
  (operands zero-padded to ``digits``), the model's answer, the truth, and marks: ``^``
  under the first wrong digit (the lowest wrong position), ``c`` under each digit that
  receives a carry (addition)."""
  base = task.base
  sym = "+" if task.kind == "add" else "*"
  truth_digits = tasks_lib.int_to_digits(r["truth"], base)
  width = max(len(truth_digits), len(_to_str(r["answer"], base)) if r["answer"] is not None else 1)
  # The model writes 2k+1 digits; show the significant ones and any wrong one above.
  model_digits = r["answer_digits"]
  wrong = [
      i
      for i, d in enumerate(model_digits)
      if d != (truth_digits[i] if i < len(truth_digits) else 0)
  ]
  if wrong:
    width = max(width, wrong[-1] + 1)
  lines = [
      f"{_to_str(r['a'], base).zfill(digits)} {sym} {_to_str(r['b'], base).zfill(digits)}",
      f"  model: {digit_str(model_digits, base, width)}",
      f"  truth: {digit_str(truth_digits, base, width)}   "
      f"[{'right' if r['correct'] else 'WRONG'}]",
  ]
  pad = " " * len("  truth: ")
  if wrong:
    marks = [" "] * width
    marks[width - 1 - wrong[0]] = "^"
    lines.append(
        pad + "".join(marks) + f"   first wrong digit: position {wrong[0]} "
        f"(0 = least significant), {len(wrong)} wrong"
    )
  if show_carries and task.kind == "add":
    carried = [p + 1 for p in carry_positions(base, r["a"], r["b"])]
    if carried:
      marks = [" "] * width
      for p in carried:
        if p < width:
          marks[width - 1 - p] = "c"
      lines.append(pad + "".join(marks) + f"   carries: {len(carried)}")
  return lines
