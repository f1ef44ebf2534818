"""What every benchmark section shares: the machine, its matmul limit, timing rounds."""

from __future__ import annotations

import os
import platform
import statistics
import time
from typing import Callable

import jax
import jax.numpy as jnp
from absl import flags

SIZES = ("tiny", "full")


def parse_flags(define: Callable[[flags.FlagValues], None], argv, prog: str) -> flags.FlagValues:
  """A script's absl flags, defined by ``define`` on their own ``FlagValues`` and parsed
  from ``argv`` (``--name=value`` or ``--name value``), so that scripts imported side by
  side (tests) never clash. An unknown flag, a bad value or a stray argument exits
  naming it."""
  fv = flags.FlagValues()
  define(fv)
  try:
    rest = fv([prog, *argv])
  except flags.Error as e:
    raise SystemExit(f"{prog}: {e}") from None
  if len(rest) > 1:
    raise SystemExit(f"{prog}: unexpected arguments {rest[1:]}")
  return fv


def check_size(size: str) -> str:
  if size not in SIZES:
    raise ValueError(f"size={size!r}; allowed: {SIZES}")
  return size


def cpu_model() -> str:
  """The CPU's model name (``/proc/cpuinfo``), or the platform's processor string."""
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or "unknown"


def machine_info() -> dict:
  """What the numbers were measured on."""
  try:
    cores = len(os.sched_getaffinity(0))
  except AttributeError:
    cores = os.cpu_count()
  dev = jax.devices()[0]
  return {
      "cpu": cpu_model(),
      "cores_usable": cores,
      "cpu_count": os.cpu_count(),
      "jax": jax.__version__,
      "backend": jax.default_backend(),
      "device": getattr(dev, "device_kind", str(dev)),
      "python": platform.python_version(),
      "load_avg": [round(x, 2) for x in os.getloadavg()],
      "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
  }


def matmul_gflops(n: int = 2048, reps: int = 5, dtype=jnp.float32) -> float:
  """GFLOP/s of XLA's dense ``n x n`` matmul (best of ``reps``): the machine's limit
  the train steps are compared with."""
  a = jax.random.normal(jax.random.key(0), (n, n), dtype)
  f = jax.jit(lambda x: x @ x)
  f(a).block_until_ready()
  best = float("inf")
  for _ in range(reps):
    t0 = time.perf_counter()
    f(a).block_until_ready()
    best = min(best, time.perf_counter() - t0)
  return 2.0 * n**3 / best / 1e9


def stepper(fn: Callable, state) -> Callable[[int], float]:
  """``run(reps) -> seconds``: applies ``fn`` (a jitted ``state -> state``, possibly
  donating its argument) ``reps`` times to a state kept between calls, and blocks."""
  box = [state]

  def run(reps: int) -> float:
    t0 = time.perf_counter()
    s = box[0]
    for _ in range(reps):
      s = fn(s)
    box[0] = jax.block_until_ready(s)
    return time.perf_counter() - t0

  return run


def cgru_train_step_flops(
    batch: int, n: int, height: int, kn: int, kh: int, maps: int, cgrus_per_step: int, steps: int
) -> float:
  """FLOPs of one Neural GPU train step from the architecture: per CGRU forward a gate
  conv (2m outputs) and a candidate conv (m outputs) over the n x height cells, each a
  (kn*kh*m)-long dot product per output; every CGRU of every step; x3 for the backward.
  Kaiser & Sutskever's model (height 4, 3x3): 216 B n m^2 per CGRU forward. The input
  and output layers (O(B n m V)) are left out."""
  per_cgru = 2.0 * batch * n * height * (kn * kh * maps) * (3 * maps)
  return 3.0 * per_cgru * cgrus_per_step * steps


def rounds(sides: dict[str, Callable[[], float]], num_rounds: int) -> dict:
  """Runs each side (a callable returning seconds for one timed block) in interleaved
  rounds, so load from elsewhere hits all sides alike. Returns per side the list of
  seconds, its best and median."""
  times = {k: [] for k in sides}
  for _ in range(num_rounds):
    for k, fn in sides.items():
      times[k].append(float(fn()))
  return {
      k: {"seconds": v, "best": min(v), "median": statistics.median(v)} for k, v in times.items()
  }


def md_table(header: list[str], rows: list[list]) -> str:
  lines = [
      "| " + " | ".join(header) + " |",
      "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|",
  ]
  for r in rows:
    lines.append("| " + " | ".join(str(x) for x in r) + " |")
  return "\n".join(lines)
