"""Host-side encoding and decoding: Python ints <-> digit lists <-> model rows,
and the stripped (DNGPU) target form.

Part of ``neuralgpu.tasks`` (see the package docstring for the encoding).
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from neuralgpu.tasks.vocab import (
    DIGIT_OFFSET,
    PAD,
    Task,
    _check_mode,
    get_task,
    _require_arithmetic,
)


def int_to_digits(value: int, base: int, width: int | None = None) -> list[int]:
  """Little-endian digits of a non-negative int (at least one digit)."""
  if value < 0:
    raise ValueError(f"Negative value {value} cannot be encoded.")
  digits = []
  while True:
    value, d = divmod(value, base)
    digits.append(d)
    if value == 0:
      break
  if width is not None:
    if len(digits) > width:
      raise ValueError(f"{len(digits)} digits do not fit in width {width}.")
    digits += [0] * (width - len(digits))
  return digits


def digits_to_int(digits: Sequence[int], base: int) -> int:
  """Inverse of :func:`int_to_digits`."""
  value = 0
  for d in reversed(list(digits)):
    value = value * base + int(d)
  return value


def encode_example(
    task: Task | str, a: int, b: int, length: int | None = None, mode: str = "uniform"
) -> tuple[np.ndarray, np.ndarray]:
  """Host-side encoding of ``a OP b`` and its answer.

  Args:
    task: arithmetic task or name.
    a: first operand (non-negative Python int).
    b: second operand.
    length: row length. For ``"uniform"``/``"zero_padded"`` operands get
      ``k = (length-1)//2`` digits each (leading zeros); for ``"unpadded"`` the
      example takes ``p+q+1`` positions and the row is padded to ``length``.
      None picks the smallest length that fits.
    mode: layout (the two fixed-layout modes encode identically).

  Returns:
    ``(inputs, targets)``, np.int32[length] each.

  Raises:
    ValueError: operands that do not fit, negative operands, bad task/mode.
  """
  task = get_task(task)
  _require_arithmetic(task)
  _check_mode(mode)
  for name, v in (("a", a), ("b", b)):
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 0:
      raise ValueError(f"Operand {name}={v!r} must be a non-negative int.")
  da = int_to_digits(int(a), task.base)
  db = int_to_digits(int(b), task.base)
  if mode == "unpadded":
    need = len(da) + len(db) + 1
  else:
    need = 2 * max(len(da), len(db)) + 1
  if length is None:
    length = need
  if not isinstance(length, (int, np.integer)) or length < need:
    raise ValueError(
        f"Operands {a} and {b} need length >= {need} in base {task.base} "
        f"(mode {mode!r}); got length={length!r}."
    )
  if mode != "unpadded":
    k = (length - 1) // 2
    da, db = da + [0] * (k - len(da)), db + [0] * (k - len(db))
  n = len(da) + len(db) + 1
  result = int_to_digits(task.apply(int(a), int(b)), task.base, width=n)
  inputs = np.zeros((length,), np.int32)
  targets = np.zeros((length,), np.int32)
  inputs[:n] = [d + DIGIT_OFFSET for d in da] + [task.operator] + [d + DIGIT_OFFSET for d in db]
  targets[:n] = [d + DIGIT_OFFSET for d in result]
  return inputs, targets


def encode_question(
    task: Task | str, a: int, b: int, length: int | None = None, mode: str = "uniform"
) -> np.ndarray:
  """Input row asking ``a OP b`` (see :func:`encode_example`)."""
  return encode_example(task, a, b, length, mode)[0]


def _prefix_length(row: np.ndarray, what: str) -> int:
  """Length of the non-zero prefix; raises if padding is not a suffix."""
  nz = np.flatnonzero(row != PAD)
  n = 0 if nz.size == 0 else int(nz[-1]) + 1
  if np.any(row[:n] == PAD):
    raise ValueError(f"{what} has padding inside its content: {row.tolist()}")
  return n


def _symbols_to_digits(symbols, base, what):
  digits = [int(s) - DIGIT_OFFSET for s in symbols]
  bad = [s for s, d in zip(symbols, digits) if not 0 <= d < base]
  if bad:
    raise ValueError(
        f"{what} has symbols {bad} that are not base-{base} " f"digits ({DIGIT_OFFSET}..{base})."
    )
  return digits


def decode_example(task: Task | str, inputs_row, targets_row=None):
  """Decodes one row (strictly: malformed rows raise ValueError).

  Args:
    task: the task or its name.
    inputs_row: 1-D int array (numpy or anything ``np.asarray`` accepts).
    targets_row: optional 1-D target row.

  Returns:
    Arithmetic: ``(a, b, c)`` Python ints, ``c`` None without targets; the
    target must be digits exactly where the input is non-padding.
    Sequence tasks: ``(x, None, y)`` lists of alphabet values ``0..base-1``
    (``y`` None without targets).
  """
  task = get_task(task)
  inputs_row = np.asarray(inputs_row)
  n = _prefix_length(inputs_row, "inputs")
  content = inputs_row[:n]
  y = None
  if targets_row is not None:
    targets_row = np.asarray(targets_row)
    m = _prefix_length(targets_row, "targets")
  if not task.is_arithmetic:
    x = _symbols_to_digits(content, task.base, "inputs")
    if targets_row is not None:
      y = _symbols_to_digits(targets_row[:m], task.base, "targets")
    return x, None, y
  ops = np.flatnonzero(content == task.operator)
  if ops.size != 1:
    raise ValueError(
        f"inputs must hold exactly one operator symbol "
        f"{task.operator}, found {ops.size}: {content.tolist()}"
    )
  op = int(ops[0])
  a = digits_to_int(_symbols_to_digits(content[:op], task.base, "a"), task.base)
  b = digits_to_int(_symbols_to_digits(content[op + 1 :], task.base, "b"), task.base)
  if op == 0 or op == n - 1:
    raise ValueError(f"An operand is empty: {content.tolist()}")
  if targets_row is not None:
    if m != n:
      raise ValueError(f"targets cover {m} positions, inputs {n}.")
    y = digits_to_int(_symbols_to_digits(targets_row[:m], task.base, "c"), task.base)
  return a, b, y


TARGET_FORMS = ("zero_extended", "stripped")


def strip_high_zeros(targets: jax.Array) -> jax.Array:
  """DNGPU's target form (Freivalds & Liepins 2017; their data generator): the result's
  high zero digits become padding (symbol 0), keeping at least its lowest digit, so
  the target is the number's own digits followed by padding. Jittable, ``[B, n]``."""
  targets = jnp.asarray(targets)
  idx = jnp.arange(targets.shape[-1])
  top = jnp.max(jnp.where(targets > 1, idx, 0), axis=-1, keepdims=True)  # symbol 1 = digit 0
  return jnp.where((idx <= top) & (targets > 0), targets, 0)


def decode_stripped(task: Task | str, row) -> int:
  """The integer of a stripped target (or prediction) row: digits up to the first
  padding symbol; ValueError if a digit follows padding or a symbol is not a digit."""
  task = get_task(task)
  row = np.asarray(row)
  n = _prefix_length(row, "stripped row")
  return digits_to_int(_symbols_to_digits(row[:n], task.base, "stripped row"), task.base)


def decode_answer(task: Task | str, predicted_symbols_row, length: int | None = None) -> int:
  """Integer from predicted symbols (little-endian digits).

  Args:
    task: arithmetic task or name.
    predicted_symbols_row: 1-D symbols.
    length: number of leading positions to read (e.g. the input's non-padding
      length); None reads up to the trailing padding.

  Raises:
    ValueError: a symbol that is not a digit of the base within the read span.
  """
  task = get_task(task)
  _require_arithmetic(task)
  row = np.asarray(predicted_symbols_row)
  if length is None:
    length = _prefix_length(row, "prediction")
  return digits_to_int(_symbols_to_digits(row[:length], task.base, "prediction"), task.base)
