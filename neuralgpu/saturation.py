"""DNGPU's adaptive saturation-cost weight (Freivalds & Liepins 2017, section 3; their
trainer), as explicit state carried by the train step (``optim.saturation_adapt="dngpu"``)."""

from __future__ import annotations

import flax
import jax
import jax.numpy as jnp


@flax.struct.dataclass
class SaturationState:
  """DNGPU's adaptive saturation-cost weight (Freivalds & Liepins 2017, section 3; their
  trainer): every ``every`` steps ``weight <- clip(lr * mean CE * weight / (weight *
  mean raw cost + 1e-20), min, max)``, so the weighted term stays near lr x CE."""

  weight: jax.Array  # float32, the weight used by the next steps
  ce_sum: jax.Array  # float32, sum of the task loss (CE) over the current window
  raw_sum: jax.Array  # float32, sum of the unweighted saturation cost over it
  count: jax.Array  # int32, steps in the window


def saturation_adaptive(cfg) -> bool:
  return cfg.optim.get("saturation_adapt", "fixed") == "dngpu"


def saturation_init(cfg) -> SaturationState:
  return SaturationState(
      weight=jnp.asarray(float(cfg.model.saturation_cost), jnp.float32),
      ce_sum=jnp.zeros((), jnp.float32),
      raw_sum=jnp.zeros((), jnp.float32),
      count=jnp.zeros((), jnp.int32),
  )


def saturation_update(st: SaturationState, ce, raw, lr, cfg) -> SaturationState:
  """Adds one step's CE and raw saturation cost; at the end of a window, sets the new
  weight from the window means and the current learning rate (DNGPU's rule)."""
  o = cfg.optim
  every = int(o.saturation_adapt_every)
  ce_sum = st.ce_sum + ce
  raw_sum = st.raw_sum + raw
  count = st.count + 1
  at = count >= every
  n = count.astype(jnp.float32)
  new_w = lr * (ce_sum / n) * st.weight / (st.weight * (raw_sum / n) + 1e-20)
  new_w = jnp.clip(new_w, float(o.saturation_min), float(o.saturation_max))
  z = jnp.zeros((), jnp.float32)
  return SaturationState(
      weight=jnp.where(at, new_w, st.weight),
      ce_sum=jnp.where(at, z, ce_sum),
      raw_sum=jnp.where(at, z, raw_sum),
      count=jnp.where(at, 0, count),
  )
