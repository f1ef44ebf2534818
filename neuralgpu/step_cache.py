"""Compiled train steps, one per padded length (bucket), shared by every caller in a
process (``StepCache``), and their compilation in parallel threads."""

from __future__ import annotations

import json
import os

import jax

from neuralgpu import config as config_lib
from neuralgpu import train as train_lib

_COMPILED: dict = {}


def _training_key(cfg, mcfg) -> str:
  """The config as JSON without the settings that do not change a train step."""
  d = json.loads(cfg.to_json())
  for k in config_lib.RESUMABLE_KEYS:
    d.pop(k, None)
  d["model"] = json.loads(mcfg.to_json())
  return json.dumps(d, sort_keys=True)


class StepCache:
  """Compiled train steps, one per bucket, shared by every caller in a process.

  Two runs with the same training config (e.g. a run and its resumption in one
  process) reuse the same jitted functions, so they compile once.
  """

  def __init__(self, cfg, tasks, mcfg, wrap=None, name: str = "single"):
    self.cfg, self.tasks, self.mcfg = cfg, tasks, mcfg
    self.wrap = wrap or (lambda f: f)
    self._prefix = (name, _training_key(cfg, mcfg), tasks)

  def key(self, bucket: int) -> tuple:
    return self._prefix + (int(bucket),)

  def __call__(self, bucket: int):
    key = self.key(bucket)
    if key not in _COMPILED:
      fn = train_lib.make_train_step(self.cfg, self.tasks, bucket, self.mcfg)
      _COMPILED[key] = jax.jit(self.wrap(fn), donate_argnums=0)
    return _COMPILED[key]

  def precompile(self, state: train_lib.TrainState, buckets) -> None:
    precompile_steps(self, _COMPILED, state, buckets)


def buckets_to_compile(cfg) -> list[int]:
  """The buckets a run steps through from the start (cycle and all modes), or []."""
  cu = cfg.curriculum
  if cu.bucket_mode == "all":
    return [int(cu.buckets[-1])]
  if cu.bucket_mode == "cycle" and int(cu.start_length) >= int(cu.max_length):
    return [int(b) for b in cu.buckets]
  return []


def precompile_steps(cache, table: dict, state, buckets) -> None:
  """Fills ``table[cache.key(bucket)]`` of a step cache with compiled executables, compiled in
  parallel threads (XLA compiles outside the GIL, so a 2-core machine compiles a
  cycle of buckets about twice as fast)."""
  import concurrent.futures

  todo = [int(b) for b in dict.fromkeys(buckets)]
  fns = {b: cache(b) for b in todo}
  todo = [b for b in todo if hasattr(fns[b], "lower")]  # not yet compiled
  if not todo:
    return
  with concurrent.futures.ThreadPoolExecutor(max(1, min(len(todo), os.cpu_count() or 1))) as ex:
    exes = list(ex.map(lambda b: fns[b].lower(state).compile(), todo))
  for b, exe in zip(todo, exes):
    table[cache.key(b)] = exe
