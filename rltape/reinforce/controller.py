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
  target whenever the agent writes). With ``symbol_source="lstm"`` they are a
  linear function of the LSTM output. With ``symbol_source="direct"`` (a
  direct-access output) they are a linear function of the symbol under the
  input head and the vector read from memory only, and a memory write is
  ``cell = g * cell + (1 - g) * embedding(symbol under the input head)`` with
  one scalar gate ``g`` from the LSTM (the LSTM still sets the gate and every
  move). The LSTM then cannot store the input in its state and replay it,
  neither directly nor through memory vectors of its own making: what is
  written comes from what the two heads stand on. Measured: with the LSTM path, agents
  trained on RepeatCopy and Reverse memorised inputs up to the training
  length and failed beyond it; with a direct symbol but LSTM-made memory
  vectors, or with embedded vectors under a per-dimension LSTM gate,
  RepeatCopy agents kept the memory head on one cell and replayed the input
  from it (``results/rlntm/README.md``);
* a gate in (0, 1) and a vector in (-1, 1) that are written to the memory at
  the head's next location (trained by backpropagation; with
  ``symbol_source="direct"``, one scalar gate and the embedded observed symbol);
* with ``memory_write="sampled"``, a fourth sampled action instead of the
  gate: write (the cell becomes the vector) or keep the cell as it is, trained
  by REINFORCE like the moves, so a cell holds exactly one written vector and
  never a blend (``mem_write_logits``; ``mem_gate`` is then unused);
* with ``memory_write="hard"``, the gate rounded to 0 or 1 in the forward pass
  (a cell is kept or overwritten, never blended) and trained by backpropagation
  through the unrounded gate (the straight-through estimator);
* a learned baseline of the reward-to-go, computed from the LSTM state with
  the gradient stopped, so the baseline's regression never moves the policy.
"""

from __future__ import annotations

from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

SYMBOL_SOURCES = ("lstm", "direct")
MEMORY_WRITES = ("gate", "sampled", "hard")
CORES = ("lstm", "ff")


def straight_through_round(g: jax.Array) -> jax.Array:
  """``round(g)`` in the forward pass, the gradient of ``g`` in the backward pass."""
  return g + jax.lax.stop_gradient(jnp.round(g) - g)


class ControllerOutput(NamedTuple):
  """One step's outputs (unbatched shapes; a leading batch axis under vmap)."""

  in_logits: jax.Array  # [num_in_moves]
  mem_logits: jax.Array  # [num_mem_moves]
  write_logits: jax.Array  # [2]
  symbol_logits: jax.Array  # [base]
  mem_gate: jax.Array  # [mem_dim], in (0, 1)
  mem_vector: jax.Array  # [mem_dim], in (-1, 1)
  baseline: jax.Array  # [], estimate of the reward-to-go
  mem_write_logits: jax.Array  # [2] (keep, write); zeros unless memory_write="sampled"


class Controller(nn.Module):
  """LSTM controller of the RL-NTM.

  Attributes:
    hidden: LSTM width.
    num_in_moves: number of input-head moves (the environment's ``num_moves``).
    num_mem_moves: number of memory-head moves (3: left / stay / right).
    base: number of output symbols.
    mem_dim: dimension of a memory vector.
    logit_scale: multiplier on the three action heads' logits.
    symbol_source: "lstm" (symbol logits from the LSTM output) or "direct"
      (from the observation and the memory read only; see the module doc).
    memory_write: "gate" (a gate in (0, 1) blends the cell with the vector,
      trained by backpropagation), "hard" (the gate rounded to 0 or 1 in the
      forward pass, with the gradient of the unrounded gate: straight-through)
      or "sampled" (a sampled keep/write action).
    core: "lstm" (the RL-NTM's recurrent controller) or "ff" (one tanh layer of
      ``hidden`` units on this step's input: the observation, the memory read and
      the previous actions; the carry is passed through unchanged). A
      feed-forward policy cannot count steps, so whatever it remembers must
      be on the tapes or in its last actions.
  """

  hidden: int
  num_in_moves: int
  num_mem_moves: int
  base: int
  mem_dim: int
  logit_scale: float = 1.0
  symbol_source: str = "lstm"
  memory_write: str = "gate"
  core: str = "lstm"

  def initial_carry(self, dtype=jnp.float32):
    return (jnp.zeros((self.hidden,), dtype), jnp.zeros((self.hidden,), dtype))

  @nn.compact
  def __call__(self, carry, x):
    """One step: (carry, input vector) -> (carry, ControllerOutput)."""
    if self.symbol_source not in SYMBOL_SOURCES:
      raise ValueError(
          f"symbol_source must be one of {SYMBOL_SOURCES}, got " f"{self.symbol_source!r}"
      )
    if self.memory_write not in MEMORY_WRITES:
      raise ValueError(
          f"memory_write must be one of {MEMORY_WRITES}, got " f"{self.memory_write!r}"
      )
    if self.core not in CORES:
      raise ValueError(f"core must be one of {CORES}, got {self.core!r}")
    if self.core == "lstm":
      carry, h = nn.OptimizedLSTMCell(self.hidden, name="lstm")(carry, x)
    else:
      h = jnp.tanh(nn.Dense(self.hidden, name="ff")(x))
    direct = self.symbol_source == "direct"
    sampled = self.memory_write == "sampled"
    # The gate slot holds the two keep/write logits when the write is sampled.
    gate_size = 2 if sampled else (1 if direct else self.mem_dim)
    sizes = (
        self.num_in_moves,
        self.num_mem_moves,
        2,
        0 if direct else self.base,
        gate_size,
        0 if direct else self.mem_dim,
    )
    out = nn.Dense(sum(sizes), name="heads")(h)
    splits = np.cumsum(sizes)[:-1].tolist()
    in_l, mem_l, wr_l, sym_l, gate, vec = jnp.split(out, splits, axis=-1)
    if direct:
      # x starts with the one-hot observation (base + 1) and the memory read.
      obs = x[..., : self.base + 1]
      sym_l = nn.Dense(self.base, name="symbol")(x[..., : self.base + 1 + self.mem_dim])
      embed = jnp.tanh(nn.Dense(self.mem_dim, name="mem_embed")(obs))
      if sampled:
        mem_gate, mem_vector = jnp.zeros_like(embed), embed
      else:
        # One scalar gate: the cell becomes g * old + (1 - g) * embedding(observation).
        g = jax.nn.sigmoid(gate)
        if self.memory_write == "hard":
          g = straight_through_round(g)
        mem_gate = jnp.broadcast_to(g, g.shape[:-1] + (self.mem_dim,))
        mem_vector = (1.0 - g) * embed
    elif sampled:
      mem_vector = jnp.tanh(vec)
      mem_gate = jnp.zeros_like(mem_vector)
    else:
      mem_gate, mem_vector = jax.nn.sigmoid(gate), jnp.tanh(vec)
      if self.memory_write == "hard":
        mem_gate = straight_through_round(mem_gate)
    mem_write_logits = gate if sampled else jnp.zeros(gate.shape[:-1] + (2,), gate.dtype)
    baseline = nn.Dense(1, name="baseline")(jax.lax.stop_gradient(h))[..., 0]
    s = self.logit_scale
    return carry, ControllerOutput(
        in_logits=s * in_l,
        mem_logits=s * mem_l,
        write_logits=s * wr_l,
        symbol_logits=sym_l,
        mem_gate=mem_gate,
        mem_vector=mem_vector,
        baseline=baseline,
        mem_write_logits=s * mem_write_logits,
    )

  def input_size(self, obs_size: int) -> int:
    """Size of the per-step input vector built by the agent."""
    extra = 2 if self.memory_write == "sampled" else 0
    return obs_size + self.mem_dim + self.num_in_moves + self.num_mem_moves + 2 + extra

  @property
  def num_heads(self) -> int:
    """Number of sampled actions per step (3, or 4 with a sampled memory write)."""
    return 4 if self.memory_write == "sampled" else 3
