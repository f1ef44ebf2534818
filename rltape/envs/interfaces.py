"""The interfaces of the algorithmic environments, as small pure functions.

Zaremba et al. (2016) describe a task as a controller acting through interfaces:
an input tape (a read head moving over a 1-D tape), an input grid (a read head moving
over a 2-D grid), an output tape (written left to right, each write judged against the
next target) and, for RL-NTM, a memory tape of real vectors (`rltape.envs.memory`).
`AlgorithmicEnv.step` is these functions composed; they are exposed for agents and
tests that need an interface on its own. A 1-D tape is stored as a grid with one row,
so the same read/move functions serve both; all functions are unbatched (vmap them).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def read_cell(inputs: jax.Array, head: jax.Array, blank: int) -> jax.Array:
  """The symbol under the read head.

  Args:
    inputs: int [rows, cols]: the tape (rows = 1) or grid.
    head: int32 [2]: (row, column); may lie anywhere, off the stored input too.
    blank: the id returned off the input.

  Returns:
    int32 []: inputs[head], or `blank` when the head is outside the array.
  """
  rows, cols = inputs.shape
  r, c = head[0], head[1]
  inside = (r >= 0) & (r < rows) & (c >= 0) & (c < cols)
  val = inputs[jnp.clip(r, 0, rows - 1), jnp.clip(c, 0, cols - 1)]
  return jnp.where(inside, val.astype(jnp.int32), blank)


def move_head(head: jax.Array, deltas: jax.Array, move: jax.Array) -> jax.Array:
  """The head after move `move`; an out-of-range index is clipped into range.

  Args:
    head: int32 [2]: (row, column).
    deltas: int32 [num_moves, 2]: (drow, dcol) of each move, e.g. a tape's
      [[0, -1], [0, 1]] (left, right) or a grid's left, right, up, down.
    move: int32 []: the move index.
  """
  return head + deltas[jnp.clip(move, 0, deltas.shape[0] - 1)]


def write_output(
    targets: jax.Array,
    num_targets: jax.Array,
    write_pos: jax.Array,
    write: jax.Array,
    symbol: jax.Array,
):
  """Judges one (possible) write on the output tape.

  Args:
    targets: int32 [T]: the symbols the output tape must receive (-1 padded).
    num_targets: int32 []: how many are valid.
    write_pos: int32 []: writes made so far.
    write: bool []: whether this step writes.
    symbol: int32 []: the symbol written (any int; one outside the targets' range
      is simply wrong).

  Returns:
    target: int32 [], the symbol the next write must produce (-1 when none is left);
    correct: bool [], this step wrote `target`; wrong: bool [], it wrote something
    else (including a write past the last target); write_pos: int32 [], advanced by
    one on every write, right or wrong.
  """
  has_target = write_pos < num_targets
  target = jnp.where(has_target, targets[jnp.clip(write_pos, 0, targets.shape[0] - 1)], -1)
  correct = write & has_target & (symbol == target)
  wrong = write & ~correct
  return target, correct, wrong, write_pos + write.astype(jnp.int32)
