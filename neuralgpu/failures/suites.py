"""Structured suites of questions a Neural GPU trained on random inputs gets wrong
(Price, Zaremba & Sutskever 2016, section 4): each a list of ``Case`` (operands as
Python integers, the truth from Python arithmetic)."""

from __future__ import annotations

import dataclasses
from typing import Iterable, Sequence

import numpy as np

from neuralgpu import tasks as tasks_lib

FAMILIES = ("carry", "run", "padded", "max", "symmetric", "talk")

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
