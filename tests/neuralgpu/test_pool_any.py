"""A pool that stops at its first solved seed (the main job's seed pool), its best-seed
choice, and loading one seed of a pool workdir for evaluation."""

import json
import os

import chex
import jax
import numpy as np
import ml_collections
import pytest

from experiments.configs import ngpu
from neuralgpu import config as config_lib
from neuralgpu import loop
from neuralgpu import pool
from neuralgpu import restore
from neuralgpu import train


def test_best_seed_index():
  def r(solved, at, err, div=None):
    return {
        "solved": solved,
        "solved_at": at,
        "diverged_at": div,
        "final_train_metrics": {"train_seq_error": err},
    }

  assert pool.best_seed_index([r(False, None, 0.5), r(True, 40, 0.9), r(True, 20, 0.8)]) == 2
  assert (
      pool.best_seed_index([r(False, None, 0.5), r(False, None, 0.2, div=3), r(False, None, 0.3)])
      == 2
  )
  assert pool.best_seed_index([r(False, None, 0.5, div=1)]) == 0


def test_seeds_config_and_bad_values():
  c = ngpu.get_config("variant=smoke,seeds=3")
  assert c.pool.num_seeds == 3 and c.pool.stop_when == "any"
  pool.validate_pool(c)
  with pytest.raises(ValueError, match="seeds=0"):
    ngpu.get_config("variant=smoke,seeds=0")
  c.pool.stop_when = "first"
  with pytest.raises(ValueError, match="stop_when"):
    pool.validate_pool(c)


def test_any_stop_evaluates_the_solved_seed_and_restore_loads_it(tmp_path, monkeypatch):
  c = ngpu.get_config("variant=smoke,seeds=2")
  c.num_train_steps = 12
  c.eval.every = 3
  c.optim.ema_decay = 0.9  # the parameter average goes through the pool too
  c.curriculum.advance_threshold = 1.01  # every check passes: the solve check runs
  calls = []

  def fake_check(key, ts_host, mcfg, cfg, task):
    calls.append(int(ts_host.step))
    # Seed index 1 (the second call of a check round) is "solved".
    return {"solved": len(calls) % 2 == 0, "rows": []}

  monkeypatch.setattr(pool, "seed_solve_check", fake_check)
  wd = str(tmp_path / "pool")
  out = loop.train_and_evaluate(c, wd)
  assert out["stop_reason"] == "one_solved" and out["step"] == 3
  assert out["best_seed_index"] == 1 and out["best_seed"] == c.seed + 1
  assert [r["length"] for r in out["eval"]] == [int(n) for n in c.eval.lengths]
  with open(os.path.join(wd, "summary.json")) as f:
    assert json.load(f)["best_seed_index"] == 1
  # restore.load gives the best seed's state; an explicit index gives another.
  cfg, _, state, step = restore.load(wd)
  assert step == 3 and int(state.step) == 3
  assert state.ema_params is not None and train.eval_params(state) is state.ema_params
  _, _, other, _ = restore.load(wd, seed_index=0)
  leaves = jax.tree.leaves(
      jax.tree.map(lambda a, b: np.array_equal(a, b), state.params, other.params)
  )
  assert not all(leaves)  # two seeds, two different models
  with pytest.raises(ValueError, match="seed_index=5"):
    restore.load(wd, seed_index=5)
  chex.assert_trees_all_equal_shapes(state.params, other.params)


def test_final_from_check_reuses_the_solving_check_at_the_solve_lengths(tmp_path, monkeypatch):
  c = ngpu.get_config("variant=smoke,seeds=2")
  c.num_train_steps = 12
  c.eval.every = 3
  c.curriculum.advance_threshold = 1.01  # every check passes: the solve check runs
  c.pool.confirm_checks = 2
  c.eval.final_from_check = True
  (solve_n,) = [int(n) for n in c.eval.solve_lengths]
  other = [int(n) for n in c.eval.lengths if int(n) != solve_n]
  calls = []

  def fake_check(key, ts_host, mcfg, cfg, task):
    calls.append(int(ts_host.step))
    # Seed index 1 passes every check (solved at its second, step 6); seed 0 never.
    ok = len(calls) % 2 == 0
    rows = [
        {"length": 9, "examples": 3, "digit_error": 0.0, "seq_error": 0.0, "seq_wrong": 0},
        {"length": solve_n, "examples": 3, "digit_error": 0.0, "seq_error": 0.0, "seq_wrong": 0},
        {"length": solve_n, "examples": 5, "digit_error": 0.0, "seq_error": 0.0, "seq_wrong": 0},
    ]
    return {"solved": ok, "rows": rows if ok else rows[:1]}

  evaluated = []
  real_table = loop.evaluate_lib.evaluate_table

  def spy_table(key, params, active, mcfg, ecfg, task, lengths, examples, mode="uniform"):
    evaluated.append(list(lengths))
    return real_table(key, params, active, mcfg, ecfg, task, lengths, examples, mode)

  monkeypatch.setattr(pool, "seed_solve_check", fake_check)
  monkeypatch.setattr(loop.evaluate_lib, "evaluate_table", spy_table)
  out = loop.train_and_evaluate(c, str(tmp_path / "pool"))
  assert out["stop_reason"] == "one_solved" and out["step"] == 6 and out["best_seed_index"] == 1
  assert evaluated == [other]  # only the lengths the check did not cover were evaluated
  rows = {r["length"]: r for r in out["eval"]}
  assert [r["length"] for r in out["eval"]] == [int(n) for n in c.eval.lengths]
  assert rows[solve_n] == {
      "length": solve_n,
      "examples": 8,  # screen (3) + rest (5) of the step-6 check
      "digit_error": 0.0,
      "seq_error": 0.0,
      "seq_wrong": 0,
      "from_check_step": 6,
  }
  for n in other:
    assert "from_check_step" not in rows[n]
    assert rows[n]["examples"] == int(c.eval.examples[c.eval.lengths.index(n)])


def test_final_from_check_bad_value_is_refused():
  c = ngpu.get_config("variant=smoke,seeds=2")
  c.eval.final_from_check = True
  pool.validate_pool(c)
  d = c.to_dict()  # a config built from a dict (a ConfigDict itself refuses the type)
  d["eval"]["final_from_check"] = "yes"
  with pytest.raises(ValueError, match="final_from_check='yes' must be True or False"):
    config_lib.validate(ml_collections.ConfigDict(d))


@pytest.mark.slow  # ~50 s of one worker (two pool runs, each compiling its steps)
def test_pool_with_the_adaptive_saturation_weight_trains_and_resumes(tmp_path):
  """The main job's recipe in a pool: each seed adapts its own weight; a resumed pool
  continues from the checkpointed weights."""
  c = ngpu.get_config("variant=smoke,seeds=2")
  ngpu.adaptive_saturation(c)
  c.optim.saturation_adapt_every = 2
  c.optim.saturation_max = 1.0  # no cap, so the adapted weight moves off its start
  c.num_train_steps = 4
  c.eval.stop_when_solved = False
  wd = str(tmp_path / "p")
  loop.train_and_evaluate(c, wd)
  cfg, _, st, step = restore.load(wd, 1)
  assert step == 4 and st.saturation is not None
  assert float(st.saturation.weight) != pytest.approx(1e-3)  # adapted at steps 2 and 4
  c.num_train_steps = 6
  loop.train_and_evaluate(c, wd)
  _, _, st6, step6 = restore.load(wd, 1)
  assert step6 == 6 and int(st6.saturation.count) == 0
