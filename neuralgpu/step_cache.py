"""Compiled train steps, one per padded length (bucket), shared by every caller in a
process through ``runkit.compile_cache`` (``StepCache``)."""

from __future__ import annotations

import json

import jax

from neuralgpu import config as config_lib
from neuralgpu import train as train_lib
from runkit import compile_cache


def training_key(cfg, mcfg) -> str:
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
    self._prefix = (name, training_key(cfg, mcfg), tasks)

  def key(self, bucket: int) -> tuple:
    return self._prefix + (int(bucket),)

  def _build(self, bucket: int):
    fn = train_lib.make_train_step(self.cfg, self.tasks, bucket, self.mcfg)
    return jax.jit(self.wrap(fn), donate_argnums=0)

  def __call__(self, bucket: int):
    return compile_cache.CACHE.get(self.key(bucket), lambda: self._build(int(bucket)))

  def precompile(self, state, buckets) -> None:
    """Compiles the steps of ``buckets`` for ``state`` (a ``TrainState``; a
    ``PoolState`` for the pool's steps) in parallel threads before the run starts, so
    compilation is not spread over its first steps."""
    buckets = [int(b) for b in buckets]
    for b in buckets:
      self(b)
    compile_cache.CACHE.compile([self.key(b) for b in buckets], (state,))


def buckets_to_compile(cfg) -> list[int]:
  """The buckets a run steps through from the start (cycle and all modes), or []."""
  cu = cfg.curriculum
  if cu.bucket_mode == "all":
    return [int(cu.buckets[-1])]
  if cu.bucket_mode == "cycle" and int(cu.start_length) >= int(cu.max_length):
    return [int(b) for b in cu.buckets]
  return []
