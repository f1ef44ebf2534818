"""Where a trained binary-addition model's wrong digits fall: for every wrong output
digit its position, the true and predicted digit and the carry into that position
(worked out with Python integers from the decoded operands), counted; and the same with
the model run for more steps than its input length (a state that drifts over time makes
more errors with more steps; a state that holds does not). The binary is
``experiments/studies/badd_errors.py``.
"""

from __future__ import annotations

import collections
import json

import jax
import jax.numpy as jnp
import numpy as np

from neuralgpu import evaluate
from neuralgpu import restore
from neuralgpu import tasks as tasks_lib
from neuralgpu import train as train_lib


def carries_in(a: int, b: int, width: int) -> list[int]:
  """carry into each bit position 0..width-1 of a + b (Python integers)."""
  out, c = [], 0
  for i in range(width):
    out.append(c)
    c = (((a >> i) & 1) + ((b >> i) & 1) + c) >> 1
  return out


def analyse(task, inputs, targets, preds) -> dict:
  """Per wrong digit: position, true/predicted digit and carry in; with counts.

  ``inputs``, ``targets``, ``preds``: int arrays [B, n] of symbols (digit + 1).
  """
  inputs, targets, preds = (np.asarray(x) for x in (inputs, targets, preds))
  wrong = (preds != targets) & (targets > 0)
  by_carry, by_true, by_pos = collections.Counter(), collections.Counter(), collections.Counter()
  examples = []
  n = inputs.shape[1]
  for r in np.nonzero(wrong.any(axis=1))[0]:
    a, b = tasks_lib.decode_example(task, inputs[r])[:2]
    cin = carries_in(int(a), int(b), n)
    pos = [int(p) for p in np.nonzero(wrong[r])[0]]
    for p in pos:
      by_carry[cin[p]] += 1
      by_true[int(targets[r, p]) - 1] += 1
      by_pos[p * 10 // n] += 1
    if len(examples) < 8:
      examples.append(
          {
              "row": int(r),
              "wrong_positions": pos[:12],
              "true": [int(targets[r, p]) - 1 for p in pos[:12]],
              "pred": [int(preds[r, p]) - 1 for p in pos[:12]],
              "carry_in": [cin[p] for p in pos[:12]],
          }
      )
  return {
      "examples": int(inputs.shape[0]),
      "seq_wrong": int(wrong.any(axis=1).sum()),
      "digits_wrong": int(wrong.sum()),
      "wrong_by_carry_in": {str(k): v for k, v in sorted(by_carry.items())},
      "wrong_by_true_digit": {str(k): v for k, v in sorted(by_true.items())},
      "wrong_by_position_decile": {str(k): v for k, v in sorted(by_pos.items())},
      "first_wrong_examples": examples,
  }


def analyse_workdir(
    workdir: str, seed_index, lengths, steps_factors, seed: int = 0, echo=print
) -> list[dict]:
  """``analyse`` of a workdir's model on ``k`` random examples per ``(n, k)`` in
  ``lengths``, run for ``f`` x its trained steps per length for each ``f`` in
  ``steps_factors``; one row per (length, factor), each also echoed as a JSON line."""
  cfg, mcfg, state, step = restore.load(workdir, seed_index=seed_index)
  task = restore.task_for(cfg, None)
  if task.kind != "add" or task.base != 2:
    raise ValueError(f"the workdir's task is {task.name!r}; this analysis is for badd")
  params = train_lib.eval_params(state)
  rows = []
  for n, k in lengths:
    inputs, targets = tasks_lib.make_batch(
        jax.random.key(seed + n), task, jnp.full((k,), n, jnp.int32), n
    )
    for f in steps_factors:
      m = mcfg.copy_and_resolve_references()
      m.steps_per_length = float(f) * float(mcfg.steps_per_length)
      logits = evaluate.predict_logits(
          params, inputs, m, state.relax.active_sets, (inputs > 0) | (targets > 0)
      )
      preds = np.asarray(jnp.argmax(logits, -1))
      row = {
          "step": int(step),
          "length": n,
          "steps_factor": float(f),
          **analyse(task, inputs, targets, preds),
      }
      echo(json.dumps({k2: v for k2, v in row.items() if k2 != "first_wrong_examples"}))
      rows.append(row)
  return rows
