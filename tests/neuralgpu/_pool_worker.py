"""Runs a small seed pool in a fresh process and saves every seed's final state.

Used by ``test_pool.py`` (JAX must see its device count or distributed runtime
before it is imported, so these runs live in their own processes).

  PYTHONPATH=. python tests/neuralgpu/_pool_worker.py OUT.npz STEPS [COORDINATOR NUM_PROCESSES PROCESS_ID]

The seed loop (``vmap`` or ``map``, see ``neuralgpu.pool.make_pool_step``) comes from
the environment variable ``POOL_SEED_LOOP`` (default ``vmap``).

The pool is the tables' smoke config (faithful structure, cap-mode length
curriculum) with 8 seeds; even seeds start at curriculum length 5 and odd seeds
at 9, so one shared bucket serves seeds with different curricula.
"""

import os
import sys

NUM_SEEDS = 8


def smoke_config():
  from experiments.configs import ngpu_tables

  cfg = ngpu_tables.get_config("cell=known/mul2/24,variant=smoke,seeds=8")
  cfg.curriculum.advance_threshold = 0.9  # let some seeds advance within a few steps
  return cfg


def start_lengths(num_seeds):
  return [5 if i % 2 == 0 else 9 for i in range(num_seeds)]


def main():
  out, num_steps = sys.argv[1], int(sys.argv[2])
  import jax

  if len(sys.argv) > 3:
    from runkit import distributed

    distributed.initialize(sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
  import jax.numpy as jnp
  import numpy as np
  from neuralgpu import pool, tasks as tasks_lib
  from neuralgpu import resolve as resolve_lib

  cfg = smoke_config()
  tasks = (tasks_lib.get_task(cfg.task),)
  mcfg = resolve_lib.resolve_model_config(cfg)
  mesh = pool.make_mesh(NUM_SEEDS)
  ps = pool.init_pool(np.arange(NUM_SEEDS) + cfg.seed, cfg, 1, mesh)
  cur = jnp.asarray(start_lengths(NUM_SEEDS), jnp.int32)[:, None]
  ps = ps.replace(
      train=ps.train.replace(
          curriculum=ps.train.curriculum.replace(cur=jax.device_put(cur, pool.seed_sharding(mesh)))
      )
  )
  steps = pool.PoolStepCache(cfg, tasks, mcfg, mesh, os.environ.get("POOL_SEED_LOOP", "vmap"))
  ps, buckets = pool.run_pool_steps(ps, cfg, steps, 0, num_steps, mesh)
  host = pool.to_host(ps, mesh)
  if jax.process_index() == 0:
    flat = {f"leaf{i}": np.asarray(x) for i, x in enumerate(jax.tree.leaves(host))}
    np.savez(
        out,
        buckets=np.asarray(buckets),
        num_devices=len(jax.devices()),
        num_processes=jax.process_count(),
        **flat,
    )


if __name__ == "__main__":
  main()
