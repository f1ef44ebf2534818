"""Training RL-NTM agents with REINFORCE: one jitted program vmapped over a seed pool.

``make_programs(config)`` builds pure functions:

* ``init(key) -> TrainState`` for one seed;
* ``train_chunk(state) -> (state, metrics)``: ``config.chunk_updates`` REINFORCE
  updates in a ``lax.scan`` (each: sample a batch of episodes at curriculum
  lengths, one gradient step, curriculum update);
* ``evaluate(params, key, length, n)``: greedy episodes at a fixed length.

``train_and_evaluate(config, workdir)`` vmaps and jits them over
``config.num_seeds`` seeds and runs a Python loop over chunks with the run
records every trainer keeps (``runkit``: checkpoints resumed from the latest,
``metrics.jsonl`` and TensorBoard events, a progress bar towards the budget). A seed counts as solved the first time its greedy policy
writes every target of ``config.eval_episodes`` episodes of length
``config.test_length`` (at least twice the longest training length)
correctly; from then on its parameters are frozen, and a larger final test
re-checks it. Seeds not solved within the step or wall-time budget count as
not solved.

With ``config.restart_after = N > 0`` a seed is a training *run* with restarts: a
seed not solved within N updates of its current initialisation is re-initialised
(fresh parameters, optimizer state and curriculum; key ``fold_in(seed key, k)`` for
its k-th restart) and goes on within the same budgets. The summary then reports,
besides the runs solved, every initialisation: ``restarts`` per seed and
``init_success_rate`` = solved / (solved + restarted), the rate per initialisation
that was given its full N updates (a last initialisation cut off by the budget is
left out of it).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import struct

import rltape.envs as envs
from rltape.reinforce import agent as agent_lib
from rltape.reinforce.controller import CORES, MEMORY_WRITES, SYMBOL_SOURCES
from runkit import workdir as workdir_lib

PyTree = Any


@struct.dataclass
class TrainState:
  """One seed's training state (vmapped: a leading [num_seeds] axis)."""

  params: PyTree
  opt_state: PyTree
  rng: jax.Array  # uint32 key data (raw so that orbax can save it)
  step: jax.Array  # int32 [], updates done
  length: jax.Array  # int32 [], curriculum: longest training length now
  solved: jax.Array  # bool [], solved at test length (parameters frozen)
  solved_step: jax.Array  # int32 [], update at which it was first solved (-1)


# Config keys a run may change when it resumes a workdir (budgets and reporting only).
RESUMABLE_KEYS = (
    "max_updates",
    "max_wall_s",
    "progress_bar",
    "final_eval_episodes",
    "num_traces",
    "trace_length",
    "checkpoint_every_chunks",
)

# Top-level keys added after the first workdirs were made, with the value a config
# without them means.
ADDED_DEFAULTS = {"restart_after": 0}


# Agent keys added after the first workdirs were made, with the value a config
# without them means (the defaults of the original agent).
ADDED_AGENT_DEFAULTS = {
    "agent.symbol_source": "lstm",
    "agent.nll_in_return": True,
    "agent.memory_write": "gate",
    "agent.core": "lstm",
}


def agent_config(config: ml_collections.ConfigDict) -> agent_lib.AgentConfig:
  a = config.agent
  added = {
      k.split(".", 1)[1]: a.get(k.split(".", 1)[1], v) for k, v in ADDED_AGENT_DEFAULTS.items()
  }
  return agent_lib.AgentConfig(
      hidden=a.hidden,
      mem_dim=a.mem_dim,
      logit_scale=a.logit_scale,
      gamma=a.gamma,
      nll_coef=a.nll_coef,
      entropy_coef=a.entropy_coef,
      baseline_coef=a.baseline_coef,
      use_baseline=a.use_baseline,
      symbol_source=added["symbol_source"],
      nll_in_return=bool(added["nll_in_return"]),
      memory_write=added["memory_write"],
      core=added["core"],
  )


def make_envs(config: ml_collections.ConfigDict):
  """(training env, test env): same task, max_length = train / test length."""
  kw = {}
  if config.moves:
    kw["moves"] = tuple(config.moves)
  if config.base:
    kw["base"] = config.base
  return (
      envs.make(config.task, max_length=config.train_length, **kw),
      envs.make(config.task, max_length=config.test_length, **kw),
  )


def make_optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
  o = config.optimizer
  if o.name == "adam":
    opt = optax.adam(o.learning_rate)
  else:
    opt = optax.sgd(o.learning_rate, momentum=o.momentum)
  return optax.chain(optax.clip_by_global_norm(o.grad_clip), opt)


def validate(config: ml_collections.ConfigDict) -> None:
  """Raises ValueError naming the bad value and what is allowed."""
  names = envs.registered_names()
  tape_tasks = ("Copy", "DuplicatedInput", "RepeatCopy", "Reverse", "ForwardReverse")
  if config.task not in tape_tasks:
    raise ValueError(
        f"task must be one of {tape_tasks} (RL-NTM tape tasks), got "
        f"{config.task!r}; registered environments: {names}"
    )
  for k in (
      "train_length",
      "test_length",
      "num_seeds",
      "batch_size",
      "chunk_updates",
      "max_updates",
      "eval_episodes",
      "final_eval_episodes",
      "start_length",
  ):
    v = config[k]
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
      raise ValueError(f"config.{k} must be a positive int, got {v!r}")
  if config.test_length < 2 * config.train_length:
    raise ValueError(
        f"config.test_length must be >= 2 * train_length = "
        f"{2 * config.train_length}, got {config.test_length}"
    )
  if config.start_length > config.train_length:
    raise ValueError(
        f"config.start_length must be <= train_length="
        f"{config.train_length}, got {config.start_length}"
    )
  if config.optimizer.name not in ("adam", "sgd"):
    raise ValueError(
        f"config.optimizer.name must be 'adam' or 'sgd', got " f"{config.optimizer.name!r}"
    )
  if not config.optimizer.learning_rate > 0:
    raise ValueError(
        f"config.optimizer.learning_rate must be > 0, got " f"{config.optimizer.learning_rate!r}"
    )
  restart_after = config.get("restart_after", 0)
  if not isinstance(restart_after, int) or isinstance(restart_after, bool) or restart_after < 0:
    raise ValueError(
        f"config.restart_after must be an int >= 0 (0: no restarts), got " f"{restart_after!r}"
    )
  if restart_after and restart_after % config.chunk_updates:
    raise ValueError(
        f"config.restart_after must be a multiple of chunk_updates="
        f"{config.chunk_updates} (restarts happen between chunks), got "
        f"{restart_after}"
    )
  if not 0.0 < config.promote_threshold <= 1.0:
    raise ValueError(
        f"config.promote_threshold must be in (0, 1], got " f"{config.promote_threshold!r}"
    )
  a = config.agent
  if a.hidden < 1 or a.mem_dim < 1:
    raise ValueError(
        f"config.agent.hidden and mem_dim must be >= 1, got " f"{a.hidden}, {a.mem_dim}"
    )
  for key, allowed in (
      ("symbol_source", SYMBOL_SOURCES),
      ("memory_write", MEMORY_WRITES),
      ("core", CORES),
  ):
    value = a.get(key, ADDED_AGENT_DEFAULTS[f"agent.{key}"])
    if value not in allowed:
      raise ValueError(f"config.agent.{key} must be one of {allowed}, got {value!r}")
  if not 0.0 <= a.gamma <= 1.0:
    raise ValueError(f"config.agent.gamma must be in [0, 1], got {a.gamma!r}")
  if not a.logit_scale > 0:
    raise ValueError(f"config.agent.logit_scale must be > 0, got {a.logit_scale!r}")
  if a.entropy_coef < 0 or a.baseline_coef < 0 or a.nll_coef < 0:
    raise ValueError(
        "config.agent entropy_coef, baseline_coef and nll_coef must be >= 0, "
        f"got {a.entropy_coef}, {a.baseline_coef}, {a.nll_coef}"
    )
  if config.moves:
    moves = tuple(config.moves)
    if not set(moves) <= {-1, 0, 1} or len(set(moves)) != len(moves):
      raise ValueError(f"config.moves must be distinct deltas from (-1, 0, 1), got {moves}")


def make_programs(config: ml_collections.ConfigDict):
  """Pure per-seed programs (see the module docstring)."""
  validate(config)
  train_env, test_env = make_envs(config)
  cfg = agent_config(config)
  opt = make_optimizer(config)
  batch = config.batch_size

  def init(key):
    k_params, k_rng = jax.random.split(key)
    params = agent_lib.init_params(k_params, cfg, train_env)
    return TrainState(
        params=params,
        opt_state=opt.init(params),
        rng=jax.random.key_data(k_rng),
        step=jnp.zeros((), jnp.int32),
        length=jnp.asarray(config.start_length, jnp.int32),
        solved=jnp.zeros((), bool),
        solved_step=jnp.full((), -1, jnp.int32),
    )

  def episodes(params, key, env, lengths, greedy):
    k_reset, k_roll = jax.random.split(key)
    env_params = jax.vmap(lambda n: envs.make_params(n, 0))(lengths)
    obs, st = jax.vmap(env.reset)(jax.random.split(k_reset, lengths.shape[0]), env_params)
    return jax.vmap(
        lambda k, o, s, p: agent_lib.unroll(params, cfg, env, p, k, o, s, greedy=greedy)
    )(jax.random.split(k_roll, lengths.shape[0]), obs, st, env_params)

  def update(state, _):
    key = jax.random.fold_in(jax.random.wrap_key_data(state.rng), state.step)
    k_len, k_mix, k_ep = jax.random.split(key, 3)
    # Half the batch at the curriculum length, half uniform below it, so that
    # short inputs are not forgotten (RL-NTM-style curriculum on length).
    uniform = jax.random.randint(k_len, (batch,), 1, state.length + 1)
    at_max = jax.random.bernoulli(k_mix, 0.5, (batch,))
    lengths = jnp.where(at_max, state.length, uniform).astype(jnp.int32)

    def loss_fn(params):
      traj = episodes(params, k_ep, train_env, lengths, greedy=False)
      losses, metrics = jax.vmap(lambda t: agent_lib.episode_loss(t, cfg))(traj)
      return jnp.mean(losses), (jax.tree_util.tree_map(jnp.mean, metrics), traj.solved)

    (loss, (metrics, solved)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    updates, opt_state = opt.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    frozen = state.solved
    params = jax.tree_util.tree_map(lambda o, n: jnp.where(frozen, o, n), state.params, params)
    opt_state = jax.tree_util.tree_map(
        lambda o, n: jnp.where(frozen, o, n), state.opt_state, opt_state
    )
    at_cur = lengths == state.length
    rate = jnp.sum(solved & at_cur) / jnp.maximum(jnp.sum(at_cur), 1)
    promote = (rate >= config.promote_threshold) & (jnp.sum(at_cur) > 0)
    length = jnp.where(promote, jnp.minimum(state.length + 1, config.train_length), state.length)
    metrics = dict(
        metrics,
        loss=loss,
        length=state.length.astype(jnp.float32),
        solved_at_length=rate,
        grad_norm=optax.global_norm(grads),
    )
    return (
        state.replace(params=params, opt_state=opt_state, step=state.step + 1, length=length),
        metrics,
    )

  def train_chunk(state):
    state, metrics = jax.lax.scan(update, state, None, length=config.chunk_updates)
    return state, jax.tree_util.tree_map(jnp.mean, metrics)

  def evaluate(params, key, length, n):
    env = test_env if length > config.train_length else train_env
    traj = episodes(params, key, env, jnp.full((n,), length, jnp.int32), greedy=True)
    return jnp.mean(traj.solved.astype(jnp.float32))

  return init, train_chunk, evaluate, (train_env, test_env, cfg)


def render_trace(config, params: PyTree, key: jax.Array, length: int) -> tuple[str, bool]:
  """Greedy episode at ``length`` rendered as Time / Input Tape / Output Tape."""
  _, test_env = make_envs(config)
  cfg = agent_config(config)
  env_params = envs.make_params(length, 0)
  k_reset, k_roll = jax.random.split(key)
  obs, st = test_env.reset(k_reset, env_params)
  traj, states = jax.jit(
      lambda p, k, o, s: agent_lib.unroll(
          p, cfg, test_env, env_params, k, o, s, greedy=True, record_states=True
      )
  )(params, k_roll, obs, st)
  text = test_env.render(states)
  alive = np.asarray(traj.alive)
  heads = np.asarray(traj.mem_head)[alive] - agent_lib.memory_size(test_env) // 2
  text += "\nmemory head after each step (0 = start): " + " ".join(str(int(h)) for h in heads)
  if cfg.memory_write == "sampled":
    writes = np.asarray(traj.mem_write)[alive]
    text += "\nmemory cell overwritten after each step (1 = yes): " + " ".join(
        str(int(w)) for w in writes
    )
  return text, bool(traj.solved)


# ------------------------------------------------------------------------ driver
def _seed_keys(config):
  return jax.random.split(jax.random.key(config.seed), config.num_seeds)


def _restarts_path(workdir, updates):
  """The restart counts saved with the checkpoint at ``updates``."""
  return os.path.join(workdir, "restarts", f"{updates}.json")


def restart_keys(config, restarts) -> jax.Array:
  """Keys of each seed's next initialisation: ``fold_in(seed key, restarts + 1)``."""
  return jax.vmap(jax.random.fold_in)(_seed_keys(config), jnp.asarray(restarts, jnp.uint32) + 1)


def restart_stale(state: TrainState, fresh: TrainState, stale: np.ndarray) -> TrainState:
  """``state`` with the seeds where ``stale`` [num_seeds] is True taken from ``fresh``."""
  mask = jnp.asarray(stale)
  return jax.tree_util.tree_map(
      lambda old, new: jnp.where(mask.reshape(mask.shape + (1,) * (old.ndim - 1)), new, old),
      state,
      fresh,
  )


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains ``config.num_seeds`` seeds in one vmapped program; returns a summary.

  Writes into ``workdir`` the files every trainer writes (``runkit``): ``config.json``,
  ``checkpoints/`` (orbax, named by the updates done, resumed from the latest),
  ``progress.json``, ``provenance.jsonl``, ``metrics.jsonl`` and TensorBoard events in
  ``tb/``, ``summary.json``; and its own ``traces.txt`` (and ``restarts/`` with
  ``restart_after``). A workdir holding a run made with another config (other than
  in ``RESUMABLE_KEYS``) is refused with a ValueError before anything is written.
  """
  from runkit import checkpoints
  from runkit import metrics as metrics_lib
  from runkit import progress as progress_lib
  from runkit import provenance
  from runkit.workdir import check_workdir_config

  init, train_chunk, evaluate, _ = make_programs(config)  # validates the config first
  # A workdir remembers its config: a resumed run may only change RESUMABLE_KEYS.
  check_workdir_config(
      workdir,
      config,
      resumable=RESUMABLE_KEYS,
      added_defaults={**ADDED_AGENT_DEFAULTS, **ADDED_DEFAULTS},
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
  state = init_v(_seed_keys(config))
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
          fresh = init_v(restart_keys(config, restarts))
          state = restart_stale(state, fresh, stale)
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
      text, ok = render_trace(
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
  from runkit import checkpoints

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
  init = make_programs(base)[0]
  state = checkpoints.restore(mgr, step, jax.jit(jax.vmap(init))(_seed_keys(base)))
  out = {}
  for n in lengths:
    cfg = ml_collections.ConfigDict(base.to_dict())
    cfg.test_length = max(n, 2 * cfg.train_length)
    evaluate = make_programs(cfg)[2]
    key = jax.random.key(seed)
    keys = jax.random.split(jax.random.fold_in(key, n) if fold_length else key, base.num_seeds)
    acc = jax.jit(jax.vmap(lambda p, k: evaluate(p, k, n, int(episodes))))(state.params, keys)
    out[n] = [float(a) for a in np.asarray(acc)]
  return out
