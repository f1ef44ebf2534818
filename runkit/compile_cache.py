"""The one explicit cache of jitted programs in a process, keyed by what fixes them.

A trainer builds each jitted program through ``CACHE.get(key, build)``, with a key made of
what determines the program (the training config without its budget keys, the resolved
model config, the tasks, the padded length). Two runs of the same config in one process
(a run and its resumption, tests that rerun a config, the seeds of a study) then reuse
the same programs and compile once. ``CACHE.compile(keys, args)`` compiles pending
programs in parallel threads (XLA compiles outside the GIL, so two cores compile a cycle
of buckets about twice as fast) and keeps the executables in their place.
``CACHE.clear()`` drops everything (the executables' memory with it).
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
from typing import Any, Callable, Hashable, Iterable


def compile_in_threads(fns: dict, args: tuple) -> dict:
  """``{key: fn.lower(*args).compile()}`` for the entries of ``fns`` still to compile (those
  with a ``lower`` method, i.e. jitted and not yet compiled), in parallel threads."""
  todo = [k for k, f in fns.items() if hasattr(f, "lower")]
  if not todo:
    return {}
  workers = max(1, min(len(todo), os.cpu_count() or 1))
  with concurrent.futures.ThreadPoolExecutor(workers) as ex:
    exes = list(ex.map(lambda k: fns[k].lower(*args).compile(), todo))
  return dict(zip(todo, exes))


class CompileCache:
  """Jitted programs (or their compiled executables) by key."""

  def __init__(self):
    self._fns: dict = {}
    self._lock = threading.Lock()

  def get(self, key: Hashable, build: Callable[[], Any]):
    """The program at ``key``, built by ``build()`` (e.g. ``jax.jit(step)``) the first time."""
    with self._lock:
      if key not in self._fns:
        self._fns[key] = build()
      return self._fns[key]

  def compile(self, keys: Iterable[Hashable], args: tuple) -> None:
    """Replaces the jitted programs at ``keys`` (built before with ``get``) by their
    executables for ``args``, compiled in parallel threads; compiled ones are skipped."""
    keys = list(dict.fromkeys(keys))
    with self._lock:
      missing = [k for k in keys if k not in self._fns]
      if missing:
        raise KeyError(f"compile: no program built at {missing[0]!r}; build it with get first")
      fns = {k: self._fns[k] for k in keys}
    exes = compile_in_threads(fns, args)
    with self._lock:
      self._fns.update(exes)

  def __contains__(self, key) -> bool:
    return key in self._fns

  def __len__(self) -> int:
    return len(self._fns)

  def clear(self) -> None:
    with self._lock:
      self._fns.clear()


# The process's cache: the Neural GPU's single-seed and pool steps and the Q-learning
# programs.
CACHE = CompileCache()
