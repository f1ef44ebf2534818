"""Tests for the RL-NTM memory tape against a plain-Python list-of-lists oracle."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rltape.envs import memory


class PyTape:
  """Independent oracle: a Python list of cells and an int head."""

  def __init__(self, size, dim, head):
    self.cells = [[0.0] * dim for _ in range(size)]
    self.head = head

  def step(self, delta, gate, vec):
    read = list(self.cells[self.head])
    self.head = (self.head + delta) % len(self.cells)
    old = self.cells[self.head]
    self.cells[self.head] = [g * o + v for g, o, v in zip(gate, old, vec)]
    return read


class MemoryTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_matches_python_oracle(self):
    size, dim, steps = 5, 3, 12
    rng = np.random.default_rng(0)
    move_idx = rng.integers(0, 3, steps)
    gates = rng.uniform(0, 1, (steps, dim))
    vecs = rng.normal(size=(steps, dim))
    oracle = PyTape(size, dim, head=size // 2)

    @self.variant
    def run(mem, m, g, v):
      return memory.step(mem, m, g, v)

    mem = memory.init(size, dim)
    for t in range(steps):
      expected_read = oracle.step(memory.MOVES[move_idx[t]], gates[t], vecs[t])
      r, mem = run(
          mem,
          jnp.int32(move_idx[t]),
          jnp.asarray(gates[t], jnp.float32),
          jnp.asarray(vecs[t], jnp.float32),
      )
      np.testing.assert_allclose(r, expected_read, rtol=1e-5, atol=1e-6)
      self.assertEqual(int(mem.head), oracle.head)
      np.testing.assert_allclose(mem.cells, np.array(oracle.cells), rtol=1e-5, atol=1e-6)

  def test_read_is_previous_location_write_is_next(self):
    # Hand-worked: head 2, move right, write [1, 2] at 3; the read returned
    # is cell 2 (zeros); the next read (cell 3) sees the write.
    mem = memory.init(5, 2)
    mem = mem.replace(cells=mem.cells.at[2].set(jnp.array([7.0, 8.0])))
    r, mem = memory.step(mem, jnp.int32(2), jnp.zeros(2), jnp.array([1.0, 2.0]))
    np.testing.assert_allclose(r, [7.0, 8.0])
    self.assertEqual(int(mem.head), 3)
    np.testing.assert_allclose(memory.read(mem), [1.0, 2.0])
    np.testing.assert_allclose(mem.cells[2], [7.0, 8.0])  # untouched
    # Stay, gate 0.5: 0.5 * [1, 2] + [1, 1].
    r, mem = memory.step(mem, jnp.int32(1), jnp.full(2, 0.5), jnp.ones(2))
    np.testing.assert_allclose(r, [1.0, 2.0])
    np.testing.assert_allclose(memory.read(mem), [1.5, 2.0])

  def test_wraps_around(self):
    mem = memory.init(3, 1, head=0)
    mem = memory.move(mem, -1)
    self.assertEqual(int(mem.head), 2)
    mem = memory.move(mem, 1)
    self.assertEqual(int(mem.head), 0)

  def test_gradient_flows_through_stored_vectors(self):
    # Write v at t=0, move away, come back, read: d read / d v = gate products.
    def f(v, g):
      mem = memory.init(4, 2, head=1)
      _, mem = memory.step(mem, jnp.int32(2), jnp.ones(2), v)  # write v at 2
      _, mem = memory.step(mem, jnp.int32(2), jnp.ones(2), v * 0.0)  # at 3
      _, mem = memory.step(mem, jnp.int32(0), g, jnp.zeros(2))  # back to 2: g*v
      return jnp.sum(memory.read(mem) * jnp.array([1.0, 3.0]))

    v = jnp.array([0.5, -1.0])
    g = jnp.array([0.25, 0.75])
    dv, dg = jax.grad(f, argnums=(0, 1))(v, g)
    np.testing.assert_allclose(dv, [0.25 * 1.0, 0.75 * 3.0], rtol=1e-6)
    np.testing.assert_allclose(dg, [0.5 * 1.0, -1.0 * 3.0], rtol=1e-6)

  def test_vmaps_over_a_batch(self):
    mems = jax.vmap(lambda _: memory.init(4, 2))(jnp.arange(3))
    moves = jnp.array([0, 1, 2], jnp.int32)
    r, new = jax.vmap(memory.step)(mems, moves, jnp.zeros((3, 2)), jnp.ones((3, 2)))
    chex.assert_shape(r, (3, 2))
    np.testing.assert_array_equal(new.head, [1, 2, 3])

  def test_bad_arguments(self):
    with pytest.raises(ValueError, match="size"):
      memory.init(0, 2)
    with pytest.raises(ValueError, match="dim"):
      memory.init(3, 0)
    with pytest.raises(ValueError, match="head"):
      memory.init(3, 2, head=3)
