"""Tests of the RL-NTM training program, configs and binary-facing checks."""

import json
import os

import jax
import ml_collections
import numpy as np
import pytest

from rltape.reinforce import config as config_lib
from rltape.reinforce import experiment
from rltape.reinforce import train


@pytest.mark.parametrize(
    "task", ["Copy", "DuplicatedInput", "Reverse", "RepeatCopy", "ForwardReverse"]
)
def test_configs_validate_and_test_at_twice_the_training_length(task):
  c = config_lib.get_config(f"task={task}")
  config_lib.validate(c)
  assert c.test_length >= 2 * c.train_length
  assert c.num_seeds >= 10
  assert tuple(c.moves) == ((0, 1) if task == "ForwardReverse" else (-1, 0, 1))


@pytest.mark.parametrize(
    "arg,match",
    [
        ("task=Addition", "task must be one of"),
        ("task=Copy,seeds=ten", "seeds=.ten. must be an integer"),
        ("task=Copy,colour=red", "unknown config options"),
        ("task=Copy,symbol=tape", "symbol must be 'lstm' or 'direct'"),
        ("task=Copy,entropy=lots", "entropy=.lots. must be a number"),
        ("task=Copy,memwrite=soft", "memwrite must be 'gate' or 'sampled' or 'hard'"),
        ("task=Copy,core=gru", "core must be 'lstm' or 'ff'"),
    ],
)
def test_bad_config_args(arg, match):
  with pytest.raises(ValueError, match=match):
    config_lib.get_config(arg)


@pytest.mark.parametrize(
    "field,value,match",
    [
        ("test_length", 5, "test_length must be >= 2"),
        ("batch_size", 0, "batch_size must be a positive int"),
        ("promote_threshold", 1.5, "promote_threshold"),
        ("task", "lsa/copy", "task must be one of"),
    ],
)
def test_validate_rejects_bad_values_before_compiling(field, value, match):
  c = config_lib.get_config("smoke")
  c[field] = value
  with pytest.raises(ValueError, match=match):
    train.make_train(c)


def test_validate_rejects_bad_agent_values():
  c = config_lib.get_config("smoke")
  c.agent.gamma = 1.5
  with pytest.raises(ValueError, match="gamma"):
    config_lib.validate(c)
  c = config_lib.get_config("task=Reverse,envreturn,symbol=direct,entropy=0.05,lr=0.001")
  assert not c.agent.nll_in_return and c.agent.symbol_source == "direct"
  assert (c.agent.entropy_coef, c.optimizer.learning_rate) == (0.05, 0.001)
  assert not config_lib.agent_config(c).nll_in_return
  assert config_lib.agent_config(c).memory_write == "gate"
  c = config_lib.get_config("task=Reverse,symbol=direct,memwrite=sampled")
  assert config_lib.agent_config(c).memory_write == "sampled"
  assert config_lib.agent_config(c).core == "lstm"
  assert config_lib.agent_config(config_lib.get_config("task=Reverse,core=ff")).core == "ff"
  c.agent.memory_write = "soft"
  with pytest.raises(ValueError, match="memory_write must be one of"):
    config_lib.validate(c)
  c.agent.memory_write, c.agent.core = "gate", "rnn"
  with pytest.raises(ValueError, match="core must be one of"):
    config_lib.validate(c)
  c = config_lib.get_config("smoke")
  c.agent.symbol_source = "memory"
  with pytest.raises(ValueError, match="symbol_source must be one of"):
    config_lib.validate(c)
  c = config_lib.get_config("smoke")
  c.optimizer.name = "rmsprop"
  with pytest.raises(ValueError, match="'adam' or 'sgd'"):
    config_lib.validate(c)


def test_evaluate_workdir_names_bad_input(tmp_path):
  with pytest.raises(ValueError, match="not an RL-NTM workdir"):
    experiment.evaluate_workdir(str(tmp_path), [4])
  from runkit.workdir import check_workdir_config

  check_workdir_config(
      str(tmp_path), config_lib.get_config("smoke"), resumable=config_lib.RESUMABLE_KEYS
  )
  with pytest.raises(ValueError, match="lengths and episodes must be >= 1"):
    experiment.evaluate_workdir(str(tmp_path), [0])
  with pytest.raises(ValueError, match="no checkpoint"):
    experiment.evaluate_workdir(str(tmp_path), [4])


def test_workdir_with_another_config_is_refused_before_anything_is_written(tmp_path):
  from runkit.workdir import check_workdir_config

  workdir = str(tmp_path / "run")
  a = config_lib.get_config("smoke")
  check_workdir_config(workdir, a, resumable=config_lib.RESUMABLE_KEYS)
  before = open(os.path.join(workdir, "config.json")).read()
  b = config_lib.get_config("smoke,symbol=direct")
  with pytest.raises(
      ValueError, match=r"different config \(agent.symbol_source: 'lstm' -> 'direct'"
  ):
    experiment.train_and_evaluate(b, workdir)
  assert os.listdir(workdir) == ["config.json"]
  assert open(os.path.join(workdir, "config.json")).read() == before
  # Budgets may change on resume.
  c = config_lib.get_config("smoke,wall=99")
  c.max_updates = 50
  check_workdir_config(workdir, c, resumable=config_lib.RESUMABLE_KEYS)


def test_workdir_made_before_agent_keys_were_added_still_resumes(tmp_path):
  """A config.json without the later agent keys means their original defaults."""
  from runkit.workdir import check_workdir_config

  workdir = tmp_path / "old"
  workdir.mkdir()
  old = json.loads(config_lib.get_config("smoke").to_json())
  for k in config_lib.ADDED_AGENT_DEFAULTS:
    del old["agent"][k.split(".", 1)[1]]
  (workdir / "config.json").write_text(json.dumps(old))
  check_workdir_config(
      str(workdir),
      config_lib.get_config("smoke"),
      resumable=config_lib.RESUMABLE_KEYS,
      added_defaults=config_lib.ADDED_AGENT_DEFAULTS,
  )
  with pytest.raises(ValueError, match=r"agent.core: 'lstm' -> 'ff'"):
    check_workdir_config(
        str(workdir),
        config_lib.get_config("smoke,core=ff"),
        resumable=config_lib.RESUMABLE_KEYS,
        added_defaults=config_lib.ADDED_AGENT_DEFAULTS,
    )
  # The trainer reads the missing keys as the same defaults.
  cfg = config_lib.agent_config(ml_collections.ConfigDict(old))
  assert (cfg.symbol_source, cfg.nll_in_return, cfg.memory_write, cfg.core) == (
      "lstm",
      True,
      "gate",
      "lstm",
  )


@pytest.mark.slow
def test_train_and_evaluate_smoke_writes_checkpoints_and_resumes(tmp_path):
  c = config_lib.get_config("smoke")
  workdir = str(tmp_path / "run")
  summary = experiment.train_and_evaluate(c, workdir)
  assert summary["updates"] == c.max_updates
  assert len(summary["solved"]) == c.num_seeds
  lines = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl"))]
  assert [l["updates"] for l in lines] == [2, 4, 6]
  assert os.path.isdir(os.path.join(workdir, "checkpoints", "6"))  # named by updates
  assert any(f.startswith("events.out.tfevents") for f in os.listdir(os.path.join(workdir, "tb")))
  # Resume with a larger budget: continues after update 6 instead of starting over.
  c2 = config_lib.get_config("smoke")
  c2.max_updates = 10
  summary2 = experiment.train_and_evaluate(c2, workdir)
  lines = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl"))]
  assert [l["updates"] for l in lines] == [2, 4, 6, 8, 10]
  assert summary2["updates"] == 10
  # Evaluating the workdir at the run's own test length repeats its final test
  # (same key, same episodes); a longer length builds a longer environment.
  res = experiment.evaluate_workdir(
      workdir,
      [c.test_length, 3 * c.test_length],
      episodes=c.final_eval_episodes,
      seed=c.seed + 2,
      fold_length=False,
  )
  np.testing.assert_allclose(res[c.test_length], summary2["final_test_accuracy"])
  assert len(res[3 * c.test_length]) == c.num_seeds
  assert all(0.0 <= a <= 1.0 for a in res[3 * c.test_length])


@pytest.mark.slow
def test_short_training_improves_the_objective(tmp_path):
  c = config_lib.get_config("smoke")
  c.batch_size = 16
  c.chunk_updates = 20
  c.max_updates = 120
  c.optimizer.learning_rate = 1e-2
  programs = train.make_train(c)
  init, train_chunk = programs.init, programs.train_chunk
  state = jax.jit(jax.vmap(init))(jax.random.split(jax.random.key(0), 2))
  chunk = jax.jit(jax.vmap(train_chunk))
  objectives = []
  for _ in range(c.max_updates // c.chunk_updates):
    state, m = chunk(state)
    objectives.append(np.asarray(m["objective"]))
  assert np.all(objectives[-1] > objectives[0] + 0.5), objectives


def test_restart_replaces_only_the_stale_seeds_with_fresh_initialisations():
  state = train.TrainState(
      params={"w": np.arange(6.0).reshape(3, 2)},
      opt_state=(),
      rng=np.zeros((3, 2), np.uint32),
      step=np.array([5, 6, 7]),
      length=np.array([4, 4, 4]),
      solved=np.array([False, True, False]),
      solved_step=np.array([-1, 9, -1]),
  )
  fresh = train.TrainState(
      params={"w": -np.ones((3, 2))},
      opt_state=(),
      rng=np.ones((3, 2), np.uint32),
      step=np.zeros(3, int),
      length=np.ones(3, int),
      solved=np.zeros(3, bool),
      solved_step=-np.ones(3, int),
  )
  out = train.restart_stale(state, fresh, np.array([True, False, False]))
  np.testing.assert_array_equal(out.params["w"], [[-1, -1], [2, 3], [4, 5]])
  np.testing.assert_array_equal(out.rng, [[1, 1], [0, 0], [0, 0]])
  np.testing.assert_array_equal(out.step, [0, 6, 7])
  np.testing.assert_array_equal(out.length, [1, 4, 4])
  np.testing.assert_array_equal(out.solved_step, [-1, 9, -1])
  # Each seed's k-th restart has its own key, different from its first one and from
  # the other seeds' keys.
  c = config_lib.get_config("smoke,seeds=3")
  first = jax.random.key_data(train.seed_keys(c))
  k1 = jax.random.key_data(train.restart_keys(c, np.array([0, 0, 0])))
  k2 = jax.random.key_data(train.restart_keys(c, np.array([1, 0, 0])))
  rows = {tuple(np.asarray(r)) for r in np.concatenate([first, k1, k2[:1]])}
  assert len(rows) == 7
  np.testing.assert_array_equal(k1[1:], k2[1:])


@pytest.mark.parametrize(
    "arg,match",
    [
        ("restart=-1", "restart_after must be an int >= 0"),
        ("restart=3", "multiple of chunk_updates=2"),
    ],
)
def test_bad_restart_values_are_named(arg, match):
  with pytest.raises(ValueError, match=match):
    config_lib.validate(config_lib.get_config("smoke," + arg))


@pytest.mark.slow
def test_restarts_end_to_end_reinitialise_resume_and_report(tmp_path):
  c = config_lib.get_config("smoke,restart=2")
  c.max_updates = 2
  workdir = str(tmp_path / "run")
  s1 = experiment.train_and_evaluate(c, workdir)
  unsolved = ~np.asarray(s1["solved"])
  assert s1["restarts"] == [int(u) for u in unsolved]
  # A restarted seed holds exactly the initialisation of its restart key.
  init = train.make_train(c).init
  from runkit import checkpoints

  like = jax.jit(jax.vmap(init))(train.seed_keys(c))
  saved = checkpoints.restore(checkpoints.make_manager(workdir), 2, like)
  fresh = jax.jit(jax.vmap(init))(train.restart_keys(c, np.zeros(c.num_seeds, int)))
  for s in np.flatnonzero(unsolved):
    for a, b in zip(
        jax.tree_util.tree_leaves(saved.params), jax.tree_util.tree_leaves(fresh.params)
    ):
      np.testing.assert_array_equal(np.asarray(a)[s], np.asarray(b)[s])
  assert json.load(open(os.path.join(workdir, "restarts", "2.json")))["restarts"] == s1["restarts"]
  # Resuming reads the counts back and goes on counting.
  c.max_updates = 4
  s2 = experiment.train_and_evaluate(c, workdir)
  for r, solved in zip(s2["restarts"], s2["solved"]):
    assert r == 2 if not solved else r <= 1
  assert s2["inits_full"] == sum(s2["restarts"]) + sum(s2["solved"])
  # A checkpoint whose counts are lost is refused with a message.
  os.remove(os.path.join(workdir, "restarts", "4.json"))
  with pytest.raises(ValueError, match="restarts/4.json' is missing"):
    experiment.train_and_evaluate(c, workdir)
