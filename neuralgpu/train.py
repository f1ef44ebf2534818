"""Training the Neural GPU: the train state and the jitted train step.

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

from typing import Any, Callable

import flax
import jax
import jax.numpy as jnp
import optax

from neuralgpu import batches as batches_lib
from neuralgpu import curriculum as curriculum_lib
from neuralgpu import model as model_lib
from neuralgpu import resolve as resolve_lib
from neuralgpu import saturation as saturation_lib
from neuralgpu.optim import add_grad_noise, lr_scale_of, make_optimizer

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


def ema_decay(cfg) -> float:
  return float(cfg.optim.get("ema_decay", 0.0))


def eval_params(state: TrainState):
  """The parameters that checks and evaluations use: the moving average when the
  run keeps one (``optim.ema_decay`` > 0), else the trained parameters."""
  return state.params if state.ema_params is None else state.ema_params


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
      saturation=saturation_lib.saturation_init(cfg)
      if saturation_lib.saturation_adaptive(cfg)
      else None,
  )


def make_train_step(
    cfg, tasks: tuple, bucket: int, mcfg=None
) -> Callable[[TrainState], TrainState]:
  """Returns the pure train step for padded length ``bucket``.

  With ``curriculum.bucket_mode="all"`` every step trains every bin (``bucket`` is
  then ignored) and the loss is the mean over bins of each bin's mean loss.
  """
  mcfg = mcfg or resolve_lib.resolve_model_config(cfg)
  tx = make_optimizer(cfg)
  cu = cfg.curriculum
  long_every = int(cu.long_every)
  sat_w = float(cfg.model.saturation_cost)
  adaptive = saturation_lib.saturation_adaptive(cfg)
  noise = float(cfg.optim.grad_noise)
  noise_form = cfg.optim.get("grad_noise_form", "kaiser")
  decay_on_ce = cfg.optim.get("lr_decay_on", "loss") == "ce"
  set_size = batches_lib.train_set_size(cfg)
  base = int(tasks[-1].base)
  strip = model_lib.stripped(mcfg)
  ema = ema_decay(cfg)
  all_bins = cu.bucket_mode == "all"
  form = batches_lib.all_bins_form(cfg) if all_bins else None
  mix = batches_lib.failure_mixer(cfg, tasks, strip)

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
        jax.random.fold_in(jax.random.wrap_key_data(state.key), batches_lib.TRAIN_SET_SALT)
        if set_size
        else None
    )
    sat_weight = state.saturation.weight if adaptive else sat_w
    lr_now = float(cfg.optim.lr) * lr_scale_of(state.opt_state)
    if all_bins:
      width = max(int(b) for b in cu.buckets) if form == "ragged" else None
      bins = batches_lib.bins_batch(
          k_data, cfg, tasks, task_idx, cs.cur[task_idx], width, set_key, mix
      )
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
      inputs, targets = batches_lib.make_batch_for(
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
      saturation = saturation_lib.saturation_update(
          state.saturation, ce, jax.lax.stop_gradient(sat), lr_now, cfg
      )
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
