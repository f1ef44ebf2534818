"""``train_and_evaluate(config, workdir)``: the RL-NTM run with its bookkeeping.

Vmaps and jits the per-seed programs of ``rltape.reinforce.train.make_train`` over
``config.num_seeds`` seeds and runs a Python loop over chunks with the run records
every trainer keeps (``runkit``: checkpoints resumed from the latest, ``metrics.jsonl``
and TensorBoard events, a progress bar towards the budget). A seed counts as solved
the first time its greedy policy writes every target of ``config.eval_episodes``
episodes of length ``config.test_length`` (at least twice the longest training
length) correctly; from then on its parameters are frozen, and a larger final test
re-checks it. Seeds not solved within the step or wall-time budget count as not
solved.

With ``config.restart_after = N > 0`` a seed is a training *run* with restarts: a
seed not solved within N updates of its current initialisation is re-initialised
(fresh parameters, optimizer state and curriculum; key ``fold_in(seed key, k)`` for
its k-th restart) and goes on within the same budgets. The summary then reports,
besides the runs solved, every initialisation: ``restarts`` per seed and
``init_success_rate`` = solved / (solved + restarted), the rate per initialisation
that was given its full N updates (a last initialisation cut off by the budget is
left out of it).

``evaluate_workdir`` re-tests a workdir's latest checkpoint at other lengths.
"""

from __future__ import annotations

import json
import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from rltape.reinforce import config as config_lib
from rltape.reinforce import train as train_lib
from runkit import checkpoints
from runkit import metrics as metrics_lib
from runkit import progress as progress_lib
from runkit import provenance
from runkit import workdir as workdir_lib


def _restarts_path(workdir, updates):
  """The restart counts saved with the checkpoint at ``updates``."""
  return os.path.join(workdir, "restarts", f"{updates}.json")


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains ``config.num_seeds`` seeds in one vmapped program; returns a summary.

  Writes into ``workdir`` the files every trainer writes (``runkit``): ``config.json``,
  ``checkpoints/`` (orbax, named by the updates done, resumed from the latest),
  ``progress.json``, ``provenance.jsonl``, ``metrics.jsonl`` and TensorBoard events in
  ``tb/``, ``summary.json``; and its own ``traces.txt`` (and ``restarts/`` with
  ``restart_after``). A workdir holding a run made with another config (other than
  in ``RESUMABLE_KEYS``) is refused with a ValueError before anything is written.
  """
  programs = train_lib.make_train(config)  # validates the config first
  init, train_chunk, evaluate = programs.init, programs.train_chunk, programs.evaluate
  # A workdir remembers its config: a resumed run may only change RESUMABLE_KEYS.
  workdir_lib.check_workdir_config(
      workdir,
      config,
      resumable=config_lib.RESUMABLE_KEYS,
      added_defaults={**config_lib.ADDED_AGENT_DEFAULTS, **config_lib.ADDED_DEFAULTS},
  )
  restart_after = config.get("restart_after", 0)
  init_v = jax.jit(jax.vmap(init))
  chunk_v = jax.jit(jax.vmap(train_chunk), donate_argnums=0)
  eval_cache = {}

  def eval_v(params, keys, length, n):
    if (length, n) not in eval_cache:
      eval_cache[length, n] = jax.jit(jax.vmap(lambda p, k: evaluate(p, k, length, n)))
    return eval_cache[length, n](params, keys)

  provenance.write_provenance(workdir, config)
  state = init_v(train_lib.seed_keys(config))
  mgr = checkpoints.make_manager(workdir, max_to_keep=2)
  wall_used, start_chunk = 0.0, 0
  # Restart bookkeeping per seed (saved as restarts/<chunk>.json with each checkpoint).
  restarts = np.zeros(config.num_seeds, np.int64)
  init_update = np.zeros(config.num_seeds, np.int64)
  if mgr.latest_step() is not None:
    state = checkpoints.restore(mgr, mgr.latest_step(), state)
    start_chunk = int(mgr.latest_step()) // config.chunk_updates
    wall_used = checkpoints.read_elapsed(workdir)
    if restart_after:
      path = _restarts_path(workdir, start_chunk * config.chunk_updates)
      if not os.path.exists(path):
        raise ValueError(
            f"{path!r} is missing: the restart counts of the checkpoint "
            f"at chunk {start_chunk} cannot be recovered"
        )
      with open(path) as f:
        meta = json.load(f)
      restarts = np.asarray(meta["restarts"], np.int64)
      init_update = np.asarray(meta["init_update"], np.int64)
  writer = metrics_lib.MetricWriter(workdir)
  num_chunks = -(-config.max_updates // config.chunk_updates)
  t0 = time.time() - wall_used
  eval_key = jax.random.key(config.seed + 1)
  bar = progress_lib.ProgressBar(
      num_chunks,
      config.max_wall_s,
      start_chunk,
      wall_used,
      enabled=config.progress_bar,
      desc=f"{config.task}",
  )
  last = {}
  try:
    for c in range(start_chunk, num_chunks):
      state, m = chunk_v(state)
      m = jax.tree_util.tree_map(np.asarray, m)
      updates = (c + 1) * config.chunk_updates
      solved_test = np.asarray(state.solved)
      if (c + 1) % config.eval_every_chunks == 0:
        keys = jax.random.split(jax.random.fold_in(eval_key, c), config.num_seeds)
        acc = np.asarray(eval_v(state.params, keys, config.test_length, config.eval_episodes))
        newly = (acc >= 1.0) & ~solved_test
        state = state.replace(
            solved=jnp.asarray(solved_test | newly),
            solved_step=jnp.where(jnp.asarray(newly), updates, state.solved_step),
        )
        m["test_accuracy"] = acc
      if restart_after:
        stale = (~np.asarray(state.solved)) & (updates - init_update >= restart_after)
        if stale.any():
          fresh = init_v(train_lib.restart_keys(config, restarts))
          state = train_lib.restart_stale(state, fresh, stale)
          restarts = restarts + stale
          init_update = np.where(stale, updates, init_update)
        m["restarts"] = restarts
      wall = time.time() - t0
      last = dict(
          chunk=c + 1,
          updates=updates,
          wall_s=round(wall, 1),
          seeds_solved=int(np.sum(np.asarray(state.solved))),
          **{k: [round(float(x), 4) for x in np.ravel(v)] for k, v in m.items()},
      )
      writer.write(updates, last)
      bar.update(
          c + 1,
          solved=f"{last['seeds_solved']}/{config.num_seeds}",
          length=float(np.mean(m["length"])),
          ret=float(np.mean(m["ret"])),
      )
      stop = bool(np.all(np.asarray(state.solved))) or wall > config.max_wall_s
      if (c + 1) % config.checkpoint_every_chunks == 0 or stop or c + 1 == num_chunks:
        if restart_after:  # written first: a checkpoint never lacks its counts
          path = _restarts_path(workdir, updates)
          os.makedirs(os.path.dirname(path), exist_ok=True)
          with open(path, "w") as f:
            json.dump({"restarts": restarts.tolist(), "init_update": init_update.tolist()}, f)
        checkpoints.save(mgr, updates, state, workdir, wall, extra={"chunk": c + 1})
      if stop:
        break
  finally:
    bar.close()
  writer.close()
  mgr.close()

  # Final test of every seed with more episodes, plus traces of solved episodes.
  keys = jax.random.split(jax.random.key(config.seed + 2), config.num_seeds)
  final = np.asarray(eval_v(state.params, keys, config.test_length, config.final_eval_episodes))
  solved = np.asarray(state.solved)
  traces = []
  for s in range(config.num_seeds):
    if solved[s]:
      p = jax.tree_util.tree_map(lambda x: x[s], state.params)
      text, ok = train_lib.render_trace(
          config, p, jax.random.key(100 + s), min(config.test_length, config.trace_length)
      )
      traces.append(
          f"seed {s} (solved at update {int(state.solved_step[s])}, "
          f"episode {'solved' if ok else 'NOT solved'}):\n{text}\n"
      )
      if len(traces) >= config.num_traces:
        break
  with open(os.path.join(workdir, workdir_lib.TRACES_FILE), "w") as f:
    f.write("\n".join(traces))
  summary = dict(
      task=config.task,
      num_seeds=config.num_seeds,
      train_length=config.train_length,
      test_length=config.test_length,
      updates=int(last.get("updates", 0)),
      update_budget=config.max_updates,
      wall_s=last.get("wall_s", wall_used),
      wall_budget_s=config.max_wall_s,
      batch_size=config.batch_size,
      solved=[bool(x) for x in solved],
      solved_step=[int(x) for x in np.asarray(state.solved_step)],
      final_test_accuracy=[float(x) for x in final],
      fraction_solved=float(np.mean(solved)),
      fraction_solved_final=float(np.mean(solved & (final >= 1.0))),
      final_curriculum_length=[int(x) for x in np.asarray(state.length)],
  )
  if restart_after:
    n_solved, n_restarted = int(np.sum(solved)), int(np.sum(restarts))
    summary.update(
        restart_after=restart_after,
        restarts=[int(x) for x in restarts],
        init_update=[int(x) for x in init_update],
        solved_after=[
            int(s - i) if s >= 0 else -1 for s, i in zip(np.asarray(state.solved_step), init_update)
        ],
        inits_full=n_solved + n_restarted,
        init_success_rate=n_solved / max(n_solved + n_restarted, 1),
    )
  workdir_lib.write_summary(workdir, summary, indent=1)
  return summary


def evaluate_workdir(
    workdir: str, lengths, episodes: int = 256, seed: int = 12345, fold_length: bool = True
) -> dict:
  """Greedy accuracy (fraction of ``episodes`` solved) per seed of a workdir's latest
  checkpoint at each input length in ``lengths``: ``{length: [accuracy per seed]}``.

  Lengths may exceed the run's test length (the environment is rebuilt for each).
  Episode keys: ``split(fold_in(key(seed), length), num_seeds)``, or without the
  fold when ``fold_length`` is False (then ``seed = config.seed + 2`` at the test
  length repeats the run's final test).
  Raises ValueError naming a workdir without ``config.json`` or checkpoints, or a
  length < 1, before anything is compiled.
  """
  config_dict = workdir_lib.read_config_dict(workdir, "an RL-NTM")
  lengths = [int(n) for n in lengths]
  bad = [n for n in lengths if n < 1]
  if bad or int(episodes) < 1:
    raise ValueError(
        f"lengths and episodes must be >= 1, got lengths {lengths}, " f"episodes {episodes}"
    )
  base = ml_collections.ConfigDict(config_dict)
  mgr = checkpoints.make_manager(workdir)
  step = mgr.latest_step()
  if step is None:
    raise ValueError(f"{workdir!r} has no checkpoint to evaluate")
  init = train_lib.make_train(base).init
  state = checkpoints.restore(mgr, step, jax.jit(jax.vmap(init))(train_lib.seed_keys(base)))
  out = {}
  for n in lengths:
    cfg = ml_collections.ConfigDict(base.to_dict())
    cfg.test_length = max(n, 2 * cfg.train_length)
    evaluate = train_lib.make_train(cfg).evaluate
    key = jax.random.key(seed)
    keys = jax.random.split(jax.random.fold_in(key, n) if fold_length else key, base.num_seeds)
    acc = jax.jit(jax.vmap(lambda p, k: evaluate(p, k, n, int(episodes))))(state.params, keys)
    out[n] = [float(a) for a in np.asarray(acc)]
  return out
