"""Digit arithmetic shared by the addition tasks of both families: ``carry_digits``."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def carry_digits(column_sums: jax.Array, base: int, max_carry: int) -> tuple[jax.Array, jax.Array]:
  """Digits and carries of a little-endian column-wise sum.

  A sequential `lax.scan` over columns: under `vmap` each iteration is one vector
  operation over the batch, which on CPU beat a log-depth `associative_scan` over
  carry-transfer tables by 7x (L = 100) to 20x (L = 1000, multiplication), since the
  latter's batched gathers are slow.

  Args:
    column_sums: int32 [C]: per-column totals (0 past the active columns).
    base: the number base.
    max_carry: the largest carry that can occur (documents the range; unused).

  Returns:
    digits: int32 [C]: (s_c + carry_in_c) % base.
    carry_out: int32 [C]: the carry leaving column c.
  """
  del max_carry

  def column(carry, s):
    total = s + carry
    return total // base, (total % base, total // base)

  _, (digits, carry_out) = jax.lax.scan(
      column, jnp.zeros((), jnp.int32), column_sums.astype(jnp.int32)
  )
  return digits, carry_out
