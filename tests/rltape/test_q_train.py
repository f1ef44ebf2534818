"""The Q-learning training program on a tiny copy environment of this file.

The environment below follows the rltape.envs API (gymnax-style reset/step, info
with target / targets_left / correct) and is small enough that a feed-forward
agent learns it in a few hundred updates, so the whole program (rollout, targets,
curriculum, success test, jit/vmap over seeds) is checked end to end.
"""

import json
import os
import re
import tempfile

from absl.testing import absltest
import chex
import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rltape.qlearning import config as config_lib
from rltape.qlearning import experiment
from rltape.qlearning import train as train_lib


@flax.struct.dataclass
class TinyParams:
  length: jax.Array


@flax.struct.dataclass
class TinyState:
  inputs: jax.Array
  pos: jax.Array
  written: jax.Array
  length: jax.Array
  t: jax.Array
  done: jax.Array


class TinyCopy:
  """Copy on a tape: head moves left/right, each write must equal input[k]."""

  def __init__(self, max_length=8, base=3):
    self.base, self.obs_size, self.moves = base, base + 1, (-1, 1)
    self.num_moves, self.max_length = 2, max_length
    self.max_steps = 2 * max_length + 2
    self.default_params = TinyParams(length=jnp.int32(max_length))

  def _obs(self, s):
    inside = (s.pos >= 0) & (s.pos < s.length)
    return jnp.where(inside, s.inputs[jnp.clip(s.pos, 0, self.max_length - 1)], self.base).astype(
        jnp.int32
    )

  def reset(self, key, params):
    idx = jnp.arange(self.max_length)
    x = jax.random.randint(key, (self.max_length,), 0, self.base)
    x = jnp.where(idx < params.length, x, self.base)
    s = TinyState(
        x.astype(jnp.int32),
        jnp.int32(0),
        jnp.int32(0),
        jnp.asarray(params.length, jnp.int32),
        jnp.int32(0),
        jnp.bool_(False),
    )
    return self._obs(s), s

  def step(self, key, s, action, params):
    del key, params
    move, write, sym = action[0], action[1] == 1, action[2]
    target = jnp.where(
        s.written < s.length, s.inputs[jnp.clip(s.written, 0, self.max_length - 1)], -1
    )
    left = s.length - s.written
    live = ~s.done
    correct = live & write & (sym == target)
    wrong = live & write & (sym != target)
    written = s.written + correct
    pos = jnp.where(live, jnp.clip(s.pos + jnp.array(self.moves)[move], -1, self.max_length), s.pos)
    t = s.t + live
    term = s.done | wrong | (written == s.length)
    trunc = live & ~term & (t >= self.max_steps)
    s2 = s.replace(pos=pos, written=written, t=t, done=term | trunc)
    info = dict(
        target=target.astype(jnp.int32), targets_left=left.astype(jnp.int32), correct=correct
    )
    return (self._obs(s2), s2, correct.astype(jnp.float32), term, trunc, info)


def tiny_config(**kw):
  c = config_lib.default_config()
  c.update(
      dict(
          task="copy",
          controller="ff",
          units=32,
          batch_size=8,
          num_seeds=2,
          num_updates=40,
          chunk_updates=20,
          curriculum_start=2,
          curriculum_step=2,
          train_max_length=6,
          curriculum_episodes=16,
          curriculum_threshold=0.9,
          test_length=8,
          test_batch=8,
          learning_rate=0.1,
      )
  )
  c.update(kw)
  return c


class TinyEnvTest(absltest.TestCase):

  def test_env_oracle_trace(self):
    env = TinyCopy(max_length=4)
    _, s = env.reset(jax.random.key(0), TinyParams(jnp.int32(2)))
    x = np.asarray(s.inputs)
    # write x0 and move right, move right, write x1: two of two, episode over.
    acts = [(1, 1, x[0]), (1, 0, 0), (1, 1, x[1])]
    rewards, terms = [], []
    for a in acts:
      _, s, r, term, _, info = env.step(None, s, jnp.array(a, jnp.int32), None)
      rewards.append(float(r))
      terms.append(bool(term))
    self.assertEqual(rewards, [1.0, 0.0, 1.0])
    self.assertEqual(terms, [False, False, True])

  def test_wrong_write_terminates(self):
    env = TinyCopy(max_length=4)
    _, s = env.reset(jax.random.key(1), TinyParams(jnp.int32(3)))
    wrong = (int(s.inputs[0]) + 1) % env.base
    _, s, r, term, _, info = env.step(None, s, jnp.array([1, 1, wrong]), None)
    self.assertEqual(float(r), 0.0)
    self.assertTrue(bool(term))
    self.assertEqual(int(info["targets_left"]), 3)


_ENV, _TEST_ENV = TinyCopy(6), TinyCopy(8)


class TrainProgramTest(absltest.TestCase):

  def test_train_and_evaluate_learns_checkpoints_and_resumes(self):
    workdir = tempfile.mkdtemp()
    c = tiny_config(
        num_updates=300, chunk_updates=100, checkpoint_every_chunks=1, stop_when_all_solved=False
    )
    s1 = experiment.train_and_evaluate(c, workdir, _ENV, _TEST_ENV, progress=False)
    lines = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl"))]
    self.assertEqual([l["step"] for l in lines], [100, 200, 300])
    self.assertEqual(s1["updates_run"], 300)
    # Learning: the supervised and Q losses fall and more episodes get solved.
    self.assertLess(lines[-1]["sup_loss"], 0.8 * lines[0]["sup_loss"])
    self.assertGreater(lines[-1]["train_solved"], lines[0]["train_solved"])
    steps = sorted(int(d) for d in os.listdir(os.path.join(workdir, "checkpoints")))
    self.assertEqual(steps[-1], 300)
    # Resume with a larger budget: continues after the latest checkpoint.
    c2 = tiny_config(
        num_updates=400, chunk_updates=100, checkpoint_every_chunks=1, stop_when_all_solved=False
    )
    s2 = experiment.train_and_evaluate(c2, workdir, _ENV, _TEST_ENV, progress=False)
    lines = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl"))]
    self.assertEqual([l["step"] for l in lines], [100, 200, 300, 400])
    self.assertEqual(s2["updates_run"], 400)
    self.assertIn(300, [int(d) for d in os.listdir(os.path.join(workdir, "checkpoints"))])
    for k in ("solved_at", "success_rate", "final_test_accuracy"):
      self.assertIn(k, s2)
    self.assertLen(s2["solved_at"], c.num_seeds)

  def test_init_and_record_success(self):
    c = tiny_config()
    agent = train_lib.make_train(c, _ENV, _TEST_ENV)
    st = jax.jit(agent.init)(jax.random.key(0))
    w = st.params["params"]["hidden"]["kernel"]
    self.assertEqual(w.shape[0], c.num_seeds)
    self.assertFalse(np.allclose(w[0], w[1]))  # seeds start differently
    record = jax.jit(agent.record_success)
    st = st.replace(step=jnp.array([10, 10]))
    st = record(st, jnp.array([1.0, 0.5]))
    np.testing.assert_array_equal(st.solved_at, [10, -1])
    st = st.replace(step=jnp.array([20, 20]))
    st = record(st, jnp.array([1.0, 1.0]))
    np.testing.assert_array_equal(st.solved_at, [10, 20])


@pytest.mark.slow
def test_whole_run_is_one_jitted_program():
  c = tiny_config(num_updates=200, chunk_updates=100)
  agent = train_lib.make_train(c, _ENV, _TEST_ENV)
  state, metrics, accs = jax.jit(agent.train)(jax.random.key(3))
  assert accs.shape == (2, c.num_seeds)
  assert metrics["loss"].shape == (2, c.num_seeds)
  np.testing.assert_array_equal(state.step, [200] * c.num_seeds)
  assert np.all(np.isfinite(metrics["loss"]))
  assert float(metrics["sup_loss"][-1].mean()) < float(metrics["sup_loss"][0].mean())


class ConfigErrorTest(absltest.TestCase):

  def test_bad_values_are_named(self):
    for kw, msg in [
        (dict(task="sort"), "unknown task 'sort'"),
        (dict(controller="rnn"), "unknown controller 'rnn'"),
        (dict(lambda_=1.5), "lambda_ must lie in [0, 1], got 1.5"),
        (dict(lambda_=-0.1), "lambda_ must lie in [0, 1]"),
        (dict(epsilon=2.0), "epsilon"),
        (dict(num_updates=30, chunk_updates=20), "multiple"),
    ]:
      with self.assertRaisesRegex(ValueError, re.escape(msg)):
        train_lib.make_train(tiny_config(**kw), _ENV, _TEST_ENV)

  def test_table_columns(self):
    self.assertEqual(config_lib.column_overrides(8)["penalty"], True)
    self.assertEqual(config_lib.column_overrides(4)["gamma"], 0.99)
    self.assertEqual(config_lib.column_overrides(10)["test_length"], 1000)
    with self.assertRaisesRegex(ValueError, "column 11"):
      config_lib.column_overrides(11)


if __name__ == "__main__":
  absltest.main()


def test_add3_extra_curriculum_episode_params():
  """add3's extra curriculum: no-carry share 1 / 0.5 / 0 by complexity; tests never."""
  c = config_lib.default_config()
  c.task, c.no_carry_curriculum = "add3", True
  c.complexity_unit = "length"  # complexity = columns, to read lengths directly
  env, _ = train_lib.make_envs(c)
  for complexity, share in ((6, 1.0), (12, 1.0), (14, 0.5), (16, 0.5), (20, 0.0)):
    p = train_lib.episode_params(c, env, complexity)
    assert float(p.no_carry_frac) == share, complexity
    assert int(p.length) == max(complexity - c.length_spread, 1)
    assert int(p.length) + int(p.length_jitter) == complexity
  assert float(train_lib.episode_params(c, env, 6, train=False).no_carry_frac) == 0.0
  c.no_carry_curriculum = False
  assert float(train_lib.episode_params(c, env, 6).no_carry_frac) == 0.0
  # At complexity 6 every training episode's columns sum below the base (no carry).
  c.no_carry_curriculum = True
  p = train_lib.episode_params(c, env, 6)
  _, st = jax.vmap(env.reset, (0, None))(jax.random.split(jax.random.key(0), 64), p)
  grid = np.asarray(st.inputs).astype(int)  # [64, 3, cols], blank = base
  digits = np.where(grid == env.base, 0, grid)
  assert (digits.sum(axis=1) < env.base).all()


def test_paper_complexity_unit():
  """complexity_unit="paper": add2 / add3 count cells, reverse twice its digits."""
  c = config_lib.default_config()
  assert c.complexity_unit == "paper"
  cases = {
      "add2": (100, 50, 14, 5, 7),
      "add3": (100, 33, 14, 3, 4),
      "reverse": (100, 50, 14, 5, 7),
      "copy": (100, 100, 14, 10, 14),
      "mul1": (100, 100, 14, 10, 14),
  }
  for task, (test_c, test_len, train_c, low, high) in cases.items():
    c.task = task
    c.train_max_length = train_c
    env, test_env = train_lib.make_envs(c)
    # The environments are just long enough (input length) for their complexities.
    assert (env.max_length, test_env.max_length) == (high, test_len), task
    assert int(train_lib.episode_params(c, test_env, test_c, train=False).length) == test_len
    p = train_lib.episode_params(c, env, train_c)
    assert (int(p.length), int(p.length) + int(p.length_jitter)) == (low, high), task
  c.task = "add2"
  assert int(train_lib.episode_params(c, env, 1, train=False).length) == 1  # never 0
  c.complexity_unit = "length"
  assert int(train_lib.episode_params(c, env, 14, train=False).length) == 14
  c.complexity_unit = "cells"
  with pytest.raises(ValueError, match="complexity_unit must be one of"):
    config_lib.validate(c)


def test_greedy_when_penalty_stops_exploring():
  """With the penalty on, a run with greedy_when_penalty explores no more."""
  c = config_lib.default_config()
  c.update(
      task="copy",
      controller="ff",
      units=8,
      batch_size=4,
      num_seeds=1,
      chunk_updates=2,
      num_updates=2,
      curriculum_episodes=1000,
      train_max_length=6,
      test_length=6,
      test_batch=2,
  )
  for flag, expect_explore in ((True, False), (False, True)):
    c.greedy_when_penalty = flag
    agent = train_lib.make_train(c)
    st = agent.init(jax.random.key(0))
    st = st.replace(last_window_acc=jnp.ones_like(st.last_window_acc))  # penalty on
    explored = []
    for _ in range(6):
      st, m = jax.jit(agent.train_chunk)(st)
      explored.append(float(jnp.max(m["exploratory_share"])))
    assert (max(explored) > 0) == expect_explore, (flag, explored)


def test_evaluate_workdir_matches_the_runs_own_test(tmp_path):
  """evaluate_workdir at the run's test length repeats the run's last test exactly;
  other lengths run too; bad workdirs and lengths are named."""
  c = config_lib.default_config()
  c.update(
      task="copy",
      controller="ff",
      units=8,
      batch_size=4,
      num_seeds=2,
      chunk_updates=2,
      num_updates=4,
      curriculum_episodes=8,
      train_max_length=6,
      test_length=8,
      test_batch=4,
  )
  s = experiment.train_and_evaluate(c, str(tmp_path), progress=False)
  got = experiment.evaluate_workdir(str(tmp_path), [8, 12])
  assert got[8] == s["final_test_accuracy"]
  assert len(got[12]) == 2 and all(0.0 <= a <= 1.0 for a in got[12])
  with pytest.raises(ValueError, match="not a Q-learning workdir"):
    experiment.evaluate_workdir(str(tmp_path / "nothing"), [8])
  with pytest.raises(ValueError, match="test length 0"):
    experiment.evaluate_workdir(str(tmp_path), [0])
  with pytest.raises(ValueError, match="salt must be an int >= 0, got -1"):
    experiment.evaluate_workdir(str(tmp_path), [8], salt=-1)
  fresh = experiment.evaluate_workdir(str(tmp_path), [8], salt=1)
  assert len(fresh[8]) == 2 and all(0.0 <= a <= 1.0 for a in fresh[8])


@pytest.mark.slow  # ~25 s of one worker (trains twice)
def test_retest_workdir_unfreezes_seeds_under_a_new_test(tmp_path):
  """retest_workdir copies the latest state with solved_at reset and the new test in
  the config; the continued run trains the formerly frozen seeds; the source is left
  as it was; an existing dst, a non-test key or a bad value is refused before anything
  is written."""
  c = config_lib.default_config()
  c.update(
      task="copy",
      controller="ff",
      units=8,
      batch_size=4,
      num_seeds=2,
      chunk_updates=2,
      num_updates=4,
      curriculum_episodes=8,
      train_max_length=6,
      test_length=8,
      test_batch=4,
      success_accuracy=0.0,
  )
  src, dst = str(tmp_path / "src"), str(tmp_path / "dst")
  s = experiment.train_and_evaluate(c, src, progress=False)
  assert s["solved_at"] == [2, 2]  # a pass mark of 0: both pass the first test
  before = sorted(os.listdir(src)), open(os.path.join(src, "config.json")).read()
  _, old, step = experiment.load_workdir(src)
  with pytest.raises(ValueError, match=r"cannot change \['units'\]"):
    experiment.retest_workdir(src, dst, {"units": 4})
  with pytest.raises(ValueError, match="success_accuracy"):
    experiment.retest_workdir(src, dst, {"success_accuracy": 1.5})
  assert not os.path.exists(dst)
  new = experiment.retest_workdir(
      src, dst, {"test_batch": 6, "success_accuracy": 1.0, "num_updates": 6}
  )
  assert (new.test_batch, new.success_accuracy, new.units) == (6, 1.0, 8)
  with pytest.raises(ValueError, match="exists"):
    experiment.retest_workdir(src, dst, {"test_batch": 6})
  cfg, st, step2 = experiment.load_workdir(dst)
  assert step2 == step and cfg.test_batch == 6
  np.testing.assert_array_equal(np.asarray(st.solved_at), [-1, -1])
  chex.assert_trees_all_equal(st.params, old.params)
  s2 = experiment.train_and_evaluate(new, dst, progress=False)
  _, st2, _ = experiment.load_workdir(dst)
  np.testing.assert_array_equal(np.asarray(st2.step), [6, 6])  # trained on
  assert s2["updates_run"] == 6
  assert (sorted(os.listdir(src)), open(os.path.join(src, "config.json")).read()) == before


def test_resalt_gives_each_seed_a_new_key_and_keeps_the_rest():
  """resalt replaces every seed's key by fold_in(key, salt): new, distinct per seed
  and per salt, reproducible; parameters and step are untouched."""
  c = config_lib.default_config()
  c.update(
      task="copy",
      controller="ff",
      units=8,
      batch_size=4,
      num_seeds=3,
      train_max_length=6,
      test_length=8,
      test_batch=4,
  )
  st = train_lib.make_train(c).init(jax.random.key(0))
  a, b = experiment.resalt(st, 1), experiment.resalt(st, 2)
  want = [
      np.asarray(jax.random.key_data(jax.random.fold_in(jax.random.wrap_key_data(k), 1)))
      for k in st.rng
  ]
  np.testing.assert_array_equal(np.asarray(a.rng), np.stack(want))
  keys = {tuple(np.asarray(k).tolist()) for s in (st, a, b) for k in s.rng}
  assert len(keys) == 9
  np.testing.assert_array_equal(np.asarray(experiment.resalt(st, 1).rng), np.asarray(a.rng))
  chex.assert_trees_all_equal(a.params, st.params)
  np.testing.assert_array_equal(np.asarray(a.step), np.asarray(st.step))


def test_freeze_when_solved_keeps_a_solved_seed():
  """A seed with solved_at set takes no more updates (freeze_when_solved); an unsolved
  seed of the same run, and every seed without the flag, keeps learning."""
  c = config_lib.default_config()
  c.update(
      task="copy",
      controller="ff",
      units=8,
      batch_size=4,
      num_seeds=2,
      chunk_updates=2,
      num_updates=2,
      curriculum_episodes=8,
      train_max_length=6,
      test_length=6,
      test_batch=2,
  )
  for flag in (True, False):
    c.freeze_when_solved = flag
    agent = train_lib.make_train(c)
    st = agent.init(jax.random.key(0))
    st = st.replace(solved_at=jnp.asarray([3, -1], jnp.int32))
    after, _ = jax.jit(agent.train_chunk)(st)
    moved = [
        bool(
            any(
                np.any(np.asarray(a)[i] != np.asarray(b)[i])
                for a, b in zip(jax.tree.leaves(after.params), jax.tree.leaves(st.params))
            )
        )
        for i in range(2)
    ]
    assert moved == [not flag, True], (flag, moved)
    assert list(np.asarray(after.step)) == ([0, 2] if flag else [2, 2])


def test_top_lr_scale_scales_the_step_of_seeds_at_the_top():
  """top_lr_scale multiplies the update of a seed whose curriculum is at
  train_max_length (SGD and Adam steps are linear in the learning rate) and leaves a
  seed below the top unchanged; values outside (0, 1] are named. Adam only (the
  option's use; an SGD step is the learning rate times the gradient by definition)."""
  c = config_lib.default_config()
  c.update(
      task="copy",
      controller="ff",
      units=8,
      batch_size=4,
      num_seeds=2,
      chunk_updates=1,
      num_updates=1,
      curriculum_episodes=1000,
      train_max_length=6,
      test_length=6,
      test_batch=2,
  )
  for opt in ("adam",):
    c.optimizer = opt
    deltas = {}
    for scale in (1.0, 0.25):
      c.top_lr_scale = scale
      agent = train_lib.make_train(c)
      st = agent.init(jax.random.key(0))
      st = st.replace(length=jnp.asarray([6, 2], jnp.int32))  # seed 0 at the top
      after, _ = jax.jit(agent.train_chunk)(st)
      deltas[scale] = [
          np.asarray(a) - np.asarray(b)
          for a, b in zip(jax.tree.leaves(after.params), jax.tree.leaves(st.params))
      ]
    for full, small in zip(deltas[1.0], deltas[0.25]):
      np.testing.assert_allclose(small[0], 0.25 * full[0], rtol=1e-4, atol=3e-7)
      np.testing.assert_allclose(small[1], full[1], rtol=1e-5, atol=3e-7)
    assert any(np.abs(d[0]).max() > 0 for d in deltas[1.0]), opt
  for bad in (0.0, 1.5):
    c.top_lr_scale = bad
    with pytest.raises(ValueError, match=re.escape(f"top_lr_scale must lie in (0, 1], got {bad}")):
      config_lib.validate(c)


def test_length_cap_trains_at_the_cap_without_window_statistics():
  """make_train(length_cap=c): a seed beyond c trains on episodes of complexity c but
  counts no curriculum window; a seed at c counts; the env must hold c."""
  c = config_lib.default_config()
  c.update(
      task="copy",
      controller="ff",
      units=8,
      batch_size=4,
      num_seeds=2,
      chunk_updates=2,
      num_updates=2,
      curriculum_episodes=1000,
      train_max_length=10,
      test_length=6,
      test_batch=2,
  )
  agent = train_lib.make_train(c, length_cap=6)
  env, _ = train_lib.make_envs(c, 6)
  assert env.max_length == 6
  st = agent.init(jax.random.key(0))
  st = st.replace(length=jnp.asarray([10, 6], jnp.int32))
  after, m = jax.jit(agent.train_chunk)(st)
  assert int(np.asarray(after.win_total)[0]) == 0
  assert int(np.asarray(after.win_total)[1]) > 0
  assert list(np.asarray(after.length)) == [10, 6]
  for bad in (0, 11):
    with pytest.raises(
        ValueError, match=re.escape(f"length_cap {bad} must lie in [1, train_max_length=10]")
    ):
      train_lib.make_train(c, length_cap=bad)
  short_env, test_env = train_lib.make_envs(c, 4)
  with pytest.raises(ValueError, match="the input length of complexity 6"):
    train_lib.make_train(c, short_env, test_env, length_cap=6)


def _env_buckets_config():
  c = config_lib.default_config()
  c.update(
      task="copy",
      controller="ff",
      units=16,
      batch_size=8,
      num_seeds=2,
      chunk_updates=20,
      num_updates=120,
      curriculum_start=2,
      curriculum_step=2,
      curriculum_episodes=16,
      curriculum_threshold=0.5,
      length_spread=1,
      train_max_length=6,
      test_length=6,
      test_batch=4,
      optimizer="adam",
      learning_rate=0.01,
      env_buckets=True,
      checkpoint_every_chunks=1,
      stop_when_all_solved=False,
  )
  return c


def test_env_buckets_with_a_passed_in_env_is_refused(tmp_path):
  with pytest.raises(ValueError, match="env_buckets=True"):
    experiment.train_and_evaluate(
        _env_buckets_config(), str(tmp_path / "x"), _ENV, _TEST_ENV, progress=False
    )


# ~30 s of CPU: slow. The default suite covers the capped programs it is made of
# (test_length_cap_trains_at_the_cap_without_window_statistics) and a Q-learning
# resume (TrainProgramTest.test_train_and_evaluate_learns_checkpoints_and_resumes).
@pytest.mark.slow
def test_env_buckets_run_advances_and_resumes(tmp_path):
  """env_buckets=True: a run compiles one chunk program per curriculum level, its
  curriculum still advances past the first level, and it resumes from a checkpoint."""
  c = _env_buckets_config()
  s = experiment.train_and_evaluate(c, str(tmp_path), progress=False)
  rows = [json.loads(l) for l in open(tmp_path / "metrics.jsonl")]
  assert max(max(r["length_per_seed"]) for r in rows) > 2, rows[-1]
  assert s["updates_run"] == 120
  c.num_updates = 160
  s2 = experiment.train_and_evaluate(c, str(tmp_path), progress=False)
  assert s2["updates_run"] == 160
  assert len([l for l in open(tmp_path / "metrics.jsonl")]) == 8


def test_workdir_with_another_config_is_refused(tmp_path):
  """A Q-learning workdir keeps the config that made it; another one is refused
  before anything is written, while budgets may change."""
  from runkit.workdir import check_workdir_config

  c = config_lib.default_config()
  check_workdir_config(str(tmp_path), c, resumable=experiment.RESUMABLE_KEYS)
  before = (tmp_path / "config.json").read_text()
  c2 = config_lib.default_config()
  c2.learning_rate = 0.5
  with pytest.raises(ValueError, match="learning_rate: 0.1 -> 0.5"):
    experiment.train_and_evaluate(c2, str(tmp_path), progress=False)
  assert os.listdir(tmp_path) == ["config.json"]
  assert (tmp_path / "config.json").read_text() == before
  c3 = config_lib.default_config()
  c3.num_updates, c3.train_max_length = 7, 50
  check_workdir_config(str(tmp_path), c3, resumable=experiment.RESUMABLE_KEYS)


def test_compact_chunk_trains_the_running_seeds_as_the_full_pool_does():
  """compact_chunk: the seeds not yet solved get the same updates as in the whole
  pool's chunk; solved seeds stay as they were; metrics cover the running seeds."""
  c = config_lib.default_config()
  c.update(
      task="copy",
      controller="gru",
      units=8,
      batch_size=4,
      num_seeds=5,
      chunk_updates=2,
      num_updates=2,
      curriculum_episodes=8,
      train_max_length=6,
      test_length=6,
      test_batch=2,
  )
  agent = train_lib.make_train(c)
  fn = jax.jit(agent.train_chunk)
  st = agent.init(jax.random.key(0))
  st = st.replace(solved_at=jnp.asarray([-1, 4, -1, 4, -1], jnp.int32))  # 3 running
  full, m_full = fn(st)
  calls = []

  def counting(s):
    calls.append(int(np.asarray(s.solved_at).shape[0]))
    return fn(s)

  part, m_part = experiment.compact_chunk(counting, st)
  assert calls == [4]  # 3 running seeds, padded to 4
  chex.assert_trees_all_close(part.params, full.params, rtol=1e-5, atol=1e-7)
  for k in ("length", "win_total", "step", "solved_at"):
    np.testing.assert_array_equal(getattr(part, k), getattr(full, k))
  np.testing.assert_array_equal(part.step, [2, 0, 2, 0, 2])
  np.testing.assert_allclose(m_part["loss"], np.asarray(m_full["loss"])[:, [0, 2, 4]], rtol=1e-5)
  # Nothing to compact: the chunk runs as it is.
  calls.clear()
  experiment.compact_chunk(counting, agent.init(jax.random.key(1)))
  assert calls == [5]
