"""Restarts and stops of a seed pool's slots (``pool.restart_after``,
``pool.restart_max_steps``, ``pool.on_probe_fail``): why a slot starts over, replacing its
seed by a fresh one, stopping it, and spreading the slots still running over the devices.
The host loop (``neuralgpu.loop``) decides when; these functions say what and do it."""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from neuralgpu.pool import PoolState, _stack_init, seed_sharding


def restarts_enabled(cfg) -> bool:
  p = cfg.pool
  return bool(int(p.get("restart_after", 0)) or int(p.get("restart_max_steps", 0)))


def restart_reason(cfg, ps_host: PoolState, i: int, step: int, probe) -> str | None:
  """Why slot ``i`` should start over at pool step ``step`` (a check), or None.

  ``probe(i)`` gives the slot's digit error at the probe length; it is only called
  at the one check where the seed's age first reaches ``pool.restart_after``.
  """
  p = cfg.pool
  if not bool(ps_host.alive[i]):
    return "diverged"
  age = step - int(ps_host.started_at[i])
  max_steps = int(p.get("restart_max_steps", 0))
  if max_steps and age >= max_steps:
    return "max_steps"
  after = int(p.get("restart_after", 0))
  if after and after <= age < after + int(cfg.eval.every):
    err = probe(i)
    if err > float(p.restart_max_digit_error):
      return f"probe digit error {err:.4f} at {int(p.restart_probe_length)}"
  return None


def restart_slots(
    ps: PoolState,
    slots: Sequence[int],
    new_seeds: Sequence[int],
    step: int,
    cfg,
    num_tasks: int,
    mesh=None,
) -> PoolState:
  """``ps`` with each of ``slots`` replaced by a fresh seed ``new_seeds[j]`` started at
  pool step ``step`` (its own step count starts at 0, as in a run of that seed alone)."""
  fresh = _stack_init(np.asarray(new_seeds, np.int64), cfg, num_tasks)
  fresh = fresh.replace(started_at=jnp.full((len(slots),), step, jnp.int32))
  idx = jnp.asarray(list(slots), jnp.int32)
  out = jax.tree.map(lambda full, new: full.at[idx].set(new.astype(full.dtype)), ps, fresh)
  return jax.device_put(out, seed_sharding(mesh)) if mesh is not None else out


def balance_permutation(running: Sequence[bool], num_devices: int) -> np.ndarray:
  """A slot order that spreads the running slots evenly over the devices.

  The seed axis is split into ``num_devices`` contiguous blocks, and a device's step
  costs as much as its running seeds; so running slots go to the devices in turn
  (each filling its block from the front), stopped slots fill the rest, relative
  order kept; an order that is already balanced is kept as it is. Returns ``perm``
  with ``new_pool[j] = old_pool[perm[j]]``.
  """
  s = len(running)
  if num_devices < 1 or s % num_devices:
    raise ValueError(f"{s} slots do not split over {num_devices} devices")
  per = s // num_devices
  loads = [sum(bool(r) for r in running[d * per : (d + 1) * per]) for d in range(num_devices)]
  if max(loads) - min(loads) <= 1:  # already balanced: keep the order
    return np.arange(s, dtype=np.int64)
  run = [i for i in range(s) if running[i]]
  stop = [i for i in range(s) if not running[i]]
  blocks = [[] for _ in range(num_devices)]
  for j, i in enumerate(run):
    blocks[j % num_devices].append(i)
  for b in blocks:
    while len(b) < per:
      b.append(stop.pop(0))
  return np.asarray([i for b in blocks for i in b], np.int64)


def permute_slots(ps: PoolState, perm, mesh=None) -> PoolState:
  idx = jnp.asarray(perm, jnp.int32)
  out = jax.tree.map(lambda x: x[idx], ps)
  return jax.device_put(out, seed_sharding(mesh)) if mesh is not None else out


def stop_slots(ps: PoolState, slots: Sequence[int], mesh=None) -> PoolState:
  """``ps`` with ``slots`` stopped: they keep their state and take no more steps."""
  running = ps.running.at[jnp.asarray(list(slots), jnp.int32)].set(False)
  if mesh is not None:
    running = jax.device_put(running, seed_sharding(mesh))
  return ps.replace(running=running)
