"""Training the Neural GPU: the jitted train step and ``train_and_evaluate``.

The train step is a pure function ``state -> state`` of an explicit ``TrainState``
(parameters, optimizer state, curriculum and relaxation state, PRNG key, step
and on-device metric sums). Everything that varies per seed is data, so a pool of
seeds is ``jax.vmap(train_step)`` (see ``neuralgpu.pool``). The only static
argument is the padded length bucket, chosen on the host from the curriculum, so
training compiles at most ``len(curriculum.buckets)`` step functions.

A run killed at any point and resumed from its last checkpoint ends bit-identical
to an uninterrupted run on CPU: all randomness is ``fold_in(key, step)`` and every
piece of state is in the checkpoint.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Callable

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from neuralgpu import config as config_lib
from neuralgpu import curriculum as curriculum_lib
from neuralgpu import evaluate as evaluate_lib
from neuralgpu import model as model_lib
from neuralgpu import tasks as tasks_lib
from neuralgpu.optim import add_grad_noise, lr_scale_of, make_optimizer
from runkit import workdir as workdir_lib

METRIC_KEYS = (
    "loss",
    "ce",
    "digit_wrong",
    "digit_total",
    "seq_wrong",
    "seq_total",
    "steps",
    "length_sum",
    "grad_norm",
)


@flax.struct.dataclass
class TrainState:
  step: jax.Array  # int32
  params: Any
  opt_state: Any
  curriculum: curriculum_lib.CurriculumState
  relax: curriculum_lib.RelaxState
  key: jax.Array  # uint32[2] raw key data (checkpointable)
  last_seq_err: jax.Array  # float32, drives gradient noise
  metrics: dict  # float32 sums since the last log
  # Moving average of ``params`` (``optim.ema_decay`` > 0), else None.
  ema_params: Any = None
  # The adaptive saturation-cost weight and its window sums
  # (``optim.saturation_adapt="dngpu"``), else None.
  saturation: Any = None


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


def ema_decay(cfg) -> float:
  return float(cfg.optim.get("ema_decay", 0.0))


def eval_params(state: TrainState):
  """The parameters that checks and evaluations use: the moving average when the
  run keeps one (``optim.ema_decay`` > 0), else the trained parameters."""
  return state.params if state.ema_params is None else state.ema_params


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


def zero_metrics() -> dict:
  return {k: jnp.zeros((), jnp.float32) for k in METRIC_KEYS}


def init_state(key: jax.Array, cfg, num_tasks: int) -> TrainState:
  k_params, k_train = jax.random.split(key)
  params = model_lib.init_params(k_params, cfg.model)
  opt_state = make_optimizer(cfg).init(params)
  return TrainState(
      step=jnp.zeros((), jnp.int32),
      params=params,
      opt_state=opt_state,
      curriculum=curriculum_lib.init(num_tasks, cfg),
      relax=curriculum_lib.relax_init(cfg),
      key=jax.random.key_data(k_train),
      last_seq_err=jnp.ones((), jnp.float32),
      metrics=zero_metrics(),
      ema_params=jax.tree.map(jnp.copy, params) if ema_decay(cfg) > 0 else None,
      saturation=saturation_init(cfg) if saturation_adaptive(cfg) else None,
  )


def make_batch_for(
    key, tasks, task_idx, lengths, bucket, mode, set_key=None, set_size=0, strip=False
):
  """The batch of ``_make_batch_for``, with the result's high zeros made padding when
  ``strip`` (``model.targets="stripped"``)."""
  x, y = _make_batch_for(key, tasks, task_idx, lengths, bucket, mode, set_key, set_size)
  return (x, tasks_lib.strip_high_zeros(y)) if strip else (x, y)


def _make_batch_for(key, tasks, task_idx, lengths, bucket, mode, set_key=None, set_size=0):
  """Generates a batch of the (dynamically) chosen task.

  With ``set_size`` > 0 (``curriculum.train_set_size``; one task only) the batch is
  drawn from a fixed training set of ``set_size`` examples per length, as DNGPU trains:
  example ``i`` of length ``l`` is generated from ``fold_in(fold_in(set_key, l), i)``
  with ``i`` uniform in ``[0, set_size)``, so the same examples recur all run long.
  """
  if set_size:
    k_idx = key
    idx = jax.random.randint(k_idx, lengths.shape, 0, int(set_size))
    keys = jax.vmap(lambda l, i: jax.random.fold_in(jax.random.fold_in(set_key, l), i))(
        lengths, idx
    )
    one = lambda k, l: tasks_lib.make_batch(k, tasks[0], l[None], bucket, mode=mode)
    x, y = jax.vmap(one)(keys, lengths)
    return x[:, 0], y[:, 0]
  if len(tasks) == 1:
    return tasks_lib.make_batch(key, tasks[0], lengths, bucket, mode=mode)
  if len({t.kind for t in tasks}) == 1:  # a base curriculum: one program, traced base
    base = jnp.asarray([t.base for t in tasks], jnp.int32)[task_idx]
    return tasks_lib.make_batch_for_base(key, tasks[0].kind, base, lengths, bucket, mode)
  xs, ys = zip(*[tasks_lib.make_batch(key, t, lengths, bucket, mode=mode) for t in tasks])
  x = jnp.stack(xs)[task_idx]
  y = jnp.stack(ys)[task_idx]
  return x, y


def all_bins_form(cfg) -> str:
  """``bucket_mode="all"``: one padded batch with ragged depth (accelerators) or one
  forward per bin (CPU, where padding to the longest bin costs compute)."""
  form = cfg.curriculum.all_bins_form
  if form == "auto":
    return "separate" if jax.default_backend() == "cpu" else "ragged"
  return form


def _bins_batch(key, cfg, tasks, task_idx, cur, width=None, set_key=None, mix=None):
  """``bucket_mode="all"``: per bin (inputs, targets, lengths), every bin's examples
  filling it (DNGPU), padded to ``width`` if given, else to the bin."""
  out = []
  for i, b in enumerate(int(x) for x in cfg.curriculum.buckets):
    k_len, k_data = jax.random.split(jax.random.fold_in(key, i))
    lengths = curriculum_lib.fill_lengths(k_len, int(cfg.batch_size), cur, cfg, b, tasks[-1].base)
    inputs, targets = make_batch_for(
        k_data,
        tasks,
        task_idx,
        lengths,
        b,
        cfg.operand_mode,
        set_key,
        train_set_size(cfg),
        model_lib.stripped(cfg.model),
    )
    if mix is not None:
      inputs, targets = mix(jax.random.fold_in(k_data, 7), lengths, b, inputs, targets)
    if width:  # the same examples, padded (both forms see identical data)
      pad = ((0, 0), (0, int(width) - b))
      inputs, targets = jnp.pad(inputs, pad), jnp.pad(targets, pad)
    out.append((inputs, targets, lengths, b))
  return out


def failure_mixer(cfg, tasks: tuple, strip: bool):
  """Training against failure (``curriculum.failure_share`` / ``adversarial_share``,
  Price et al. 2016, section 4): returns ``mix(key, lengths, bucket, inputs, targets)``
  that replaces the batch's first rows by structured examples of the rows' lengths
  (``tasks.make_hard_batch``) and the next ones by cases of the saved failure set that fit
  the bin (uniformly drawn; structured ones where none fits), or None when both shares
  are 0. The row counts are static: ``round(share x batch)``, at least 1 if share > 0."""
  cu = cfg.curriculum
  share = float(cu.get("failure_share", 0.0))
  adv_share = float(cu.get("adversarial_share", 0.0))
  if not (share or adv_share):
    return None
  from neuralgpu import failures

  task = tasks[0]
  adv_cases = failures.load_cases(cu.adversarial_set, task.name) if adv_share else []

  def count(p, batch):
    return 0 if p <= 0 else max(1, int(round(p * batch)))

  def mix(key, lengths, bucket, inputs, targets):
    batch = inputs.shape[0]
    h, ha = count(share, batch), count(adv_share, batch)
    h, ha = min(h, batch), min(ha, max(batch - h, 0))
    k_hard, k_adv = jax.random.split(key)
    rows_x, rows_y = failures.training_rows(adv_cases, int(bucket)) if ha else (None, None)
    n_hard = h + (ha if ha and len(rows_x) == 0 else 0)
    if n_hard:
      hx, hy = tasks_lib.make_hard_batch(k_hard, task, lengths[:n_hard], int(bucket))
      inputs, targets = inputs.at[:n_hard].set(hx), targets.at[:n_hard].set(
          tasks_lib.strip_high_zeros(hy) if strip else hy
      )
    if ha and len(rows_x):
      idx = jax.random.randint(k_adv, (ha,), 0, len(rows_x))
      ax, ay = jnp.asarray(rows_x)[idx], jnp.asarray(rows_y)[idx]
      inputs = inputs.at[h : h + ha].set(ax)
      targets = targets.at[h : h + ha].set(tasks_lib.strip_high_zeros(ay) if strip else ay)
    return inputs, targets

  return mix


def train_set_size(cfg) -> int:
  return int(cfg.curriculum.get("train_set_size", 0))


TRAIN_SET_SALT = 0x5E7


def make_train_step(
    cfg, tasks: tuple, bucket: int, mcfg=None
) -> Callable[[TrainState], TrainState]:
  """Returns the pure train step for padded length ``bucket``.

  With ``curriculum.bucket_mode="all"`` every step trains every bin (``bucket`` is
  then ignored) and the loss is the mean over bins of each bin's mean loss.
  """
  mcfg = mcfg or resolve_model_config(cfg)
  tx = make_optimizer(cfg)
  cu = cfg.curriculum
  long_every = int(cu.long_every)
  sat_w = float(cfg.model.saturation_cost)
  adaptive = saturation_adaptive(cfg)
  noise = float(cfg.optim.grad_noise)
  noise_form = cfg.optim.get("grad_noise_form", "kaiser")
  decay_on_ce = cfg.optim.get("lr_decay_on", "loss") == "ce"
  set_size = train_set_size(cfg)
  base = int(tasks[-1].base)
  strip = model_lib.stripped(mcfg)
  ema = ema_decay(cfg)
  all_bins = cu.bucket_mode == "all"
  form = all_bins_form(cfg) if all_bins else None
  mix = failure_mixer(cfg, tasks, strip)

  def forward(params, inputs, targets, relax, rng, step_counts=None, widths=None):
    """(per-example CE sums, per-example target counts, logits, saturation)."""
    logits, sat = model_lib.apply(
        params,
        inputs,
        mcfg,
        active_sets=relax.active_sets,
        rng=rng,
        train=True,
        positions=(inputs > 0) | (targets > 0),
        step_counts=step_counts,
        widths=widths,
    )
    if strip:  # DNGPU: the CE at every position of the row (own width), padding included
      width = inputs.shape[1] if widths is None else widths[:, None]
      mask = (jnp.arange(inputs.shape[1])[None, :] < width).astype(jnp.float32)
      mask = jnp.broadcast_to(mask, targets.shape)
    else:
      mask = (targets > 0).astype(jnp.float32)
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, targets)
    return jnp.sum(ce * mask, -1), jnp.sum(mask, -1), logits, sat

  def regularised(params, ce, sat, relax, sat_weight):
    total = ce + relax.pull * model_lib.relaxation_pull_loss(params, relax.active_sets)
    if sat_w > 0:
      total = total + sat_weight * sat
    return total

  def loss_fn(params, inputs, targets, relax, rng, sat_weight):
    ce_sum, count, logits, sat = forward(params, inputs, targets, relax, rng)
    ce = jnp.sum(ce_sum) / jnp.maximum(jnp.sum(count), 1.0)
    return regularised(params, ce, sat, relax, sat_weight), (ce, sat, [(logits, targets, inputs)])

  def loss_fn_bins(params, bins, relax, rng, sat_weight):
    nb = len(bins)
    if form == "ragged":
      inputs = jnp.concatenate([x for x, _, _, _ in bins])
      targets = jnp.concatenate([y for _, y, _, _ in bins])
      counts = jnp.concatenate(
          [
              jnp.full((x.shape[0],), model_lib.num_steps_for(mcfg, b), jnp.int32)
              for x, _, _, b in bins
          ]
      )
      widths = jnp.concatenate([jnp.full((x.shape[0],), b, jnp.int32) for x, _, _, b in bins])
      # Each example's saturation cost counts only its own bin's positions and steps;
      # with equal batches per bin the mean over examples is the mean over bins.
      ce_sum, count, logits, sat = forward(params, inputs, targets, relax, rng, counts, widths)
      ce_bins = jnp.sum(ce_sum.reshape(nb, -1), -1) / jnp.maximum(
          jnp.sum(count.reshape(nb, -1), -1), 1.0
      )
      ce = jnp.mean(ce_bins)
      return regularised(params, ce, sat, relax, sat_weight), (ce, sat, [(logits, targets, inputs)])
    ces, sats, outs = [], [], []
    for i, (inputs, targets, _, _) in enumerate(bins):
      ce_sum, count, logits, sat = forward(
          params, inputs, targets, relax, jax.random.fold_in(rng, i)
      )
      ces.append(jnp.sum(ce_sum) / jnp.maximum(jnp.sum(count), 1.0))
      sats.append(sat)
      outs.append((logits, targets, inputs))
    ce = sum(ces) / nb
    sat = sum(sats) / nb
    return regularised(params, ce, sat, relax, sat_weight), (ce, sat, outs)

  def train_step(state: TrainState) -> TrainState:
    key = jax.random.fold_in(jax.random.wrap_key_data(state.key), state.step)
    k_task, k_len, k_data, k_drop, k_noise = jax.random.split(key, 5)
    cs = state.curriculum
    task_idx = curriculum_lib.choose_task(k_task, cs, cfg)
    set_key = (
        jax.random.fold_in(jax.random.wrap_key_data(state.key), TRAIN_SET_SALT)
        if set_size
        else None
    )
    sat_weight = state.saturation.weight if adaptive else sat_w
    lr_now = float(cfg.optim.lr) * lr_scale_of(state.opt_state)
    if all_bins:
      width = max(int(b) for b in cu.buckets) if form == "ragged" else None
      bins = _bins_batch(k_data, cfg, tasks, task_idx, cs.cur[task_idx], width, set_key, mix)
      lengths = jnp.concatenate([l for _, _, l, _ in bins])
      (loss, (ce, sat, outs)), grads = jax.value_and_grad(loss_fn_bins, has_aux=True)(
          state.params, bins, state.relax, k_drop, sat_weight
      )
    else:
      is_long = (
          (jnp.mod(state.step, long_every) == long_every - 1)
          if long_every > 0
          else jnp.zeros((), bool)
      )
      lengths = curriculum_lib.sample_lengths(
          k_len, int(cfg.batch_size), cs.cur[task_idx], is_long, cfg, bucket, base
      )
      lengths = jnp.minimum(lengths, bucket)
      inputs, targets = make_batch_for(
          k_data, tasks, task_idx, lengths, bucket, cfg.operand_mode, set_key, set_size, strip
      )
      if mix is not None:
        inputs, targets = mix(jax.random.fold_in(k_data, 7), lengths, bucket, inputs, targets)
      (loss, (ce, sat, outs)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
          state.params, inputs, targets, state.relax, k_drop, sat_weight
      )
    if noise > 0:
      grads = add_grad_noise(
          grads, k_noise, noise_form, noise, lr_now, state.step, state.last_seq_err
      )
    updates, opt_state = tx.update(
        grads, state.opt_state, state.params, value=ce if decay_on_ce else loss
    )
    params = optax.apply_updates(state.params, updates)

    digit_wrong = digit_total = 0.0
    seq_wrongs = []
    for logits, targets, inputs in outs:
      mask = model_lib.score_mask(inputs, targets, mcfg)
      wrong = (jnp.argmax(logits, -1) != targets) & mask
      digit_wrong = digit_wrong + jnp.sum(wrong)
      digit_total = digit_total + jnp.sum(mask)
      seq_wrongs.append(jnp.any(wrong, axis=-1))
    seq_wrong = jnp.concatenate(seq_wrongs)
    step = state.step + 1
    cs = curriculum_lib.record(cs, task_idx, lengths, seq_wrong)
    cs, passed = curriculum_lib.update(cs, step, cfg)
    relax, params, _ = curriculum_lib.relax_update(state.relax, params, passed, cfg)
    ema_params = None
    if ema > 0:
      ema_params = jax.tree.map(lambda e, p: ema * e + (1.0 - ema) * p, state.ema_params, params)
    m = state.metrics
    batch_seq_err = jnp.mean(seq_wrong.astype(jnp.float32))
    metrics = {
        "loss": m["loss"] + loss,
        "ce": m["ce"] + ce,
        "digit_wrong": m["digit_wrong"] + digit_wrong,
        "digit_total": m["digit_total"] + digit_total,
        "seq_wrong": m["seq_wrong"] + jnp.sum(seq_wrong),
        "seq_total": m["seq_total"] + seq_wrong.shape[0],
        "steps": m["steps"] + 1.0,
        "length_sum": m["length_sum"] + jnp.mean(lengths.astype(jnp.float32)),
        "grad_norm": m["grad_norm"] + optax.global_norm(grads),
    }
    metrics = jax.tree.map(lambda a: a.astype(jnp.float32), metrics)
    saturation = None
    if adaptive:
      saturation = saturation_update(state.saturation, ce, jax.lax.stop_gradient(sat), lr_now, cfg)
    return TrainState(
        step=step,
        params=params,
        opt_state=opt_state,
        curriculum=cs,
        relax=relax,
        key=state.key,
        last_seq_err=batch_seq_err,
        metrics=metrics,
        ema_params=ema_params,
        saturation=saturation,
    )

  return train_step


def bucket_for(length: int, buckets) -> int:
  for b in buckets:
    if int(b) >= length:
      return int(b)
  return int(buckets[-1])


def host_bucket(cfg, step: int, max_cur: int) -> int:
  """The padded length for the step about to run (a function of state only)."""
  cu = cfg.curriculum
  if cu.bucket_mode == "all":  # every step trains every bin; one compiled step
    return int(cu.buckets[-1])
  if cu.bucket_mode == "cycle":
    usable = [int(b) for b in cu.buckets if int(b) <= bucket_for(max_cur, cu.buckets)]
    late, late_from = int(cu.get("late_bins", 0)), int(cu.get("late_from_step", 0))
    if late and step < late_from:  # the longest bins are held back until late_from
      held_back = {int(b) for b in cu.buckets[-late:]}
      usable = [b for b in usable if b not in held_back] or usable
    elif late:  # the longer cycle starts at its first bin
      step -= late_from
    return usable[step % len(usable)]
  long_every = int(cu.long_every)
  is_long = long_every > 0 and step % long_every == long_every - 1
  return bucket_for(int(cu.max_length) if is_long else max_cur, cu.buckets)


def summarize_metrics(m: dict) -> dict:
  m = {k: float(v) for k, v in jax.device_get(m).items()}
  steps = max(m["steps"], 1.0)
  return {
      "loss": m["loss"] / steps,
      "ce": m["ce"] / steps,
      "train_digit_error": m["digit_wrong"] / max(m["digit_total"], 1.0),
      "train_seq_error": m["seq_wrong"] / max(m["seq_total"], 1.0),
      "mean_length": m["length_sum"] / steps,
      "grad_norm": m["grad_norm"] / steps,
  }


# ----------------------------------------------------------------------------
# The host loop.
# ----------------------------------------------------------------------------
_COMPILED: dict = {}


def _training_key(cfg, mcfg) -> str:
  """The config as JSON without the settings that do not change a train step."""
  d = json.loads(cfg.to_json())
  for k in config_lib.RESUMABLE_KEYS:
    d.pop(k, None)
  d["model"] = json.loads(mcfg.to_json())
  return json.dumps(d, sort_keys=True)


class StepCache:
  """Compiled train steps, one per bucket, shared by every caller in a process.

  Two runs with the same training config (e.g. a run and its resumption in one
  process) reuse the same jitted functions, so they compile once.
  """

  def __init__(self, cfg, tasks, mcfg, wrap=None, name: str = "single"):
    self.cfg, self.tasks, self.mcfg = cfg, tasks, mcfg
    self.wrap = wrap or (lambda f: f)
    self._prefix = (name, _training_key(cfg, mcfg), tasks)

  def key(self, bucket: int) -> tuple:
    return self._prefix + (int(bucket),)

  def __call__(self, bucket: int):
    key = self.key(bucket)
    if key not in _COMPILED:
      fn = make_train_step(self.cfg, self.tasks, bucket, self.mcfg)
      _COMPILED[key] = jax.jit(self.wrap(fn), donate_argnums=0)
    return _COMPILED[key]

  def precompile(self, state: TrainState, buckets) -> None:
    precompile_steps(self, _COMPILED, state, buckets)


def buckets_to_compile(cfg) -> list[int]:
  """The buckets a run steps through from the start (cycle and all modes), or []."""
  cu = cfg.curriculum
  if cu.bucket_mode == "all":
    return [int(cu.buckets[-1])]
  if cu.bucket_mode == "cycle" and int(cu.start_length) >= int(cu.max_length):
    return [int(b) for b in cu.buckets]
  return []


def precompile_steps(cache, table: dict, state, buckets) -> None:
  """Fills ``table[cache.key(bucket)]`` of a step cache with compiled executables, compiled in
  parallel threads (XLA compiles outside the GIL, so a 2-core machine compiles a
  cycle of buckets about twice as fast)."""
  import concurrent.futures

  todo = [int(b) for b in dict.fromkeys(buckets)]
  fns = {b: cache(b) for b in todo}
  todo = [b for b in todo if hasattr(fns[b], "lower")]  # not yet compiled
  if not todo:
    return
  with concurrent.futures.ThreadPoolExecutor(max(1, min(len(todo), os.cpu_count() or 1))) as ex:
    exes = list(ex.map(lambda b: fns[b].lower(state).compile(), todo))
  for b, exe in zip(todo, exes):
    table[cache.key(b)] = exe


def curriculum_gates_checks(cfg) -> bool:
  """Solve checks wait for the length curriculum to reach the training length; with no
  length curriculum (start = max length) they run at every ``eval.every`` steps (the
  check screens the training length first, so an unfit model costs little)."""
  return int(cfg.curriculum.start_length) < int(cfg.curriculum.max_length)


def solved_all(state: TrainState) -> bool:
  return bool(np.all(np.asarray(jax.device_get(state.curriculum.solved))))


def progress_bar(config, start_step: int, elapsed_s: float):
  """The run's bar (``runkit.progress.ProgressBar``) towards ``num_train_steps`` or the
  ``max_train_minutes`` budget, whichever comes first."""
  from runkit import progress

  return progress.ProgressBar(
      config.num_train_steps,
      float(config.max_train_minutes or 0) * 60,
      start_step,
      elapsed_s,
      enabled=bool(config.progress_bar),
  )


def bar_postfix(summary: dict) -> dict:
  """The bar's postfix: curriculum length, training errors, steps/s."""
  return dict(
      len=summary.get("cur_length"),
      seq_err=f"{summary.get('train_seq_error', 0):.3f}",
      dig_err=f"{summary.get('train_digit_error', 0):.4f}",
      sps=f"{summary.get('steps_per_s', 0):.1f}",
  )


def open_workdir(config, workdir: str, mcfg, lead: bool = True):
  """Opens a Neural GPU run's workdir: refuses one made with another config (nothing
  written then), records this run's provenance (``lead``: the process that writes the
  records) and returns the checkpoint manager. Used by the single-seed and pool loops."""
  from runkit import checkpoints, provenance

  os.makedirs(workdir, exist_ok=True)
  if lead:
    workdir_lib.check_workdir_config(
        workdir, config, config_lib.RESUMABLE_KEYS, added_defaults=config_lib.ADDED_DEFAULTS
    )
    provenance.write_provenance(workdir, config, {"resolved_conv_impl": mcfg.conv_impl})
  return checkpoints.make_manager(workdir, config.keep_checkpoints)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains (resuming from the workdir's last checkpoint) and evaluates.

  Returns a summary dict (also written to ``workdir/summary.json``).
  """
  from runkit import checkpoints, metrics

  config_lib.validate(config)
  names = config_lib.task_names(config)
  tasks = tuple(tasks_lib.get_task(n) for n in names)
  mcfg = resolve_model_config(config)
  manager = open_workdir(config, workdir, mcfg)
  template = init_state(jax.random.key(config.seed), config, len(tasks))
  state = checkpoints.restore_or(manager, template)
  start_step = int(state.step)
  writer = metrics.MetricWriter(workdir)
  steps = StepCache(config, tasks, mcfg)
  check_key = evaluate_lib.check_key(config.seed)
  cu = config.curriculum
  max_cur = int(np.max(jax.device_get(state.curriculum.cur)))
  t_start = time.time()
  # Compilation counts towards the run's minutes (and its time budget).
  steps.precompile(state, buckets_to_compile(config))
  train_seconds_before = checkpoints.read_elapsed(workdir)
  last_log_t, last_log_step = time.time(), start_step
  evals = []
  solved_at = None
  bar = progress_bar(config, start_step, train_seconds_before + time.time() - t_start)
  step = start_step
  stop_reason = "num_train_steps"
  try:
    while step < int(config.num_train_steps):
      state = steps(host_bucket(config, step, max_cur))(state)
      step += 1
      if step % int(cu.advance_every) == 0:
        max_cur = int(np.max(jax.device_get(state.curriculum.cur)))
      if step % int(config.log_every) == 0:
        summary = summarize_metrics(state.metrics)
        state = state.replace(metrics=zero_metrics())
        now = time.time()
        summary.update(
            steps_per_s=(step - last_log_step) / max(now - last_log_t, 1e-9),
            cur_length=max_cur,
            pull=float(state.relax.pull),
            active_sets=int(state.relax.active_sets),
            lr_scale=float(lr_scale_of(state.opt_state)),
            elapsed_min=(train_seconds_before + now - t_start) / 60.0,
        )
        last_log_t, last_log_step = now, step
        writer.write(step, summary)
        bar.update(step, **bar_postfix(summary))
      if step % int(config.checkpoint_every) == 0:
        checkpoints.save(
            manager, step, state, workdir, train_seconds_before + time.time() - t_start
        )
      if (
          config.eval.stop_when_solved
          and step % int(config.eval.every) == 0
          and (solved_all(state) or not curriculum_gates_checks(config))
      ):
        rows = quick_solve_check(check_key, state, mcfg, config, tasks[-1])
        evals.append({"step": step, "rows": rows})
        writer.write(step, {f"eval_seq_error_{r['length']}": r["seq_error"] for r in rows})
        if (
            rows
            and all(r["seq_wrong"] == 0 for r in rows)
            and len(rows) == len(config.eval.solve_lengths)
        ):
          solved_at = step
          stop_reason = "solved"
          break
      total_min = (train_seconds_before + time.time() - t_start) / 60.0
      if config.max_train_minutes and total_min >= config.max_train_minutes:
        stop_reason = "max_train_minutes"
        break
  finally:
    bar.close()
  jax.block_until_ready(state)
  elapsed = train_seconds_before + time.time() - t_start
  checkpoints.save(manager, step, state, workdir, elapsed, force=True)
  manager.wait_until_finished()
  t_eval = time.time()
  table = evaluate_lib.evaluate_table(
      evaluate_lib.final_key(config.seed),
      eval_params(state),
      state.relax.active_sets,
      mcfg,
      config.eval,
      tasks[-1],
      config.eval.lengths,
      config.eval.examples,
      config.operand_mode,
  )
  eval_seconds = time.time() - t_eval
  out = {
      "task": config.task,
      "step": step,
      "stop_reason": stop_reason,
      "solved_at": solved_at,
      "train_minutes": elapsed / 60.0,
      "final_eval_minutes": eval_seconds / 60.0,
      "total_minutes": (elapsed + eval_seconds) / 60.0,
      "curriculum_length": [int(c) for c in jax.device_get(state.curriculum.cur)],
      "eval": table,
      "periodic_evals": evals,
  }
  workdir_lib.write_summary(workdir, out)
  writer.write(step, {f"final_seq_error_{r['length']}": r["seq_error"] for r in table})
  writer.close()
  print(
      evaluate_lib.format_table(
          table,
          f"{config.task} after {step} steps "
          f"({out['total_minutes']:.1f} min incl. final eval):",
      )
  )
  return out


def quick_solve_check(key, state, mcfg, config, task) -> list[dict]:
  """Evaluates the solve lengths in order, stopping at the first with errors.

  Each length is first screened on ``eval.screen_examples`` examples; only a clean
  screen is followed by the full ``eval.examples`` count, so checks stay cheap
  while the model still makes errors.
  """
  rows = []
  lengths = [int(n) for n in config.eval.lengths]
  for n in config.eval.solve_lengths:
    k = int(config.eval.examples[lengths.index(int(n))])
    for count in sorted({min(int(config.eval.screen_examples), k), k}):
      row = evaluate_lib.evaluate_length(
          jax.random.fold_in(key, int(n)),
          eval_params(state),
          state.relax.active_sets,
          mcfg,
          config.eval,
          task,
          int(n),
          count,
          config.operand_mode,
      )
      if row["seq_wrong"]:
        break
    rows.append(row)
    if row["seq_wrong"]:
      break
  return rows
