"""Length and base curricula, and the parameter-sharing relaxation schedule.

All state here is data (``flax.struct`` pytrees of arrays), updated by pure
``init``/``update`` functions, so a pool of seeds can ``vmap`` over it, each seed
with its own curriculum, without recompiling.

Length curriculum (Kaiser & Sutskever 2015): every ``advance_every`` steps, a task
whose training sequence error on examples of its current length is below
``advance_threshold`` grows by ``length_step``; at ``max_length`` it counts as
solved. Base curriculum (Price et al. 2016), for several tasks such as
``bmul,qmul,mul``: train mostly the first unsolved task, with probability
``other_task_prob`` a random unsolved one; once all are solved only the last; a
solved task whose error rises above ``drop_back_threshold`` drops back one length.

Relaxation: ``pull`` starts at ``pull_start`` and is multiplied by ``pull_growth``
at every passed check; once it is >= ``pull_threshold`` a passed check hard-averages
the active weight sets and leaves ``end_sets`` of them.
"""

from __future__ import annotations

import flax
import jax
import jax.numpy as jnp
import numpy as np

from neuralgpu import model as model_lib


@flax.struct.dataclass
class CurriculumState:
  cur: jax.Array  # int32[T] current length per task
  solved: jax.Array  # bool[T]
  err_sum: jax.Array  # float32[T] window sum of seq errors at the current length
  err_count: jax.Array  # float32[T] window number of such examples
  advances: jax.Array  # int32 number of passed checks so far


@flax.struct.dataclass
class RelaxState:
  pull: jax.Array  # float32
  active_sets: jax.Array  # int32


def init(num_tasks: int, cfg) -> CurriculumState:
  cu = cfg.curriculum
  return CurriculumState(
      cur=jnp.full((num_tasks,), int(cu.start_length), jnp.int32),
      solved=jnp.zeros((num_tasks,), bool),
      err_sum=jnp.zeros((num_tasks,), jnp.float32),
      err_count=jnp.zeros((num_tasks,), jnp.float32),
      advances=jnp.zeros((), jnp.int32),
  )


def relax_init(cfg) -> RelaxState:
  return RelaxState(
      pull=jnp.asarray(cfg.relax.pull_start, jnp.float32),
      active_sets=jnp.asarray(cfg.model.num_sets, jnp.int32),
  )


def choose_task(key: jax.Array, cs: CurriculumState, cfg) -> jax.Array:
  """Index of the task to train this step (int32 scalar)."""
  t = cs.cur.shape[0]
  if t == 1:
    return jnp.zeros((), jnp.int32)
  unsolved = ~cs.solved
  first = jnp.argmax(unsolved).astype(jnp.int32)
  k1, k2 = jax.random.split(key)
  logits = jnp.where(unsolved, 0.0, -jnp.inf)
  rand = jax.random.categorical(k1, logits).astype(jnp.int32)
  use_rand = jax.random.uniform(k2) < cfg.curriculum.other_task_prob
  pick = jnp.where(use_rand, rand, first)
  return jnp.where(jnp.any(unsolved), pick, jnp.int32(t - 1))


def sample_lengths(
    key: jax.Array,
    batch: int,
    cur: jax.Array,
    is_long: jax.Array,
    cfg,
    bucket: int | None = None,
    base: int = 2,
) -> jax.Array:
  """Example lengths for one step.

  ``bucket_mode="cap"`` (Kaiser & Sutskever): a share ``p_current`` at ``cur``,
  the rest uniform in [min_length, cur]; on a long step (``is_long``) all are
  uniform in [min_length, max_length].

  ``bucket_mode="cycle"``: every example lies in the step's bucket, uniform in
  (previous bucket, bucket] and capped at ``cur``, so the number of steps the
  model runs is close to each example's length, as at test time (DNGPU trains
  every length bin in every step; cycling the bins over steps is the same
  mixture at a fraction of the cost per step).

  Lengths are odd (2k+1, k-digit operands) so every length is a whole example.
  """
  cu = cfg.curriculum
  if cu.bucket_mode == "cycle" and cu.fill_bins:
    return fill_lengths(key, batch, cur, cfg, int(bucket), base)
  k_min = (int(cu.min_length) - 1) // 2
  k_cur = (cur - 1) // 2
  k1, k2 = jax.random.split(key)
  if cu.bucket_mode == "cycle":
    buckets = [int(b) for b in cu.buckets]
    i = buckets.index(int(bucket))
    lo = (buckets[i - 1] + 1) if i > 0 else int(cu.min_length)
    k_lo = max(k_min, lo // 2)  # smallest k with 2k+1 >= lo
    k_hi = jnp.minimum((int(bucket) - 1) // 2, k_cur)
    k = jax.random.randint(k1, (batch,), jnp.minimum(k_lo, k_hi), k_hi + 1)
    return (2 * k + 1).astype(jnp.int32)
  k_top = jnp.where(is_long, (int(cu.max_length) - 1) // 2, k_cur)
  k_rand = jax.random.randint(k1, (batch,), k_min, k_top + 1)
  at_cur = (jax.random.uniform(k2, (batch,)) < cu.p_current) & ~is_long
  k = jnp.where(at_cur, k_cur, k_rand)
  return (2 * k + 1).astype(jnp.int32)


FILL_FORMS = ("top", "dngpu")
DNGPU_SET_SIZE = 10_000  # examples per length in DNGPU's training set (their data_size)


def fill_lengths(
    key: jax.Array, batch: int, cur: jax.Array, cfg, bucket: int, base: int = 2
) -> jax.Array:
  """Lengths of examples that fill their bin (``bucket_mode="all"``, or ``"cycle"`` with
  ``fill_bins``), in one of two forms (``curriculum.fill_form``):

  * ``"top"``: the longest odd length <= bucket (capped at ``cur``); a share
    ``short_share`` is uniform over the shorter lengths, so the model also sees padding.
  * ``"dngpu"``: DNGPU's mixture (Freivalds & Liepins 2017; their data generator): every
    odd length goes to the smallest bin that holds it, each length weighted by the
    number of distinct examples it has in a training set of ``train_set_size`` examples
    per length (``min(base^(2k), N)``, N = 10,000 when the set is not fixed), and 1/21 of
    a bin's examples come from a uniformly chosen smaller bin. Bin 25 is then about a
    third each of 21, 23 and 25.
  """
  cu = cfg.curriculum
  if cu.get("fill_form", "top") == "dngpu":
    probs = dngpu_length_probs(
        tuple(int(b) for b in cu.buckets),
        int(bucket),
        int(cu.min_length),
        int(base),
        int(cu.get("train_set_size", 0)) or DNGPU_SET_SIZE,
    )
    lengths = jnp.arange(probs.shape[0], dtype=jnp.int32)
    p = jnp.where(lengths <= cur, jnp.asarray(probs, jnp.float32), 0.0)
    # Past the curriculum cap every length is too long: fall back to the cap itself.
    top = 2 * ((jnp.minimum(cur, int(bucket)) - 1) // 2) + 1
    p = jnp.where(jnp.sum(p) > 0, p, (lengths == top).astype(jnp.float32))
    return jax.random.choice(key, lengths, (batch,), p=p / jnp.sum(p)).astype(jnp.int32)
  k_min = (int(cu.min_length) - 1) // 2
  k_top = jnp.minimum((int(bucket) - 1) // 2, (cur - 1) // 2)
  k1, k2 = jax.random.split(key)
  k_short = jax.random.randint(k1, (batch,), k_min, jnp.maximum(k_top, k_min + 1))
  short = jax.random.uniform(k2, (batch,)) < cu.short_share
  k = jnp.where(short & (k_top > k_min), jnp.minimum(k_short, k_top), k_top)
  return (2 * k + 1).astype(jnp.int32)


def dngpu_length_probs(
    buckets: tuple, bucket: int, min_length: int, base: int, set_size: int
) -> np.ndarray:
  """P(length) for an example of bin ``bucket`` in DNGPU's data (index = length).

  Own lengths: odd l in (previous bin, bin] (from ``min_length`` for the first bin),
  weighted by ``min(base^(l - 1), set_size)`` distinct examples (``l - 1 = 2k`` operand
  digits); with probability 1/21 (their 5% extra items) the example is instead drawn
  from a uniformly chosen smaller bin with that bin's own weights.
  """
  buckets = tuple(int(b) for b in buckets)
  if bucket not in buckets:
    raise ValueError(f"bucket={bucket} is not one of the bins {buckets}")

  def own(i):
    lo = buckets[i - 1] + 1 if i > 0 else min_length
    w = np.zeros(buckets[-1] + 1)
    for l in range(max(lo, min_length), buckets[i] + 1):
      if l % 2 == 1:
        w[l] = float(min(float(base) ** (l - 1), float(set_size)))
    if w.sum() == 0:
      raise ValueError(f"bin {buckets[i]} holds no odd length >= {min_length}")
    return w / w.sum()

  i = buckets.index(int(bucket))
  p = own(i)
  if i > 0:
    smaller = sum(own(j) for j in range(i)) / i
    p = (20.0 * p + smaller) / 21.0
  return p[: int(bucket) + 1]


def record(
    cs: CurriculumState, task: jax.Array, lengths: jax.Array, seq_wrong: jax.Array
) -> CurriculumState:
  """Adds one batch's sequence errors at the task's current length."""
  at_cur = (lengths == cs.cur[task]).astype(jnp.float32)
  onehot = jax.nn.one_hot(task, cs.cur.shape[0], dtype=jnp.float32)
  return cs.replace(
      err_sum=cs.err_sum + onehot * jnp.sum(at_cur * seq_wrong.astype(jnp.float32)),
      err_count=cs.err_count + onehot * jnp.sum(at_cur),
  )


def update(cs: CurriculumState, step: jax.Array, cfg) -> tuple[CurriculumState, jax.Array]:
  """At every ``advance_every``-th step, advances or drops back each task.

  Returns the new state and a bool: whether any task passed its check (drives
  the relaxation).
  """
  cu = cfg.curriculum
  check = jnp.mod(step, int(cu.advance_every)) == 0
  seen = cs.err_count > 0
  err = cs.err_sum / jnp.maximum(cs.err_count, 1.0)
  passed = seen & (err < cu.advance_threshold)
  can_grow = cs.cur + int(cu.length_step) <= int(cu.max_length)
  grow = passed & can_grow
  newly_solved = passed & ~can_grow
  drop = cs.solved & seen & (err > cu.drop_back_threshold)
  cur = jnp.where(grow, cs.cur + int(cu.length_step), cs.cur)
  cur = jnp.where(drop, jnp.maximum(cur - int(cu.length_step), int(cu.start_length)), cur)
  solved = (cs.solved | newly_solved) & ~drop
  any_pass = jnp.any(passed)
  new = CurriculumState(
      cur=cur,
      solved=solved,
      err_sum=jnp.zeros_like(cs.err_sum),
      err_count=jnp.zeros_like(cs.err_count),
      advances=cs.advances + any_pass.astype(jnp.int32),
  )
  out = jax.tree.map(lambda a, b: jnp.where(check, a, b), new, cs)
  return out, check & any_pass


def relax_update(rs: RelaxState, params, passed: jax.Array, cfg):
  """Grows the pull on a passed check; past the threshold, hard-averages sets."""
  r = cfg.relax
  average = passed & (rs.pull >= r.pull_threshold) & (rs.active_sets > r.end_sets)
  pull = jnp.where(passed, rs.pull * r.pull_growth, rs.pull)

  def averaged(w):
    s = w.shape[0]
    sel = (jnp.arange(s) < rs.active_sets).astype(w.dtype).reshape((s,) + (1,) * (w.ndim - 1))
    mean = jnp.sum(w * sel, axis=0, keepdims=True) / jnp.maximum(jnp.sum(sel), 1.0)
    return jnp.where(average, jnp.broadcast_to(mean, w.shape), w)

  new_params = dict(params)
  for k in model_lib.CGRU_KEYS:
    new_params[k] = averaged(params[k])
  active = jnp.where(average, jnp.int32(r.end_sets), rs.active_sets)
  return RelaxState(pull=pull, active_sets=active), new_params, average
