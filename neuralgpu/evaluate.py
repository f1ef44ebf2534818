"""Evaluation: digit and sequence error per test length, in memory-capped chunks.

A 2001-digit test runs ``n`` steps over a ``[chunk, n, height, maps]`` state; the
chunk size is capped so that ``chunk * n * height * maps`` stays under
``eval.max_chunk_elements`` floats (plus the conv patches, ``kn * kh`` times that),
so long evaluations never run out of memory. Compiled forwards are cached per
(chunk, n) shape.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from neuralgpu import model as model_lib
from neuralgpu import tasks as tasks_lib

# Solve checks during training and the final table draw their test examples from
# different keys, so a run that stops at a passed check is reported on examples that
# played no part in choosing when (or which seed) to stop.
_CHECK_SALT = 10_000_019
_FINAL_SALT = 20_000_003


def check_key(seed: int) -> jax.Array:
  """Key of the periodic solve checks of the run (or pool seed) with PRNG seed ``seed``."""
  return jax.random.fold_in(jax.random.key(int(seed)), _CHECK_SALT)


def final_key(seed: int) -> jax.Array:
  """Key of the final evaluation table (held out from every solve check)."""
  return jax.random.fold_in(jax.random.key(int(seed)), _FINAL_SALT)


def error_counts(logits: jax.Array, targets: jax.Array, mask=None) -> dict[str, jax.Array]:
  """Wrong / total scored digits and wrong / total sequences (sums); ``mask`` = the scored
  positions (default: the non-padding targets)."""
  mask = targets > 0 if mask is None else mask
  wrong = (jnp.argmax(logits, -1) != targets) & mask
  seq_wrong = jnp.any(wrong, axis=-1)
  has_any = jnp.any(mask, axis=-1)
  return {
      "digit_wrong": jnp.sum(wrong).astype(jnp.float32),
      "digit_total": jnp.sum(mask).astype(jnp.float32),
      "seq_wrong": jnp.sum(seq_wrong & has_any).astype(jnp.float32),
      "seq_total": jnp.sum(has_any).astype(jnp.float32),
  }


def _model_key(mcfg) -> tuple:
  return tuple(
      sorted((k, v if not isinstance(v, list) else tuple(v)) for k, v in mcfg.to_dict().items())
  )


@functools.lru_cache(maxsize=64)
def _predict_fn(model_key: tuple):
  mcfg = dict(model_key)
  import ml_collections  # local: keeps the cache key hashable

  cfg = ml_collections.ConfigDict(mcfg)

  @jax.jit
  def predict(params, inputs, active_sets, positions):
    logits, _ = model_lib.apply(params, inputs, cfg, active_sets=active_sets, positions=positions)
    return logits

  return predict


@functools.lru_cache(maxsize=8)
def _batch_shardings(devices: tuple):
  mesh = jax.sharding.Mesh(np.asarray(devices), ("batch",))
  return (
      jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("batch")),
      jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec()),
  )


def _split_over_devices(params, inputs, active_sets, positions):
  """The batch split over this process's devices when it divides evenly (a host with
  several CPU devices, one per core, evaluates on all of them; a single device is left
  as it is). The examples and the per-example arithmetic are unchanged."""
  devices = tuple(jax.local_devices())
  if len(devices) < 2 or inputs.shape[0] % len(devices):
    return params, inputs, active_sets, positions
  batch, rep = _batch_shardings(devices)
  params, active_sets = jax.device_put((params, active_sets), rep)
  inputs, positions = jax.device_put((inputs, positions), batch)
  return params, inputs, active_sets, positions


def predict_logits(params, inputs, mcfg, active_sets, positions=None) -> jax.Array:
  """Logits ``[B, n, vocab]`` for int32 inputs ``[B, n]`` (compiled per shape), the
  batch split over this process's devices where it divides evenly."""
  inputs = jnp.asarray(inputs)
  if positions is None:
    positions = inputs > 0
  args = _split_over_devices(params, inputs, jnp.asarray(active_sets), positions)
  return _predict_fn(_model_key(mcfg))(*args)


@functools.lru_cache(maxsize=64)
def _data_fn(task: tasks_lib.Task, chunk: int, n: int, mode: str):
  @jax.jit
  def make(key):
    lengths = jnp.full((chunk,), n, jnp.int32)
    return tasks_lib.make_batch(key, task, lengths, n, mode=mode)

  return make


def chunk_size_for(n: int, mcfg, eval_cfg) -> int:
  per_example = n * int(mcfg.height) * int(mcfg.num_maps)
  cap = max(1, int(eval_cfg.max_chunk_elements) // max(per_example, 1))
  return max(1, min(int(eval_cfg.chunk_size), cap))


def evaluate_length(
    key: jax.Array,
    params,
    active_sets,
    mcfg,
    eval_cfg,
    task: tasks_lib.Task,
    length: int,
    num_examples: int,
    mode: str = "uniform",
) -> dict[str, float]:
  """Digit and sequence error of ``num_examples`` random examples of ``length``."""
  chunk = min(chunk_size_for(length, mcfg, eval_cfg), num_examples)
  make = _data_fn(task, chunk, int(length), mode)
  totals = None
  done = 0
  i = 0
  while done < num_examples:
    inputs, targets = make(jax.random.fold_in(key, i))
    take = min(chunk, num_examples - done)
    logits = predict_logits(params, inputs, mcfg, active_sets, (inputs > 0) | (targets > 0))
    if model_lib.stripped(mcfg):
      targets = tasks_lib.strip_high_zeros(targets)
    counts = error_counts(
        logits[:take], targets[:take], model_lib.score_mask(inputs, targets, mcfg)[:take]
    )
    totals = counts if totals is None else jax.tree.map(jnp.add, totals, counts)
    done += take
    i += 1
  t = jax.device_get(totals)
  return {
      "length": int(length),
      "examples": int(num_examples),
      "digit_error": float(t["digit_wrong"] / max(t["digit_total"], 1.0)),
      "seq_error": float(t["seq_wrong"] / max(t["seq_total"], 1.0)),
      "seq_wrong": int(t["seq_wrong"]),
  }


def evaluate_table(
    key,
    params,
    active_sets,
    mcfg,
    eval_cfg,
    task,
    lengths: Sequence[int],
    examples: Sequence[int],
    mode: str = "uniform",
) -> list[dict[str, Any]]:
  return [
      evaluate_length(
          jax.random.fold_in(key, int(n)),
          params,
          active_sets,
          mcfg,
          eval_cfg,
          task,
          int(n),
          int(k),
          mode,
      )
      for n, k in zip(lengths, examples)
  ]


def format_table(rows: Sequence[dict[str, Any]], title: str = "") -> str:
  lines = [title] if title else []
  lines.append("| length | examples | digit error | sequence error |")
  lines.append("|---:|---:|---:|---:|")
  for r in rows:
    lines.append(
        f"| {r['length']} | {r['examples']} | {r['digit_error']:.4%} | "
        f"{r['seq_error']:.2%} ({r['seq_wrong']} wrong) |"
    )
  return "\n".join(lines)


def answer(
    params, active_sets, mcfg, task: tasks_lib.Task, a: int, b: int, length: int | None = None
) -> dict[str, Any]:
  """Asks the model ``a op b`` in plain numbers; returns its answer and the truth."""
  inputs = np.asarray(tasks_lib.encode_question(task, a, b, length))
  logits = predict_logits(params, inputs[None], mcfg, active_sets)
  pred = np.asarray(jnp.argmax(logits, -1))[0]
  n = int(np.count_nonzero(inputs))
  digits = [int(p) - tasks_lib.DIGIT_OFFSET for p in pred[:n]]
  valid = all(0 <= d < task.base for d in digits)
  got = tasks_lib.digits_to_int(digits, task.base) if valid else None
  truth = task.apply(a, b)
  return {
      "a": a,
      "b": b,
      "op": task.kind,
      "base": task.base,
      "length": int(inputs.shape[0]),
      "answer": got,
      "answer_digits": digits,
      "truth": truth,
      "correct": got == truth,
  }


_OPERATORS = {"+": "add", "*": "mul", "x": "mul"}


def parse_question(question: str, base: int) -> tuple[int, str, int, int]:
  """Parses '101+11' / '2*1' (digits in ``base``, most significant first; ``x`` is also
  a times sign).

  Returns (a, kind, b, digits of the longer operand). Raises ValueError with one line
  naming what is wrong: no operator or another one, an empty operand, a digit outside
  the base.
  """
  q = question.replace(" ", "")
  ops = [i for i, ch in enumerate(q) if ch in "+*x"]
  others = re.findall(r"[^0-9a-fA-Fx+*]", q.replace("x", "").replace("X", ""))
  if others and not ops:
    raise ValueError(f"question {question!r}: operator {others[0]!r} is not + or *")
  if others:
    raise ValueError(
        f"question {question!r} has {others[0]!r}, which is neither a digit " "nor + or *"
    )
  if len(ops) != 1:
    raise ValueError(
        f"question {question!r} needs exactly one operator (+ or *), found " f"{len(ops)}"
    )
  i = ops[0]
  a_s, op, b_s = q[:i], q[i], q[i + 1 :]
  if not a_s or not b_s:
    raise ValueError(f"question {question!r} has an empty operand")
  for s in (a_s, b_s):
    bad = [ch for ch in s if int(ch, 16) >= base]
    if bad:
      raise ValueError(
          f"question {question!r} has the digit {bad[0]!r}, outside base {base} "
          f"(digits 0..{np.base_repr(base - 1, base)})"
      )
  return int(a_s, base), _OPERATORS[op], int(b_s, base), max(len(a_s), len(b_s))


def failure_questions(task: tasks_lib.Task, digits: int = 30) -> list[tuple[int, int, int]]:
  """(a, b, digits) triples: the talk's failure cases, zero-padded to ``digits``.

  000..002 op 000..001; all (base-1) digits + 1 (a carry chain through every digit);
  long stretches of one digit.
  """
  base = task.base
  ones = int("1" * (digits - 1), base)
  return [(2, 1, digits), (base ** (digits - 1) - 1, 1, digits), (ones, ones, digits)]
