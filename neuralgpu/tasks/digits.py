"""Arithmetic in JAX on little-endian digit vectors (unbatched): carries,
addition and multiplication by a Toeplitz convolution.

Part of ``neuralgpu.tasks`` (see the package docstring for the encoding).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from neuralgpu.tasks.vocab import MAX_BASE, MIN_BASE

# Digits of the second operand handled per matrix product in the convolution;
# bounds the Toeplitz block to ``block * pad_to`` int32 per example.
_MAX_CONV_BLOCK = 64


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

  bases = range(MIN_BASE, MAX_BASE + 1) if isinstance(base, jax.Array) else (int(base),)
  rounds = max(_normalisation_rounds(max(1, k) * (b - 1) ** 2, b) for b in bases)
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
