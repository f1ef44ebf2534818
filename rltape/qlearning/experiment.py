"""`train_and_evaluate(config, workdir)`: the Q-learning run with its bookkeeping.

Loops in Python over jitted chunks of `config.chunk_updates` updates (all seeds in
one vmapped program) so that it can log, test and checkpoint between chunks:

* with `freeze_when_solved`, each chunk trains only the seeds not yet solved
  (`compact_chunk`), so a pool gets faster as its seeds pass the test;
* `workdir/metrics.jsonl`: one JSON line per chunk (means over the seeds trained, per-seed
  curriculum length and test accuracy, seeds solved so far, wall time), and the same
  as TensorBoard events in `workdir/tb` (`runkit.metrics`);
* orbax checkpoints in `workdir/checkpoints` (one per `checkpoint_every_chunks`, named by
  the updates done), resumed from the latest; existing checkpoints are never overwritten
  (a resumed run continues after the latest one) and only successful saves make orbax
  drop the oldest; `workdir/progress.json` after each save and
  `workdir/provenance.jsonl` per run start (`runkit`);
* `workdir/summary.json` at the end: success rate over seeds at the test length,
  the update at which each seed first passed the test (-1: not within budget);
* `workdir/config.json`: the config of the run that made the workdir; a run with
  another config (outside `RESUMABLE_KEYS`) is refused before anything is written.
"""

from __future__ import annotations

import json
import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from runkit import checkpoints
from runkit import compile_cache
from runkit import metrics as metrics_lib
from runkit import progress as progress_lib
from runkit import provenance
from runkit import workdir as workdir_lib
from rltape.qlearning import config as config_lib
from rltape.qlearning import train as train_lib

# Budget and bookkeeping keys: they do not change the compiled functions.
BUDGET_KEYS = (
    "num_updates",
    "checkpoint_every_chunks",
    "test_every_chunks",
    "stop_when_all_solved",
    "wall_budget_s",
)
# Config keys a run may change when it resumes a workdir: the budget keys and the top
# of the curriculum (a run may be continued with a longer curriculum).
RESUMABLE_KEYS = BUDGET_KEYS + ("train_max_length",)


def _jitted(make_agent, key):
  """The jitted programs of the agent ``make_agent()`` builds, one compile per (config,
  env) in a process (``runkit.compile_cache``): tests and studies rerun the same config."""

  def build():
    agent = make_agent()
    return (
        jax.jit(agent.train_chunk, donate_argnums=0),
        jax.jit(agent.test),
        jax.jit(agent.record_success),
    )

  return compile_cache.CACHE.get(("qlearning",) + tuple(key), build)


def compact_chunk(chunk_fn, state):
  """`chunk_fn(state)` computed for the seeds still training only.

  With `freeze_when_solved`, a solved seed's updates are computed and then discarded;
  here the running seeds are gathered (padded with copies of the first one to a power
  of two, at most the pool size, so that at most ~log2(seeds) + 1 shapes compile),
  trained, and scattered back. Each seed's updates depend only on its own state (its
  key is folded with its own step), so the running seeds get the same updates as in
  the full pool. Returns (state, metrics of the running seeds: [updates, running])."""
  solved = np.asarray(state.solved_at) >= 0
  running = np.flatnonzero(~solved)
  n, total = running.size, solved.size
  if n in (0, total):
    return chunk_fn(state)
  size = min(total, 1 << (n - 1).bit_length())
  idx = np.concatenate([running, np.repeat(running[:1], size - n)])
  sub, metrics = chunk_fn(jax.tree.map(lambda x: jnp.asarray(x)[idx], state))
  state = jax.tree.map(lambda full, part: jnp.asarray(full).at[running].set(part[:n]), state, sub)
  return state, jax.tree.map(lambda v: v[:, :n], metrics)


def train_and_evaluate(
    config: ml_collections.ConfigDict, workdir: str, env=None, test_env=None, progress: bool = True
) -> dict:
  """Trains `config.num_seeds` agents; returns the summary written to disk."""
  config_lib.validate(config)
  # A workdir remembers its config: resuming may change only RESUMABLE_KEYS.
  workdir_lib.check_workdir_config(workdir, config, resumable=RESUMABLE_KEYS)
  agent = train_lib.make_train(config, env, test_env)
  # The budget and bookkeeping fields do not change the compiled functions.
  compiled = config.to_dict()
  for k in BUDGET_KEYS:
    compiled.pop(k)
  cache_key = (json.dumps(compiled, sort_keys=True), id(env), id(test_env))
  chunk_fn, test_fn, record_fn = _jitted(lambda: agent, cache_key)
  buckets = bool(config.get("env_buckets", False))
  if buckets and env is not None:
    raise ValueError(
        "env_buckets=True builds the task's environments per curriculum "
        "level; it cannot be used with an env passed in"
    )

  def chunk_for(state):
    """The chunk program for this state: with env_buckets, one whose environment
    holds the longest curriculum length among the seeds still training."""
    if not buckets:
      return chunk_fn
    lengths = np.asarray(state.length)
    if config.get("freeze_when_solved", False):
      lengths = lengths[np.asarray(state.solved_at) < 0]
    cap = int(lengths.max()) if lengths.size else config.curriculum_start
    if cap >= config.train_max_length:
      return chunk_fn  # the uncapped program is the one for the top level
    key = cache_key + (cap,)
    return _jitted(lambda: train_lib.make_train(config, length_cap=cap), key)[0]

  provenance.write_provenance(workdir, config)
  mgr = checkpoints.make_manager(workdir, max_to_keep=5)
  state = checkpoints.restore_or(mgr, agent.init(jax.random.key(config.seed)))
  start = int(mgr.latest_step() or 0)

  writer = metrics_lib.MetricWriter(workdir)
  n_chunks = config.num_updates // config.chunk_updates
  first_chunk = start // config.chunk_updates
  t0 = time.time()
  before = checkpoints.read_elapsed(workdir)
  acc = np.full(config.num_seeds, np.nan)
  bar = progress_lib.ProgressBar(
      n_chunks,
      config.wall_budget_s,
      first_chunk,
      0.0,
      enabled=progress,
      desc=f"{config.task}/{config.controller}",
  )
  try:
    for c in range(first_chunk, n_chunks):
      if config.get("freeze_when_solved", False):
        state, metrics = compact_chunk(chunk_for(state), state)
      else:
        state, metrics = chunk_for(state)(state)
      step = (c + 1) * config.chunk_updates
      rec = {k: float(np.mean(v)) for k, v in metrics.items()}
      if (c + 1) % config.test_every_chunks == 0 or c + 1 == n_chunks:
        acc_j = test_fn(state)
        state = record_fn(state, acc_j)
        acc = np.asarray(acc_j)
      solved_at = np.asarray(state.solved_at)
      rec.update(
          step=step,
          wall_s=time.time() - t0,
          length_per_seed=np.asarray(state.length).tolist(),
          test_accuracy=acc.tolist(),
          seeds_solved=int((solved_at >= 0).sum()),
      )
      writer.write(step, rec)
      bar.update(
          c + 1,
          len=float(np.mean(rec["length_per_seed"])),
          solved=rec["seeds_solved"],
          loss=round(rec["loss"], 4),
      )
      all_solved = rec["seeds_solved"] == config.num_seeds
      out_of_time = 0 < config.wall_budget_s <= time.time() - t0
      last = c + 1 == n_chunks or out_of_time or (all_solved and config.stop_when_all_solved)
      if (c + 1) % config.checkpoint_every_chunks == 0 or last:
        checkpoints.save(mgr, step, state, workdir, before + time.time() - t0)
      if last:
        break
  finally:
    bar.close()
  mgr.wait_until_finished()
  writer.close()
  solved_at = np.asarray(state.solved_at)
  summary = dict(
      task=config.task,
      controller=config.controller,
      units=config.units,
      dynamic_discount=config.dynamic_discount,
      gamma=config.gamma,
      watkins=config.watkins,
      penalty=config.penalty,
      test_length=config.test_length,
      num_seeds=config.num_seeds,
      step_budget=config.num_updates,
      wall_budget_s=config.wall_budget_s,
      updates_run=int(np.max(state.step)),
      solved_at=solved_at.tolist(),
      success_rate=float(np.mean(solved_at >= 0)),
      final_test_accuracy=acc.tolist(),
      final_length=np.asarray(state.length).tolist(),
      wall_s_this_process=time.time() - t0,
  )
  workdir_lib.write_summary(workdir, summary)
  return summary


def load_workdir(workdir: str):
  """(config, state of every seed at the latest checkpoint, its update) of a
  Q-learning workdir; ValueError naming a directory without config.json or without
  a checkpoint."""
  base = ml_collections.ConfigDict(workdir_lib.read_config_dict(workdir, "a Q-learning"))
  mgr = checkpoints.make_manager(workdir)
  step = mgr.latest_step()
  if step is None:
    raise ValueError(f"{workdir!r} has no checkpoint")
  template = train_lib.make_train(base).init(jax.random.key(base.seed))
  return base, checkpoints.restore(mgr, step, template), step


def resalt(state, salt: int):
  """``state`` with each seed's key replaced by ``fold_in(key, salt)``, so a test draws
  episodes that no test of the run drew (the run's tests use the key as it is)."""
  keys = jax.vmap(
      lambda k: jax.random.key_data(jax.random.fold_in(jax.random.wrap_key_data(k), salt))
  )(state.rng)
  return state.replace(rng=keys)


def evaluate_workdir(
    workdir: str, test_lengths, test_batch: int | None = None, salt: int = 0
) -> dict:
  """Greedy whole-sequence accuracy per seed of a workdir's last checkpoint at each
  complexity in ``test_lengths`` (same unit as ``test_length``); ``{length: [acc]}``.

  ``salt=0`` draws the episodes of the run's own test at the checkpoint's update (at
  the run's test length and batch it repeats that test); ``salt >= 1`` draws fresh
  episodes (``resalt``), one set per salt."""
  for n in test_lengths:
    if int(n) < 1:
      raise ValueError(f"test length {n!r} must be >= 1")
  if not isinstance(salt, int) or salt < 0:
    raise ValueError(f"salt must be an int >= 0, got {salt!r}")
  # The trained state does not depend on the test length: restore it once.
  base, state, _ = load_workdir(workdir)
  if salt:
    state = resalt(state, salt)
  out = {}
  for n in test_lengths:
    cfg = ml_collections.ConfigDict(base.to_dict())
    cfg.test_length = int(n)
    if test_batch:
      cfg.test_batch = int(test_batch)
    out[int(n)] = np.asarray(jax.jit(train_lib.make_train(cfg).test)(state)).tolist()
  return out


# The success-test keys a continued run may change (retest_workdir).
RETEST_KEYS = ("test_length", "test_batch", "success_accuracy")


def retest_workdir(src: str, dst: str, overrides: dict) -> ml_collections.ConfigDict:
  """Makes ``dst`` a workdir that continues ``src``'s latest checkpoint under another
  success test: the config of ``src`` with ``overrides`` (keys of ``RETEST_KEYS`` and
  ``BUDGET_KEYS``), the same trained state, and every seed's ``solved_at`` reset to -1,
  so seeds frozen by the old test train on until they pass the new one (their first
  test comes after one chunk). ``src`` is only read. Returns the new config; resume
  it with ``train_and_evaluate(config, dst)``. ValueError (nothing written) for an
  existing ``dst``, a key outside those lists, or a config that does not validate."""
  allowed = RETEST_KEYS + BUDGET_KEYS
  bad = sorted(k for k in overrides if k not in allowed)
  if bad:
    raise ValueError(
        f"cannot change {bad} when continuing a run under a new test; "
        f"allowed: {sorted(allowed)}"
    )
  if os.path.exists(dst):
    raise ValueError(f"{dst!r} exists; continue into a new directory (nothing written)")
  base, state, step = load_workdir(src)
  config = ml_collections.ConfigDict(base.to_dict())
  config.update(overrides)
  config_lib.validate(config)
  state = state.replace(solved_at=jnp.full_like(jnp.asarray(state.solved_at), -1))
  workdir_lib.check_workdir_config(dst, config, resumable=RESUMABLE_KEYS)  # makes dst
  mgr = checkpoints.make_manager(dst)
  checkpoints.save(mgr, step, state, dst, 0.0)
  with open(os.path.join(dst, "continued_from.json"), "w") as f:
    json.dump(
        dict(workdir=os.path.abspath(src), update=int(step), overrides=overrides), f, indent=2
    )
  return config
