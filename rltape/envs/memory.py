"""The RL-NTM memory tape: a tape of real vectors with a discrete head.

Zaremba & Sutskever (2015), "Reinforcement Learning Neural Turing Machines":
the controller reads the memory at the head's *previous* location, chooses a
head move (left / stay / right), and writes a new vector at the *next* location.
Only the head location is discrete (and trained by REINFORCE); the stored
vectors are real and gradients flow through them by backpropagation.

The write is gated, as in the original implementation (``ilyasu123/rlntm``):
``cells[next] = gate * cells[next] + vector``, with ``gate`` in (0, 1) from a
sigmoid and ``vector`` from a tanh. The gate lets a cell keep what was stored
there earlier; without it a read would only ever return the last write. The
tape wraps around (the original indexes it modulo its length); callers make it
long enough that a head starting in the middle never wraps within an episode.

Everything here is a pure function of explicit state, jittable and vmappable.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
from flax import struct

#: Head moves of the RL-NTM memory: left, stay, right.
MOVES: tuple[int, ...] = (-1, 0, 1)


@struct.dataclass
class MemoryState:
  """A memory tape.

  Attributes:
    cells: float[size, dim], the stored vectors.
    head: int32[], the head location in [0, size).
  """

  cells: jax.Array
  head: jax.Array

  @property
  def size(self) -> int:
    return self.cells.shape[-2]

  @property
  def dim(self) -> int:
    return self.cells.shape[-1]


def init(size: int, dim: int, dtype=jnp.float32, head: int | None = None) -> MemoryState:
  """An all-zero tape with the head in the middle (or at ``head``).

  Args:
    size: number of cells (static).
    dim: dimension of each stored vector (static).
    dtype: float dtype of the cells.
    head: initial head location; defaults to ``size // 2`` so that a head
      that moves at most ``size // 2`` times never wraps.

  Returns:
    The initial ``MemoryState``.

  Raises:
    ValueError: on a non-positive size or dim, or a head outside the tape.
  """
  if not isinstance(size, int) or size < 1:
    raise ValueError(f"memory size must be a positive int, got {size!r}")
  if not isinstance(dim, int) or dim < 1:
    raise ValueError(f"memory dim must be a positive int, got {dim!r}")
  if head is None:
    head = size // 2
  if not 0 <= head < size:
    raise ValueError(f"memory head must be in [0, {size}), got {head!r}")
  return MemoryState(cells=jnp.zeros((size, dim), dtype), head=jnp.asarray(head, jnp.int32))


def read(mem: MemoryState) -> jax.Array:
  """The vector under the head: float[dim]."""
  chex.assert_rank(mem.cells, 2)
  return mem.cells[mem.head]


def move(mem: MemoryState, delta: jax.Array) -> MemoryState:
  """Moves the head by ``delta`` cells (wrapping around the tape)."""
  head = jnp.mod(mem.head + jnp.asarray(delta, jnp.int32), mem.size)
  return mem.replace(head=head.astype(jnp.int32))


def write(mem: MemoryState, gate: jax.Array, vector: jax.Array) -> MemoryState:
  """Gated write under the head: ``cells[head] = gate * cells[head] + vector``.

  Args:
    mem: the tape.
    gate: float[dim] or float[] in [0, 1] (how much of the old value to keep).
    vector: float[dim], the value to add.

  Returns:
    The new tape; differentiable in ``mem.cells``, ``gate`` and ``vector``.
  """
  chex.assert_rank(vector, 1)
  chex.assert_equal(vector.shape[0], mem.dim)
  old = mem.cells[mem.head]
  return mem.replace(cells=mem.cells.at[mem.head].set(gate * old + vector))


def move_index_to_delta(move_index: jax.Array, moves: tuple[int, ...] = MOVES) -> jax.Array:
  """Maps an action index in [0, len(moves)) to a head delta."""
  return jnp.asarray(moves, jnp.int32)[move_index]


def step(
    mem: MemoryState,
    move_index: jax.Array,
    gate: jax.Array,
    vector: jax.Array,
    moves: tuple[int, ...] = MOVES,
) -> tuple[jax.Array, MemoryState]:
  """One RL-NTM memory step: read at the previous location, move, write at the next.

  The controller usually needs the read *before* it picks the move and the
  written vector, so agents call :func:`read` and then :func:`move_and_write`;
  this function composes the two for tests and simple uses.

  Returns:
    (the vector read at the previous head location, the new tape).
  """
  r = read(mem)
  return r, move_and_write(mem, move_index, gate, vector, moves)


def move_and_write(
    mem: MemoryState,
    move_index: jax.Array,
    gate: jax.Array,
    vector: jax.Array,
    moves: tuple[int, ...] = MOVES,
) -> MemoryState:
  """Moves the head by ``moves[move_index]`` and writes at the new location."""
  return write(move(mem, move_index_to_delta(move_index, moves)), gate, vector)
