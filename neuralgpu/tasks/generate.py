"""On-device example generation: random and structured ("hard") operands, batches
per task or per traced base, and length sampling.

Part of ``neuralgpu.tasks`` (see the package docstring for the encoding).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from neuralgpu.tasks.vocab import (
    ARITHMETIC_KINDS,
    DIGIT_OFFSET,
    KINDS,
    MAX_BASE,
    PAD,
    PLUS,
    TIMES,
    Task,
    _check_base,
    _check_mode,
    _check_pad_to,
    _is_concrete,
    get_task,
    _min_length,
    _require_arithmetic,
)
from neuralgpu.tasks.digits import _add_digits, _mul_digits


def _uniform_below(bits: jax.Array, n) -> jax.Array:
  """Ints in ``[0, n)`` from uniform uint32 bits (bias below ``n / 2**32``)."""
  return (bits % jnp.asarray(n, jnp.uint32)).astype(jnp.int32)


def _random_operand(bits, k_max, k, base, mode):
  """Digits (length ``k_max``) of one operand and its written length.

  ``bits`` is uint32[k_max + 2]: one word per digit, then one for the
  significant length and one for the top digit.
  """
  pos = jnp.arange(k_max)
  digits = _uniform_below(bits[:k_max], base)
  if mode == "uniform":
    return jnp.where(pos < k, digits, 0), k
  sig = 1 + _uniform_below(bits[k_max], jnp.maximum(k, 1))
  top = 1 + _uniform_below(bits[k_max + 1], base - 1)
  digits = jnp.where((pos == sig - 1) & (sig > 1), top, digits)
  digits = jnp.where(pos < sig, digits, 0)
  return digits, (k if mode == "zero_padded" else sig)


def _arithmetic_example(bits, kind, base, length, pad_to, mode):
  k_max = (pad_to - 1) // 2
  k = (length - 1) // 2
  da, la = _random_operand(bits[: k_max + 2], k_max, k, base, mode)
  db, lb = _random_operand(bits[k_max + 2 :], k_max, k, base, mode)
  return _encode_digits(da, db, la, lb, kind, base, pad_to)


def _encode_digits(da, db, la, lb, kind, base, pad_to):
  """(inputs, targets) rows of operand digit vectors ``da``, ``db`` (length ``k_max``,
  written with ``la`` and ``lb`` digits) and their exact sum or product."""
  k_max = (pad_to - 1) // 2
  n_res = 2 * k_max + 1
  if kind == "add":
    res = _add_digits(da, db, n_res, base)
  else:
    res = _mul_digits(da, db, n_res, base)
  res = jnp.pad(res, (0, pad_to - n_res))
  t = jnp.arange(pad_to)
  a_sym = jnp.take(da, jnp.clip(t, 0, k_max - 1)) + DIGIT_OFFSET
  b_sym = jnp.take(db, jnp.clip(t - la - 1, 0, k_max - 1)) + DIGIT_OFFSET
  n = la + lb + 1
  inputs = jnp.where(
      t < la,
      a_sym,
      jnp.where(t == la, PLUS if kind == "add" else TIMES, jnp.where(t < n, b_sym, PAD)),
  )
  targets = jnp.where(t < n, res + DIGIT_OFFSET, PAD)
  return inputs.astype(jnp.int32), targets.astype(jnp.int32)


# Structured ("hard") operands for training against failure (Price et al. 2016,
# section 4): one family per example, drawn uniformly.
HARD_FAMILIES = ("carry", "run", "padded", "max")
_HARD_WORDS = 8


def _hard_operands(bits, kind, base, k, k_max):
  """Operand digits (length ``k_max``, ``k`` in use) of one structured example:

  * ``carry``: for addition a sum of exactly ``base**c`` (a carry chain through the
    ``c`` lowest positions) or ``base**c - 1`` (no carry at all), ``c`` uniform in
    ``[1, k]``, the rest of one operand uniform but stopping the chain; for
    multiplication ``(base**c - 1) * b`` with ``b`` uniform;
  * ``run``: uniform operands with a run of one digit (length uniform in ``[1, k]``) in
    a, b or both;
  * ``padded``: operands with 1-3 significant digits and leading zeros (one or both);
  * ``max``: an all-maximum operand against another or against a uniform one.
  Operands are swapped with probability 1/2."""
  pos = jnp.arange(k_max)
  live = pos < k
  ua = _uniform_below(bits[:k_max], base)
  ub = _uniform_below(bits[k_max : 2 * k_max], base)
  w = bits[2 * k_max :]
  fam = _uniform_below(w[0], len(HARD_FAMILIES))
  kk = jnp.maximum(k, 1)
  c = 1 + _uniform_below(w[1], kk)
  # carry
  if kind == "add":
    a0 = 1 + _uniform_below(w[2], base - 1)
    exact = _uniform_below(w[3], 2) == 0  # base**c, else base**c - 1
    low_a = jnp.where((pos == 0) & exact, a0, ua)
    low_b = jnp.where((pos == 0) & exact, base - a0, base - 1 - ua)
    stop = jnp.minimum(ua, base - 2)  # a_c + carry <= base - 1
    ca = jnp.where(pos < c, low_a, jnp.where(pos == c, stop, ua))
    cb = jnp.where(pos < c, low_b, 0)
  else:
    ca = jnp.where(pos < c, base - 1, 0)
    cb = ub
  # run
  digit = _uniform_below(w[2], base)
  start = _uniform_below(w[3], jnp.maximum(k - c + 1, 1))
  in_run = (pos >= start) & (pos < start + c)
  which = _uniform_below(w[4], 3)  # 0: a, 1: b, 2: both
  ra = jnp.where(in_run & (which != 1), digit, ua)
  rb = jnp.where(in_run & (which != 0), digit, ub)
  # padded
  sig_a = 1 + _uniform_below(w[5], jnp.minimum(kk, 3))
  sig_b = 1 + _uniform_below(w[6], jnp.minimum(kk, 3))
  pa = jnp.where(pos < sig_a, ua, 0)
  pb = jnp.where(pos < sig_b, ub, 0)
  pa = jnp.where(which == 1, ua, pa)  # b small only
  pb = jnp.where(which == 0, ub, pb)  # a small only
  # max
  ma = jnp.full_like(ua, base - 1)
  mb = jnp.where(which == 0, ma, ub)
  da = jnp.select([fam == 0, fam == 1, fam == 2], [ca, ra, pa], ma)
  db = jnp.select([fam == 0, fam == 1, fam == 2], [cb, rb, pb], mb)
  swap = _uniform_below(w[7], 2) == 1
  da, db = jnp.where(swap, db, da), jnp.where(swap, da, db)
  return jnp.where(live, da, 0), jnp.where(live, db, 0)


def _hard_example(bits, kind, base, length, pad_to):
  length = jnp.clip(jnp.asarray(length, jnp.int32), 3, pad_to)
  k_max = (pad_to - 1) // 2
  k = (length - 1) // 2
  da, db = _hard_operands(bits, kind, base, k, k_max)
  return _encode_digits(da, db, k, k, kind, base, pad_to)


@functools.partial(jax.jit, static_argnames=("kind", "pad_to"))
def _make_hard_batch_jit(key, lengths, base, kind, pad_to):
  k_max = (pad_to - 1) // 2
  bits = jax.random.bits(key, (lengths.shape[0], 2 * k_max + _HARD_WORDS), jnp.uint32)
  return jax.vmap(_hard_example, in_axes=(0, None, None, 0, None))(
      bits, kind, base, lengths, pad_to
  )


def make_hard_batch(
    key: jax.Array, task: "Task | str", lengths: jax.Array, pad_to: int
) -> tuple[jax.Array, jax.Array]:
  """A batch of structured arithmetic examples (``HARD_FAMILIES``: carry chains, runs of
  one digit, zero-padded small operands, all-maximum operands), generated on device in
  the fixed layout of :func:`make_batch` (pure, jittable). Used to train against the
  failure cases of Price et al. (2016, section 4) (``curriculum.failure_share``).

  Raises:
    ValueError: a task that is not arithmetic, bad ``pad_to`` or lengths.
  """
  task, pad_to = _validate_static(task, pad_to, "uniform")
  _require_arithmetic(task)
  _validate_lengths(task, lengths, pad_to)
  lengths = jnp.asarray(lengths, jnp.int32)
  return _make_hard_batch_jit(key, lengths, jnp.int32(task.base), kind=task.kind, pad_to=pad_to)


def _sequence_example(bits, kind, base, length, pad_to):
  t = jnp.arange(pad_to)
  x = 1 + _uniform_below(bits, base)
  valid = t < length
  if kind == "copy":
    inputs = jnp.where(valid, x, PAD)
    targets = inputs
  elif kind == "reverse":
    inputs = jnp.where(valid, x, PAD)
    targets = jnp.where(valid, jnp.take(x, jnp.clip(length - 1 - t, 0)), PAD)
  elif kind == "sort":
    inputs = jnp.where(valid, x, PAD)
    targets = jnp.where(valid, jnp.sort(jnp.where(valid, x, MAX_BASE + 1)), PAD)
  else:  # dup
    half = jnp.maximum(length // 2, 1)
    inputs = jnp.where(t < half, x, PAD)
    targets = jnp.where(t < 2 * half, jnp.take(x, t % half), PAD)
  return inputs.astype(jnp.int32), targets.astype(jnp.int32)


def _random_words(kind: str, pad_to: int) -> int:
  """uint32 words one example consumes."""
  if kind in ARITHMETIC_KINDS:
    return 2 * ((pad_to - 1) // 2 + 2)
  return pad_to


def _example_from_bits(bits, kind, base, length, pad_to, mode):
  length = jnp.clip(jnp.asarray(length, jnp.int32), _min_length(kind), pad_to)
  if kind in ARITHMETIC_KINDS:
    return _arithmetic_example(bits, kind, base, length, pad_to, mode)
  return _sequence_example(bits, kind, base, length, pad_to)


def make_example(
    key: jax.Array, task: Task, length: jax.Array, pad_to: int, mode: str = "uniform"
) -> tuple[jax.Array, jax.Array]:
  """One example (unbatched; vmap it, or use :func:`make_batch`).

  Args:
    key: PRNG key.
    task: the task (static).
    length: int32 scalar, the example's length (traced). Clipped into
      ``[task.min_length, pad_to]``.
    pad_to: static row length.
    mode: operand mode (static; sequence tasks ignore it).

  Returns:
    ``(inputs, targets)``, int32[pad_to] each.

  Raises:
    ValueError: bad task, mode or pad_to.
  """
  task, pad_to = _validate_static(task, pad_to, mode)
  bits = jax.random.bits(key, (_random_words(task.kind, pad_to),), jnp.uint32)
  return _example_from_bits(bits, task.kind, task.base, length, pad_to, mode)


def _validate_static(task, pad_to, mode):
  task = get_task(task)
  _check_mode(mode)
  _check_pad_to(task, pad_to)
  return task, int(pad_to)


def _validate_lengths(task, lengths, pad_to):
  if not _is_concrete(lengths):
    return
  values = np.asarray(lengths)
  if values.ndim != 1:
    raise ValueError(f"lengths must be a rank-1 array, got shape {values.shape}.")
  if not np.issubdtype(values.dtype, np.integer):
    raise ValueError(f"lengths must be integers, got dtype {values.dtype}.")
  bad = (values < task.min_length) | (values > pad_to)
  if bad.any():
    raise ValueError(
        f"lengths {values[bad].tolist()} are outside [{task.min_length}, "
        f"{pad_to}] (task {task.name!r} minimum length .. pad_to)."
    )


def _make_batch_impl(key, lengths, base, kind, pad_to, mode):
  # One random-bits call for the whole batch: each threefry call adds
  # seconds of XLA compile time on CPU, so per-field calls are avoided.
  bits = jax.random.bits(key, (lengths.shape[0], _random_words(kind, pad_to)), jnp.uint32)
  return jax.vmap(_example_from_bits, in_axes=(0, None, None, 0, None, None))(
      bits, kind, base, lengths, pad_to, mode
  )


# The base is traced, so one compilation serves every base of a kind (the
# base curriculum bmul -> qmul -> mul, and the tests over bases 2..16).
_make_batch_jit = jax.jit(_make_batch_impl, static_argnames=("kind", "pad_to", "mode"))


def make_batch(
    key: jax.Array, task: Task | str, lengths: jax.Array, pad_to: int, mode: str = "uniform"
) -> tuple[jax.Array, jax.Array]:
  """A batch of examples, generated on device (pure, jittable, vmappable).

  Args:
    key: PRNG key (``jax.random.key`` or raw uint32); the batch is a
      deterministic function of it.
    task: ``Task`` (static, hashable) or a task name.
    lengths: int32[B] lengths, one per example (traced values allowed; B is
      the static batch size). Concrete values outside
      ``[task.min_length, pad_to]`` raise ValueError; traced ones are clipped.
    pad_to: static row length, ``>= max(lengths)``.
    mode: ``"uniform"``, ``"zero_padded"`` or ``"unpadded"`` (static).

  Returns:
    ``(inputs, targets)``: int32[B, pad_to] each (layout in the module
    docstring). A deterministic function of ``key``, ``B``, ``pad_to``,
    ``mode`` and the lengths (rows differ from :func:`make_example` with
    split keys).

  Example (inside a jitted train step)::

    lengths = sample_lengths(k_len, 32, 3, level)   # level may be traced
    inputs, targets = make_batch(k_data, get_task("bmul"), lengths, 41)

  Raises:
    ValueError: bad task, mode, pad_to or concrete lengths (before compiling).
  """
  task, pad_to = _validate_static(task, pad_to, mode)
  _validate_lengths(task, lengths, pad_to)
  lengths = jnp.asarray(lengths, jnp.int32)
  if lengths.ndim != 1:
    raise ValueError(f"lengths must be a rank-1 array, got shape {lengths.shape}.")
  return _make_batch_jit(
      key, lengths, jnp.int32(task.base), kind=task.kind, pad_to=pad_to, mode=mode
  )


def make_batch_for_base(
    key: jax.Array,
    kind: str,
    base: jax.Array,
    lengths: jax.Array,
    pad_to: int,
    mode: str = "uniform",
) -> tuple[jax.Array, jax.Array]:
  """:func:`make_batch` with a traced base, for multi-base training.

  ``make_batch_for_base(key, t.kind, t.base, ...)`` equals
  ``make_batch(key, t, ...)``. One compiled program serves all bases, so a
  train step can pick the task of a base curriculum (bmul/qmul/mul) by a
  traced index, e.g. ``base = jnp.array([2, 4, 10])[task_index]``.

  Args:
    key: PRNG key.
    kind: static task kind (``"add"``, ``"mul"``, ``"copy"``, ...).
    base: int32 scalar in ``MIN_BASE..MAX_BASE`` (traced allowed; a concrete
      value outside the range raises ValueError).
    lengths: int32[B] lengths.
    pad_to: static row length.
    mode: operand mode (static).

  Returns:
    ``(inputs, targets)``, int32[B, pad_to] each.
  """
  if kind not in KINDS:
    raise ValueError(f"Task kind {kind!r} is not one of {KINDS}.")
  # The widest base bounds the int32 check and the length validation.
  widest = get_task(f"{kind}{MAX_BASE}")
  _check_mode(mode)
  _check_pad_to(widest, pad_to)
  if _is_concrete(base):
    _check_base(int(np.asarray(base)), kind)
  _validate_lengths(widest, lengths, int(pad_to))
  lengths = jnp.asarray(lengths, jnp.int32)
  return _make_batch_jit(
      key, lengths, jnp.asarray(base, jnp.int32), kind=kind, pad_to=int(pad_to), mode=mode
  )


def sample_lengths(
    key: jax.Array, batch_size: int, min_len, max_len, odd: bool = True
) -> jax.Array:
  """Uniform example lengths in ``[min_len, max_len]``.

  Args:
    key: PRNG key.
    batch_size: static B.
    min_len: smallest length (int or traced int).
    max_len: largest length (int or traced int, e.g. a curriculum level).
    odd: draw only odd lengths (the natural arithmetic lengths ``2k+1``):
      ``min_len`` is rounded up and ``max_len`` down to odd.

  Returns:
    int32[batch_size]. With traced bounds and an empty range, every length is
    the (rounded) ``min_len``.

  Raises:
    ValueError: concrete bounds with an empty range or ``min_len < 1``.
  """
  if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
    raise ValueError(f"batch_size={batch_size!r} must be a positive int.")
  if _is_concrete(min_len) and _is_concrete(max_len):
    lo, hi = int(min_len), int(max_len)
    if odd:
      lo, hi = lo | 1, hi - (1 - hi % 2)
    if lo < 1 or hi < lo:
      raise ValueError(
          f"No {'odd ' if odd else ''}length in [min_len={min_len}, "
          f"max_len={max_len}] (need 1 <= min_len <= max_len)."
      )
  lo = jnp.asarray(min_len, jnp.int32)
  hi = jnp.asarray(max_len, jnp.int32)
  if odd:
    lo = lo | 1
    hi = hi - (1 - hi % 2)
    count = jnp.maximum((hi - lo) // 2 + 1, 1)
    return lo + 2 * jax.random.randint(key, (batch_size,), 0, count, dtype=jnp.int32)
  count = jnp.maximum(hi - lo + 1, 1)
  return lo + jax.random.randint(key, (batch_size,), 0, count, dtype=jnp.int32)


def target_mask(targets: jax.Array) -> jax.Array:
  """Positions scored by the loss: ``targets != PAD`` (a prefix per row)."""
  return targets != PAD
