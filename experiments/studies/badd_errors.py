r"""Where a trained binary-addition model goes wrong past its training length.

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

import collections
import json

from absl import app
from absl import flags

FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_string("workdir", None, "Training workdir (single run or pool).")
  flags.DEFINE_integer("seed_index", None, "Pool workdirs: which seed (default: the best).")
  flags.DEFINE_list("lengths", ["201:256", "401:64"], "length:examples to analyse.")
  flags.DEFINE_list("steps_factors", ["1"], "Run steps_factor x length steps (1 = as trained).")
  flags.DEFINE_integer("seed", 0, "PRNG seed of the examples.")
  flags.DEFINE_string("out", "", "JSON file for the report.")


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
  import numpy as np
  from neuralgpu import tasks as tasks_lib

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


def run(workdir: str, seed_index, lengths, steps_factors, seed: int = 0) -> list[dict]:
  import jax
  import jax.numpy as jnp
  import numpy as np
  from neuralgpu import evaluate, restore, tasks as tasks_lib, train as train_lib

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
      print(
          json.dumps({k2: v for k2, v in row.items() if k2 != "first_wrong_examples"}), flush=True
      )
      rows.append(row)
  return rows


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
    rows = run(FLAGS.workdir, FLAGS.seed_index, lengths, factors, FLAGS.seed)
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  if FLAGS.out:
    with open(FLAGS.out, "w") as f:
      json.dump(rows, f, indent=1)


if __name__ == "__main__":
  define_flags()
  app.run(main)
