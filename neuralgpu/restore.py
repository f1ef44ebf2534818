"""Loading a trained model from a workdir, for evaluation and questions."""

from __future__ import annotations

import jax
import ml_collections

from runkit import checkpoints
from runkit import workdir as workdir_lib
from neuralgpu import config as config_lib
from neuralgpu import pool as pool_lib
from neuralgpu import tasks as tasks_lib
from neuralgpu import resolve as resolve_lib


def load_config(workdir: str) -> ml_collections.ConfigDict:
  cfg = ml_collections.ConfigDict(workdir_lib.read_config_dict(workdir, "a training"))
  # JSON turns tuples into lists; restore the tuple-valued fields.
  for group in ("curriculum", "eval"):
    for k, v in cfg[group].items():
      if isinstance(v, list):
        cfg[group][k] = tuple(v)
  config_lib.validate(cfg)
  return cfg


def load(workdir: str, seed_index: int | None = None):
  """Returns (config, resolved model config, TrainState, step) of a workdir.

  Every workdir holds a pool (a single run is a pool of one); it gives one seed's state:
  ``seed_index``, else the summary's ``best_seed_index`` (the seed a ``stop_when=any``
  pool stopped on), else seed 0.
  """
  cfg = load_config(workdir)
  names = config_lib.task_names(cfg)
  if "pool" not in cfg:
    raise ValueError(
        f"workdir {workdir!r} has a single-seed checkpoint of an earlier format (no 'pool' "
        "section in its config.json); train it again with neuralgpu.loop.train_and_evaluate"
    )
  n = int(cfg.pool.num_seeds)
  if seed_index is None:
    seed_index = 0
    summary = workdir_lib.read_summary(workdir)
    if summary is not None:
      seed_index = int(summary.get("best_seed_index", 0))
  if not 0 <= int(seed_index) < n:
    raise ValueError(f"seed_index={seed_index} is not in [0, {n}) for pool workdir {workdir!r}")
  template = pool_lib.init_pool(list(range(int(cfg.seed), int(cfg.seed) + n)), cfg, len(names))
  ps, step = checkpoints.load_latest(workdir, template, pool_lib.restore_pool)
  state = pool_lib.seed_state(jax.device_get(ps), int(seed_index))
  return cfg, resolve_lib.resolve_model_config(cfg), state, step


def task_for(cfg, name: str | None):
  names = config_lib.task_names(cfg)
  return tasks_lib.get_task(name or names[-1])
