"""Multi-process setup for seed pools on JAX's own distributed runtime.

One process per host (or several local CPU processes for tests). After
``initialize``, ``jax.devices()`` lists every process's devices, so the pool's
mesh (the Neural GPU pool's ``make_mesh``) spans them all.
"""

from __future__ import annotations

import jax


def initialize(coordinator: str, num_processes: int, process_id: int) -> None:
  """Joins the distributed runtime (gloo collectives on CPU).

  Raises:
    ValueError: for an empty coordinator, num_processes < 1 or a process_id
      outside [0, num_processes).
  """
  if not coordinator or ":" not in coordinator:
    raise ValueError(f"coordinator={coordinator!r} must be host:port")
  if num_processes < 1 or not 0 <= process_id < num_processes:
    raise ValueError(
        f"need num_processes={num_processes} >= 1 and "
        f"0 <= process_id={process_id} < num_processes"
    )
  if jax.config.jax_platforms in (None, "", "cpu") or "cpu" in str(jax.config.jax_platforms):
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
  jax.distributed.initialize(
      coordinator_address=coordinator, num_processes=num_processes, process_id=process_id
  )
