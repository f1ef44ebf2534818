"""The RL-NTM controller: an LSTM with sampled discrete actions and a memory interface.

Zaremba & Sutskever (2015), "Reinforcement Learning Neural Turing Machines". At
each step the controller sees the symbol under the input head, the vector read
from the memory tape at the head's previous location, and its own previous
discrete actions. It emits

* logits of three discrete, sampled actions -- the input-head move, the
  memory-head move (left / stay / right) and the output action (write or not) --
  each multiplied by ``logit_scale`` (the original's "action slowdown", which
  slows the policy down relative to the rest of the model);
* logits of the output symbol (a softmax trained by log-likelihood of the
  target whenever the agent writes);
* a gate in (0, 1) and a vector in (-1, 1) that are written to the memory at
  the head's next location (trained by backpropagation);
* a learned baseline of the reward-to-go, computed from the LSTM state with
  the gradient stopped, so the baseline's regression never moves the policy.
"""
from __future__ import annotations

from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


class ControllerOutput(NamedTuple):
    """One step's outputs (unbatched shapes; a leading batch axis under vmap)."""
    in_logits: jax.Array      # [num_in_moves]
    mem_logits: jax.Array     # [num_mem_moves]
    write_logits: jax.Array   # [2]
    symbol_logits: jax.Array  # [base]
    mem_gate: jax.Array       # [mem_dim], in (0, 1)
    mem_vector: jax.Array     # [mem_dim], in (-1, 1)
    baseline: jax.Array       # [], estimate of the reward-to-go


class Controller(nn.Module):
    """LSTM controller of the RL-NTM.

    Attributes:
      hidden: LSTM width.
      num_in_moves: number of input-head moves (the environment's ``num_moves``).
      num_mem_moves: number of memory-head moves (3: left / stay / right).
      base: number of output symbols.
      mem_dim: dimension of a memory vector.
      logit_scale: multiplier on the three action heads' logits.
    """
    hidden: int
    num_in_moves: int
    num_mem_moves: int
    base: int
    mem_dim: int
    logit_scale: float = 1.0

    def initial_carry(self, dtype=jnp.float32):
        return (jnp.zeros((self.hidden,), dtype), jnp.zeros((self.hidden,), dtype))

    @nn.compact
    def __call__(self, carry, x):
        """One step: (carry, input vector) -> (carry, ControllerOutput)."""
        carry, h = nn.OptimizedLSTMCell(self.hidden, name="lstm")(carry, x)
        sizes = (self.num_in_moves, self.num_mem_moves, 2, self.base, self.mem_dim, self.mem_dim)
        out = nn.Dense(sum(sizes), name="heads")(h)
        splits = np.cumsum(sizes)[:-1].tolist()
        in_l, mem_l, wr_l, sym_l, gate, vec = jnp.split(out, splits, axis=-1)
        baseline = nn.Dense(1, name="baseline")(jax.lax.stop_gradient(h))[..., 0]
        s = self.logit_scale
        return carry, ControllerOutput(
            in_logits=s * in_l, mem_logits=s * mem_l, write_logits=s * wr_l,
            symbol_logits=sym_l, mem_gate=jax.nn.sigmoid(gate), mem_vector=jnp.tanh(vec),
            baseline=baseline)

    def input_size(self, obs_size: int) -> int:
        """Size of the per-step input vector built by the agent."""
        return obs_size + self.mem_dim + self.num_in_moves + self.num_mem_moves + 2
