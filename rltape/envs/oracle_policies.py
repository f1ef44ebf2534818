"""Scripted optimal policies for every registered task (jittable, for sanity checks).

`oracle_policy(env)` returns `policy(state) -> action int32[3]`. The policies are
privileged: they read the next target from the state instead of computing it, but
they move the head along the path of the algorithm a learned agent must discover and
write only once the symbols they need have been under the head (or, for
ForwardReverse, once the whole input has been read, as an agent with memory would).
They are stateless: the phase comes from `state.time` and the head position, so a
policy is one `jnp.where` chain and vmaps freely.

Paths (L = input width, t = steps taken so far):
  Copy, lsa/copy           write and move right: L steps.
  DuplicatedInput          move right, writing on even columns: L - 1 steps.
  Reverse, lsa/reverse     right L times (to the blank past the end), left once, then
                           write and move left: 2L + 1 steps.
  ForwardReverse           right L times (reading into memory), then write while
                           staying: 2L steps. With a tape that can move left it uses the
                           Reverse path.
  RepeatCopy               write right L times, left once at the blank, write left L
                           times, right once at the blank, write right L times: 3L + 2.
  ReversedAddition(3), lsa/add2, lsa/add3
                           zig-zag: in column c walk the R rows (down in even columns,
                           up in odd ones) and write the column's digit on the last row
                           while moving right; then write the final carry on the blank
                           past the end: R L + 1 steps (gym omits a zero final carry,
                           so R L there).
  lsa/mul1                 read the digit, move down, then write and move right along
                           the number, then write the final carry: L + 2 steps.
  lsa/walk                 right to the turn symbol, step in its direction, then write
                           and keep going: 2K + 1 steps.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from rltape.envs.core import AlgorithmicEnv, EnvState

Policy = Callable[[EnvState], jax.Array]


def _move_index(env: AlgorithmicEnv, delta) -> int:
  if delta not in env.moves:
    raise ValueError(
        f"{env.name}: the scripted policy needs the move {delta}, but the env's "
        f"moves are {env.moves}"
    )
  return env.moves.index(delta)


def _next_target(env: AlgorithmicEnv, state: EnvState) -> jax.Array:
  t = state.targets[jnp.clip(state.write_pos, 0, env.max_targets - 1)]
  return jnp.clip(t, 0, env.base - 1)


def _action(move, write, symbol) -> jax.Array:
  return jnp.stack(
      [jnp.asarray(move, jnp.int32), jnp.asarray(write, jnp.int32), jnp.asarray(symbol, jnp.int32)]
  )


def oracle_policy(env: AlgorithmicEnv) -> Policy:
  """Returns the scripted optimal policy of `env` (see the module docstring).

  Raises:
    ValueError: the env's moves lack a move the policy needs.
  """
  name = env.name
  if name in ("Copy", "lsa/copy"):
    right = _move_index(env, 1)
    return lambda s: _action(right, 1, _next_target(env, s))
  if name == "DuplicatedInput":
    right = _move_index(env, 1)
    return lambda s: _action(right, s.head[1] % 2 == 0, _next_target(env, s))
  if name == "ForwardReverse" and -1 not in env.moves:
    right, stay = _move_index(env, 1), _move_index(env, 0)

    def forward_reverse(s):
      reading = s.time < s.width
      return _action(jnp.where(reading, right, stay), ~reading, _next_target(env, s))

    return forward_reverse
  if name in ("Reverse", "lsa/reverse", "ForwardReverse"):
    right, left = _move_index(env, 1), _move_index(env, -1)

    def reverse(s):
      move = jnp.where(s.time < s.width, right, left)
      return _action(move, s.time > s.width, _next_target(env, s))

    return reverse
  if name == "RepeatCopy":
    right, left = _move_index(env, 1), _move_index(env, -1)

    def repeat_copy(s):
      t, w = s.time, s.width
      backwards = (t >= w) & (t <= 2 * w)
      write = (t != w) & (t != 2 * w + 1)
      return _action(jnp.where(backwards, left, right), write, _next_target(env, s))

    return repeat_copy
  if name in ("ReversedAddition", "ReversedAddition3", "lsa/add2", "lsa/add3"):
    left, right, up, down = range(4)
    rows = env.rows

    def addition(s):
      c, k = s.time // rows, s.time % rows
      reading = (c < s.width) & (k < rows - 1)
      vertical = jnp.where(c % 2 == 0, down, up)
      return _action(jnp.where(reading, vertical, right), ~reading, _next_target(env, s))

    return addition
  if name == "lsa/mul1":
    right, down = 1, 3

    def mul1(s):
      first = s.time == 0
      return _action(jnp.where(first, down, right), ~first, _next_target(env, s))

    return mul1
  if name == "lsa/walk":
    right = 1
    # Move index of each turn symbol l, u, d: left, up, down.
    turn_moves = jnp.asarray([0, 2, 3], jnp.int32)

    def walk(s):
      row = s.inputs[env.max_leg].astype(jnp.int32)
      is_turn = (row >= env.num_digits) & (row < env.base)
      turn_col = jnp.argmax(is_turn)
      sym = jnp.clip(row[turn_col] - env.num_digits, 0, 2)
      before = s.time < turn_col
      move = jnp.where(before, right, turn_moves[sym])
      return _action(move, s.time > turn_col, _next_target(env, s))

    return walk
  raise ValueError(f"no scripted policy for environment {name!r}")


def rollout(env: AlgorithmicEnv, state: EnvState, policy: Policy, params, num_steps: int):
  """Runs `policy` for a fixed number of steps with `lax.scan` (jittable).

  Args:
    env: the environment.
    state: the start state (from `reset` or `reset_to`).
    policy: state -> action.
    params: EnvParams.
    num_steps: static number of steps (e.g. `env.max_steps`); steps after the end
      are no-ops.

  Returns:
    final state, and a dict of per-step stacked "reward", "terminated",
    "truncated", "correct" and "state" (the state after each step).
  """
  key = jax.random.key(0)

  def body(s, _):
    a = policy(s)
    _, s2, r, term, trunc, info = env.step(key, s, a, params)
    return s2, {
        "reward": r,
        "terminated": term,
        "truncated": trunc,
        "correct": info["correct"],
        "state": s2,
    }

  return jax.lax.scan(body, state, None, length=num_steps)
