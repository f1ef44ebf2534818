"""The OpenAI Gym algorithmic tasks (gym 0.19.0), plus RL-NTM's ForwardReverse.

Rules, as in OpenAI Gym's `gym/envs/algorithmic/algorithmic_env.py` (gym 0.19.0):
  * Observation: the symbol under the read head, Discrete(base + 1); id `base` is the
    blank seen off the tape/grid. The head starts at column 0 (row 0 on a grid).
  * Action: (move, write-or-not, symbol). Tape moves {left, right}; grid moves
    {left, right, up, down} (up = row - 1).
  * Rewards: correct write +1; wrong write -0.5 and the episode ends; writing the
    whole target ends it; running past the time limit gives -1 and ends it (gym checks
    `time > time_limit` after incrementing time, so step `time_limit + 1` is the
    truncated one; its reward is -1 whatever it wrote).
  * Time limit: input_width + len(target) + 4; the addition grids use gym's quirk
    2 * input_width + 4. That quirk makes ReversedAddition3 unsolvable beyond width 3
    (3 rows x width cells must be visited); `make("ReversedAddition3",
    time_limit_rule="per_row")` uses rows * input_width + 4 instead (identical to gym
    for 2 rows). The registry's outer `max_episode_steps=200` wrapper is not applied:
    it only matters past gym's own curriculum range and would make length 100
    unsolvable.
  * Inputs: uniform symbols (`rltape.envs.hashing.uniform_below`). DuplicatedInput draws length // 2 symbols (at least one)
    and repeats each twice, so odd lengths round down (gym's rule).
  * Curriculum (see `rltape.envs.curriculum`): input length = min_length + U{0, 1, 2}
    (`EnvParams.length` = min_length, `length_jitter` = 2); min_length starts at 2 (1
    for Reverse and ForwardReverse) and grows by 1 (up to 30) when the last 10 episodes
    (50 for Reverse and RepeatCopy) all fell short of the full reward by at most 1.0
    (0.1 for Reverse and RepeatCopy).

Tasks (defaults as registered in gym):
  Copy             base 5, target = x.
  DuplicatedInput  base 5, input x0 x0 x1 x1 ..., target = x0 x1 ...
  RepeatCopy       base 5, target = x, reversed(x), x.
  Reverse          base 2, target = reversed(x).
  ReversedAddition base 3, 2-row grid read column by column; column 0 holds the least
                   significant digits; target = the sum little-endian, with a final
                   carry digit only when it is non-zero.
  ReversedAddition3 the same with 3 rows.
  ForwardReverse   (RL-NTM) base 5, target = reversed(x), but the read head may only
                   stay or move right: moves default to (0, 1), so the input must be
                   remembered (with the memory tape of `rltape.envs.memory`). Rewards,
                   time limit and curriculum as gym's Reverse.
"""

from __future__ import annotations

import jax.numpy as jnp

from rltape.envs.core import AlgorithmicEnv, make_params
from rltape.envs.digits import carry_digits
from rltape.envs.hashing import uniform_below


class GymTapeEnv(AlgorithmicEnv):
  """A gym algorithmic task on a 1-D input tape."""

  family = "gym"
  default_base = 5
  starting_min_length = 2
  promotion_window = 10
  promotion_threshold = -1.0

  def __init__(self, *, base: int | None = None, max_length: int = 32, moves=None):
    base = self.default_base if base is None else base
    super().__init__(
        base=base,
        max_length=max_length,
        rows=1,
        cols=max_length,
        max_targets=self._max_targets(max_length),
        moves=moves,
        min_max_length=self.min_max_length,
    )

  min_max_length = 1

  @staticmethod
  def _max_targets(max_length: int) -> int:
    return max_length

  @property
  def default_params(self):
    return make_params(min(self.starting_min_length, self.max_length), 2)

  def _time_cap(self, width, num_targets):
    return width + num_targets + 4 + 1

  def _sample(self, seeds, length, params):
    del params
    digits = uniform_below(seeds, (self.cols,), self.base, stream=1)
    col = jnp.arange(self.cols)
    row = jnp.where(col < length, digits, self.blank)
    return row[None, :].astype(jnp.int8), length

  def _source_index(self, i, width):
    """Input column that target i copies (tasks whose targets are input symbols)."""
    raise NotImplementedError

  def _num_targets(self, width):
    return width

  def _static_targets(self, tape):
    """Targets [max_targets] as static slices of the tape (garbage past num_targets),
    or None when they depend on the width (then they are gathered).

    Measured on CPU under `vmap` (4096 envs, length 10): the gather with the
    identity index of Copy cost 8x sampling the input, while a static slice is
    free; gathers with width-dependent indices (Reverse) are cheap, and a barrel
    shifter in place of them was 4x slower than the gather.
    """
    return None

  def _targets(self, inputs, width):
    n = self._num_targets(width)
    i = jnp.arange(self.max_targets)
    tape = inputs[0].astype(jnp.int32)
    vals = self._static_targets(tape)
    if vals is None:
      vals = tape[jnp.clip(self._source_index(i, width), 0, self.cols - 1)]
    return jnp.where(i < n, vals, -1), n


class Copy(GymTapeEnv):
  """Copy the input tape to the output tape (gym Copy-v0)."""

  name = "Copy"
  chars = True

  def _source_index(self, i, width):
    return i

  def _static_targets(self, tape):
    return tape


class Reverse(GymTapeEnv):
  """Write the input tape reversed (gym Reverse-v0); the head starts at column 0."""

  name = "Reverse"
  chars = True
  default_base = 2
  starting_min_length = 1
  promotion_window = 50
  promotion_threshold = -0.1

  def _source_index(self, i, width):
    return width - 1 - i


class ForwardReverse(Reverse):
  """Reverse with a read head that only stays or moves right (RL-NTM)."""

  name = "ForwardReverse"
  default_base = 5
  tape_moves_default = (0, 1)


class RepeatCopy(GymTapeEnv):
  """Write x, reversed x, x (gym RepeatCopy-v0)."""

  name = "RepeatCopy"
  chars = True
  promotion_window = 50
  promotion_threshold = -0.1

  @staticmethod
  def _max_targets(max_length):
    return 3 * max_length

  def _num_targets(self, width):
    return 3 * width

  def _source_index(self, i, width):
    w = jnp.maximum(width, 1)
    seg, j = i // w, i % w
    return jnp.where(seg == 1, w - 1 - j, j)


class DuplicatedInput(GymTapeEnv):
  """Input x0 x0 x1 x1 ...; write every symbol once (gym DuplicatedInput-v0)."""

  name = "DuplicatedInput"
  chars = True
  min_max_length = 2

  @staticmethod
  def _max_targets(max_length):
    return max_length // 2

  def _sample(self, seeds, length, params):
    del params
    pairs = jnp.maximum(length // 2, 1)
    width = 2 * pairs
    digits = uniform_below(seeds, ((self.cols + 1) // 2,), self.base, stream=1)
    col = jnp.arange(self.cols)
    row = jnp.where(col < width, digits[col // 2], self.blank)
    return row[None, :].astype(jnp.int8), width

  def _num_targets(self, width):
    return width // 2

  def _source_index(self, i, width):
    return 2 * i

  def _static_targets(self, tape):
    return tape[0 : 2 * self.max_targets : 2]


class ReversedAddition(AlgorithmicEnv):
  """Add the rows of a grid, little-endian (gym ReversedAddition-v0 / 3-v0).

  The grid is [rows, L]: column c holds the c-th least significant digit of each
  addend; the head starts on (row 0, column 0).
  """

  family = "gym"
  grid = True
  starting_min_length = 2
  promotion_window = 10
  promotion_threshold = -1.0
  default_base = 3

  def __init__(
      self,
      *,
      rows: int = 2,
      base: int | None = None,
      max_length: int = 32,
      time_limit_rule: str = "gym",
      moves=None,
  ):
    if rows not in (2, 3):
      raise ValueError(f"ReversedAddition: rows must be 2 or 3, got {rows!r}")
    if time_limit_rule not in ("gym", "per_row"):
      raise ValueError(
          "ReversedAddition: time_limit_rule must be 'gym' (2 * width + 4) or "
          f"'per_row' (rows * width + 4), got {time_limit_rule!r}"
      )
    self.name = "ReversedAddition" if rows == 2 else "ReversedAddition3"
    self.time_limit_rule = time_limit_rule
    self.num_rows = rows
    base = self.default_base if base is None else base
    super().__init__(
        base=base,
        max_length=max_length,
        rows=rows,
        cols=max_length,
        max_targets=max_length + 1,
        moves=moves,
    )

  @property
  def default_params(self):
    return make_params(min(self.starting_min_length, self.max_length), 2)

  def _time_cap(self, width, num_targets):
    factor = 2 if self.time_limit_rule == "gym" else self.num_rows
    return factor * width + 4 + 1

  def _sample(self, seeds, length, params):
    del params
    digits = uniform_below(seeds, (self.rows, self.cols), self.base, stream=1)
    col = jnp.arange(self.cols)[None, :]
    return jnp.where(col < length, digits, self.blank).astype(jnp.int8), length

  def _targets(self, inputs, width):
    col = jnp.arange(self.cols)
    vals = jnp.where(col[None, :] < width, inputs.astype(jnp.int32), 0)
    digits, carry_out = carry_digits(vals.sum(0), self.base, self.rows - 1)
    final = carry_out[jnp.clip(width - 1, 0, self.cols - 1)]
    i = jnp.arange(self.max_targets)
    padded = jnp.concatenate([digits, jnp.zeros((1,), jnp.int32)])
    targets = jnp.where(i < width, padded, jnp.where(i == width, final, -1))
    n = width + (final > 0).astype(jnp.int32)
    targets = jnp.where(i < n, targets, -1)
    return targets, n
