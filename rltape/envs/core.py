"""Shared machinery of the functional tape and grid environments.

Every environment in `rltape.envs` is an `AlgorithmicEnv`: a read head moves over an
input tape (one row) or input grid (several rows), and an output tape is written left
to right, one symbol per write. The API follows gymnax 1.0:

    obs, state = env.reset(key, params)
    obs, state = env.reset_to(inputs, params)   # a given tape [L] or grid [rows, L]
    obs, state, reward, terminated, truncated, info = env.step(key, state, action, params)

Shapes depend only on the constructor (`max_length`, `base`, the task); `EnvParams`
holds the dynamic knobs (input length, curriculum switches), so a curriculum changes
params, never shapes, and nothing recompiles.

Input sampling: `reset` draws the length, then the task samples its input with
`uniform_below` (two seeds from the key, then a counter hash per cell; see there for
why and for its bias, below 0.015%). Targets are computed from the input, so
`reset_to` on the same input gives the same episode.

The step is the composition of the interface functions in `rltape.envs.interfaces`
(read the cell under the head, judge the write on the output tape, move the head).

Storage: the input lives in `state.inputs`, an int8 array of static shape
`[rows, cols]`; cells outside the active input hold the blank id `base`, and reading
outside the array also gives the blank, so the head may wander anywhere (the board is
unbounded, as in gym).

Step rules (both families):
  * The action is int32[3] = (move index, write flag, symbol). The write (if the flag
    is 1) is judged against `targets[write_pos]` first, then the head moves.
  * A correct write earns `reward_correct`; a wrong write earns `reward_wrong` and
    terminates the episode; writing the last target terminates it.
  * `time_cap` is the largest number of steps an episode may take. The step that
    reaches it is truncated. In the gym family that step's reward is replaced by -1
    (gym's "run out the clock", which fires when `time > time_limit`, i.e. on step
    `time_limit + 1 = time_cap`); terminated is reported independently, so both may be
    True on that step. In the LSA family the step keeps its reward and truncated is only
    set when the step did not terminate.
  * After termination or truncation a step is a no-op: the state is unchanged, reward
    is 0 and the terminated/truncated flags stay as they were, so fixed-length
    `lax.scan` rollouts are safe.

Invalid input (documented behaviour):
  * Outside jit (concrete values) `reset`, `reset_to` and `step` raise `ValueError`
    naming the bad value and the allowed range: symbol outside [0, base), move index
    outside [0, num_moves), write flag outside {0, 1}, length outside [1, max_length],
    negative `length_jitter`, `no_carry_frac` outside [0, 1], input symbols out of range
    or input longer than `max_length`.
  * Inside jit or vmap (traced values) nothing can be raised, so: the move index is
    clipped into [0, num_moves); a write flag other than 1 means "do not write"; a
    symbol outside [0, base) never matches a target, so writing it counts as a wrong
    write; the sampled length is clipped into [1, max_length].
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from rltape.envs import interfaces
from rltape.envs.hashing import uniform_below

BLANK_CHAR = "_"
NO_WRITE_CHAR = "#"


@struct.dataclass
class EnvParams:
  """Dynamic parameters: changing them never changes a shape or recompiles.

  Attributes:
    length: int32 []: nominal input length (complexity), in [1, max_length].
    length_jitter: int32 []: `reset` draws the length uniformly from
      [length, length + length_jitter] (clipped to max_length). Gym uses 2
      ("min_length + randint(3)").
    no_carry_frac: float32 []: fraction of episodes whose addition digits are small
      enough that no column ever carries (the 3-row "extra curriculum"). Used by
      lsa/add2 and lsa/add3 only.
  """

  length: jax.Array
  length_jitter: jax.Array
  no_carry_frac: jax.Array


def make_params(length: int, length_jitter: int = 0, no_carry_frac: float = 0.0) -> EnvParams:
  """Builds `EnvParams` with the right dtypes."""
  return EnvParams(
      length=jnp.asarray(length, jnp.int32),
      length_jitter=jnp.asarray(length_jitter, jnp.int32),
      no_carry_frac=jnp.asarray(no_carry_frac, jnp.float32),
  )


@struct.dataclass
class EnvState:
  """Explicit episode state (a pytree; every leaf has a static shape).

  Attributes:
    inputs: int8 [rows, cols]: the input tape/grid, blank (= base) outside it.
    width: int32 []: number of active input columns.
    targets: int32 [max_targets]: symbols the output tape must receive, -1 padded.
    num_targets: int32 []: number of valid entries in `targets`.
    head: int32 [2]: read head (row, column).
    write_pos: int32 []: number of writes made so far (the output-tape position).
    num_correct: int32 []: number of correct writes so far.
    time: int32 []: steps taken so far.
    time_cap: int32 []: the step with `time + 1 == time_cap` truncates.
    terminated: bool []: a wrong write happened or every target was written.
    truncated: bool []: the time cap was reached.
    last_action: int32 [3]: the action of the latest effective step (-1 at reset).
    last_reward: float32 []: its reward.
    episode_return: float32 []: sum of rewards so far.
  """

  inputs: jax.Array
  width: jax.Array
  targets: jax.Array
  num_targets: jax.Array
  head: jax.Array
  write_pos: jax.Array
  num_correct: jax.Array
  time: jax.Array
  time_cap: jax.Array
  terminated: jax.Array
  truncated: jax.Array
  last_action: jax.Array
  last_reward: jax.Array
  episode_return: jax.Array


def is_concrete(*xs: Any) -> bool:
  """True when none of `xs` is a tracer, i.e. values can be checked in Python."""
  return not any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves(xs))


def episode_solved(state: EnvState) -> jax.Array:
  """bool []: every target was written correctly (whole-sequence success)."""
  return (state.num_correct == state.num_targets) & (state.write_pos == state.num_targets)


class AlgorithmicEnv:
  """Base class: a read head over an input tape/grid and a write-once output tape.

  Subclasses set the task: how inputs are sampled, which targets they imply, and
  the time cap. Instances are immutable configuration; all episode data lives in
  `EnvState`, so `reset`/`step` are pure and can be jitted and vmapped.
  """

  name: str = "?"
  family: str = "?"  # "gym" or "lsa"
  grid: bool = False
  tape_moves_default: tuple[int, ...] = (-1, 1)
  chars: bool = False  # render data symbols as letters (gym's `chars=True`)
  extra_symbols: tuple[str, ...] = ()  # render names of ids >= num_digits

  reward_correct: float = 1.0
  reward_wrong: float = -0.5
  reward_timeout: float | None = -1.0

  def __init__(
      self,
      *,
      base: int,
      max_length: int,
      rows: int,
      cols: int,
      max_targets: int,
      moves: Sequence[Any] | None = None,
      head_start: tuple[int, int] = (0, 0),
      min_max_length: int = 1,
  ):
    if (
        not isinstance(max_length, (int, np.integer))
        or isinstance(max_length, bool)
        or max_length < min_max_length
    ):
      raise ValueError(
          f"{self.name}: max_length must be an int >= {min_max_length}, " f"got {max_length!r}"
      )
    if not isinstance(base, (int, np.integer)) or isinstance(base, bool) or not 2 <= base <= 120:
      raise ValueError(f"{self.name}: base must be an int in [2, 120], got {base!r}")
    self.base = int(base)
    self.obs_size = self.base + 1
    self.blank = self.base
    self.max_length = int(max_length)
    self.rows = int(rows)
    self.cols = int(cols)
    self.max_targets = int(max_targets)
    self.head_start = tuple(int(h) for h in head_start)
    if self.grid:
      if moves is not None:
        raise ValueError(
            f"{self.name}: moves is fixed on a grid (left, right, up, "
            f"down); got moves={moves!r}"
        )
      self.moves = ((0, -1), (0, 1), (-1, 0), (1, 0))
      self.move_names = ("left", "right", "up", "down")
      deltas = self.moves
    else:
      moves = self.tape_moves_default if moves is None else moves
      ok = (
          isinstance(moves, (tuple, list))
          and len(moves) >= 1
          and all(
              isinstance(m, (int, np.integer)) and not isinstance(m, bool) and m in (-1, 0, 1)
              for m in moves
          )
          and len(set(moves)) == len(moves)
      )
      if not ok:
        raise ValueError(
            f"{self.name}: moves must be a tuple of distinct deltas from "
            f"(-1, 0, 1), e.g. (-1, 1), (-1, 0, 1) or (0, 1); got {moves!r}"
        )
      self.moves = tuple(int(m) for m in moves)
      self.move_names = tuple({-1: "left", 0: "stay", 1: "right"}[m] for m in self.moves)
      deltas = tuple((0, m) for m in self.moves)
    self.num_moves = len(self.moves)
    self._deltas = np.asarray(deltas, np.int32)
    self.max_steps = int(self._static_max_steps())

  # ----------------------------------------------------------------- task hooks
  def _sample(self, seeds: jax.Array, length: jax.Array, params: EnvParams):
    """Returns (inputs int8 [rows, cols], width int32) for a traced length.

    `seeds` (uint32 [2]) feed `uniform_below`/`uniform_unit` with streams >= 1
    (stream 0 drew the length).
    """
    raise NotImplementedError

  def _targets(self, inputs: jax.Array, width: jax.Array):
    """Returns (targets int32 [max_targets], num_targets int32)."""
    raise NotImplementedError

  def _time_cap(self, width, num_targets):
    """Largest number of steps an episode may take (works on ints and arrays)."""
    raise NotImplementedError

  def _static_max_steps(self) -> int:
    return int(self._time_cap(self.max_length, self.max_targets))

  def _embed(self, inputs: np.ndarray) -> tuple[np.ndarray, int]:
    """Places a user tape/grid into the static storage; returns (grid, width)."""
    if self.grid:
      if inputs.ndim != 2 or inputs.shape[0] != self.rows:
        raise ValueError(
            f"{self.name}: inputs must be a grid of shape [{self.rows}, L], "
            f"got shape {inputs.shape}"
        )
    else:
      if inputs.ndim == 2 and inputs.shape[0] == 1:
        inputs = inputs[0]
      if inputs.ndim != 1:
        raise ValueError(
            f"{self.name}: inputs must be a tape of shape [L], got shape " f"{inputs.shape}"
        )
      inputs = inputs[None, :]
    width = inputs.shape[1]
    if not 1 <= width <= self.max_length:
      raise ValueError(
          f"{self.name}: input length must be in [1, max_length=" f"{self.max_length}], got {width}"
      )
    return inputs, width

  def _validate_inputs(self, inputs: np.ndarray) -> None:
    """Raises ValueError on symbols that the task does not allow."""
    bad = (inputs < 0) | (inputs >= self.base)
    if bad.any():
      idx = tuple(int(i) for i in np.argwhere(bad)[0])
      raise ValueError(
          f"{self.name}: input symbols must be in [0, base={self.base}), got "
          f"{int(inputs[idx])} at index {idx}"
      )

  # ---------------------------------------------------------------- public API
  @property
  def default_params(self) -> EnvParams:
    raise NotImplementedError

  def check_params(self, params: EnvParams) -> None:
    """Raises ValueError on concrete out-of-range params (no-op under tracing)."""
    if not isinstance(params, EnvParams):
      raise ValueError(f"{self.name}: params must be an EnvParams, got {type(params).__name__}")
    if not is_concrete(params):
      return
    length, jitter = np.asarray(params.length), np.asarray(params.length_jitter)
    frac = np.asarray(params.no_carry_frac)
    if length.ndim:  # batched params given to an unjitted call: check every entry
      length, jitter, frac = length.min(), jitter.min(), frac.min()
      length_max = np.asarray(params.length).max()
    else:
      length_max = length
    if length < 1 or length_max > self.max_length:
      bad = int(length) if length < 1 else int(length_max)
      raise ValueError(
          f"{self.name}: params.length must be in [1, max_length=" f"{self.max_length}], got {bad}"
      )
    if jitter < 0:
      raise ValueError(f"{self.name}: params.length_jitter must be >= 0, got {int(jitter)}")
    if (
        not 0.0 <= float(frac) <= 1.0
        or not 0.0 <= float(np.asarray(params.no_carry_frac).max()) <= 1.0
    ):
      raise ValueError(
          f"{self.name}: params.no_carry_frac must be in [0, 1], got "
          f"{np.asarray(params.no_carry_frac)}"
      )

  def check_action(self, action: Any) -> None:
    """Raises ValueError on a concrete invalid action (no-op under tracing)."""
    if not is_concrete(action):
      return
    a = np.asarray(action)
    if a.shape != (3,) or not np.issubdtype(a.dtype, np.integer):
      raise ValueError(
          f"{self.name}: action must be an int array of shape (3,) = (move, "
          f"write, symbol), got shape {a.shape} dtype {a.dtype}"
      )
    move, write, sym = (int(v) for v in a)
    if not 0 <= move < self.num_moves:
      raise ValueError(
          f"{self.name}: move index must be in [0, {self.num_moves}) "
          f"({', '.join(self.move_names)}), got {move}"
      )
    if write not in (0, 1):
      raise ValueError(f"{self.name}: write flag must be 0 or 1, got {write}")
    if not 0 <= sym < self.base:
      raise ValueError(f"{self.name}: symbol must be in [0, base={self.base}), got {sym}")

  def reset(self, key: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
    """Samples a random input of length `params.length + U{0..length_jitter}`.

    Args:
      key: a PRNG key (`jax.random.key`).
      params: dynamic parameters.

    Returns:
      obs: int32 [], the symbol under the read head; state: the new EnvState.
    """
    self.check_params(params)
    return self.reset_from_seeds(jax.random.bits(key, (2,), jnp.uint32), params)

  def reset_from_seeds(self, seeds: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
    """`reset` from two uint32 seeds: `reset(key) == reset_from_seeds(bits(key, (2,)))`.

    For vectorised auto-reset, where one threefry call per env per step for the
    key would cost more than the step itself; see `auto_reset` and `batch_seeds`.
    """
    seeds = jnp.asarray(seeds, jnp.uint32)
    jitter = jnp.maximum(params.length_jitter, 0)
    length = params.length + uniform_below(seeds, (), jitter + 1, stream=0)
    length = jnp.clip(length, 1, self.max_length).astype(jnp.int32)
    inputs, width = self._sample(seeds, length, params)
    return self._start(inputs, width)

  def reset_to(self, inputs: Any, params: EnvParams | None = None) -> tuple[jax.Array, EnvState]:
    """Starts an episode from a given input instead of a random one.

    Args:
      inputs: int array, a tape [L] for tape tasks or a grid [rows, L] for grid
        tasks, with 1 <= L <= max_length (task-specific layouts are described in
        each task's docstring). Concrete inputs are padded on the host, so all
        lengths share one compiled start; traced inputs compile per shape.
      params: unused by the episode itself (the input fixes everything); accepted
        for symmetry with `reset`.

    Returns:
      (obs, state) as `reset`.
    """
    if params is not None:
      self.check_params(params)
    if is_concrete(inputs):
      arr = np.asarray(inputs)
      if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{self.name}: inputs must be integers, got dtype {arr.dtype}")
      grid, width = self._embed(arr)
      self._validate_inputs(grid)
      # Concrete inputs are padded on the host, so every length shares one compile.
      stored = self._store_np(grid.astype(np.int64))
      if self._start_jit is None:
        self._start_jit = jax.jit(self._start)
      return self._start_jit(jnp.asarray(stored), jnp.asarray(width, jnp.int32))
    inputs = jnp.asarray(inputs, jnp.int32)
    if not self.grid and inputs.ndim == 1:
      inputs = inputs[None, :]
    width = inputs.shape[1]
    if width > self.max_length:
      raise ValueError(
          f"{self.name}: input length must be <= max_length=" f"{self.max_length}, got {width}"
      )
    return self._start(self._store(inputs), jnp.asarray(width, jnp.int32))

  _start_jit = None

  def _store_np(self, grid: np.ndarray) -> np.ndarray:
    """Pads a [rows', width] input into the static [rows, cols] int8 storage."""
    stored = np.full((self.rows, self.cols), self.blank, np.int8)
    stored[: grid.shape[0], : grid.shape[1]] = grid
    return stored

  def _store(self, inputs: jax.Array) -> jax.Array:
    """Traced version of `_store_np`."""
    return jnp.pad(
        inputs.astype(jnp.int8),
        ((0, self.rows - inputs.shape[0]), (0, self.cols - inputs.shape[1])),
        constant_values=self.blank,
    )

  def observe(self, inputs: jax.Array, head: jax.Array) -> jax.Array:
    """int32 []: the symbol under `head`, blank off the stored input."""
    return interfaces.read_cell(inputs, head, self.blank)

  def _start(self, inputs: jax.Array, width: jax.Array) -> tuple[jax.Array, EnvState]:
    targets, num_targets = self._targets(inputs, width)
    head = jnp.asarray(self.head_start, jnp.int32)
    state = EnvState(
        inputs=inputs.astype(jnp.int8),
        width=jnp.asarray(width, jnp.int32),
        targets=targets.astype(jnp.int32),
        num_targets=jnp.asarray(num_targets, jnp.int32),
        head=head,
        write_pos=jnp.zeros((), jnp.int32),
        num_correct=jnp.zeros((), jnp.int32),
        time=jnp.zeros((), jnp.int32),
        time_cap=jnp.asarray(self._time_cap(width, num_targets), jnp.int32),
        terminated=jnp.zeros((), bool),
        truncated=jnp.zeros((), bool),
        last_action=jnp.full((3,), -1, jnp.int32),
        last_reward=jnp.zeros((), jnp.float32),
        episode_return=jnp.zeros((), jnp.float32),
    )
    # The start cell is static: a static read, not the gather of `observe`.
    r0, c0 = self.head_start
    if 0 <= r0 < self.rows and 0 <= c0 < self.cols:
      obs = state.inputs[r0, c0].astype(jnp.int32)
    else:
      obs = jnp.asarray(self.blank, jnp.int32)
    return obs, state

  def step(self, key: jax.Array, state: EnvState, action: Any, params: EnvParams):
    """Applies one action.

    Args:
      key: PRNG key (unused: the dynamics are deterministic; kept for the API).
      state: the current EnvState.
      action: int32 [3] = (move index, write flag, symbol).
      params: dynamic parameters (unused by the dynamics).

    Returns:
      obs int32 [], state, reward float32 [], terminated bool [], truncated bool [],
      info dict with "target" (int32, the symbol the next write must produce, -1 when
      none is left), "targets_left" (int32, writes still required before this step's
      write) and "correct" (bool, this step wrote the right symbol).
    """
    del key, params
    self.check_action(action)
    action = jnp.asarray(action, jnp.int32)
    write = action[1] == 1
    done = state.terminated | state.truncated
    targets_left = state.num_targets - state.write_pos
    target, correct, wrong, write_pos = interfaces.write_output(
        state.targets, state.num_targets, state.write_pos, write & ~done, action[2]
    )
    reward = jnp.where(correct, self.reward_correct, jnp.where(wrong, self.reward_wrong, 0.0))
    terminated = wrong | (write_pos >= state.num_targets)
    time = state.time + 1
    at_cap = time >= state.time_cap
    if self.reward_timeout is not None:
      truncated = at_cap
      reward = jnp.where(at_cap, self.reward_timeout, reward)
    else:
      truncated = at_cap & ~terminated
    reward = jnp.where(done, 0.0, reward).astype(jnp.float32)

    def keep(new, old):
      return jnp.where(done, old, new)

    new_state = state.replace(
        head=keep(
            interfaces.move_head(state.head, jnp.asarray(self._deltas), action[0]), state.head
        ),
        write_pos=keep(write_pos, state.write_pos),
        num_correct=state.num_correct + correct.astype(jnp.int32),
        time=keep(time, state.time),
        terminated=keep(terminated, state.terminated),
        truncated=keep(truncated, state.truncated),
        last_action=keep(action, state.last_action),
        last_reward=keep(reward, state.last_reward),
        episode_return=state.episode_return + reward,
    )
    obs = self.observe(new_state.inputs, new_state.head)
    info = {"target": target, "targets_left": targets_left, "correct": correct}
    return obs, new_state, reward, new_state.terminated, new_state.truncated, info

  # ------------------------------------------------------------------ rendering
  def symbol_char(self, s: int) -> str:
    """One printable character for symbol id `s` (blank is '_')."""
    s = int(s)
    if s == self.blank or s < 0:
      return BLANK_CHAR
    n_data = self.base - len(self.extra_symbols)
    if s >= n_data:
      return self.extra_symbols[s - n_data]
    if self.chars:
      return chr(ord("A") + s)
    return str(s) if s < 10 else chr(ord("a") + s - 10)

  def input_text(self, state: EnvState) -> str:
    """The active input tape/grid of a single (unbatched) state, as text."""
    from rltape.envs import render as _render

    return _render.input_text(self, state)

  def render(self, states: Any) -> str:
    """Text trace of an episode: "Time / Input Tape / Output Tape" columns.

    Args:
      states: one EnvState, a list of EnvStates, or an EnvState whose leaves have a
        leading time axis (e.g. the stacked states of a `lax.scan` rollout, with the
        reset state first). Batched trajectories must be sliced to one episode.

    Returns:
      A multi-line string (see `rltape.envs.render`).
    """
    from rltape.envs import render as _render

    return _render.render(self, states)

  def __repr__(self) -> str:
    return (
        f"{type(self).__name__}(name={self.name!r}, base={self.base}, "
        f"max_length={self.max_length}, moves={self.moves})"
    )
