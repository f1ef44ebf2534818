"""Controllers of the Q-learning tape agents of Zaremba, Mikolov, Joulin & Fergus (2016,
"Learning Simple Algorithms from Examples").

One layer, GRU / LSTM / feed-forward. At every step the controller sees

* the symbol under the read head (`obs_size` = base + blank),
* its previous joint action (head move x write-or-not, plus a "start" slot),
* its previous prediction (the symbol it wrote, plus a "nothing written" slot),

and emits Q values over the joint action and logits over the output symbols. The
symbol head is trained by cross-entropy on the steps that write; the Q-head by
Q-learning. The feed-forward controller has no state beyond this input, so its
only memory is its previous action.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

CONTROLLERS = ("gru", "lstm", "ff")


def input_size(obs_size: int, num_actions: int, base: int) -> int:
  """Width of the encoded controller input."""
  return obs_size + (num_actions + 1) + (base + 1)


def encode_input(
    obs: jax.Array,
    prev_action: jax.Array,
    prev_symbol: jax.Array,
    *,
    obs_size: int,
    num_actions: int,
    base: int,
) -> jax.Array:
  """One-hot controller input.

  Args:
    obs: int32 [...], symbol under the head in [0, obs_size).
    prev_action: int32 [...], previous joint action in [0, num_actions], where
      num_actions means "no previous action" (first step).
    prev_symbol: int32 [...], previously written symbol in [0, base], where base
      means "nothing written".
    obs_size: observation alphabet size.
    num_actions: size of the joint action set.
    base: number of output symbols.

  Returns:
    float32 [..., input_size(obs_size, num_actions, base)].
  """
  return jnp.concatenate(
      [
          jax.nn.one_hot(obs, obs_size),
          jax.nn.one_hot(prev_action, num_actions + 1),
          jax.nn.one_hot(prev_symbol, base + 1),
      ],
      axis=-1,
  )


class Controller(nn.Module):
  """One-layer controller with a joint-action Q-head and a symbol head.

  Attributes:
    kind: "gru", "lstm" or "ff".
    units: hidden units.
    num_actions: joint actions (head moves x {no write, write}).
    base: output symbols.
    head_layer: recurrent kinds only: a Dense(units) + tanh layer between the
      recurrent state and both heads, as in the paper's code (its feed-forward
      controller is already Dense + tanh).
  """

  kind: str
  units: int
  num_actions: int
  base: int
  head_layer: bool = False

  def initial_carry(self, batch_shape: tuple[int, ...] = ()) -> Any:
    """Zero recurrent state (a dummy [.., 1] array for the feed-forward kind)."""
    zeros = jnp.zeros(batch_shape + (self.units,), jnp.float32)
    if self.kind == "lstm":
      return (zeros, zeros)
    if self.kind == "gru":
      return zeros
    return jnp.zeros(batch_shape + (1,), jnp.float32)

  @nn.compact
  def __call__(self, carry: Any, x: jax.Array) -> tuple[Any, tuple[jax.Array, jax.Array]]:
    if self.kind == "gru":
      carry, h = nn.GRUCell(self.units, name="gru")(carry, x)
    elif self.kind == "lstm":
      carry, h = nn.OptimizedLSTMCell(self.units, name="lstm")(carry, x)
    elif self.kind == "ff":
      h = jnp.tanh(nn.Dense(self.units, name="hidden")(x))
    else:
      raise ValueError(f"unknown controller {self.kind!r}; allowed: {CONTROLLERS}")
    if self.head_layer and self.kind != "ff":
      h = jnp.tanh(nn.Dense(self.units, name="head_hidden")(h))
    q = nn.Dense(self.num_actions, name="q_head")(h)
    logits = nn.Dense(self.base, name="symbol_head")(h)
    return carry, (q, logits)


def unroll(
    model: Controller, params: Any, carry: Any, inputs: jax.Array
) -> tuple[jax.Array, jax.Array]:
  """Runs the controller over a [T, B, D] input sequence (time major).

  The feed-forward controller is applied to all steps at once; the recurrent
  ones scan over time.

  Returns:
    (q [T, B, A], logits [T, B, base]).
  """
  if model.kind == "ff":
    _, (q, logits) = model.apply(params, carry, inputs)
    return q, logits

  def step(c, x):
    c, out = model.apply(params, c, x)
    return c, out

  _, (q, logits) = jax.lax.scan(step, carry, inputs)
  return q, logits
