"""Adversarial search: a mutation hill-climb in the input space that keeps the mutants
which raise the model's loss on the true answer (or its number of wrong digits), within
a time budget; every wrong answer met is kept as a failure."""

from __future__ import annotations

import time

import numpy as np

from neuralgpu import tasks as tasks_lib
from neuralgpu.failures.scoring import score_rows
from neuralgpu.failures.suites import Case, _digits, _int


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
