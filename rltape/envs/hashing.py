"""Counter-hash random numbers for the environments: per-cell bits from two uint32 seeds
(``hash_bits``), uniform integers and floats from them, and per-env seeds for a batch
(``batch_seeds``). Cheaper than a ``jax.random`` key per cell or per env."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

_GOLDEN = 0x9E3779B9


def _fmix32(x: jax.Array) -> jax.Array:
  """MurmurHash3's 32-bit finaliser: a bijective avalanche mix of uint32."""
  x = x ^ (x >> 16)
  x = x * jnp.uint32(0x85EBCA6B)
  x = x ^ (x >> 13)
  x = x * jnp.uint32(0xC2B2AE35)
  return x ^ (x >> 16)


def hash_bits(seeds: jax.Array, shape: tuple[int, ...], stream: int = 0) -> jax.Array:
  """uint32 pseudo-random words, one per cell, from two 32-bit seeds.

  Resets dominate the cost of vectorised rollouts, and a threefry call per input cell
  made them 6x slower than the step itself. So `reset` draws two 32-bit seeds from
  its key (one threefry call) and cell i of stream s gets
  fmix32(fmix32((i * golden) ^ seed0 ^ (s << 24)) + seed1): two rounds of
  MurmurHash3's finaliser over a counter, bijective in i within a stream, so no two
  cells of an episode share a word. Deterministic in the key, like everything else.

  Args:
    seeds: uint32 [2].
    shape: static output shape (at most 2**24 cells).
    stream: static small int selecting an independent stream.
  """
  size = int(np.prod(shape, dtype=np.int64))
  i = jnp.arange(size, dtype=jnp.uint32).reshape(shape)
  x = (i * jnp.uint32(_GOLDEN)) ^ seeds[0] ^ jnp.uint32(stream << 24)
  return _fmix32(_fmix32(x) + seeds[1])


def uniform_below(
    seeds: jax.Array, shape: tuple[int, ...], high: Any, stream: int = 0
) -> jax.Array:
  """int32 draws in [0, high), one per cell: (top 16 bits of `hash_bits`) * high >> 16.

  Every value has probability floor or ceil of 2**16 / high over 2**16, a relative
  bias below high / 2**16 (0.015% for base 10).

  Args:
    seeds: uint32 [2] (see `hash_bits`).
    shape: static output shape.
    high: int or int array broadcastable to `shape`, in [1, 2**16).
    stream: static stream index.
  """
  u = hash_bits(seeds, shape, stream) >> 16
  return ((u * jnp.asarray(high).astype(jnp.uint32)) >> 16).astype(jnp.int32)


def uniform_unit(seeds: jax.Array, stream: int = 0) -> jax.Array:
  """float32 [] in [0, 1) with 24 random bits."""
  return (hash_bits(seeds, (), stream) >> 8).astype(jnp.float32) / jnp.float32(2**24)


def batch_seeds(key: jax.Array, num: int) -> jax.Array:
  """uint32 [num, 2]: per-env seed pairs for `AlgorithmicEnv.reset_from_seeds`.

  One 32-bit threefry word per env (`jax.random.bits`), the second seed word derived
  from it by MurmurHash3's finaliser; so each reset has 2**32 possible inputs (two
  envs of a 4096 batch share a seed with probability ~0.2% per call). Measured on
  this CPU (4096 envs, length 10, auto-reset every step) against alternatives with
  the same output: `jax.random.split` + a draw per env 1x, a (num, 2) threefry draw
  1.0-2.3x, this 1.3-3.1x (Copy, RepeatCopy); deriving both words from a counter
  hash was fast for Copy but 3x slower for RepeatCopy (an XLA:CPU fusion effect).
  """
  w = jax.random.bits(key, (int(num),), jnp.uint32)
  return jnp.stack([w, _fmix32(w ^ jnp.uint32(0x9E3779B9))], axis=1)
