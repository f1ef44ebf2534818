"""The RL-NTM's training program (REINFORCE), pure functions over one seed's state.

``make_train(config)`` builds a ``Programs`` of pure per-seed functions:

* ``init(key) -> TrainState`` for one seed;
* ``train_chunk(state) -> (state, metrics)``: ``config.chunk_updates`` REINFORCE
  updates in a ``lax.scan`` (each: sample a batch of episodes at curriculum
  lengths, one gradient step, curriculum update);
* ``evaluate(params, key, length, n)``: greedy episodes at a fixed length.

``rltape.reinforce.experiment.train_and_evaluate`` vmaps and jits them over a seed
pool and keeps the run's records; a notebook may vmap and jit them itself.
``seed_keys``, ``restart_keys`` and ``restart_stale`` give each seed its first and
later initialisations (``config.restart_after``).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import struct

import rltape.envs as envs
from rltape.reinforce import agent as agent_lib
from rltape.reinforce import config as config_lib

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


class Programs(NamedTuple):
  """The pure per-seed functions of a config (see the module docstring)."""

  init: Callable  # key -> TrainState
  train_chunk: Callable  # state -> (state, metrics)
  evaluate: Callable  # (params, key, length, n) -> fraction of episodes solved
  train_env: Any
  test_env: Any
  agent: agent_lib.AgentConfig


def make_train(config: ml_collections.ConfigDict) -> Programs:
  """Validates ``config`` and builds its ``Programs``."""
  config_lib.validate(config)
  train_env, test_env = make_envs(config)
  cfg = config_lib.agent_config(config)
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

  return Programs(init, train_chunk, evaluate, train_env, test_env, cfg)


def render_trace(config, params: PyTree, key: jax.Array, length: int) -> tuple[str, bool]:
  """Greedy episode at ``length`` rendered as Time / Input Tape / Output Tape."""
  _, test_env = make_envs(config)
  cfg = config_lib.agent_config(config)
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


def seed_keys(config):
  """Each seed's first initialisation key: ``split(key(config.seed), num_seeds)``."""
  return jax.random.split(jax.random.key(config.seed), config.num_seeds)


def restart_keys(config, restarts) -> jax.Array:
  """Keys of each seed's next initialisation: ``fold_in(seed key, restarts + 1)``."""
  return jax.vmap(jax.random.fold_in)(seed_keys(config), jnp.asarray(restarts, jnp.uint32) + 1)


def restart_stale(state: TrainState, fresh: TrainState, stale: np.ndarray) -> TrainState:
  """``state`` with the seeds where ``stale`` [num_seeds] is True taken from ``fresh``."""
  mask = jnp.asarray(stale)
  return jax.tree_util.tree_map(
      lambda old, new: jnp.where(mask.reshape(mask.shape + (1,) * (old.ndim - 1)), new, old),
      state,
      fresh,
  )
