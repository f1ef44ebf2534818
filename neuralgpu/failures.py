"""Where trained Neural GPUs fail: structured suites, adversarial search, saved sets.

Price, Zaremba & Sutskever (2016, "Extensions and Limitations of the Neural GPU",
section 4) show that a Neural GPU trained on random inputs fails on structured ones:
long carry chains, long runs of one digit, and zero-padded small operands
(``000..002 x 000..001``). This module makes such failures a tool:

* **Structured suites** (:func:`structured_suites`): lists of :class:`Case` (operands as
  Python integers, the truth from Python arithmetic) per family:
  ``carry`` (sums of exactly ``base**c``, a carry chain of length ``c``, and the near
  miss ``base**c - 1``), ``run`` (a run of one digit in a, b or both), ``padded``
  (small operands zero-padded to the test length, in either operand position or both),
  ``max`` (all-maximum digits), ``symmetric`` (a op a, and a op reversed(a)) and
  ``talk`` (the talk's 80-digit product, 2 x 1, padded 2 x 1 and 2 x 2).
* :func:`evaluate_cases`: the model's answer, whether it is right and where its first
  wrong digit falls (0 = the least significant digit), per case.
* **Adversarial search** (:func:`search`): a mutation hill-climb in the input space that
  keeps the mutants which raise the model's loss on the true answer (or its number of
  wrong digits), within a time budget; every wrong answer met is kept as a failure.
* :func:`save_cases` / :func:`load_cases`: a failure set as JSON (integers as decimal
  strings, each case's truth checked on load), reusable as a test suite and as a
  training set (``curriculum.adversarial_set``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Iterable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from neuralgpu import evaluate
from neuralgpu import model as model_lib
from neuralgpu import tasks as tasks_lib

FAMILIES = ("carry", "run", "padded", "max", "symmetric", "talk")
SET_FORMAT = "neuralgpu-failure-set/1"

# The talk's 80-digit question (decimal), asked of a multiplication model in its base.
TALK_A = int("59353073470806611971398236195285989083458222209939343360871730" "649133714199298764")
TALK_B = int("71493004928584356509100241005385920385829595055047086568280792" "309308597157524754")


@dataclasses.dataclass(frozen=True)
class Case:
  """One question: ``a op b`` written in the fixed layout of ``length`` positions
  (``(length - 1) // 2`` digits per operand, leading zeros), with its family and the
  family's parameter (carry-chain length, run length, significant digits, ...)."""

  task: str
  a: int
  b: int
  length: int
  family: str = "random"
  param: int = 0
  note: str = ""

  @property
  def truth(self) -> int:
    return tasks_lib.get_task(self.task).apply(self.a, self.b)

  def encode(self) -> tuple[np.ndarray, np.ndarray]:
    return tasks_lib.encode_example(self.task, self.a, self.b, self.length)


def fits(task: tasks_lib.Task, value: int, length: int) -> bool:
  return len(tasks_lib.int_to_digits(value, task.base)) <= (length - 1) // 2


def _digits(length: int) -> int:
  k = (int(length) - 1) // 2
  if k < 1:
    raise ValueError(f"length={length} leaves no digit per operand; need length >= 3")
  return k


def _uniform_digits(rng, base: int, k: int) -> list[int]:
  return [int(d) for d in rng.integers(0, base, size=k)]


def _int(digits: Sequence[int], base: int) -> int:
  return tasks_lib.digits_to_int(digits, base)


def carry_chain_operands(
    base: int, c: int, k: int, rng, exact: bool = True, rest: str = "zero"
) -> tuple[int, int]:
  """Operands of ``k`` digits whose low ``c`` digits sum to ``base**c`` (``exact``:
  positions ``0..c-1`` all carry) or to ``base**c - 1`` (nothing carries); above ``c``
  the first operand is uniform, the second zero (``rest="zero"``) or uniform digits
  that stop the chain at position ``c`` (``rest="random"``)."""
  if not 1 <= c <= k:
    raise ValueError(f"carry chain c={c} must be in [1, {k}]")
  a = _uniform_digits(rng, base, k)
  b = [0] * k
  if exact:
    a[0] = int(rng.integers(1, base))
    b[0] = base - a[0]
  else:
    b[0] = base - 1 - a[0]
  for i in range(1, c):
    b[i] = base - 1 - a[i]
  if c < k:
    # Position c: a_c + b_c + carry <= base - 1, so the chain ends there.
    a[c] = int(rng.integers(0, base - 1))
    if rest == "random":
      b[c] = int(rng.integers(0, base - 1 - a[c]))
      b[c + 1 :] = _uniform_digits(rng, base, k - c - 1)
  return _int(a, base), _int(b, base)


def carry_positions(base: int, a: int, b: int) -> list[int]:
  """The positions (0 = least significant) that carry out when adding ``a + b``."""
  out, carry, i = [], 0, 0
  while a or b or carry:
    s = a % base + b % base + carry
    carry = int(s >= base)
    if carry:
      out.append(i)
    a, b, i = a // base, b // base, i + 1
  return out


def carry_suite(
    task, length: int, chains: Iterable[int] | None = None, per_chain: int = 4, seed=0
) -> list[Case]:
  """Additions with a carry chain of exactly ``c`` positions (``c`` in ``chains``,
  default every ``c`` from 1 to the operand width), half with the other operand zero
  above the chain and half with random digits that stop it, plus for each ``c`` one near
  miss (sum ``base**c - 1``: no carry at all). Multiplication tasks get the analogue
  ``(base**c - 1) x b`` (every partial product a run of maximum digits)."""
  task = tasks_lib.get_task(task)
  k = _digits(length)
  chains = range(1, k + 1) if chains is None else chains
  rng = tasks_lib._rng(seed)
  cases = []
  for c in chains:
    c = int(c)
    if not 1 <= c <= k:
      raise ValueError(f"carry chain c={c} must be in [1, {k}] at length {length}")
    for j in range(per_chain):
      if task.kind == "add":
        a, b = carry_chain_operands(task.base, c, k, rng, True, "zero" if j % 2 else "random")
        if j % 4 >= 2:
          a, b = b, a
      else:
        a, b = task.base**c - 1, _int(_uniform_digits(rng, task.base, k), task.base)
        if j % 2:
          a, b = b, a
      cases.append(Case(task.name, a, b, length, "carry", c))
    if task.kind == "add":
      a, b = carry_chain_operands(task.base, c, k, rng, exact=False)
      cases.append(Case(task.name, a, b, length, "carry", c, "near miss"))
  return cases


def run_suite(
    task, length: int, runs: Iterable[int] | None = None, per_run: int = 3, seed=0
) -> list[Case]:
  """Uniform operands with a run of ``r`` copies of one digit (every digit of the base in
  turn, the run at a random offset) in a, in b, or in both (``param`` = ``r``)."""
  task = tasks_lib.get_task(task)
  k = _digits(length)
  runs = _spread(1, k) if runs is None else runs
  rng = tasks_lib._rng(seed)
  cases = []
  for r in runs:
    r = int(r)
    if not 1 <= r <= k:
      raise ValueError(f"run length r={r} must be in [1, {k}] at length {length}")
    for j in range(per_run * 3):
      digit = j % task.base if task.base <= per_run * 3 else int(rng.integers(task.base))
      where = ("a", "b", "both")[j % 3]
      ops = []
      for name in ("a", "b"):
        d = _uniform_digits(rng, task.base, k)
        if where in (name, "both"):
          start = int(rng.integers(0, k - r + 1))
          d[start : start + r] = [digit] * r
        ops.append(_int(d, task.base))
      cases.append(Case(task.name, ops[0], ops[1], length, "run", r, f"digit {digit} in {where}"))
  return cases


def padded_suite(
    task, lengths: Iterable[int], values: Sequence[tuple[int, int]] | None = None, seed=0
) -> list[Case]:
  """Small operands written with leading zeros at every length in ``lengths``
  (``000..00a op 000..00b``; ``param`` = the length): both small (``values``, default
  (2, 1), (2, 2), (1, 1), (base - 1, base - 1), (3, 5) in the base's range), and one
  small operand against a uniform one, in either position."""
  task = tasks_lib.get_task(task)
  rng = tasks_lib._rng(seed)
  base = task.base
  given = values is not None
  if values is None:
    values = [(2, 1), (2, 2), (1, 1), (base - 1, base - 1), (3, 5)]
  cases = []
  for n in lengths:
    n = int(n)
    k = _digits(n)
    for a, b in values:
      if not (fits(task, a, n) and fits(task, b, n)):
        if given:
          raise ValueError(f"operands {a}, {b} do not fit length {n} in base {base}")
        continue
      cases.append(Case(task.name, int(a), int(b), n, "padded", n, "both small"))
    for pos in ("a", "b"):
      small = int(rng.integers(1, base))
      big = _int(_uniform_digits(rng, base, k), base)
      a, b = (small, big) if pos == "a" else (big, small)
      cases.append(Case(task.name, a, b, n, "padded", n, f"{pos} small"))
  return cases


def max_suite(task, lengths: Iterable[int], seed=0) -> list[Case]:
  """All-maximum digits (``base**k - 1``) against itself, against 1 and against a
  uniform operand (``param`` = the length)."""
  task = tasks_lib.get_task(task)
  rng = tasks_lib._rng(seed)
  cases = []
  for n in lengths:
    n = int(n)
    k = _digits(n)
    top = task.base**k - 1
    other = _int(_uniform_digits(rng, task.base, k), task.base)
    for a, b, note in (
        (top, top, "max op max"),
        (top, 1, "max op 1"),
        (1, top, "1 op max"),
        (top, other, "max op random"),
    ):
      cases.append(Case(task.name, a, b, n, "max", n, note))
  return cases


def symmetric_suite(task, length: int, count: int = 8, seed=0) -> list[Case]:
  """``a op a`` and ``a op reversed(a)`` (the digit string read backwards) for uniform
  ``a`` (``param`` 0 = equal, 1 = reversed)."""
  task = tasks_lib.get_task(task)
  k = _digits(length)
  rng = tasks_lib._rng(seed)
  cases = []
  for _ in range(count):
    d = _uniform_digits(rng, task.base, k)
    a = _int(d, task.base)
    cases.append(Case(task.name, a, a, length, "symmetric", 0, "a op a"))
    cases.append(
        Case(task.name, a, _int(d[::-1], task.base), length, "symmetric", 1, "a op reversed(a)")
    )
  return cases


def talk_suite(task) -> list[Case]:
  """The talk's questions in the task's base: the 80-digit operands (a product for a
  multiplication task, a sum for addition), 2 op 1 unpadded, and 2 op 1, 2 op 2
  zero-padded to the 80-digit operands' width. For a binary task 2 is ``10``."""
  task = tasks_lib.get_task(task)
  width = max(len(tasks_lib.int_to_digits(v, task.base)) for v in (TALK_A, TALK_B))
  long_len = 2 * width + 1
  short_len = 2 * len(tasks_lib.int_to_digits(2, task.base)) + 1
  return [
      Case(task.name, TALK_A, TALK_B, long_len, "talk", 0, "the 80-digit question"),
      Case(task.name, 2, 1, short_len, "talk", 1, "2 op 1"),
      Case(task.name, 2, 1, long_len, "talk", 2, "000..002 op 000..001"),
      Case(task.name, 2, 2, long_len, "talk", 3, "000..002 op 000..002"),
  ]


def _spread(lo: int, hi: int, count: int = 16) -> list[int]:
  """About ``count`` distinct ints from lo to hi, denser at the low end."""
  if hi <= lo:
    return [lo]
  vals = np.unique(np.round(np.geomspace(lo, hi, count)).astype(int))
  return sorted(set(int(v) for v in vals) | {lo, hi})


def structured_suites(
    task,
    length: int = 201,
    per_chain: int = 4,
    seed: int = 0,
    padded_lengths: Sequence[int] | None = None,
) -> dict[str, list[Case]]:
  """Every family at test length ``length`` (carry chains from 1 to the operand width,
  runs, symmetric operands), padded / all-maximum operands at ``padded_lengths`` (default
  lengths from 5 to ``length``), and the talk's questions."""
  task = tasks_lib.get_task(task)
  if not task.is_arithmetic:
    raise ValueError(f"task {task.name!r} is not arithmetic; failure suites need add or mul")
  if padded_lengths is None:
    padded_lengths = [
        n for n in (5, 9, 17, 25, 41, 81, 121, 161, 201, 301, 401) if n <= length
    ] or [length]
  return {
      "carry": carry_suite(task, length, per_chain=per_chain, seed=seed),
      "run": run_suite(task, length, seed=seed + 1),
      "padded": padded_suite(task, padded_lengths, seed=seed + 2),
      "max": max_suite(task, padded_lengths, seed=seed + 3),
      "symmetric": symmetric_suite(task, length, seed=seed + 4),
      "talk": talk_suite(task),
  }


# ---------------------------------------------------------------------------
# Asking the model.
# ---------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------
# Adversarial search.
# ---------------------------------------------------------------------------
def _mutate(rng, digits: np.ndarray, base: int, k: int) -> np.ndarray:
  """Mutants of ``[P, 2, k]`` operand digits: per row one of: change 1-3 random digits;
  copy a run of one digit over a random span; set a span of one operand to the
  complement of the other (a carry chain); zero a high span (padding)."""
  out = digits.copy()
  p = len(out)
  kind = rng.integers(0, 4, size=p)
  for i in range(p):
    op = int(rng.integers(0, 2))
    if kind[i] == 0:
      for _ in range(int(rng.integers(1, 4))):
        out[i, int(rng.integers(0, 2)), int(rng.integers(0, k))] = int(rng.integers(0, base))
      continue
    lo = int(rng.integers(0, k))
    hi = int(rng.integers(lo + 1, k + 1))
    if kind[i] == 1:
      out[i, op, lo:hi] = int(rng.integers(0, base))
    elif kind[i] == 2:
      out[i, 1 - op, lo:hi] = base - 1 - out[i, op, lo:hi]
    else:
      out[i, op, lo:] = 0
  return out


def _rows_of(task, digits: np.ndarray, length: int):
  base = task.base
  xs, ys, pairs = [], [], []
  for d in digits:
    a, b = _int(d[0], base), _int(d[1], base)
    x, y = tasks_lib.encode_example(task, a, b, length)
    xs.append(x)
    ys.append(y)
    pairs.append((a, b))
  return np.stack(xs), np.stack(ys), pairs


def search(
    model,
    task,
    length: int,
    seconds: float,
    population: int = 32,
    seed: int = 0,
    max_failures: int = 1000,
    log=None,
) -> dict:
  """Mutation hill-climb for inputs the model gets wrong.

  Starts from ``population`` uniform questions of ``length``; each round mutates every
  member (:func:`_mutate`) and keeps a mutant that scores at least as high as its parent
  (score = wrong digits, then the CE of the true answer), so the population climbs
  towards inputs the model finds hard; every wrong answer met (a mutant or a starting
  point) is a failure. Stops after ``seconds`` (compile time included) or
  ``max_failures``. Returns ``{"failures": [Case], "rounds", "evaluated", "seconds"}``.
  """
  task = tasks_lib.get_task(task)
  if not task.is_arithmetic:
    raise ValueError(f"task {task.name!r} is not arithmetic")
  if seconds <= 0:
    raise ValueError(f"seconds={seconds} must be > 0")
  k = _digits(length)
  rng = np.random.default_rng(seed)
  t0 = time.perf_counter()
  cur = rng.integers(0, task.base, size=(population, 2, k))

  def score(digits):
    x, y, pairs = _rows_of(task, digits, length)
    s = score_rows(model, x, y, chunk=population)
    return s["wrong"].astype(np.float64) * 1e6 + s["ce"], s["wrong"], pairs

  found: dict[tuple[int, int], Case] = {}

  def keep(wrong, pairs, tag):
    for w, (a, b) in zip(wrong, pairs):
      if w > 0 and (a, b) not in found and len(found) < max_failures:
        found[(a, b)] = Case(task.name, a, b, length, "adversarial", int(w), tag)

  cur_score, wrong, pairs = score(cur)
  keep(wrong, pairs, "start")
  rounds, evaluated = 0, population
  while time.perf_counter() - t0 < seconds and len(found) < max_failures:
    cand = _mutate(rng, cur, task.base, k)
    cand_score, wrong, pairs = score(cand)
    rounds += 1
    evaluated += population
    keep(wrong, pairs, f"round {rounds}")
    better = cand_score >= cur_score
    cur = np.where(better[:, None, None], cand, cur)
    cur_score = np.where(better, cand_score, cur_score)
    if log and rounds % 20 == 0:
      log({"round": rounds, "failures": len(found), "best_wrong": int(cur_score.max() // 1e6)})
  return {
      "failures": list(found.values()),
      "rounds": rounds,
      "evaluated": evaluated,
      "seconds": time.perf_counter() - t0,
  }


# ---------------------------------------------------------------------------
# Saved sets.
# ---------------------------------------------------------------------------
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
