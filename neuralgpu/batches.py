"""What one train step trains on: the padded length (bucket) the host picks for the step
(``host_bucket``), the batch of the chosen task (``make_batch_for``; a fixed training set,
stripped targets), every bin's batch in ``bucket_mode="all"`` (``bins_batch``) and the
structured and adversarial rows of training against failure (``failure_mixer``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from neuralgpu import curriculum as curriculum_lib
from neuralgpu import model as model_lib
from neuralgpu import tasks as tasks_lib


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


def bins_batch(key, cfg, tasks, task_idx, cur, width=None, set_key=None, mix=None):
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
