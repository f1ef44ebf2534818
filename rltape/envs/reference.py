"""Plain-Python reference environments: an independent oracle and a speed baseline.

Written from the rules of gym 0.19.0's `gym/envs/algorithmic` (OpenAI Gym's
algorithmic environments, which cannot easily be installed today) and from the LSA
rules documented in `rltape.envs.lsa_tasks`, one environment at a time, with nothing
but the standard library (no numpy, no JAX). The structure follows gym's: a Python
`random.Random` draws inputs, `step` mutates the object, grids are lists of columns
read as `input_data[x][y]`, the curriculum check runs at `reset`. Targets come from
Python integers (the addition and multiplication tasks convert rows to ints, add or
multiply, and convert back), not from the column-wise carries of the JAX code.

Used by `tests/rltape/test_envs*.py` (same actions must give the same observations,
rewards and episode ends as the JAX envs) and by `benchmarks/bench_envs.py` as the
single-process baseline.
"""

from __future__ import annotations

import random

GYM_TASKS = {
    # name: (base, starting_min_length, window, threshold)
    "Copy": (5, 2, 10, -1.0),
    "DuplicatedInput": (5, 2, 10, -1.0),
    "RepeatCopy": (5, 2, 50, -0.1),
    "Reverse": (2, 1, 50, -0.1),
    "ForwardReverse": (5, 1, 50, -0.1),
    "ReversedAddition": (3, 2, 10, -1.0),
    "ReversedAddition3": (3, 2, 10, -1.0),
}
LSA_TASKS = ("lsa/copy", "lsa/reverse", "lsa/add2", "lsa/add3", "lsa/mul1", "lsa/walk")
TURNS = {10: (-1, 0), 11: (0, -1), 12: (0, 1)}  # symbol -> (dx, dy): l, u, d


def _digits_le(n: int, base: int, width: int) -> list[int]:
  """Little-endian digits of n, at least `width` of them."""
  out = []
  while n > 0 or len(out) < width:
    out.append(n % base)
    n //= base
  return out


def _int_le(digits, base: int) -> int:
  return sum(d * base**i for i, d in enumerate(digits))


class ReferenceEnv:
  """One algorithmic environment, gym 0.19.0 style, in plain Python.

  Args:
    name: a gym-family or LSA-family task name (as in `rltape.envs.make`).
    seed: seed of the Python RNG.
    base: overrides the task's base.
    moves: tape head deltas (default (-1, 1); ForwardReverse (0, 1)).
    time_limit_rule: "gym" or "per_row" (addition grids of the gym family).
  """

  def __init__(
      self,
      name: str,
      seed: int = 0,
      base: int | None = None,
      moves=None,
      time_limit_rule: str = "gym",
  ):
    if name not in GYM_TASKS and name not in LSA_TASKS:
      raise ValueError(f"unknown reference task {name!r}")
    self.name = name
    self.gym = name in GYM_TASKS
    if self.gym:
      dbase, self.min_length, self.last, self.threshold = GYM_TASKS[name]
    else:
      dbase, self.min_length, self.last, self.threshold = 10, 6, 0, 0.0
    self.base = dbase if base is None else base
    if name == "lsa/walk":
      self.base = 13
    self.rows = {
        "ReversedAddition": 2,
        "ReversedAddition3": 3,
        "lsa/add2": 2,
        "lsa/add3": 3,
        "lsa/mul1": 2,
    }.get(name, 1)
    self.is_grid = self.rows > 1 or name == "lsa/walk"
    if self.is_grid:
      self.movements = [(-1, 0), (1, 0), (0, -1), (0, 1)]  # left right up down as (dx, dy)
    else:
      default = (0, 1) if name == "ForwardReverse" else (-1, 1)
      self.movements = [(m, 0) for m in (default if moves is None else moves)]
    self.time_limit_rule = time_limit_rule
    self.random = random.Random(seed)
    self.reward_shortfalls = []
    self.episode_total_reward = None
    self.no_carry_frac = 0.0

  # ------------------------------------------------------------ data and targets
  def generate_input_data(self, size: int):
    """Tape: list of symbols. Grid: list of columns, each a list over rows."""
    rnd = self.random.randrange
    if self.name == "DuplicatedInput":
      size = max(size, 2)
      return [c for _ in range(size // 2) for c in (rnd(self.base),) * 2]
    if self.name in ("lsa/add2", "lsa/add3") and self.random.random() < self.no_carry_frac:
      top = (self.base - 1) // self.rows
      return [[rnd(top + 1) for _ in range(self.rows)] for _ in range(size)]
    if self.name == "lsa/mul1":
      d = rnd(self.base - 2) + 2
      return [[d if x == 0 else None, rnd(self.base)] for x in range(size)]
    if self.name == "lsa/walk":
      leg = max(1, size // 2)
      cols = [[rnd(10) for _ in range(2 * leg + 1)] for _ in range(leg + 1)]
      cols[leg][leg] = 10 + rnd(3)
      return cols
    if self.is_grid:
      return [[rnd(self.base) for _ in range(self.rows)] for _ in range(size)]
    return [rnd(self.base) for _ in range(size)]

  def target_from_input_data(self, data):
    n = self.name
    if n in ("Copy", "lsa/copy"):
      return list(data)
    if n in ("Reverse", "ForwardReverse", "lsa/reverse"):
      return list(reversed(data))
    if n == "RepeatCopy":
      return list(data) + list(reversed(data)) + list(data)
    if n == "DuplicatedInput":
      return [data[i] for i in range(0, len(data), 2)]
    if n in ("ReversedAddition", "ReversedAddition3", "lsa/add2", "lsa/add3"):
      width = len(data)
      total = sum(_int_le([col[r] for col in data], self.base) for r in range(self.rows))
      digits = _digits_le(total, self.base, width)
      if not self.gym:  # the final carry is always a target, even when 0
        digits = _digits_le(total, self.base, width + 1)
      return digits
    if n == "lsa/mul1":
      d = data[0][0]
      number = _int_le([col[1] for col in data], self.base)
      return _digits_le(d * number, self.base, len(data) + 1)
    if n == "lsa/walk":
      mid = len(data[0]) // 2
      x = next(i for i, col in enumerate(data) if col[mid] >= 10)
      dx, dy = TURNS[data[x][mid]]
      y, out = mid, []
      while True:
        x, y = x + dx, y + dy
        if not (0 <= x < len(data) and 0 <= y < len(data[0])) or data[x][y] >= 10:
          return out
        out.append(data[x][y])
    raise AssertionError(n)

  @property
  def input_width(self) -> int:
    return len(self.input_data)

  @property
  def time_limit(self) -> int:
    """gym: the last step that is not penalised; LSA: the largest episode length."""
    w, t = self.input_width, len(self.target)
    if self.gym:
      if self.is_grid:
        return (2 if self.time_limit_rule == "gym" else self.rows) * w + 4
      return w + t + 4
    if self.name in ("lsa/copy", "lsa/reverse"):
      return w + t + 4
    if self.name in ("lsa/add2", "lsa/add3"):
      return self.rows * w + t + 4
    if self.name == "lsa/mul1":
      return (w + 1) + t + 4
    return w + 2 * t + 4  # lsa/walk

  # ------------------------------------------------------------------- episode
  def _get_obs(self):
    x, y = self.read_head_position
    if x < 0 or y < 0:
      return self.base
    try:
      v = self.input_data[x] if not self.is_grid else self.input_data[x][y]
    except IndexError:
      return self.base
    if not self.is_grid and y != 0:
      return self.base
    return self.base if v is None else v

  def _check_levelup(self):
    if not self.gym or self.episode_total_reward is None:
      return
    self.reward_shortfalls.append(self.episode_total_reward - len(self.target))
    self.reward_shortfalls = self.reward_shortfalls[-self.last :]
    if (
        len(self.reward_shortfalls) == self.last
        and min(self.reward_shortfalls) >= self.threshold
        and self.min_length < 30
    ):
      self.min_length += 1
      self.reward_shortfalls = []

  def reset(self, length: int | None = None):
    """Gym's reset: level-up check, then length = min_length + randrange(3)."""
    self._check_levelup()
    if length is None:
      length = self.random.randrange(3) + self.min_length
    return self.reset_to(self.generate_input_data(length))

  def reset_to(self, input_data):
    """Starts from given data (tape list, or grid as a list of columns)."""
    self.input_data = input_data
    self.target = self.target_from_input_data(input_data)
    if self.name == "lsa/walk":
      self.read_head_position = (0, len(input_data[0]) // 2)
    else:
      self.read_head_position = (0, 0)
    self.write_head_position = 0
    self.episode_total_reward = 0.0
    self.time = 0
    self.done = False
    return self._get_obs()

  def step(self, action):
    """Returns (obs, reward, done, info) with gym 0.19.0's rules (LSA: its rules)."""
    if self.done:
      raise RuntimeError("step() after the episode ended")
    inp_act, out_act, pred = action
    reward, done = 0.0, False
    self.time += 1
    correct = False
    if out_act == 1:
      if self.write_head_position < len(self.target):
        correct = pred == self.target[self.write_head_position]
      if correct:
        reward = 1.0
      else:
        reward = -0.5 if self.gym else 0.0
        done = True
      self.write_head_position += 1
      if self.write_head_position >= len(self.target):
        done = True
    terminated = done
    dx, dy = self.movements[inp_act]
    x, y = self.read_head_position
    self.read_head_position = (x + dx, y + dy)
    truncated = False
    if self.gym and self.time > self.time_limit:
      reward, done, truncated = -1.0, True, True
    if not self.gym and self.time >= self.time_limit and not done:
      done, truncated = True, True
    self.done = done
    self.episode_total_reward += reward
    return (
        self._get_obs(),
        reward,
        done,
        {"terminated": terminated, "truncated": truncated, "correct": correct},
    )


def to_columns(grid_rows):
  """[rows][L] (the JAX `reset_to` layout) -> list of columns (gym's layout)."""
  return [list(col) for col in zip(*grid_rows)]
