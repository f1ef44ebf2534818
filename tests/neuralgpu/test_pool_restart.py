"""Restarting the seeds of a pool that do not take off (``pool.restart_after``)."""

import json
import os

import jax
import numpy as np
import pytest

from experiments.configs import ngpu
from runkit import checkpoints
from neuralgpu import loop
from neuralgpu import pool
from neuralgpu import restarts
from neuralgpu import train


def _cfg(**pool_values):
  c = ngpu.get_config("variant=smoke,seeds=2")
  c.num_train_steps = 8
  c.eval.every = 2
  c.checkpoint_every = 2
  c.log_every = 2
  c.max_train_minutes = 0.0
  c.pool.stop_when = "all"
  c.pool.restart_after = 2
  c.pool.restart_probe_length = 15
  c.pool.restart_probe_examples = 4
  for k, v in pool_values.items():
    c.pool[k] = v
  return c


@pytest.mark.parametrize(
    "key,value,match",
    [
        ("restart_after", -1, "restart_after=-1"),
        ("restart_max_steps", 2, "restart_max_steps=2 must be 0"),
        ("restart_max_digit_error", 1.5, "restart_max_digit_error=1.5"),
        ("restart_probe_length", 2, "restart_probe_length=2"),
        ("restart_probe_examples", 0, "restart_probe_examples=0"),
        ("on_probe_fail", "pause", "on_probe_fail='pause'"),
    ],
)
def test_bad_restart_values_are_rejected(key, value, match):
  c = _cfg()
  c.pool[key] = value
  with pytest.raises(ValueError, match=match):
    pool.validate_pool(c)


def test_restart_reason_by_hand():
  c = _cfg(restart_after=4, restart_max_steps=10, restart_max_digit_error=0.1)
  c.eval.every = 2
  host = pool.PoolState(
      train=None,
      alive=np.array([True, False, True, True]),
      diverged_at=np.array([-1, 3, -1, -1]),
      seed_id=np.array([0, 1, 2, 3]),
      started_at=np.array([0, 0, 0, 6]),
      running=np.ones(4, bool),
  )
  probed = []

  def probe(err):
    def f(i):
      probed.append(i)
      return err

    return f

  # Age 4 (first check at restart_after): probed; above the threshold -> restart.
  assert restarts.restart_reason(c, host, 0, 4, probe(0.2)).startswith("probe digit error 0.2000")
  assert restarts.restart_reason(c, host, 0, 4, probe(0.05)) is None
  # Age 5 is still within the check window [4, 6); age 6 is not probed again.
  assert restarts.restart_reason(c, host, 0, 5, probe(0.2)) is not None
  n = len(probed)
  assert restarts.restart_reason(c, host, 0, 6, probe(0.2)) is None and len(probed) == n
  # A diverged slot restarts whatever its age; a slot older than max_steps restarts.
  assert restarts.restart_reason(c, host, 1, 2, probe(0.0)) == "diverged"
  assert restarts.restart_reason(c, host, 2, 10, probe(0.0)) == "max_steps"
  # Age counts from the slot's own start (slot 3 started at step 6).
  assert restarts.restart_reason(c, host, 3, 8, probe(0.0)) is None
  assert restarts.restart_reason(c, host, 3, 10, probe(0.2)) is not None
  assert probed == [0, 0, 0, 3]


def test_restart_slots_puts_a_fresh_seed_in_the_slot():
  c = _cfg()
  ps = pool.init_pool([0, 1], c, 1)
  ps = ps.replace(train=ps.train.replace(step=ps.train.step + 2))  # as if 2 steps were made
  out = restarts.restart_slots(ps, [1], [7], 2, c, 1)
  fresh = train.init_state(jax.random.key(7), c, 1)
  for a, b in zip(jax.tree.leaves(pool.seed_state(out, 1)), jax.tree.leaves(fresh)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  for a, b in zip(
      jax.tree.leaves(pool.seed_state(out, 0)), jax.tree.leaves(pool.seed_state(ps, 0))
  ):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  np.testing.assert_array_equal(out.seed_id, [0, 7])
  np.testing.assert_array_equal(out.started_at, [0, 2])
  assert pool.pool_step_count(out) == 2  # slot 0 has made 2 steps, slot 1 none since 2


def _restored(wd, c):
  template = jax.device_get(pool.init_pool([c.seed, c.seed + 1], c, 1))
  ps, step = checkpoints.load_latest(wd, template)
  return jax.device_get(ps), step


@pytest.mark.slow
def test_restarts_run_end_to_end_and_resume_identically(tmp_path):
  # Every seed makes digit errors at the probe length after 2 steps (threshold 0), so
  # both slots restart at the check at step 2, then again at step 4 and 6 (not at the
  # run's last step, 8: a seed started there would never train).
  c = _cfg(restart_max_digit_error=0.0)
  whole = str(tmp_path / "whole")
  out = loop.train_and_evaluate(c, whole)
  assert out["step"] == 8
  steps = [(r["step"], r["slot"], r["old_seed"], r["new_seed"]) for r in out["restarts"]]
  assert steps == [
      (2, 0, 0, 2),
      (2, 1, 1, 3),
      (4, 0, 2, 4),
      (4, 1, 3, 5),
      (6, 0, 4, 6),
      (6, 1, 5, 7),
  ]
  assert all(r["reason"].startswith("probe digit error") for r in out["restarts"])
  assert out["num_seed_runs"] == 8 and out["solved_fraction"] == out["num_solved"] / 8
  assert [r["seed"] for r in out["seeds"]] == [6, 7]
  assert [r["started_at"] for r in out["seeds"]] == [6, 6]
  with open(os.path.join(whole, "restarts.json")) as f:
    assert json.load(f) == out["restarts"]
  # Stopped at step 5 (after step 4's checks and restarts), resumed to 8: identical.
  split = str(tmp_path / "split")
  c4 = _cfg(restart_max_digit_error=0.0)
  c4.num_train_steps = 5
  first = loop.train_and_evaluate(c4, split)
  assert [r["step"] for r in first["restarts"]] == [2, 2, 4, 4]
  second = loop.train_and_evaluate(c, split)
  assert second["restarts"] == out["restarts"]
  a, sa = _restored(whole, c)
  b, sb = _restored(split, c)
  assert sa == sb == 8
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
  np.testing.assert_array_equal(a.seed_id, [6, 7])
  np.testing.assert_array_equal(np.asarray(a.train.step), [2, 2])


def test_main_job_config_restarts_and_its_bad_values():
  c = ngpu.get_config("variant=dngpu_short")
  assert c.pool.restart_after == 5000 and c.pool.num_seeds == 6
  assert c.pool.confirm_checks == 2 and c.pool.on_probe_fail == "stop"
  pool.validate_pool(c)
  assert ngpu.get_config("variant=dngpu_short,restart=0").pool.restart_after == 0
  main = ngpu.get_config()  # the main job: 4 seeds, no probe, three checks in a row
  assert main.pool.restart_after == 0 and main.pool.confirm_checks == 3
  assert main.eval.confirm_every == 100 and main.eval.every == 500
  pool.validate_pool(main)
  assert ngpu.get_config("variant=smoke,seeds=2,restart=30").pool.restart_after == 30
  assert ngpu.get_config("variant=smoke,seeds=2").pool.restart_after == 0
  with pytest.raises(ValueError, match="restart=-1"):
    ngpu.get_config("restart=-1")
  with pytest.raises(ValueError, match="needs a pool"):
    ngpu.get_config("variant=smoke,restart=30")


def test_a_seed_is_solved_after_confirm_checks_passes_in_a_row(tmp_path, monkeypatch):
  c = ngpu.get_config("variant=smoke,seeds=2")
  c.num_train_steps = 12
  c.eval.every = 3
  c.curriculum.advance_threshold = 1.01  # every check runs the solve check
  c.pool.confirm_checks = 2
  # Real probes at step 3 with a threshold they cannot exceed: nothing restarts.
  c.pool.restart_after = 3
  c.pool.restart_probe_length = 15
  c.pool.restart_probe_examples = 4
  c.pool.restart_max_digit_error = 0.999999
  keys, calls = [], []

  def fake_check(key, ts_host, mcfg, cfg, task):
    keys.append(np.asarray(jax.random.key_data(key)).tobytes())
    calls.append(int(ts_host.step))
    # Slot 1 passes at steps 3, 9 and 12 but not 6: solved at 12, the second in a row.
    return {"solved": len(calls) % 2 == 0 and int(ts_host.step) != 6, "rows": []}

  monkeypatch.setattr(pool, "seed_solve_check", fake_check)
  out = loop.train_and_evaluate(c, str(tmp_path / "wd"))
  assert out["seeds"][1]["solved_at"] == 12 and not out["seeds"][0]["solved"]
  assert [e["passes_in_a_row"] for e in out["evals"] if e["slot"] == 1] == [1, 0, 1, 2]
  assert len(set(keys)) == len(keys)  # fresh examples at every check and seed
  assert out["restarts"] == [] and out["stops"] == [] and out["num_seed_runs"] == 2
  assert [r["seed"] for r in out["seeds"]] == [c.seed, c.seed + 1]
  c.pool.confirm_checks = 0
  with pytest.raises(ValueError, match="confirm_checks=0"):
    pool.validate_pool(c)


def test_confirm_every_checks_a_passing_seed_sooner(tmp_path, monkeypatch):
  """``eval.confirm_every``: after a pass, only the seeds that passed are checked again,
  every ``confirm_every`` steps, until they fail or are confirmed; the others wait for the
  ``eval.every`` grid."""
  c = ngpu.get_config("variant=smoke,seeds=2")
  c.num_train_steps = 20
  c.eval.every = 6
  c.eval.confirm_every = 2
  c.log_every = 2
  c.checkpoint_every = 100
  c.pool.stop_when = "all"
  c.curriculum.advance_threshold = 1.01  # every check runs the solve check
  c.pool.confirm_checks = 3
  calls = []

  def fake_check(key, ts_host, mcfg, cfg, task):
    step = int(ts_host.step)
    calls.append(step)
    # Both slots: a pass at 6 that fails its confirming check at 8, then passes from 12.
    return {"solved": step == 6 or step >= 12, "rows": []}

  monkeypatch.setattr(pool, "seed_solve_check", fake_check)
  out = loop.train_and_evaluate(c, str(tmp_path / "wd"))
  by_slot = {
      i: [(e["step"], e["passes_in_a_row"]) for e in out["evals"] if e["slot"] == i] for i in (0, 1)
  }
  # 6: pass; 8 (confirming): fail; 10 is off both grids with no pass pending; 12 (grid):
  # pass; 14, 16 (confirming): pass -> solved at 16, not at the grid's 24.
  for i in (0, 1):
    assert by_slot[i] == [(6, 1), (8, 0), (12, 1), (14, 2), (16, 3)]
    assert out["seeds"][i]["solved_at"] == 16
  assert out["stop_reason"] == "all_solved"
  assert calls == [6, 6, 8, 8, 12, 12, 14, 14, 16, 16]
  c.eval.confirm_every = 7
  with pytest.raises(ValueError, match="eval.confirm_every=7"):
    pool.validate_pool(c)


def test_balance_permutation_spreads_running_slots_over_devices():
  perm = restarts.balance_permutation([True, True, True, False, False, False], 2)
  np.testing.assert_array_equal(perm, [0, 2, 3, 1, 4, 5])
  # Loads 1 and 2: already as even as 3 running seeds on 2 devices can be.
  np.testing.assert_array_equal(
      restarts.balance_permutation([True, False, False, False, True, True], 2), np.arange(6)
  )
  np.testing.assert_array_equal(
      restarts.balance_permutation([False, False, False, False, True, True], 2), [4, 0, 1, 5, 2, 3]
  )
  np.testing.assert_array_equal(
      restarts.balance_permutation([True, False, True, False], 1), [0, 1, 2, 3]
  )
  for running in ([True] * 6, [False] * 5 + [True], [True, True, True, False, False, False]):
    perm = restarts.balance_permutation(running, 3)
    assert sorted(perm) == list(range(6))
    loads = [sum(running[j] for j in perm[d * 2 : (d + 1) * 2]) for d in range(3)]
    assert max(loads) - min(loads) <= 1
  with pytest.raises(ValueError, match="do not split"):
    restarts.balance_permutation([True] * 5, 2)


def _fake_reason(fail_seeds, at=2):
  def reason(cfg, ps_host, i, step, probe):
    seed = int(ps_host.seed_id[i])
    return "probe (fake)" if step == at and seed in fail_seeds else None

  return reason


def _cfg4(**kw):
  c = _cfg(on_probe_fail="stop", **kw)
  c.pool.num_seeds = 4
  return c


@pytest.mark.slow
def test_stopped_seeds_freeze_and_the_others_train_as_without_stops(tmp_path, monkeypatch):
  c = _cfg4()
  plain = loop.train_and_evaluate(_cfg4(restart_max_digit_error=0.999999), str(tmp_path / "plain"))
  assert plain["stops"] == [] and plain["restarts"] == []
  monkeypatch.setattr(pool, "restart_reason", _fake_reason({1, 2}))
  out = loop.train_and_evaluate(c, str(tmp_path / "stop"))
  assert [(r["step"], r["seed"]) for r in out["stops"]] == [(2, 1), (2, 2)]
  assert out["restarts"] == [] and out["num_seed_runs"] == 4
  by_seed = {r["seed"]: r for r in out["seeds"]}
  assert [by_seed[k]["running"] for k in range(4)] == [True, False, False, True]
  assert by_seed[1]["final_train_metrics"] is None
  a, _ = _restored(str(tmp_path / "stop"), c)
  b, _ = _restored(str(tmp_path / "plain"), c)
  slot = {int(k): i for i, k in enumerate(np.asarray(a.seed_id))}
  # Running seeds: exactly the trajectory they have in the pool without stops.
  for seed in (0, 3):
    for x, y in zip(
        jax.tree.leaves(pool.seed_state(a, slot[seed])), jax.tree.leaves(pool.seed_state(b, seed))
    ):
      np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
  # Stopped seeds kept their state of step 2.
  for seed in (1, 2):
    assert int(pool.seed_state(a, slot[seed]).step) == 2
    assert int(pool.seed_state(b, seed).step) == 8
  with open(tmp_path / "stop" / "stops.json") as f:
    assert json.load(f) == out["stops"]


@pytest.mark.slow
def test_when_every_running_seed_fails_they_restart_instead(tmp_path, monkeypatch):
  monkeypatch.setattr(pool, "restart_reason", _fake_reason({0, 1, 2, 3}))
  c = _cfg4()
  c.num_train_steps = 4
  out = loop.train_and_evaluate(c, str(tmp_path / "wd"))
  assert out["stops"] == []
  assert [(r["old_seed"], r["new_seed"]) for r in out["restarts"]] == [
      (0, 4),
      (1, 5),
      (2, 6),
      (3, 7),
  ]


def test_solve_check_screens_every_length_before_the_full_counts(monkeypatch):
  from neuralgpu import evaluate as evaluate_lib

  c = ngpu.get_config()  # screens 64; 512 at 201, 128 at 401
  calls = []

  def fake_eval(key, params, active_sets, mcfg, eval_cfg, task, n, count, mode):
    calls.append((n, count, np.asarray(jax.random.key_data(key)).tobytes()))
    return {"length": n, "examples": count, "seq_wrong": int(n in wrong_at)}

  monkeypatch.setattr(evaluate_lib, "evaluate_length", fake_eval)
  ts = train.init_state(jax.random.key(0), ngpu.get_config("variant=smoke"), 1)
  key = jax.random.key(3)
  wrong_at = set()
  res = pool.seed_solve_check(key, ts, None, c, None)
  assert res["solved"]
  assert [(n, k) for n, k, _ in calls] == [(25, 64), (201, 64), (401, 64), (201, 448), (401, 64)]
  assert [r["part"] for r in res["rows"]] == ["screen"] * 3 + ["rest"] * 2
  assert len({k for _, _, k in calls}) == 5  # the rest are other examples than the screen
  calls.clear()
  wrong_at = {401}
  res = pool.seed_solve_check(key, ts, None, c, None)
  assert not res["solved"] and [(n, k) for n, k, _ in calls] == [(25, 64), (201, 64), (401, 64)]


def test_checks_can_be_stricter_than_the_final_table(monkeypatch):
  from neuralgpu import config as config_lib
  from neuralgpu import evaluate as evaluate_lib

  c = ngpu.get_config()
  c.eval.check_examples = (512, 512)  # 401 checked on 512, the final table on 128
  config_lib.validate(c)
  calls = []

  def fake_eval(key, params, active_sets, mcfg, eval_cfg, task, n, count, mode):
    calls.append((n, count))
    return {"length": n, "examples": count, "seq_wrong": 0}

  monkeypatch.setattr(evaluate_lib, "evaluate_length", fake_eval)
  ts = train.init_state(jax.random.key(0), ngpu.get_config("variant=smoke"), 1)
  assert pool.seed_solve_check(jax.random.key(3), ts, None, c, None)["solved"]
  assert calls == [(25, 64), (201, 64), (401, 64), (201, 448), (401, 448)]
  c.eval.check_examples = (512,)
  with pytest.raises(ValueError, match="check_examples"):
    config_lib.validate(c)
