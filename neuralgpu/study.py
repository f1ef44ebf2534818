"""Seed-success studies: how many seeds of a training recipe learn an algorithm.

A Neural GPU run's success depends heavily on its seed (Kaiser & Sutskever 2015,
section 4; Price, Zaremba & Sutskever 2016, section 3), so a recipe is judged by the
fraction of seeds that solve the task within a stated budget. ``run_seed`` trains one
seed from scratch (single-seed train step, the same one ``loop.train_and_evaluate``
runs) and records the first step at which it meets each of two bars:

* ``ours``: no wrong sequence among ``ours_examples`` fresh examples at each of
  ``ours_lengths`` (default 512 at 201 and 128 at 401), at ``confirm`` checks in a row
  (each check on new examples). Checks are screened cheapest first (the training
  length, then 64 examples at each length, then the rest), so a seed that still errs
  costs little; a check fails at its first wrong sequence.
* ``dngpu``: the success criterion of Freivalds & Liepins (2017, section 5): per-digit
  error below 1% at each of ``dngpu_lengths`` (default 401 and 4001), every position of
  the row counted (the zero-extended result digits play the role of DNGPU's padding
  positions, which the model must also predict). The long length is only evaluated once
  the shorter ones pass, at most every ``dngpu_long_every`` steps.

Checks use ``train.eval_params`` (the parameter average when the recipe keeps one) and
draw their examples from ``evaluate.check_key(seed)`` folded with the step, so no two
checks share examples. A seed stops when it has met both bars, or at its step or time
budget (``Budget.stop_on="ours"``: once it has met ours). Everything a check saw is kept
in the seed's record.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable, Optional, Sequence

import jax
import numpy as np

from neuralgpu import evaluate as evaluate_lib
from neuralgpu import train as train_lib
from neuralgpu import batches as batches_lib
from neuralgpu import resolve as resolve_lib
from neuralgpu import step_cache as step_cache_lib

BARS = ("ours", "dngpu")
STOP_ON = ("both", "ours")


@dataclasses.dataclass(frozen=True)
class Bars:
  ours_lengths: tuple = (201, 401)
  ours_examples: tuple = (512, 128)
  screen_examples: int = 64
  confirm: int = 2
  dngpu_lengths: tuple = (401, 4001)
  dngpu_examples: tuple = (128, 8)
  dngpu_max_digit_error: float = 0.01
  dngpu_long_every: int = 2000

  def validate(self) -> None:
    def req(cond, msg):
      if not cond:
        raise ValueError(msg)

    req(
        len(self.ours_lengths) == len(self.ours_examples) and self.ours_lengths,
        f"ours_lengths={self.ours_lengths} and ours_examples={self.ours_examples} must be "
        "non-empty and of the same length",
    )
    req(
        len(self.dngpu_lengths) == len(self.dngpu_examples) and self.dngpu_lengths,
        f"dngpu_lengths={self.dngpu_lengths} and dngpu_examples={self.dngpu_examples} must "
        "be non-empty and of the same length",
    )
    for n in tuple(self.ours_lengths) + tuple(self.dngpu_lengths):
      req(int(n) >= 3, f"bar length {n} must be >= 3")
    for k in tuple(self.ours_examples) + tuple(self.dngpu_examples):
      req(int(k) >= 1, f"bar example count {k} must be >= 1")
    req(int(self.screen_examples) >= 1, f"screen_examples={self.screen_examples} must be >= 1")
    req(int(self.confirm) >= 1, f"confirm={self.confirm} must be >= 1")
    req(
        0.0 < float(self.dngpu_max_digit_error) < 1.0,
        f"dngpu_max_digit_error={self.dngpu_max_digit_error} must be in (0, 1)",
    )
    req(int(self.dngpu_long_every) >= 1, f"dngpu_long_every={self.dngpu_long_every} must be >= 1")


# Budget (or bar) fields added after study files were written, with the value that
# reproduces what those files did (a study file without one of them matches a header
# holding it: ``experiments.studies.seed_study.load_or_new``).
ADDED_DEFAULTS = {"budget": {"stop_on": "both"}}


@dataclasses.dataclass(frozen=True)
class Budget:
  max_steps: int
  check_every: int = 500
  max_seconds: float = 1200.0  # per seed: training, compile and checks
  # "both": a seed trains until it has met both bars; "ours": until it has met ours (its
  # DNGPU-bar step is then the one met by that point, if any).
  stop_on: str = "both"

  def validate(self) -> None:
    if self.stop_on not in STOP_ON:
      raise ValueError(f"stop_on={self.stop_on!r}; allowed: {STOP_ON}")
    if int(self.max_steps) < 1:
      raise ValueError(f"max_steps={self.max_steps} must be >= 1")
    if int(self.check_every) < 1 or int(self.check_every) > int(self.max_steps):
      raise ValueError(
          f"check_every={self.check_every} must be in [1, max_steps=" f"{self.max_steps}]"
      )
    if float(self.max_seconds) <= 0:
      raise ValueError(f"max_seconds={self.max_seconds} must be > 0")


def ours_check(key, params, active_sets, mcfg, cfg, task, bars: Bars) -> dict:
  """One check of our bar: screened, cheapest first; stops at the first wrong sequence.

  The screen at the training length and at each bar length uses
  ``screen_examples`` examples; the rest of each length's count are other examples,
  so a passing check has seen exactly ``ours_examples`` examples per length.
  """
  screen = int(bars.screen_examples)
  plan = [(int(cfg.curriculum.max_length), screen, "train_length")]
  plan += [
      (int(n), min(screen, int(k)), "screen") for n, k in zip(bars.ours_lengths, bars.ours_examples)
  ]
  plan += [
      (int(n), int(k) - screen, "rest")
      for n, k in zip(bars.ours_lengths, bars.ours_examples)
      if int(k) > screen
  ]
  rows = []
  for n, count, part in plan:
    k = jax.random.fold_in(key, n)
    if part == "rest":
      k = jax.random.fold_in(k, 1)
    elif part == "train_length":
      k = jax.random.fold_in(k, 2)
    row = evaluate_lib.evaluate_length(
        k, params, active_sets, mcfg, cfg.eval, task, n, count, cfg.operand_mode
    )
    row["part"] = part
    rows.append(row)
    if row["seq_wrong"]:
      return {"passed": False, "rows": rows}
  return {"passed": True, "rows": rows}


def dngpu_check(key, params, active_sets, mcfg, cfg, task, bars: Bars, include_long: bool) -> dict:
  """DNGPU's bar: digit error below the threshold at every length (shortest first).

  The last length (the long one, e.g. 4001) is evaluated only when ``include_long``;
  without it a passing check is reported as ``passed=None`` (not yet decided).
  """
  rows = []
  lengths = [int(n) for n in bars.dngpu_lengths]
  for i, (n, count) in enumerate(zip(lengths, bars.dngpu_examples)):
    if i == len(lengths) - 1 and len(lengths) > 1 and not include_long:
      return {"passed": None, "rows": rows}
    row = evaluate_lib.evaluate_length(
        jax.random.fold_in(key, 3 * n + 7),
        params,
        active_sets,
        mcfg,
        cfg.eval,
        task,
        n,
        int(count),
        cfg.operand_mode,
    )
    rows.append(row)
    if row["digit_error"] >= float(bars.dngpu_max_digit_error):
      return {"passed": False, "rows": rows}
  return {"passed": True, "rows": rows}


def run_seed(
    cfg,
    seed: int,
    task,
    budget: Budget,
    bars: Bars,
    *,
    step_cache=None,
    mcfg=None,
    log: Optional[Callable[[dict], None]] = None,
) -> dict:
  """Trains seed ``seed`` of recipe ``cfg`` from scratch and records when it meets each bar.

  Returns a record: ``first_step`` per bar (None if not met), steps run, training
  seconds (train steps only), check seconds, wall seconds, and every check's result.
  """
  tasks = (task,)
  mcfg = mcfg or resolve_lib.resolve_model_config(cfg)
  cache = step_cache or step_cache_lib.StepCache(cfg, tasks, mcfg)
  t_wall = time.time()
  state = train_lib.init_state(jax.random.key(int(seed)), cfg, 1)
  buckets = step_cache_lib.buckets_to_compile(cfg)
  cache.precompile(state, buckets)
  compile_s = time.time() - t_wall
  ckey = evaluate_lib.check_key(int(seed))
  first = {b: None for b in BARS}
  ours_streak = 0
  last_long = -(10**9)
  checks = []
  train_s = check_s = 0.0
  step = 0
  max_cur = int(np.max(jax.device_get(state.curriculum.cur)))
  stop = "max_steps"
  while step < int(budget.max_steps):
    t0 = time.time()
    todo = min(int(budget.check_every), int(budget.max_steps) - step)
    for _ in range(todo):
      state = cache(batches_lib.host_bucket(cfg, step, max_cur))(state)
      step += 1
      if step % int(cfg.curriculum.advance_every) == 0:
        max_cur = int(np.max(jax.device_get(state.curriculum.cur)))
    jax.block_until_ready(state)
    train_s += time.time() - t0
    t1 = time.time()
    metrics = train_lib.summarize_metrics(state.metrics)
    state = state.replace(metrics=train_lib.zero_metrics())
    params = train_lib.eval_params(state)
    key = jax.random.fold_in(ckey, step)
    entry = {
        "step": step,
        "train_seq_error": round(metrics["train_seq_error"], 4),
        "ce": metrics["ce"],
        "loss": metrics["loss"],
    }
    if first["ours"] is None:
      res = ours_check(key, params, state.relax.active_sets, mcfg, cfg, task, bars)
      ours_streak = ours_streak + 1 if res["passed"] else 0
      entry["ours"] = res
      if ours_streak >= int(bars.confirm):
        first["ours"] = step
    if first["dngpu"] is None:
      include_long = step - last_long >= int(bars.dngpu_long_every)
      res = dngpu_check(key, params, state.relax.active_sets, mcfg, cfg, task, bars, include_long)
      if len(res["rows"]) == len(bars.dngpu_lengths):
        last_long = step
      entry["dngpu"] = res
      if res["passed"]:
        first["dngpu"] = step
    check_s += time.time() - t1
    checks.append(entry)
    if log is not None:
      log({"seed": int(seed), **_brief(entry), "first": dict(first)})
    if all(v is not None for v in first.values()):
      stop = "both_bars"
      break
    if budget.stop_on == "ours" and first["ours"] is not None:
      stop = "ours_bar"
      break
    if time.time() - t_wall >= float(budget.max_seconds):
      stop = "max_seconds"
      break
  return {
      "seed": int(seed),
      "first_step": first,
      "steps": step,
      "stop": stop,
      "compile_s": round(compile_s, 2),
      "train_s": round(train_s, 2),
      "check_s": round(check_s, 2),
      "wall_s": round(time.time() - t_wall, 2),
      "steps_per_s": step / max(train_s, 1e-9),
      "examples_per_step": resolve_lib.examples_per_step(cfg),
      "checks": checks,
  }


def _brief(entry: dict) -> dict:
  out = {"step": entry["step"], "train_seq_error": entry["train_seq_error"]}
  for bar in BARS:
    if bar in entry:
      out[bar] = entry[bar]["passed"]
      out[bar + "_rows"] = [
          (r["length"], r["examples"], round(r["digit_error"], 4), r["seq_wrong"])
          for r in entry[bar]["rows"]
      ]
  return out


def summarize(records: Sequence[dict], max_steps: int) -> dict:
  """Per bar: seeds solved, median and largest step to solve; speed and wall time."""
  out = {"seeds": len(records), "max_steps": int(max_steps)}
  for bar in BARS:
    steps = sorted(r["first_step"][bar] for r in records if r["first_step"][bar] is not None)
    out[bar] = {
        "solved": len(steps),
        "median_steps": float(np.median(steps)) if steps else None,
        "max_steps": int(steps[-1]) if steps else None,
    }
  train_s = sum(r["train_s"] for r in records)
  out["seed_steps_per_s"] = sum(r["steps"] for r in records) / max(train_s, 1e-9)
  out["wall_s"] = sum(r["wall_s"] for r in records)
  out["max_seed_wall_s"] = max((r["wall_s"] for r in records), default=0.0)
  out["examples_per_step"] = records[0]["examples_per_step"] if records else None
  return out


def solved_fraction_curve(records: Sequence[dict], bar: str, steps: Sequence[int]) -> list[float]:
  """Fraction of seeds that have met ``bar`` by each step."""
  n = max(len(records), 1)
  return [
      sum(1 for r in records if r["first_step"][bar] is not None and r["first_step"][bar] <= s) / n
      for s in steps
  ]
