"""Batched wrappers of an environment: ``auto_reset`` (done envs start a fresh episode)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rltape.envs.core import AlgorithmicEnv, EnvParams, EnvState
from rltape.envs.hashing import batch_seeds


def auto_reset(
    env: AlgorithmicEnv,
    key: jax.Array,
    obs: jax.Array,
    state: EnvState,
    done: jax.Array,
    params: EnvParams,
) -> tuple[jax.Array, EnvState]:
  """Batched auto-reset: envs with ``done`` start a fresh random episode.

  Args:
    env: the environment.
    key: one PRNG key for the whole batch (split into per-env seeds by `batch_seeds`).
    obs, state: a batch of observations [N] and states (leading axis N), e.g. from
      ``vmap(env.step)``.
    done: bool [N], typically ``terminated | truncated``.
    params: EnvParams shared by the batch.

  Returns:
    (obs, state) with the done envs replaced by fresh episodes. A fresh episode is
    computed for every env and selected where done (shapes stay static), so the cost
    is one reset per env per call; the seeds come from `batch_seeds` (see there for
    the measured cost of the alternatives).
  """
  n = done.shape[0]
  fresh_obs, fresh = jax.vmap(env.reset_from_seeds, in_axes=(0, None))(batch_seeds(key, n), params)

  def pick(f, s):
    return jnp.where(done.reshape(done.shape + (1,) * (s.ndim - 1)), f, s)

  return pick(fresh_obs, obs), jax.tree_util.tree_map(pick, fresh, state)
