"""Tasks and on-device data generation for the Neural GPU.

Implements the task family of Kaiser & Sutskever (2015, "Neural GPUs Learn
Algorithms") and the failure-case families of Price, Zaremba & Sutskever (2016,
"Extensions and Limitations of the Neural GPU").

Vocabulary (shared by every task, so one model can train on several bases and
be transferred between tasks):

  * ``0`` is padding (ignored by the loss; the model masks its state there),
  * digit ``d`` (``0 <= d < 16``) is symbol ``d + 1`` (``1..16``),
  * ``PLUS = 17`` and ``TIMES = 18`` are the operator symbols,
  * ``VOCAB_SIZE = 19``.

Sequence tasks (copy, reverse, dup, sort) use symbols ``1..base`` for their
alphabet ``0..base-1``.

Arithmetic encoding (``add<b>``, ``mul<b>``). An example of length ``L`` uses
``k = (L - 1) // 2`` digits per operand. In the fixed layout (modes
``"uniform"`` and ``"zero_padded"``)::

    input : a_0 .. a_{k-1}  OP  b_0 .. b_{k-1}      (2k+1 symbols)
    target: c_0 .. c_{2k}                           (2k+1 symbols)

little-endian (least significant digit first), each digit stored as
``digit + 1``; ``c = a + b`` or ``a * b`` zero-extended to ``2k + 1`` digits
(a sum of two k-digit numbers has at most ``k + 1`` digits, a product at most
``2k``). Positions ``>= 2k + 1`` are padding (0 in both rows). An even ``L``
therefore behaves exactly like ``L - 1``: its last position is padding.

Operand modes (static):

  * ``"uniform"``: every digit of both operands uniform in ``0..base-1``
    (leading zeros allowed), as in the original code.
  * ``"zero_padded"``: each operand independently gets ``p`` significant
    digits, ``p`` uniform in ``[1, k]``; digit ``p - 1`` is non-zero when
    ``p > 1``; digits ``p..k-1`` are leading zeros. Same layout as uniform.
    This is the "000..002 x 000..001" family.
  * ``"unpadded"``: operands ``a`` and ``b`` with ``p`` and ``q``
    significant digits (each uniform in ``[1, k]``, top digit non-zero when
    the length is above 1) written without leading zeros::

        input : a_0 .. a_{p-1}  OP  b_0 .. b_{q-1}   (n = p+q+1 symbols)
        target: c_0 .. c_{n-1}                       (n symbols)

    The result always fits in ``n`` digits (``a*b < base**(p+q)``), so the
    target covers exactly the input's positions; positions ``>= n`` are
    padding in both rows. ``L`` only bounds ``p, q <= k``.

Invariant for every task and mode: ``targets != 0`` marks exactly the
positions the loss scores, and it is a prefix of each row. For every task but
``dup`` the input is non-zero on the same prefix; ``dup`` has a zero input on
the second half of its target (see below), so a model must take its padding
mask from the targets (or ``lengths``), not from the inputs, to learn ``dup``.

Sequence tasks with length ``L`` (``x`` = ``L`` uniform symbols):

  * ``copy``: target ``x``.
  * ``reverse``: target ``x`` reversed.
  * ``sort``: target ``x`` sorted ascending.
  * ``dup`` (duplicate): with ``m = L // 2`` the input is ``x_0..x_{m-1}``
    followed by zeros, the target is ``x_0..x_{m-1} x_0..x_{m-1}`` (``2m``
    symbols); for odd ``L`` the last position is padding. Needs ``L >= 2``.

The batch generator :func:`make_batch` is a pure JAX function (jittable,
vmappable over keys; ``lengths`` are traced; the base is traced internally, so
one compiled program serves every base of a kind, see
:func:`make_batch_for_base`). Randomness is one ``jax.random.bits`` call per
batch; a uniform value in ``[0, n)`` is a uint32 word mod ``n`` (bias below
``n / 2**32``, at most ``4e-9`` here). Addition is a digit-wise sum
followed by carry propagation with a parallel prefix scan; multiplication is an
exact int32 digit convolution (a block-Toeplitz int32 matrix product),
a few vectorised carry-normalisation rounds and the same prefix scan.
Exactness: a convolution coefficient is at most ``k * (base-1)**2``
(450,000 for base 16 and k = 2000), far below ``2**31``; the computation is in
int32 (not float32, which would also be exact below ``2**24`` on CPU but is not
guaranteed exact on accelerators that run float32 products in TF32).
"""
from __future__ import annotations

import dataclasses
import functools
import re
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

PAD = 0
DIGIT_OFFSET = 1
MAX_BASE = 16
MIN_BASE = 2
PLUS = 17
TIMES = 18
VOCAB_SIZE = 19

ARITHMETIC_KINDS = ("add", "mul")
SEQUENCE_KINDS = ("copy", "reverse", "dup", "sort")
KINDS = ARITHMETIC_KINDS + SEQUENCE_KINDS
MODES = ("uniform", "zero_padded", "unpadded")
DEFAULT_SEQUENCE_BASE = 4

# Canonical names; ``add<b>``, ``mul<b>``, ``copy<b>`` etc. are accepted too.
TASK_NAMES = ("badd", "qadd", "add", "bmul", "qmul", "mul",
              "copy", "reverse", "dup", "sort")

_ALIASES = {
    "badd": ("add", 2), "qadd": ("add", 4), "add": ("add", 10),
    "bmul": ("mul", 2), "qmul": ("mul", 4), "mul": ("mul", 10),
    "copy": ("copy", DEFAULT_SEQUENCE_BASE),
    "reverse": ("reverse", DEFAULT_SEQUENCE_BASE),
    "dup": ("dup", DEFAULT_SEQUENCE_BASE),
    "sort": ("sort", DEFAULT_SEQUENCE_BASE),
}
_CANONICAL = {v: k for k, v in _ALIASES.items()}


def _canonical_name(kind: str, base: int) -> str:
  return _CANONICAL.get((kind, base), f"{kind}{base}")


# Every distinct task, by canonical name (kind-major, base-minor).
ALL_TASK_NAMES = tuple(_canonical_name(kind, base)
                       for kind in ("add", "mul", "copy", "reverse", "dup",
                                    "sort")
                       for base in range(2, 17))
_NAME_FORMS = ("badd, qadd, add, bmul, qmul, mul, add<b>, mul<b>, copy, "
               "reverse, dup, sort, copy<b>, reverse<b>, dup<b>, sort<b> "
               f"with base b in {MIN_BASE}..{MAX_BASE}")
_NAME_RE = re.compile(r"^(add|mul|copy|reverse|dup|sort)(\d+)$")

# Digits of the second operand handled per matrix product in the convolution;
# bounds the Toeplitz block to ``block * pad_to`` int32 per example.
_MAX_CONV_BLOCK = 64


@dataclasses.dataclass(frozen=True)
class Task:
  """A task: hashable, so it can be a static argument of ``jax.jit``.

  Attributes:
    name: canonical name (``"bmul"``, ``"add5"``, ``"copy"``, ...).
    kind: one of ``KINDS``.
    base: number base (arithmetic) or alphabet size (sequence tasks).
  """
  name: str
  kind: str
  base: int

  def __post_init__(self):
    if self.kind not in KINDS:
      raise ValueError(f"Task kind {self.kind!r} is not one of {KINDS}.")
    _check_base(self.base, self.kind)
    canonical = _canonical_name(self.kind, self.base)
    if self.name != canonical:
      # Equal tasks must compare equal (and share compiled programs).
      raise ValueError(f"Task name {self.name!r} does not match kind "
                       f"{self.kind!r} and base {self.base}; use "
                       f"{canonical!r} or get_task().")

  @property
  def is_arithmetic(self) -> bool:
    return self.kind in ARITHMETIC_KINDS

  @property
  def operator(self) -> int | None:
    """Operator symbol (``PLUS``/``TIMES``) or None for sequence tasks."""
    return {"add": PLUS, "mul": TIMES}.get(self.kind)

  @property
  def min_length(self) -> int:
    """Smallest example length: 3 for arithmetic, 2 for dup, else 1."""
    return _min_length(self.kind)

  def apply(self, a: int, b: int) -> int:
    """The arithmetic operation on Python integers."""
    if self.kind == "add":
      return a + b
    if self.kind == "mul":
      return a * b
    raise ValueError(f"Task {self.name!r} is not arithmetic.")


def _check_base(base, what):
  if (not isinstance(base, (int, np.integer)) or isinstance(base, bool)
      or not MIN_BASE <= base <= MAX_BASE):
    raise ValueError(f"Base {base!r} for {what!r} is outside the allowed range "
                     f"{MIN_BASE}..{MAX_BASE}. Allowed task names: "
                     f"{_NAME_FORMS}.")


def get_task(name: str | Task) -> Task:
  """Looks up a task by name (a ``Task`` is returned unchanged).

  Args:
    name: a canonical name from ``TASK_NAMES`` or ``<kind><base>`` such as
      ``"add5"``, ``"mul16"``, ``"sort3"``; ``"add10"`` is ``"add"``.

  Returns:
    The ``Task``; equal names for the same kind and base give equal tasks.

  Raises:
    ValueError: unknown name or base outside 2..16.
  """
  if isinstance(name, Task):
    return name
  if not isinstance(name, str):
    raise ValueError(f"Task name must be a string, got {name!r}. "
                     f"Allowed: {_NAME_FORMS}.")
  if name in _ALIASES:
    kind, base = _ALIASES[name]
  else:
    match = _NAME_RE.match(name)
    if match is None:
      raise ValueError(f"Unknown task name {name!r}. Allowed: {_NAME_FORMS}.")
    kind, base = match.group(1), int(match.group(2))
    if not MIN_BASE <= base <= MAX_BASE:
      raise ValueError(f"Task name {name!r} has base {base}, outside "
                       f"{MIN_BASE}..{MAX_BASE}. Allowed: {_NAME_FORMS}.")
  return Task(name=_canonical_name(kind, base), kind=kind, base=base)


def _check_mode(mode):
  if mode not in MODES:
    raise ValueError(f"Operand mode {mode!r} is not one of {MODES}.")


def _check_pad_to(task, pad_to):
  if (not isinstance(pad_to, (int, np.integer)) or isinstance(pad_to, bool)
      or pad_to < task.min_length):
    raise ValueError(f"pad_to={pad_to!r} must be an int >= {task.min_length} "
                     f"(the minimum length of task {task.name!r}).")
  if task.kind == "mul":
    k = (int(pad_to) - 1) // 2
    if k * (task.base - 1) ** 2 >= 2 ** 31:
      raise ValueError(f"pad_to={pad_to} is too long for exact int32 "
                       f"multiplication in base {task.base}.")


def _is_concrete(x) -> bool:
  return not isinstance(x, jax.core.Tracer)


# --------------------------------------------------------------------------
# Arithmetic in JAX (unbatched, little-endian digit vectors).
# --------------------------------------------------------------------------


def _propagate_carries(v: jax.Array, base) -> jax.Array:
  """Resolves carries of a digit vector whose entries lie in [0, 2*base-2].

  Each position either generates a carry (``v >= base``), propagates an
  incoming one (``v == base - 1``) or kills it; carry-outs are the prefix
  composition of these maps, computed with a parallel prefix scan (depth
  ``O(log n)`` instead of a length-``n`` sequential loop). A carry out of the
  last position is dropped: callers size ``v`` so the value fits.
  """
  generate = v >= base
  propagate = v == base - 1
  # Hillis-Steele doubling: after the step with distance d, (generate[j],
  # propagate[j]) describe positions j-2d+1..j as one block. ceil(log2 n)
  # shift-and-combine steps; compiles far faster than lax.associative_scan.
  n = v.shape[0]
  d = 1
  while d < n:
    g_prev = jnp.concatenate([jnp.zeros((d,), bool), generate[:-d]])
    p_prev = jnp.concatenate([jnp.zeros((d,), bool), propagate[:-d]])
    generate = generate | (propagate & g_prev)
    propagate = propagate & p_prev
    d *= 2
  carry_out = generate
  carry_in = jnp.concatenate([jnp.zeros((1,), bool), carry_out[:-1]])
  return (v + carry_in.astype(v.dtype)) % base


def _normalisation_rounds(max_coefficient: int, base: int) -> int:
  """Rounds of ``v_j <- v_j mod b + v_{j-1} // b`` until ``v <= 2b - 2``."""
  bound, rounds = max_coefficient, 0
  while bound > 2 * base - 2:
    bound = (base - 1) + bound // base
    rounds += 1
  return rounds


def _digits_to_result(v: jax.Array, base, k: int):
  """Digits of a product from its convolution coefficients (``k`` digits each).

  ``base`` may be traced; then the round count covers every base in
  ``MIN_BASE..MAX_BASE``. Extra rounds are harmless: once ``v <= 2b - 2`` a
  round keeps it there and never changes the value.
  """
  def one_round(_, x):
    shifted = jnp.concatenate([jnp.zeros((1,), x.dtype), x[:-1] // base])
    return x % base + shifted
  bases = (range(MIN_BASE, MAX_BASE + 1) if isinstance(base, jax.Array)
           else (int(base),))
  rounds = max(_normalisation_rounds(max(1, k) * (b - 1) ** 2, b)
               for b in bases)
  v = jax.lax.fori_loop(0, rounds, one_round, v) if rounds else v
  return _propagate_carries(v, base)


def _add_digits(a: jax.Array, b: jax.Array, n_out: int, base):
  """Little-endian digits of ``a + b`` over ``n_out`` positions."""
  pad = n_out - a.shape[0]
  v = jnp.pad(a, (0, pad)) + jnp.pad(b, (0, pad))
  return _propagate_carries(v, base)


def _convolve_digits(a: jax.Array, b: jax.Array, n_out: int) -> jax.Array:
  """Exact int32 ``c_j = sum_i a_i b_{j-i}`` for ``j < n_out``.

  The digits of ``b`` are taken in blocks of ``s``; ``toeplitz[t, j] =
  a[j - t]`` is built once by the tile-and-reshape trick (no gather), each block
  contributes ``b_block @ toeplitz`` shifted right by the block's offset.
  Products are at most ``(base-1)**2`` and each sum has at most ``k`` terms,
  so int32 is exact while ``k * (base-1)**2 < 2**31`` (checked on ``pad_to``).
  """
  k = a.shape[0]
  s = min(k, _MAX_CONV_BLOCK)
  n_blocks = -(-k // s)
  b = jnp.pad(b, (0, n_blocks * s - k)).reshape(n_blocks, s)
  # w has zeros at [k, n_out + s), so the wrap-around of row t lands on zeros.
  width = n_out + s
  w = jnp.pad(a, (0, width - k))
  toeplitz = jnp.tile(w, s)[: s * (width - 1)].reshape(s, width - 1)[:, :n_out]
  partial = jnp.matmul(b, toeplitz, preferred_element_type=jnp.int32)
  # Skew: with rows padded to width ``row = n_out + n_blocks*s`` and the flat
  # array re-cut into rows of ``row - s``, element (m, j) lands at column
  # ``j + m*s`` of row m; what spills across rows is padding. A reshape
  # instead of n_blocks scatter-adds keeps XLA compile time low.
  row = n_out + n_blocks * s
  flat = jnp.pad(partial, ((0, 0), (0, row - n_out))).reshape(-1)
  skewed = flat[: n_blocks * (row - s)].reshape(n_blocks, row - s)
  return skewed[:, :n_out].sum(axis=0)


def _mul_digits(a: jax.Array, b: jax.Array, n_out: int, base):
  """Little-endian digits of ``a * b`` over ``n_out >= len(a) + len(b)``."""
  c = _convolve_digits(a, b, n_out)
  return _digits_to_result(c, base, a.shape[0])


# --------------------------------------------------------------------------
# Example generators (unbatched).
# --------------------------------------------------------------------------


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
  n_res = 2 * k_max + 1
  k = (length - 1) // 2
  da, la = _random_operand(bits[: k_max + 2], k_max, k, base, mode)
  db, lb = _random_operand(bits[k_max + 2:], k_max, k, base, mode)
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
  inputs = jnp.where(t < la, a_sym,
                     jnp.where(t == la, PLUS if kind == "add" else TIMES,
                               jnp.where(t < n, b_sym, PAD)))
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
  ub = _uniform_below(bits[k_max:2 * k_max], base)
  w = bits[2 * k_max:]
  fam = _uniform_below(w[0], len(HARD_FAMILIES))
  kk = jnp.maximum(k, 1)
  c = 1 + _uniform_below(w[1], kk)
  # carry
  if kind == "add":
    a0 = 1 + _uniform_below(w[2], base - 1)
    exact = _uniform_below(w[3], 2) == 0          # base**c, else base**c - 1
    low_a = jnp.where((pos == 0) & exact, a0, ua)
    low_b = jnp.where((pos == 0) & exact, base - a0, base - 1 - ua)
    stop = jnp.minimum(ua, base - 2)              # a_c + carry <= base - 1
    ca = jnp.where(pos < c, low_a, jnp.where(pos == c, stop, ua))
    cb = jnp.where(pos < c, low_b, 0)
  else:
    ca = jnp.where(pos < c, base - 1, 0)
    cb = ub
  # run
  digit = _uniform_below(w[2], base)
  start = _uniform_below(w[3], jnp.maximum(k - c + 1, 1))
  in_run = (pos >= start) & (pos < start + c)
  which = _uniform_below(w[4], 3)                 # 0: a, 1: b, 2: both
  ra = jnp.where(in_run & (which != 1), digit, ua)
  rb = jnp.where(in_run & (which != 0), digit, ub)
  # padded
  sig_a = 1 + _uniform_below(w[5], jnp.minimum(kk, 3))
  sig_b = 1 + _uniform_below(w[6], jnp.minimum(kk, 3))
  pa = jnp.where(pos < sig_a, ua, 0)
  pb = jnp.where(pos < sig_b, ub, 0)
  pa = jnp.where(which == 1, ua, pa)              # b small only
  pb = jnp.where(which == 0, ub, pb)              # a small only
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
      bits, kind, base, lengths, pad_to)


def make_hard_batch(key: jax.Array, task: "Task | str", lengths: jax.Array,
                    pad_to: int) -> tuple[jax.Array, jax.Array]:
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
  return _make_hard_batch_jit(key, lengths, jnp.int32(task.base), kind=task.kind,
                              pad_to=pad_to)


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
    targets = jnp.where(valid, jnp.sort(jnp.where(valid, x, MAX_BASE + 1)),
                        PAD)
  else:  # dup
    half = jnp.maximum(length // 2, 1)
    inputs = jnp.where(t < half, x, PAD)
    targets = jnp.where(t < 2 * half, jnp.take(x, t % half), PAD)
  return inputs.astype(jnp.int32), targets.astype(jnp.int32)


def _min_length(kind: str) -> int:
  if kind in ARITHMETIC_KINDS:
    return 3
  return 2 if kind == "dup" else 1


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


def make_example(key: jax.Array, task: Task, length: jax.Array, pad_to: int,
                 mode: str = "uniform") -> tuple[jax.Array, jax.Array]:
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
    raise ValueError(
        f"lengths must be a rank-1 array, got shape {values.shape}.")
  if not np.issubdtype(values.dtype, np.integer):
    raise ValueError(f"lengths must be integers, got dtype {values.dtype}.")
  bad = (values < task.min_length) | (values > pad_to)
  if bad.any():
    raise ValueError(
        f"lengths {values[bad].tolist()} are outside [{task.min_length}, "
        f"{pad_to}] (task {task.name!r} minimum length .. pad_to).")


def _make_batch_impl(key, lengths, base, kind, pad_to, mode):
  # One random-bits call for the whole batch: each threefry call adds
  # seconds of XLA compile time on CPU, so per-field calls are avoided.
  bits = jax.random.bits(
      key, (lengths.shape[0], _random_words(kind, pad_to)), jnp.uint32)
  return jax.vmap(_example_from_bits, in_axes=(0, None, None, 0, None, None))(
      bits, kind, base, lengths, pad_to, mode)


# The base is traced, so one compilation serves every base of a kind (the
# base curriculum bmul -> qmul -> mul, and the tests over bases 2..16).
_make_batch_jit = jax.jit(_make_batch_impl,
                          static_argnames=("kind", "pad_to", "mode"))


def make_batch(key: jax.Array, task: Task | str, lengths: jax.Array,
               pad_to: int, mode: str = "uniform"
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
    raise ValueError(
        f"lengths must be a rank-1 array, got shape {lengths.shape}.")
  return _make_batch_jit(key, lengths, jnp.int32(task.base), kind=task.kind,
                         pad_to=pad_to, mode=mode)


def make_batch_for_base(key: jax.Array, kind: str, base: jax.Array,
                        lengths: jax.Array, pad_to: int,
                        mode: str = "uniform") -> tuple[jax.Array, jax.Array]:
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
  return _make_batch_jit(key, lengths, jnp.asarray(base, jnp.int32), kind=kind,
                         pad_to=int(pad_to), mode=mode)


def sample_lengths(key: jax.Array, batch_size: int, min_len, max_len,
                   odd: bool = True) -> jax.Array:
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
          f"max_len={max_len}] (need 1 <= min_len <= max_len).")
  lo = jnp.asarray(min_len, jnp.int32)
  hi = jnp.asarray(max_len, jnp.int32)
  if odd:
    lo = lo | 1
    hi = hi - (1 - hi % 2)
    count = jnp.maximum((hi - lo) // 2 + 1, 1)
    return lo + 2 * jax.random.randint(key, (batch_size,), 0, count,
                                       dtype=jnp.int32)
  count = jnp.maximum(hi - lo + 1, 1)
  return lo + jax.random.randint(key, (batch_size,), 0, count, dtype=jnp.int32)


def target_mask(targets: jax.Array) -> jax.Array:
  """Positions scored by the loss: ``targets != PAD`` (a prefix per row)."""
  return targets != PAD


# --------------------------------------------------------------------------
# Host-side encoding and decoding (Python ints, numpy rows).
# --------------------------------------------------------------------------


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


def _require_arithmetic(task):
  if not task.is_arithmetic:
    raise ValueError(f"Task {task.name!r} is not arithmetic (add/mul).")


def encode_example(task: Task | str, a: int, b: int, length: int | None = None,
                   mode: str = "uniform") -> tuple[np.ndarray, np.ndarray]:
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
        f"(mode {mode!r}); got length={length!r}.")
  if mode != "unpadded":
    k = (length - 1) // 2
    da, db = da + [0] * (k - len(da)), db + [0] * (k - len(db))
  n = len(da) + len(db) + 1
  result = int_to_digits(task.apply(int(a), int(b)), task.base, width=n)
  inputs = np.zeros((length,), np.int32)
  targets = np.zeros((length,), np.int32)
  inputs[:n] = [d + DIGIT_OFFSET for d in da] + [task.operator] + [
      d + DIGIT_OFFSET for d in db]
  targets[:n] = [d + DIGIT_OFFSET for d in result]
  return inputs, targets


def encode_question(task: Task | str, a: int, b: int, length: int | None = None,
                    mode: str = "uniform") -> np.ndarray:
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
    raise ValueError(f"{what} has symbols {bad} that are not base-{base} "
                     f"digits ({DIGIT_OFFSET}..{base}).")
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
    raise ValueError(f"inputs must hold exactly one operator symbol "
                     f"{task.operator}, found {ops.size}: {content.tolist()}")
  op = int(ops[0])
  a = digits_to_int(_symbols_to_digits(content[:op], task.base, "a"), task.base)
  b = digits_to_int(_symbols_to_digits(content[op + 1:], task.base, "b"),
                    task.base)
  if op == 0 or op == n - 1:
    raise ValueError(f"An operand is empty: {content.tolist()}")
  if targets_row is not None:
    if m != n:
      raise ValueError(f"targets cover {m} positions, inputs {n}.")
    y = digits_to_int(_symbols_to_digits(targets_row[:m], task.base, "c"),
                      task.base)
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


def decode_answer(task: Task | str, predicted_symbols_row,
                  length: int | None = None) -> int:
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
  return digits_to_int(_symbols_to_digits(row[:length], task.base,
                                          "prediction"), task.base)


# --------------------------------------------------------------------------
# Failure-case families (Price et al. 2016), host-side numpy.
# --------------------------------------------------------------------------


def _rng(seed):
  return seed if isinstance(seed, np.random.Generator) else (
      np.random.default_rng(seed))


def _random_int_below(rng, bound: int) -> int:
  """Uniform int in [0, bound) for arbitrarily large Python ints."""
  if bound <= 0:
    raise ValueError(f"Empty range [0, {bound}).")
  nbits = max(1, (bound - 1).bit_length())
  while True:
    v = int.from_bytes(rng.bytes((nbits + 7) // 8), "little") >> (
        (8 - nbits % 8) % 8)
    if v < bound:
      return v


def _stack(pairs):
  inputs, targets = zip(*pairs)
  return np.stack(inputs), np.stack(targets)


def carry_chain_batch(task: Task | str, c: int, length: int,
                      batch_size: int = 1, seed=0, minus_one: bool = False,
                      mode: str = "uniform"):
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
    raise ValueError(f"Carry chain length c={c!r} must be in [1, {k}] for "
                     f"length={length!r}.")
  rng = _rng(seed)
  base, total = task.base, task.base ** c
  pairs = []
  for _ in range(batch_size):
    if minus_one:
      a = _random_int_below(rng, total)
      b = total - 1 - a
    else:
      a = base * _random_int_below(rng, base ** (c - 1)) + int(
          rng.integers(1, base))
      b = total - a
    pairs.append(encode_example(task, a, b, length, mode))
  return _stack(pairs)


def same_digit_stretch_batch(task: Task | str, length: int, digit: int,
                             stretch: int, batch_size: int = 1, seed=0,
                             operands: str = "both"):
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
    raise ValueError(f"stretch={stretch!r} must be in [1, {k}] for "
                     f"length={length!r}.")
  if operands not in ("both", "a", "b"):
    raise ValueError(f"operands={operands!r} must be 'both', 'a' or 'b'.")
  rng = _rng(seed)

  def operand(with_stretch):
    digits = rng.integers(0, task.base, size=k)
    if with_stretch:
      start = int(rng.integers(0, k - stretch + 1))
      digits[start:start + stretch] = digit
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
  return _stack([encode_example(task, int(x), int(y), length, "uniform")
                 for x, y in zip(a_list, b_list)])
