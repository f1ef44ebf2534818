"""The failure-case families of Price, Zaremba & Sutskever (2016, section 4) as
host-side numpy batches: carry chains, stretches of one digit, small padded operands.

Part of ``neuralgpu.tasks`` (see the package docstring for the encoding).
"""

from __future__ import annotations

import numpy as np

from neuralgpu.tasks.vocab import Task, get_task, _require_arithmetic
from neuralgpu.tasks.codec import digits_to_int, encode_example


def _rng(seed):
  return seed if isinstance(seed, np.random.Generator) else (np.random.default_rng(seed))


def _random_int_below(rng, bound: int) -> int:
  """Uniform int in [0, bound) for arbitrarily large Python ints."""
  if bound <= 0:
    raise ValueError(f"Empty range [0, {bound}).")
  nbits = max(1, (bound - 1).bit_length())
  while True:
    v = int.from_bytes(rng.bytes((nbits + 7) // 8), "little") >> ((8 - nbits % 8) % 8)
    if v < bound:
      return v


def _stack(pairs):
  inputs, targets = zip(*pairs)
  return np.stack(inputs), np.stack(targets)


def carry_chain_batch(
    task: Task | str,
    c: int,
    length: int,
    batch_size: int = 1,
    seed=0,
    minus_one: bool = False,
    mode: str = "uniform",
):
  """Additions whose sum is ``base**c`` (or ``base**c - 1``).

  With sum ``base**c`` and ``a`` not divisible by the base, position 0 sums to
  ``base`` and positions ``1..c-1`` to ``base-1`` plus the incoming carry, so
  exactly the positions ``0..c-1`` carry: a carry chain of exactly ``c``
  digits ending in the result digit 1 at position ``c``. With
  ``minus_one=True`` every position ``< c`` sums to ``base-1`` and nothing
  carries (the near miss a model must not propagate).

  Args:
    task: an addition task.
    c: chain length, ``1 <= c <= (length-1)//2`` (fixed layout) or such that
      both operands fit (unpadded).
    length: row length.
    batch_size: number of examples.
    seed: int seed or ``np.random.Generator``.
    minus_one: use ``base**c - 1`` as the sum.
    mode: layout for :func:`encode_example`.

  Returns:
    ``(inputs, targets)``, np.int32[batch_size, length].
  """
  task = get_task(task)
  if task.kind != "add":
    raise ValueError(f"Carry chains need an addition task, got {task.name!r}.")
  k = (length - 1) // 2 if isinstance(length, (int, np.integer)) else 0
  if not isinstance(c, (int, np.integer)) or not 1 <= c <= k:
    raise ValueError(f"Carry chain length c={c!r} must be in [1, {k}] for " f"length={length!r}.")
  rng = _rng(seed)
  base, total = task.base, task.base**c
  pairs = []
  for _ in range(batch_size):
    if minus_one:
      a = _random_int_below(rng, total)
      b = total - 1 - a
    else:
      a = base * _random_int_below(rng, base ** (c - 1)) + int(rng.integers(1, base))
      b = total - a
    pairs.append(encode_example(task, a, b, length, mode))
  return _stack(pairs)


def same_digit_stretch_batch(
    task: Task | str,
    length: int,
    digit: int,
    stretch: int,
    batch_size: int = 1,
    seed=0,
    operands: str = "both",
):
  """Operands with a long stretch of one repeated digit (fixed layout).

  Each chosen operand has ``k = (length-1)//2`` digits, uniform except for
  ``stretch`` consecutive copies of ``digit`` starting at a uniform offset in
  ``[0, k - stretch]`` (``stretch = k`` gives ``ddd...d``).

  Args:
    task: arithmetic task.
    length: row length.
    digit: the repeated digit, ``0 <= digit < base``.
    stretch: ``1 <= stretch <= k``.
    batch_size: number of examples.
    seed: int seed or ``np.random.Generator``.
    operands: ``"both"``, ``"a"`` or ``"b"``: which operands get the stretch.

  Returns:
    ``(inputs, targets)``, np.int32[batch_size, length].
  """
  task = get_task(task)
  _require_arithmetic(task)
  k = (length - 1) // 2 if isinstance(length, (int, np.integer)) else 0
  if not isinstance(digit, (int, np.integer)) or not 0 <= digit < task.base:
    raise ValueError(f"digit={digit!r} is not a base-{task.base} digit.")
  if not isinstance(stretch, (int, np.integer)) or not 1 <= stretch <= k:
    raise ValueError(f"stretch={stretch!r} must be in [1, {k}] for " f"length={length!r}.")
  if operands not in ("both", "a", "b"):
    raise ValueError(f"operands={operands!r} must be 'both', 'a' or 'b'.")
  rng = _rng(seed)

  def operand(with_stretch):
    digits = rng.integers(0, task.base, size=k)
    if with_stretch:
      start = int(rng.integers(0, k - stretch + 1))
      digits[start : start + stretch] = digit
    return digits_to_int(digits, task.base)

  pairs = []
  for _ in range(batch_size):
    a = operand(operands in ("both", "a"))
    b = operand(operands in ("both", "b"))
    pairs.append(encode_example(task, a, b, length, "uniform"))
  return _stack(pairs)


def zero_padded_small(task: Task | str, a, b, length: int):
  """Small operands written with leading zeros, e.g. ``000..002 x 000..001``.

  Args:
    task: arithmetic task.
    a: int or sequence of ints.
    b: int or sequence of ints (same count as ``a``).
    length: row length; operands get ``(length-1)//2`` digits each.

  Returns:
    ``(inputs, targets)``, np.int32[n, length].
  """
  a_list = [a] if np.ndim(a) == 0 else list(a)
  b_list = [b] if np.ndim(b) == 0 else list(b)
  if len(a_list) != len(b_list):
    raise ValueError(f"{len(a_list)} values of a but {len(b_list)} of b.")
  return _stack(
      [encode_example(task, int(x), int(y), length, "uniform") for x, y in zip(a_list, b_list)]
  )
