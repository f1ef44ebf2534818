"""Keep freed heap memory in the process for reuse (glibc's malloc, Linux).

XLA:CPU allocates a step's temporaries anew at every execution. With glibc's defaults a
large block is mapped with ``mmap`` and unmapped when freed (and the heaps of worker
threads' arenas are trimmed), so the next step gets fresh pages from the kernel: a page
fault and a zeroing per 4 KiB touched. A train step that keeps the scan's residuals
touches hundreds of MiB of them per step (``python -m benchmarks --sections=page_faults``
counts the faults: at 24 maps, batch 32, n = 41 storing every residual faults ~760 MiB a
step). ``keep_freed_memory`` sets malloc to keep what is freed: one arena for every
thread, no ``mmap`` for large blocks, no trimming of the heap's top. The process then
holds its peak heap until it exits. It takes effect only when called before ``jax`` is
imported (called later, the faults stay), and its effect on step time is mixed: faster on
one core, up to 2.9x slower with XLA's two threads on two cores (``results/benchmarks/``,
page-fault section), so nothing calls it by default.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

# mallopt parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
M_ARENA_MAX = -8
SETTINGS = ((M_ARENA_MAX, 1), (M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, 2**31 - 1))
APPLIED = False  # whether keep_freed_memory has applied in this process (provenance)


def keep_freed_memory() -> bool:
  """Sets glibc's malloc to keep freed memory (``SETTINGS``) for the rest of the
  process; True when every setting applied, False off Linux or without glibc. Call it
  before importing ``jax``."""
  if not sys.platform.startswith("linux"):
    return False
  try:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    mallopt = libc.mallopt
  except (OSError, AttributeError):
    return False
  mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
  mallopt.restype = ctypes.c_int
  global APPLIED
  APPLIED = all(mallopt(param, value) == 1 for param, value in SETTINGS)
  return APPLIED
