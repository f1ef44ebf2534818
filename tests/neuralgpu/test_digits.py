"""``neuralgpu.tasks.digits`` against Python integers, jitted and not (chex.variants):
carries, addition and multiplication of little-endian digit vectors in every base,
with the base static and traced."""

import chex
import jax.numpy as jnp
import numpy as np
from absl.testing import parameterized

from neuralgpu.tasks import digits


def _to_int(ds, base):
  return sum(int(d) * base**i for i, d in enumerate(ds))


def _to_digits(v, base, n):
  out = []
  for _ in range(n):
    v, d = divmod(v, base)
    out.append(d)
  assert v == 0, "the value must fit in n digits"
  return out


def _operands(base, k, seed):
  """Random k-digit operands, and the extremes (all zero, all base-1, a lone 1)."""
  rng = np.random.default_rng(seed)
  rows = [rng.integers(0, base, k) for _ in range(3)]
  rows += [np.zeros(k, int), np.full(k, base - 1), np.eye(1, k, 0, int)[0]]
  return [np.asarray(r, np.int32) for r in rows]


class DigitsTest(chex.TestCase, parameterized.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(2, 3, 10, 16)
  def test_add_matches_python_integers(self, base):
    k = 9
    add = self.variant(lambda a, b: digits._add_digits(a, b, k + 1, base))
    for a in _operands(base, k, base):
      for b in _operands(base, k, base + 100):
        want = _to_digits(_to_int(a, base) + _to_int(b, base), base, k + 1)
        np.testing.assert_array_equal(add(jnp.asarray(a), jnp.asarray(b)), want)

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(2, 5, 10, 16)
  def test_mul_matches_python_integers(self, base):
    k = 7
    mul = self.variant(lambda a, b: digits._mul_digits(a, b, 2 * k, base))
    for a in _operands(base, k, base):
      for b in _operands(base, k, base + 200):
        want = _to_digits(_to_int(a, base) * _to_int(b, base), base, 2 * k)
        np.testing.assert_array_equal(mul(jnp.asarray(a), jnp.asarray(b)), want)

  @chex.variants(with_jit=True, without_jit=True)
  def test_traced_base_gives_the_same_digits(self):
    # One program for every base: the base an argument, not a constant.
    k = 6
    mul = self.variant(lambda a, b, base: digits._mul_digits(a, b, 2 * k, base))
    add = self.variant(lambda a, b, base: digits._add_digits(a, b, k + 1, base))
    for base in (2, 7, 16):
      a, b = _operands(base, k, base)[:2]
      x, y = _to_int(a, base), _to_int(b, base)
      np.testing.assert_array_equal(
          mul(jnp.asarray(a), jnp.asarray(b), jnp.int32(base)), _to_digits(x * y, base, 2 * k)
      )
      np.testing.assert_array_equal(
          add(jnp.asarray(a), jnp.asarray(b), jnp.int32(base)), _to_digits(x + y, base, k + 1)
      )

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(2, 10)
  def test_carries_resolve_any_vector_up_to_2b_minus_2(self, base):
    # v_j in [0, 2b-2] stands for sum v_j b^j; resolved, the same value mod b^n.
    rng = np.random.default_rng(base)
    carry = self.variant(lambda v: digits._propagate_carries(v, base))
    n = 12
    for _ in range(20):
      v = rng.integers(0, 2 * base - 1, n).astype(np.int32)
      want = _to_digits(_to_int(v, base) % base**n, base, n)
      np.testing.assert_array_equal(carry(jnp.asarray(v)), want)
