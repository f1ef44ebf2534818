"""The model config a run compiles: ``conv_impl`` and ``remat`` = 'auto' resolved for the
backend and the model's size (``resolve_model_config``), and the sizes the choice reads."""

from __future__ import annotations

import jax
import ml_collections

from neuralgpu import model as model_lib

# From this many maps ``conv_impl="auto"`` picks ``grouped`` on CPU (as fast as
# ``folded`` at 128 maps, 1.1-1.4x faster at 256; slower at 24).
GROUPED_FROM_MAPS = 128
# The most bytes the ``save_dots`` policy may keep for the backward pass of one train
# step before ``remat="auto"`` falls back to ``every_step`` on CPU.
SAVE_DOTS_BUDGET_BYTES = 2 * 2**30


def examples_per_step(cfg) -> int:
  """Training examples per step: the batch, times the bins in ``bucket_mode='all'``."""
  cu = cfg.curriculum
  n = int(cfg.batch_size)
  return n * len(cu.buckets) if cu.bucket_mode == "all" else n


def saved_dots_bytes(cfg: ml_collections.ConfigDict) -> int:
  """Bytes the ``save_dots`` policy keeps for the backward pass of one train step at the
  widest bin: per step the state and, per CGRU, its gate and candidate conv outputs (3
  states' worth), in f32; every example of the step (a batch per bin in
  ``bucket_mode="all"``)."""
  m = cfg.model
  n = int(cfg.curriculum.buckets[-1])
  state = examples_per_step(cfg) * n * int(m.height) * int(m.num_maps) * 4
  return model_lib.num_steps_for(m, n) * state * (1 + 3 * int(m.cgrus_per_step))


def resolve_model_config(cfg: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """The model config with ``conv_impl`` and ``remat`` = 'auto' resolved for the backend.

  On XLA:CPU the shifted-slices conv is 3-6x faster than ``lax.conv_general_dilated``
  (whose weight gradient XLA:CPU runs as a slow generic convolution) and the height-folded
  form faster again for a height above 1 (1.4x at 24 maps, 1.1x at 128 in the faithful
  train step; at height 1 the two are the same matmul), and from ``GROUPED_FROM_MAPS``
  maps the grouped form (no folded excess). Of the remat policies,
  ``save_dots`` (every step rematerialised except its conv outputs, so the backward pass
  recomputes no matmul) is the fastest on CPU while what it keeps fits in
  ``SAVE_DOTS_BUDGET_BYTES`` (1.23x ``every_step`` at 128 maps, as fast at height 1), then
  ``every_step``; storing every residual (``none``) is the slowest there, bound by the
  page faults of its large buffers (benchmarks/, results/benchmarks/). All forms and
  policies give the same gradients up to float rounding (``save_dots`` and
  ``every_step`` bitwise the same on the models tested)."""
  mcfg = ml_collections.ConfigDict(cfg.model.to_dict())
  cpu = jax.default_backend() == "cpu"
  if mcfg.conv_impl == "auto":
    if not cpu:
      mcfg.conv_impl = "xla"
    else:
      wide = int(mcfg.num_maps) >= GROUPED_FROM_MAPS
      mcfg.conv_impl = "grouped" if wide else "folded"
  if mcfg.get("remat", "none") == "auto":
    if not cpu:
      mcfg.remat = "none"
    else:
      fits = saved_dots_bytes(cfg) <= SAVE_DOTS_BUDGET_BYTES
      mcfg.remat = "save_dots" if fits else "every_step"
  return mcfg
