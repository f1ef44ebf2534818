"""The RL benchmark section runs end to end at its tiny size.

No speed is asserted (the machine may be shared): the rows must have their structure,
every throughput must be positive and finite, and the env-step counts must be those
the settings imply, recomputed here from the environments' own step limits.
"""

import math

import jax
import jax.numpy as jnp
import pytest

import rltape.envs as envs
from benchmarks import rl

ENV_KEYS = {
    "what",
    "task",
    "length",
    "n_envs",
    "n_steps",
    "env_steps",
    "rounds",
    "calls_per_block",
    "jax_steps_per_s",
    "reference_steps_per_s",
    "ratio",
    "ratio_median_round",
    "compile_s",
    "jax_episodes_per_step",
    "reference_episodes_per_step",
}
AGENT_KEYS = {
    "what",
    "agent",
    "task",
    "controller",
    "units",
    "env",
    "env_max_length",
    "seeds",
    "batch_size",
    "updates",
    "steps_per_episode",
    "env_steps",
    "rounds",
    "calls_per_block",
    "env_steps_per_s",
    "env_steps_per_s_per_seed",
    "updates_per_s",
    "speedup_vs_1_seed",
    "speedup_median_round",
    "counted_steps",
    "live_steps",
    "live_share",
    "compile_s",
}


def _positive_finite(x):
  return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


@pytest.fixture(scope="module")
def tiny():
  return rl.run("tiny")


def test_result_structure(tiny):
  assert tiny["name"] == "rl"
  assert isinstance(tiny["markdown"], str) and "|---" in tiny["markdown"]
  assert all("what" in r for r in tiny["rows"])
  kinds = [r["what"] for r in tiny["rows"]]
  assert set(kinds) == {"env_steps", "qlearning_train", "reinforce_train"}


def test_env_rows(tiny):
  s = rl.SETTINGS["tiny"]
  rows = [r for r in tiny["rows"] if r["what"] == "env_steps"]
  expected = [
      (name, length, n, steps) for name, length in s["env_tasks"] for n, steps in s["env_counts"]
  ]
  assert [(r["task"], r["length"], r["n_envs"], r["n_steps"]) for r in rows] == expected
  for r in rows:
    assert set(r) == ENV_KEYS
    assert r["env_steps"] == r["n_envs"] * r["n_steps"]
    assert r["rounds"] == s["rounds"]
    for k in (
        "jax_steps_per_s",
        "reference_steps_per_s",
        "ratio",
        "ratio_median_round",
        "compile_s",
    ):
      assert _positive_finite(r[k]), (k, r)
    assert r["ratio"] == pytest.approx(r["jax_steps_per_s"] / r["reference_steps_per_s"])
    # Same random policy on the same rules: episodes end at about the same rate.
    assert abs(r["jax_episodes_per_step"] - r["reference_episodes_per_step"]) < 0.1
  # Both env counts of a task are compared with the same reference runs.
  for name, _ in s["env_tasks"]:
    refs = {r["reference_steps_per_s"] for r in rows if r["task"] == name}
    assert len(refs) == 1


def _agent_steps_per_episode(what, s):
  """Rollout length of the training env, built here from the settings."""
  if what == "qlearning_train":
    spec = s["ql"]
    # complexity_unit "paper": copy's complexity is its input length.
    assert spec["task"] == "copy"
    return envs.make("lsa/copy", max_length=spec["train_max_length"]).max_steps
  spec = s["rf"]
  return envs.make(spec["task"], max_length=spec["train_length"], moves=(-1, 0, 1)).max_steps


@pytest.mark.parametrize(
    "what,spec_key,seeds_key",
    [("qlearning_train", "ql", "ql_seeds"), ("reinforce_train", "rf", "rf_seeds")],
)
def test_agent_rows(tiny, what, spec_key, seeds_key):
  s = rl.SETTINGS["tiny"]
  spec = s[spec_key]
  rows = [r for r in tiny["rows"] if r["what"] == what]
  assert [r["seeds"] for r in rows] == list(s[seeds_key])
  t = _agent_steps_per_episode(what, s)
  for r in rows:
    assert set(r) >= AGENT_KEYS, AGENT_KEYS - set(r)
    assert r["batch_size"] == spec["batch_size"]
    assert r["updates"] == spec["chunk_updates"]
    assert r["steps_per_episode"] == t
    assert r["env_steps"] == t * spec["batch_size"] * spec["chunk_updates"] * r["seeds"]
    for k in (
        "env_steps_per_s",
        "env_steps_per_s_per_seed",
        "updates_per_s",
        "speedup_vs_1_seed",
        "speedup_median_round",
        "compile_s",
    ):
      assert _positive_finite(r[k]), (k, r)
    assert r["env_steps_per_s_per_seed"] == pytest.approx(r["env_steps_per_s"] / r["seeds"])
    assert r["updates_per_s"] == pytest.approx(
        r["env_steps_per_s"] / (t * spec["batch_size"] * r["seeds"])
    )
    if r["live_steps"] is not None:
      assert 0 < r["live_steps"] <= r["env_steps"]
      assert r["live_share"] == pytest.approx(r["live_steps"] / r["env_steps"])
  one = next(r for r in rows if r["seeds"] == 1)
  assert one["speedup_vs_1_seed"] == pytest.approx(1.0)
  for r in rows:
    assert r["speedup_vs_1_seed"] == pytest.approx(r["env_steps_per_s"] / one["env_steps_per_s"])
  if what == "qlearning_train":
    # The counting run's environment saw exactly the steps the formula counts.
    assert s["ql_count_live"]
    assert one["counted_steps"] == one["env_steps"]
  else:
    assert all(r["live_steps"] is not None for r in rows)


def test_live_step_counter_counts_every_step():
  """The counting wrapper: same dynamics, every step counted, live ones apart."""
  env = envs.make("Copy", max_length=4)
  params = envs.make_params(4, 0)
  n_envs, n_steps = 3, 12
  counter = rl.LiveStepCounter(env)

  def run(wrapped, key):
    _, st = jax.vmap(env.reset, (0, None))(jax.random.split(key, n_envs), params)

    def body(st, k):
      a = rl.random_actions(k, n_envs, env)
      _, st, r, _, _, _ = jax.vmap(wrapped.step, (None, 0, 0, None))(k, st, a, params)
      return st, r

    st, r = jax.lax.scan(body, st, jax.random.split(jax.random.key(1), n_steps))
    return st.time, r

  key = jax.random.key(0)
  time_plain, r_plain = jax.jit(lambda k: run(env, k))(key)
  time_counted, r_counted = jax.jit(lambda k: run(counter, k))(key)
  assert (time_plain == time_counted).all() and (r_plain == r_counted).all()
  assert counter.slots == n_envs * n_steps
  # EnvState.time counts the steps of the running episode (frozen once it ended).
  assert counter.live == int(jnp.sum(time_plain))


@pytest.mark.parametrize("bad", ["small", "", "FULL"])
def test_bad_size_is_refused(bad):
  with pytest.raises(ValueError, match=repr(bad)) as e:
    rl.run(bad)
  assert "tiny" in str(e.value) and "full" in str(e.value)
