"""Hand-worked episodes, error handling and rendering of `rltape.envs`.

Every expected target, reward and time limit below was worked out by hand from the
rules in the module docstrings (gym 0.19.0 for the gym family, the LSA rules for the
lsa family), not produced by the code under test.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rltape.envs as envs
from tests.rltape._envs import SMALL, fast_jit, jit_reset, jit_step, small_env

L, R, U, D = 0, 1, 2, 3  # grid move indices; on a default tape 0 = left, 1 = right
# name, input, hand-computed targets, optimal actions (move, write, symbol),
# hand-computed time cap (largest episode length).
HAND = [
    ("Copy", [0, 3, 1], [0, 3, 1], [(1, 1, 0), (1, 1, 3), (1, 1, 1)], 3 + 3 + 4 + 1),
    ("DuplicatedInput", [2, 2, 4, 4], [2, 4], [(1, 1, 2), (1, 0, 0), (1, 1, 4)], 4 + 2 + 4 + 1),
    (
        "RepeatCopy",
        [1, 0],
        [1, 0, 0, 1, 1, 0],
        [(1, 1, 1), (1, 1, 0), (0, 0, 0), (0, 1, 0), (0, 1, 1), (1, 0, 0), (1, 1, 1), (1, 1, 0)],
        2 + 6 + 4 + 1,
    ),
    (
        "Reverse",
        [1, 0, 0],
        [0, 0, 1],
        [(1, 0, 0)] * 3 + [(0, 0, 0), (0, 1, 0), (0, 1, 0), (0, 1, 1)],
        3 + 3 + 4 + 1,
    ),
    # ForwardReverse moves are (stay, right).
    ("ForwardReverse", [3, 1], [1, 3], [(1, 0, 0), (1, 0, 0), (0, 1, 1), (0, 1, 3)], 2 + 2 + 4 + 1),
    # 5 + 8 = 13 = 111 in base 3 (rows little-endian: [2, 1] = 5, [2, 2] = 8).
    (
        "ReversedAddition",
        [[2, 1], [2, 2]],
        [1, 1, 1],
        [(D, 0, 0), (R, 1, 1), (U, 0, 0), (R, 1, 1), (R, 1, 1)],
        2 * 2 + 4 + 1,
    ),
    # 1 + 1 + 1 = 3 = "10" in base 3: no final carry digit in gym.
    (
        "ReversedAddition3",
        [[1, 0], [1, 0], [1, 0]],
        [0, 1],
        [(D, 0, 0), (D, 0, 0), (R, 1, 0), (U, 0, 0), (U, 0, 0), (R, 1, 1)],
        2 * 2 + 4 + 1,
    ),
    ("lsa/copy", [7, 0, 9], [7, 0, 9], [(1, 1, 7), (1, 1, 0), (1, 1, 9)], 3 + 3 + 4),
    (
        "lsa/reverse",
        [5, 6],
        [6, 5],
        [(1, 0, 0), (1, 0, 0), (0, 0, 0), (0, 1, 6), (0, 1, 5)],
        2 + 2 + 4,
    ),
    # 99 + 1 = 100: three digits, the final carry included.
    (
        "lsa/add2",
        [[9, 9], [1, 0]],
        [0, 0, 1],
        [(D, 0, 0), (R, 1, 0), (U, 0, 0), (R, 1, 0), (R, 1, 1)],
        2 * 2 + 3 + 4,
    ),
    # 21 + 43 + 65 = 129.
    (
        "lsa/add3",
        [[1, 2], [3, 4], [5, 6]],
        [9, 2, 1],
        [(D, 0, 0), (D, 0, 0), (R, 1, 9), (U, 0, 0), (U, 0, 0), (R, 1, 2), (R, 1, 1)],
        3 * 2 + 3 + 4,
    ),
    # 235 x 7 = 1645; row 0 is [7, blank, blank] (blank id 10).
    (
        "lsa/mul1",
        [[7, 10, 10], [5, 3, 2]],
        [5, 4, 6, 1],
        [(D, 0, 0), (R, 1, 5), (R, 1, 4), (R, 1, 6), (R, 1, 1)],
        4 + 4 + 4,
    ),
    # Turn symbol 11 = 'u' at the end of the middle row: walk up over 3.
    (
        "lsa/walk",
        [[1, 2, 3], [4, 5, 11], [6, 7, 8]],
        [3],
        [(R, 0, 0), (R, 0, 0), (U, 0, 0), (U, 1, 3)],
        3 + 1 + 1 + 4,
    ),
    # Turn symbol 10 = 'l': walk back left over 5 then 4.
    (
        "lsa/walk",
        [[1, 2, 3], [4, 5, 10], [6, 7, 8]],
        [5, 4],
        [(R, 0, 0), (R, 0, 0), (L, 0, 0), (L, 1, 5), (L, 1, 4)],
        3 + 2 + 2 + 4,
    ),
]
IDS = [f"{h[0]}-{i}" for i, h in enumerate(HAND)]


def play(name, inputs, actions):
  env = small_env(name)
  obs, state = env.reset_to(np.asarray(inputs))
  step = jit_step(name)
  out = []
  for a in actions:
    obs, state, r, term, trunc, info = step(state, jnp.asarray(a, jnp.int32))
    out.append((int(obs), float(r), bool(term), bool(trunc), info, state))
  return env, state, out


@pytest.mark.parametrize("name,inputs,targets,actions,cap", HAND, ids=IDS)
def test_hand_worked_optimal_episode(name, inputs, targets, actions, cap):
  env = small_env(name)
  _, state0 = env.reset_to(np.asarray(inputs))
  n = int(state0.num_targets)
  assert state0.targets[:n].tolist() == targets
  assert int(state0.time_cap) == cap
  _, state, out = play(name, inputs, actions)
  rewards = [o[1] for o in out]
  writes = [a[1] for a in actions]
  assert rewards == [1.0 if w else 0.0 for w in writes]
  assert [o[2] for o in out] == [False] * (len(actions) - 1) + [True]
  assert not any(o[3] for o in out)
  assert float(state.episode_return) == len(targets)
  assert bool(envs.episode_solved(state))
  # info: target and targets_left are counted before each step's write.
  left = len(targets)
  for a, o in zip(actions, out):
    info = o[4]
    assert int(info["targets_left"]) == left
    assert int(info["target"]) == targets[len(targets) - left]
    assert bool(info["correct"]) == bool(a[1])
    left -= a[1]


@pytest.mark.parametrize("name,inputs,targets,actions,cap", HAND, ids=IDS)
def test_wrong_write_ends_episode(name, inputs, targets, actions, cap):
  env = small_env(name)
  first = next(i for i, a in enumerate(actions) if a[1] == 1)
  bad = list(actions[: first + 1])
  m, _, s = bad[first]
  bad[first] = (m, 1, (s + 1) % 10 % env.base)
  _, state, out = play(name, inputs, bad + [actions[0]])
  expected_wrong = -0.5 if env.family == "gym" else 0.0
  assert out[first][1] == expected_wrong
  assert out[first][2] and not out[first][3]
  assert not bool(out[first][4]["correct"])
  # A step after the end is a no-op: reward 0, flags and state unchanged.
  assert out[-1][1] == 0.0 and out[-1][2]
  assert int(state.time) == first + 1
  assert float(state.episode_return) == first_writes_reward(actions[:first]) + expected_wrong
  assert not bool(envs.episode_solved(state))


def first_writes_reward(actions):
  return float(sum(a[1] for a in actions))


@pytest.mark.parametrize("name,inputs,targets,actions,cap", HAND, ids=IDS)
def test_time_limit_truncates(name, inputs, targets, actions, cap):
  env = small_env(name)
  idle = (0, 0, 0)  # never write: only the time limit can end the episode
  _, state, out = play(name, inputs, [idle] * (cap + 2))
  ends = [i for i, o in enumerate(out) if o[3]]
  assert ends and ends[0] == cap - 1, "truncated on step number cap"
  assert all(not o[2] for o in out)
  last = out[cap - 1]
  assert last[1] == (-1.0 if env.family == "gym" else 0.0)
  assert all(o[1] == 0.0 for o in out[: cap - 1] + out[cap:])
  assert int(state.time) == cap


def test_gym_timeout_overrides_a_correct_final_write():
  # gym checks `time > time_limit` after the write: on step time_limit + 1 a correct
  # write still gets -1 (and the episode is both terminated and truncated).
  env = small_env("Copy")
  _, state = env.reset_to(np.array([2]))
  step = jit_step("Copy")
  for _ in range(1 + 1 + 4):  # time_limit = 1 + 1 + 4 idle steps
    _, state, r, term, trunc, _ = step(state, jnp.array([1, 0, 0]))
    assert float(r) == 0.0 and not bool(trunc)
  _, state, r, term, trunc, info = step(state, jnp.array([1, 1, 2]))
  assert float(r) == -1.0 and bool(term) and bool(trunc) and bool(info["correct"])


def test_lsa_cap_step_keeps_a_correct_write():
  env = small_env("lsa/copy")
  _, state = env.reset_to(np.array([4]))
  step = jit_step("lsa/copy")
  for _ in range(int(state.time_cap) - 1):
    _, state, r, term, trunc, _ = step(state, jnp.array([0, 0, 0]))
  _, state, r, term, trunc, _ = step(state, jnp.array([1, 1, 4]))
  assert float(r) == 1.0 and bool(term) and not bool(trunc)


def test_observation_blank_off_tape_and_head_moves():
  env = small_env("Copy")
  obs, state = env.reset_to(np.array([3, 4]))
  assert int(obs) == 3
  step = jit_step("Copy")
  seen = []
  for move in (1, 1, 1, 0, 0, 0, 0):
    obs, state, *_ = step(state, jnp.array([move, 0, 0]))
    seen.append(int(obs))
  blank = env.base
  assert seen == [4, blank, blank, blank, 4, 3, blank]
  assert state.head.tolist() == [0, -1]


def test_registry_and_attributes():
  names = envs.registered_names()
  assert names == (
      "Copy",
      "DuplicatedInput",
      "RepeatCopy",
      "Reverse",
      "ReversedAddition",
      "ReversedAddition3",
      "ForwardReverse",
      "lsa/copy",
      "lsa/reverse",
      "lsa/walk",
      "lsa/add2",
      "lsa/add3",
      "lsa/mul1",
  )
  expect = {
      "Copy": (5, 2),
      "Reverse": (2, 2),
      "ReversedAddition": (3, 4),
      "ForwardReverse": (5, 2),
      "lsa/walk": (13, 4),
      "lsa/mul1": (10, 4),
  }
  for name, (base, moves) in expect.items():
    env = small_env(name)
    assert (env.base, env.num_moves, env.obs_size) == (base, moves, base + 1)
  assert small_env("ForwardReverse").moves == (0, 1)
  assert envs.make("Copy", moves=(-1, 0, 1)).num_moves == 3


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: envs.make("Copyy"), "unknown environment 'Copyy'.*Copy, DuplicatedInput"),
        (lambda: envs.make("Copy", max_len=3), r"unknown option\(s\) \['max_len'\]"),
        (lambda: envs.make("Copy", max_length=0), "max_length must be an int >= 1, got 0"),
        (lambda: envs.make("Copy", base=1), r"base must be an int in \[2, 120\], got 1"),
        (lambda: envs.make("Copy", moves=(-2, 1)), "moves must be a tuple"),
        (lambda: envs.make("ReversedAddition3", time_limit_rule="x"), "time_limit_rule"),
        (lambda: envs.make("lsa/walk", base=5), r"unknown option\(s\) \['base'\]"),
    ],
)
def test_bad_construction_is_a_clear_error(call, match):
  with pytest.raises(ValueError, match=match):
    call()


@pytest.mark.parametrize(
    "action,match",
    [
        ([0, 1, 5], r"symbol must be in \[0, base=5\), got 5"),
        ([0, 1, -1], r"symbol must be in \[0, base=5\), got -1"),
        ([2, 0, 0], r"move index must be in \[0, 2\) \(left, right\), got 2"),
        ([0, 2, 0], "write flag must be 0 or 1, got 2"),
        ([0, 1], r"shape \(3,\)"),
    ],
)
def test_invalid_action_outside_jit(action, match):
  env = small_env("Copy")
  _, state = env.reset_to(np.array([1, 2]))
  with pytest.raises(ValueError, match=match):
    env.step(jax.random.key(0), state, np.array(action), env.default_params)


def test_invalid_action_inside_jit_is_documented_behaviour():
  env = small_env("Copy")
  _, state = env.reset_to(np.array([1, 2]))
  step = jit_step("Copy")
  # Out-of-range symbol: a wrong write (-0.5, terminated).
  _, s, r, term, _, info = step(state, jnp.array([1, 1, 7]))
  assert float(r) == -0.5 and bool(term) and not bool(info["correct"])
  # Out-of-range move index: clipped (9 -> right), write flag 2: no write.
  _, s, r, term, _, _ = step(state, jnp.array([9, 2, 1]))
  assert s.head.tolist() == [0, 1] and float(r) == 0.0 and not bool(term)
  _, s, *_ = step(state, jnp.array([-4, 0, 0]))
  assert s.head.tolist() == [0, -1]


@pytest.mark.parametrize(
    "params,match",
    [
        (dict(length=-3), r"params.length must be in \[1, max_length=8\], got -3"),
        (dict(length=9), r"params.length must be in \[1, max_length=8\], got 9"),
        (dict(length_jitter=-1), "length_jitter must be >= 0, got -1"),
        (dict(no_carry_frac=1.5), r"no_carry_frac must be in \[0, 1\]"),
    ],
)
def test_invalid_params_outside_jit(params, match):
  env = small_env("Copy")
  p = env.default_params.replace(**{k: jnp.asarray(v) for k, v in params.items()})
  with pytest.raises(ValueError, match=match):
    env.reset(jax.random.key(0), p)


def test_negative_length_inside_jit_is_clipped():
  p = envs.make_params(-5, 0)
  _, state = jit_reset("Copy")(jax.random.key(0), p)
  assert int(state.width) == 1
  _, state = jit_reset("Copy")(jax.random.key(0), envs.make_params(50, 0))
  assert int(state.width) == SMALL


@pytest.mark.parametrize(
    "name,inputs,match",
    [
        ("Copy", [1, 5], r"input symbols must be in \[0, base=5\), got 5"),
        ("Copy", [0] * 9, r"input length must be in \[1, max_length=8\], got 9"),
        ("ReversedAddition", [1, 2], r"grid of shape \[2, L\]"),
        ("lsa/mul1", [[3, 1], [2, 2]], "row 0 must hold the single digit"),
        ("lsa/walk", [[1, 2, 3], [4, 5, 6], [7, 8, 11]], "exactly one turn symbol"),
        ("lsa/walk", [[1, 2], [4, 11]], "odd number of rows"),
    ],
)
def test_invalid_inputs_to_reset_to(name, inputs, match):
  with pytest.raises(ValueError, match=match):
    small_env(name).reset_to(np.asarray(inputs))


def test_render_trace():
  env = small_env("Copy")
  _, state = env.reset_to(np.array([0, 3, 1]))
  states = [state]
  step = jit_step("Copy")
  for a in ([1, 1, 0], [1, 0, 0], [1, 1, 2]):
    _, state, *_ = step(state, jnp.array(a))
    states.append(state)
  text = env.render(states)
  lines = text.split("\n")
  assert lines[0] == "Copy  input: ADB  target: ADB"
  assert "Input Tape" in lines[1] and "Output Tape" in lines[1]
  assert lines[2].split() == ["0", "0", "A", "right", "A", "+1.0"]
  assert lines[3].split() == ["1", "1", "D", "right", "#", "+0.0"]
  assert lines[4].split() == ["2", "2", "B", "right", "C", "(wrong)", "-0.5"]
  assert lines[5].startswith("output: AC  return: +0.5  steps: 3  terminated")
  # A time-stacked trajectory renders the same.
  stacked = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *states)
  assert env.render(stacked) == text


def test_render_grid():
  env = small_env("lsa/add2")
  _, state = env.reset_to(np.array([[9, 9], [1, 0]]))
  text = env.render(state)
  assert "  99\n  10\ntarget: 001" in text


def test_interfaces_as_pure_functions():
  from rltape.envs import interfaces

  grid = jnp.asarray([[1, 2, 3], [4, 5, 6]], jnp.int8)
  reads = [
      int(interfaces.read_cell(grid, jnp.asarray(h), 9))
      for h in ([0, 0], [1, 2], [2, 0], [0, 3], [-1, 1], [1, -1])
  ]
  assert reads == [1, 6, 9, 9, 9, 9]
  deltas = jnp.asarray([[0, -1], [0, 1], [-1, 0], [1, 0]], jnp.int32)
  head = jnp.asarray([1, 1], jnp.int32)
  assert [interfaces.move_head(head, deltas, jnp.int32(m)).tolist() for m in (0, 1, 2, 3, 7)] == [
      [1, 0],
      [1, 2],
      [0, 1],
      [2, 1],
      [2, 1],
  ]
  targets = jnp.asarray([4, 2, -1], jnp.int32)
  out = interfaces.write_output(targets, jnp.int32(2), jnp.int32(1), jnp.bool_(True), jnp.int32(2))
  assert [int(x) for x in out] == [2, 1, 0, 2]  # target, correct, wrong, write_pos
  out = interfaces.write_output(targets, jnp.int32(2), jnp.int32(0), jnp.bool_(True), jnp.int32(2))
  assert [int(x) for x in out] == [4, 0, 1, 1]
  out = interfaces.write_output(targets, jnp.int32(2), jnp.int32(2), jnp.bool_(True), jnp.int32(-1))
  assert [int(x) for x in out] == [-1, 0, 1, 3]  # a write past the last target is wrong
  out = interfaces.write_output(targets, jnp.int32(2), jnp.int32(0), jnp.bool_(False), jnp.int32(4))
  assert [int(x) for x in out] == [4, 0, 0, 0]


# ---------------------------------------------------------------- fast reset paths
@pytest.mark.parametrize(
    "name", ["Copy", "Reverse", "RepeatCopy", "DuplicatedInput", "ForwardReverse"]
)
def test_static_targets_equal_gathered_targets(name):
  """Static-slice targets (Copy, DuplicatedInput) equal the gather path at every width."""
  for max_len in (2, 7, 10):
    env = envs.make(name, max_length=max_len)
    gather = envs.make(name, max_length=max_len)
    gather._static_targets = lambda tape: None
    targets = fast_jit(env._targets)
    targets_g = fast_jit(gather._targets)
    rng = np.random.default_rng(max_len)
    for width in range(1, max_len + 1):
      row = np.full((1, max_len), env.blank, np.int8)
      row[0, :width] = rng.integers(0, env.base, width)
      t, n = targets(jnp.asarray(row), jnp.int32(width))
      tg, ng = targets_g(jnp.asarray(row), jnp.int32(width))
      assert int(n) == int(ng)
      assert t.tolist() == tg.tolist(), (name, max_len, width)
      tape = row[0, :width].tolist()
      want = {
          "Copy": tape,
          "Reverse": tape[::-1],
          "ForwardReverse": tape[::-1],
          "RepeatCopy": tape + tape[::-1] + tape,
          "DuplicatedInput": tape[0 : 2 * (width // 2) : 2],
      }[name]
      assert t[: int(n)].tolist() == want


def test_reset_from_seeds_and_auto_reset():
  env = small_env("Copy")
  params = envs.make_params(5, 2)
  key = jax.random.key(3)
  seeds = jax.random.bits(key, (2,), jnp.uint32)
  chex.assert_trees_all_equal(env.reset(key, params), env.reset_from_seeds(seeds, params))

  n = 6
  seeds = envs.batch_seeds(jax.random.key(1), n)
  assert seeds.shape == (n, 2) and seeds.dtype == jnp.uint32
  assert len({tuple(s) for s in np.asarray(seeds).tolist()}) == n
  obs, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(key, n), params)
  state = state.replace(time=state.time + 3)  # mark the old episodes
  done = jnp.array([True, False, True, False, False, True])
  k = jax.random.key(9)
  new_obs, new = fast_jit(envs.auto_reset, static_argnums=0)(env, k, obs, state, done, params)
  fresh_obs, fresh = jax.vmap(env.reset_from_seeds, in_axes=(0, None))(
      envs.batch_seeds(k, n), params
  )
  for i in range(n):
    src, src_obs = (fresh, fresh_obs) if done[i] else (state, obs)
    chex.assert_trees_all_equal(
        jax.tree.map(lambda x: x[i], new), jax.tree.map(lambda x: x[i], src)
    )
    assert int(new_obs[i]) == int(src_obs[i])
  assert np.asarray(new.time).tolist() == [0, 3, 0, 3, 3, 0]
