"""Tasks of "Learning Simple Algorithms from Examples" (Zaremba et al. 2016).

Rules shared by the family (as in the paper and its public code, except where said):
  * Base 10 digits. The agent acts with a head move x write-or-not (the Q-head's joint
    discrete action; 2 moves on a tape, 4 on a grid) and the written symbol comes from
    its separate prediction head: all three travel in the env action
    (move, write, symbol).
  * Reward 1 per correct prediction (write); a wrong prediction gives 0 and ends the
    episode; writing every target ends it. There is no negative reward.
  * `info["targets_left"]` is the number of predictions left, the Vhat(t) of the
    paper's dynamic discount.
  * Time limit (the paper's code instead ends an episode after complexity + 2 steps
    without a prediction; we choose a fixed cap in gym's spirit): an episode may take
    at most (input cells the algorithm has to visit) + (number of targets) + 4 steps;
    the step that reaches the cap is truncated (reward kept, no penalty). The caps and
    the optimal solution lengths (see `rltape.envs.oracle_policies`) are:
        copy    cap 2L + 4          optimal L
        reverse cap 2L + 4          optimal 2L + 1
        walk    cap 3K + 5 (K = leg length, see below)   optimal 2K + 1
        add2    cap 2L + (L+1) + 4  optimal 2L + 1
        add3    cap 3L + (L+1) + 4  optimal 3L + 1
        mul1    cap (L+1) + (L+1) + 4   optimal L + 2
  * Complexity curriculum (`rltape.envs.curriculum`): complexity starts at 6 and grows
    by 4 when whole-sequence accuracy (all targets right) reaches 0.995; as in the
    paper's code an episode draws its length from [complexity - 4, complexity]. Here
    `EnvParams.length` is the input length (columns) of every task; the paper's code
    counts cells for the addition grids (rows x columns).

Tasks and input layouts (L = the sampled length):
  lsa/copy     tape [L] of digits; target = the tape. Head at column 0.
  lsa/reverse  tape [L] of digits; target = the tape reversed. The head starts at
               column 0 and finds the end by reading the blank past it (the paper's code
               marks the ends with extra symbols; the blank plays that role here).
  lsa/walk     grid of digits with one turn symbol. Symbols: digits 0-9 and the turn
               symbols 10 = 'l' (turn left), 11 = 'u' (turn up), 12 = 'd' (turn down), so
               `base` = 13 although only digits are ever targets. With leg length
               K = max(1, L // 2) the active grid has 2K + 1 rows and K + 1 columns, every
               cell a random digit (distractors, like the paper's infinite random board)
               except the turn symbol at (middle row, column K). The head starts at
               (middle row, column 0), walks right over K digits (nothing to write), meets
               the turn symbol, turns, and must write the K digits it then walks over
               (to the grid's edge). Static storage is [2 M + 1, M + 1], M = max_length
               // 2; `reset_to` takes any grid [2k + 1, c] (odd rows, c <= M + 1) and
               centres it vertically; its middle row must hold exactly one turn symbol
               and no other cell may.
  lsa/add2     grid [2, L]: column c holds the c-th least significant digit of each
               addend (the paper lays numbers out most-significant-first and starts the
               head on the last digit; this is its mirror image, so the head reads
               rightwards). Target = the sum little-endian, always L + 1 digits (the last
               is the final carry, possibly 0, as in the paper's code). The head starts
               on (row 0, column 0). Moves: left, right, up, down.
  lsa/add3     the same with 3 rows. Its "extra curriculum" (the talk's slide: start
               with small numbers that need no carry): with probability
               `EnvParams.no_carry_frac` an episode draws every digit from
               [0, (base - 1) // rows] = [0, 3], so no column ever carries. The curriculum
               uses no_carry_frac = 1 while complexity <= 12, 0.5 while <= 16, then 0
               (the thresholds of the paper's code). lsa/add2 honours the same param
               (default 0).
  lsa/mul1     grid [2, L]: (row 0, column 0) holds the single digit d (2..9 when
               sampled, as in the paper's code), the rest of row 0 is blank; row 1 holds
               the multi-digit number, least significant digit in column 0. Target =
               d x number little-endian, always L + 1 digits (the last is the final
               carry, possibly 0). The head starts on (0, 0).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from rltape.envs.core import AlgorithmicEnv, make_params
from rltape.envs.digits import carry_digits
from rltape.envs.hashing import uniform_below, uniform_unit

LSA_BASE = 10
START_COMPLEXITY = 6


class LsaEnv(AlgorithmicEnv):
  """Common LSA rules: +1 per correct write, 0 and the end on a wrong one."""

  family = "lsa"
  reward_correct = 1.0
  reward_wrong = 0.0
  reward_timeout = None

  @property
  def default_params(self):
    return make_params(min(START_COMPLEXITY, self.max_length), 0, 0.0)


class LsaTapeEnv(LsaEnv):
  """LSA task on a 1-D tape of digits."""

  def __init__(self, *, max_length: int = 100, moves=None, base: int = LSA_BASE):
    super().__init__(
        base=base,
        max_length=max_length,
        rows=1,
        cols=max_length,
        max_targets=max_length,
        moves=moves,
    )

  def _time_cap(self, width, num_targets):
    return width + num_targets + 4

  def _sample(self, seeds, length, params):
    del params
    digits = uniform_below(seeds, (self.cols,), self.base, stream=1)
    row = jnp.where(jnp.arange(self.cols) < length, digits, self.blank)
    return row[None, :].astype(jnp.int8), length

  def _targets(self, inputs, width):
    i = jnp.arange(self.max_targets)
    src = jnp.clip(self._source_index(i, width), 0, self.cols - 1)
    return jnp.where(i < width, inputs[0].astype(jnp.int32)[src], -1), width


class LsaCopy(LsaTapeEnv):
  """lsa/copy: write the input tape."""

  name = "lsa/copy"

  def _source_index(self, i, width):
    return i


class LsaReverse(LsaTapeEnv):
  """lsa/reverse: write the input tape reversed."""

  name = "lsa/reverse"

  def _source_index(self, i, width):
    return width - 1 - i


class LsaAddition(LsaEnv):
  """lsa/add2 and lsa/add3: multi-row addition, read column by column."""

  grid = True

  def __init__(self, *, rows: int = 2, max_length: int = 100, moves=None, base: int = LSA_BASE):
    if rows not in (2, 3):
      raise ValueError(f"lsa addition: rows must be 2 or 3, got {rows!r}")
    self.name = f"lsa/add{rows}"
    self.num_rows = rows
    super().__init__(
        base=base,
        max_length=max_length,
        rows=rows,
        cols=max_length,
        max_targets=max_length + 1,
        moves=moves,
    )
    self.small_digit_max = (self.base - 1) // rows

  def _time_cap(self, width, num_targets):
    return self.num_rows * width + num_targets + 4

  def _sample(self, seeds, length, params):
    easy = uniform_unit(seeds, stream=2) < params.no_carry_frac
    high = jnp.where(easy, self.small_digit_max + 1, self.base)
    digits = uniform_below(seeds, (self.rows, self.cols), high, stream=1)
    col = jnp.arange(self.cols)[None, :]
    return jnp.where(col < length, digits, self.blank).astype(jnp.int8), length

  def _targets(self, inputs, width):
    col = jnp.arange(self.cols)
    vals = jnp.where(col[None, :] < width, inputs.astype(jnp.int32), 0)
    digits, carry_out = carry_digits(vals.sum(0), self.base, self.rows - 1)
    return _digits_and_final_carry(digits, carry_out, width, self.max_targets)


def _digits_and_final_carry(digits, carry_out, width, max_targets):
  """Targets = digits[:width] then the final carry (always emitted)."""
  cols = digits.shape[0]
  final = carry_out[jnp.clip(width - 1, 0, cols - 1)]
  i = jnp.arange(max_targets)
  padded = jnp.concatenate([digits, jnp.zeros((max_targets - cols,), jnp.int32)])
  targets = jnp.where(i < width, padded, jnp.where(i == width, final, -1))
  return targets, width + 1


class LsaMul1(LsaEnv):
  """lsa/mul1: a multi-digit number times a single digit."""

  name = "lsa/mul1"
  grid = True

  def __init__(self, *, max_length: int = 100, moves=None, base: int = LSA_BASE):
    super().__init__(
        base=base,
        max_length=max_length,
        rows=2,
        cols=max_length,
        max_targets=max_length + 1,
        moves=moves,
    )

  def _time_cap(self, width, num_targets):
    return (width + 1) + num_targets + 4

  def _sample(self, seeds, length, params):
    del params
    low = min(2, self.base - 1)
    high = np.full((self.cols + 1,), self.base, np.int32)
    high[0] = self.base - low
    draws = uniform_below(seeds, (self.cols + 1,), high, stream=1)
    d, number = low + draws[0], draws[1:]
    col = jnp.arange(self.cols)
    row0 = jnp.where(col == 0, d, self.blank)
    row1 = jnp.where(col < length, number, self.blank)
    return jnp.stack([row0, row1]).astype(jnp.int8), length

  def _validate_inputs(self, inputs):
    super()._validate_inputs(inputs[:, :1])
    super()._validate_inputs(inputs[1:])
    if (inputs[0, 1:] != self.blank).any():
      raise ValueError(
          f"{self.name}: row 0 must hold the single digit in column 0 and the "
          f"blank id {self.blank} elsewhere, got row 0 = {inputs[0].tolist()}"
      )

  def _targets(self, inputs, width):
    col = jnp.arange(self.cols)
    d = inputs[0, 0].astype(jnp.int32)
    number = jnp.where(col < width, inputs[1].astype(jnp.int32), 0)
    digits, carry_out = carry_digits(d * number, self.base, self.base - 1)
    return _digits_and_final_carry(digits, carry_out, width, self.max_targets)


TURN_SYMBOLS = ("l", "u", "d")


class LsaWalk(LsaEnv):
  """lsa/walk: walk right to a turn symbol, turn, write the digits walked over."""

  name = "lsa/walk"
  grid = True
  extra_symbols = TURN_SYMBOLS

  def __init__(self, *, max_length: int = 100, moves=None):
    self.max_leg = max(1, max_length // 2)
    self.num_digits = LSA_BASE
    super().__init__(
        base=LSA_BASE + len(TURN_SYMBOLS),
        max_length=max_length,
        rows=2 * self.max_leg + 1,
        cols=self.max_leg + 1,
        max_targets=self.max_leg,
        moves=moves,
        head_start=(self.max_leg, 0),
    )
    # Directions (drow, dcol) of the turn symbols l, u, d.
    self._turn_dirs = np.asarray([(0, -1), (-1, 0), (1, 0)], np.int32)

  def _static_max_steps(self):
    return int(self._time_cap(self.max_leg + 1, self.max_leg))

  def _time_cap(self, width, num_targets):
    # width = K + 1 active columns; path = K digits + the turn cell + targets.
    return width + num_targets + num_targets + 4

  def _sample(self, seeds, length, params):
    del params
    leg = jnp.clip(length // 2, 1, self.max_leg)
    mid = self.max_leg
    digits = uniform_below(seeds, (self.rows, self.cols), self.num_digits, stream=1)
    r = jnp.arange(self.rows)[:, None]
    c = jnp.arange(self.cols)[None, :]
    active = (jnp.abs(r - mid) <= leg) & (c <= leg)
    turn = self.num_digits + uniform_below(seeds, (), len(TURN_SYMBOLS), stream=2)
    grid = jnp.where(active, digits, self.blank)
    grid = jnp.where((r == mid) & (c == leg), turn, grid)
    return grid.astype(jnp.int8), leg + 1

  def _embed(self, inputs):
    if inputs.ndim != 2 or inputs.shape[0] % 2 != 1:
      raise ValueError(
          f"{self.name}: inputs must be a grid [2k + 1, c] (odd number of rows), "
          f"got shape {inputs.shape}"
      )
    if inputs.shape[0] > self.rows or not 2 <= inputs.shape[1] <= self.cols:
      raise ValueError(
          f"{self.name}: grid shape must be at most [{self.rows}, {self.cols}] "
          f"with at least 2 columns (max_length={self.max_length}), got "
          f"{inputs.shape}"
      )
    return inputs, inputs.shape[1]

  def _validate_inputs(self, inputs):
    super()._validate_inputs(inputs)
    mid = inputs.shape[0] // 2
    is_turn = inputs >= self.num_digits
    if is_turn[mid].sum() != 1 or is_turn.sum() != 1:
      raise ValueError(
          f"{self.name}: the grid must hold exactly one turn symbol (ids "
          f"{self.num_digits}..{self.base - 1}), in its middle row {mid}; found "
          f"{int(is_turn.sum())} in total, {int(is_turn[mid].sum())} in the "
          f"middle row"
      )

  def _store_np(self, grid):
    off = self.max_leg - grid.shape[0] // 2
    stored = np.full((self.rows, self.cols), self.blank, np.int8)
    stored[off : off + grid.shape[0], : grid.shape[1]] = grid
    return stored

  def _store(self, inputs):
    off = self.max_leg - inputs.shape[0] // 2
    stored = jnp.full((self.rows, self.cols), self.blank, jnp.int8)
    return jax.lax.dynamic_update_slice(stored, inputs.astype(jnp.int8), (off, 0))

  def _targets(self, inputs, width):
    mid = self.max_leg
    row = inputs[mid].astype(jnp.int32)
    c = jnp.arange(self.cols)
    is_turn = (row >= self.num_digits) & (row < self.base) & (c < width)
    has_turn = is_turn.any()
    turn_col = jnp.argmax(is_turn)
    sym = jnp.clip(row[turn_col] - self.num_digits, 0, len(TURN_SYMBOLS) - 1)
    d = jnp.asarray(self._turn_dirs)[sym]
    k = jnp.arange(1, self.max_targets + 1)
    rr = mid + k * d[0]
    cc = turn_col + k * d[1]
    inside = (rr >= 0) & (rr < self.rows) & (cc >= 0) & (cc < self.cols)
    vals = inputs[jnp.clip(rr, 0, self.rows - 1), jnp.clip(cc, 0, self.cols - 1)].astype(jnp.int32)
    ok = inside & (vals < self.num_digits) & has_turn
    ok = jnp.cumprod(ok.astype(jnp.int32)).astype(bool)
    return jnp.where(ok, vals, -1), ok.sum().astype(jnp.int32)
