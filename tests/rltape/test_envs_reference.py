"""The JAX environments against the independent plain-Python reference.

`rltape.envs.reference` re-implements gym 0.19.0's algorithmic rules (and the LSA
rules) one environment at a time with Python integers. Same inputs and same actions
must give the same observations, rewards and episode ends; the curricula must promote
at the same episodes; arithmetic targets must match Python integer arithmetic.
"""

import random

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rltape.envs as envs
from rltape.envs import curriculum
from rltape.envs.reference import ReferenceEnv, to_columns
from tests.rltape._envs import SMALL, fast_jit, jit_step, small_env

NAMES = envs.registered_names()


def to_jax_layout(ref, data):
  """Reference data (tape list or list of columns) -> reset_to input."""
  if not ref.is_grid:
    return np.asarray(data)
  rows = [[ref.base if v is None else v for v in row] for row in zip(*data)]
  return np.asarray(rows)


@pytest.mark.parametrize("name", NAMES)
def test_same_actions_same_episode_as_reference(name):
  env = small_env(name)
  ref = ReferenceEnv(name, seed=7)
  rng = random.Random(name)
  step = jit_step(name)
  episodes = compared_steps = 0
  for ep in range(12):
    length = rng.randint(2 if name == "lsa/walk" else 1, SMALL)
    data = ref.generate_input_data(length)
    ref_obs = ref.reset_to(data)
    obs, state = env.reset_to(to_jax_layout(ref, data))
    assert int(obs) == ref_obs
    assert state.targets[: int(state.num_targets)].tolist() == ref.target
    # Mostly sensible actions so episodes get long enough to reach the time limit.
    p_right = rng.choice([0.3, 0.9])
    done = False
    while not done:
      move = rng.randrange(env.num_moves)
      write = int(rng.random() < 0.5)
      wp = ref.write_head_position
      good = ref.target[wp] if wp < len(ref.target) else 0
      sym = good if rng.random() < p_right else rng.randrange(env.base)
      action = (move, write, sym)
      r_obs, r_rew, done, r_info = ref.step(action)
      obs, state, rew, term, trunc, info = step(state, jnp.asarray(action, jnp.int32))
      assert (int(obs), float(rew)) == (r_obs, r_rew), (ep, action)
      assert bool(term) == r_info["terminated"] and bool(trunc) == r_info["truncated"]
      assert bool(term | trunc) == done
      assert bool(info["correct"]) == r_info["correct"]
      compared_steps += 1
    assert float(state.episode_return) == ref.episode_total_reward
    episodes += 1
  assert compared_steps > 3 * episodes


@pytest.mark.parametrize("name", ["Copy", "Reverse", "RepeatCopy", "ReversedAddition"])
def test_gym_curriculum_matches_reference_levelup(name):
  env = envs.make(name, max_length=32)  # gym's cap on min_length is 30
  cur = curriculum.gym_curriculum(env)
  update = jax.jit(cur.update)
  ref = ReferenceEnv(name, seed=0)
  rng = random.Random(1)
  cstate = cur.init()
  assert int(cstate.level) == ref.min_length
  levels_ref, levels_jax = [], []
  # Windows of 50 need 50 near-perfect episodes in a row: make misses rarer there.
  perfect = 12 if env.promotion_window == 10 else 300
  shortfalls = [0.0] * perfect + [0.5, 1.0, 1.5, 2.5]
  for chunk in range(120):
    rets, ns = [], []
    for _ in range(rng.randint(1, 9)):
      n = rng.randint(1, 9)
      # Mostly full reward, sometimes a shortfall of 0.5 / 1 / 1.5 / 2.5.
      ret = n - rng.choice(shortfalls)
      ref.episode_total_reward, ref.target = ret, [0] * n
      ref._check_levelup()
      rets.append(ret)
      ns.append(n)
    stats = curriculum.EpisodeStats(
        jnp.asarray(rets, jnp.float32),
        jnp.asarray(ns, jnp.int32),
        jnp.zeros(len(ns), bool),
        jnp.ones(len(ns), bool),
    )
    # Pad to a fixed batch with masked entries: they must not count.
    pad = 9 - len(ns)
    stats = jax.tree_util.tree_map(
        lambda x: jnp.concatenate([x, jnp.zeros((pad,), x.dtype)]), stats
    )
    cstate = update(cstate, stats)
    levels_ref.append(ref.min_length)
    levels_jax.append(int(cstate.level))
  assert levels_jax == levels_ref
  assert levels_ref[-1] > levels_ref[0], "the sequence should promote at least once"
  params = cur.params(cstate, env.default_params)
  assert int(params.length) == ref.min_length and int(params.length_jitter) == 2


def test_lsa_curriculum_against_plain_python():
  env = small_env("lsa/add3")
  cur = curriculum.lsa_curriculum(env, window=20)
  update = jax.jit(cur.update)
  rng = random.Random(2)
  complexity, window = 6, []
  cstate = cur.init()
  for _ in range(60):
    solved = [rng.random() < 0.97 for _ in range(5)]
    for s in solved:
      window = (window + [s])[-20:]
      if len(window) == 20 and sum(window) / 20 >= 0.995 and complexity < SMALL:
        complexity, window = min(complexity + 4, SMALL), []
    stats = curriculum.EpisodeStats(
        jnp.zeros(5), jnp.ones(5, jnp.int32), jnp.asarray(solved), jnp.ones(5, bool)
    )
    cstate = update(cstate, stats)
    assert int(cstate.level) == complexity
  assert complexity == SMALL
  params = cur.params(cstate, env.default_params)
  assert (int(params.length), int(params.length_jitter)) == (SMALL - 4, 4)
  # The extra curriculum of lsa/add3: all no-carry samples at low complexity.
  assert float(params.no_carry_frac) == 1.0
  c = jnp.asarray([6, 12, 14, 16, 18])
  assert curriculum.no_carry_fraction(c).tolist() == [1.0, 1.0, 0.5, 0.5, 0.0]


def test_no_carry_samples_never_carry():
  env = small_env("lsa/add3")
  params = envs.make_params(SMALL, 0, 1.0)
  keys = jax.random.split(jax.random.key(0), 16)
  _, states = fast_jit(jax.vmap(env.reset, in_axes=(0, None)))(keys, params)
  inputs = np.asarray(states.inputs, np.int64)
  assert (inputs <= 3).all()
  sums = inputs.sum(1)
  assert (sums <= 9).all()
  targets = np.asarray(states.targets)
  np.testing.assert_array_equal(targets[:, :SMALL], sums)
  assert (targets[:, SMALL] == 0).all()


def _int_le(digits, base):
  return sum(int(d) * base**i for i, d in enumerate(digits))


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(["ReversedAddition", "ReversedAddition3", "lsa/add2", "lsa/add3"]), st.data()
)
def test_addition_targets_are_python_integer_sums(name, data):
  env = small_env(name)
  width = data.draw(st.integers(1, SMALL))
  grid = data.draw(
      st.lists(
          st.lists(st.integers(0, env.base - 1), min_size=width, max_size=width),
          min_size=env.rows,
          max_size=env.rows,
      )
  )
  _, state = env.reset_to(np.asarray(grid))
  n = int(state.num_targets)
  targets = state.targets[:n].tolist()
  total = sum(_int_le(row, env.base) for row in grid)
  assert _int_le(targets, env.base) == total
  if env.family == "lsa":
    assert n == width + 1
  else:  # gym: a final carry digit only when non-zero
    assert n == max(width, len(np.base_repr(total, env.base)) if total else 1)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 9), st.lists(st.integers(0, 9), min_size=1, max_size=SMALL))
def test_mul1_targets_are_python_integer_products(d, number):
  env = small_env("lsa/mul1")
  grid = [[d] + [env.blank] * (len(number) - 1), number]
  _, state = env.reset_to(np.asarray(grid))
  targets = state.targets[: int(state.num_targets)].tolist()
  assert len(targets) == len(number) + 1
  assert _int_le(targets, 10) == d * _int_le(number, 10)


def test_reference_layout_helper():
  assert to_columns([[1, 2, 3], [4, 5, 6]]) == [[1, 4], [2, 5], [3, 6]]
