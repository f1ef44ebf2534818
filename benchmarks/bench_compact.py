"""Q-learning chunk time with solved seeds trained along (and discarded) or left out.

    python -m benchmarks.bench_compact --workdir=/tmp/rl_long/add2_col8
    python -m benchmarks.bench_compact --running=2       # fresh mul1 seeds at --level

`experiment.compact_chunk` trains only the seeds that have not passed the test (with
`freeze_when_solved` the others' updates are thrown away). With `--workdir`, the
state is that run's latest checkpoint (its solved seeds, levels and parameters);
without it, fresh seeds at `--level` with all but `--running` marked solved. Both
forms run the same chunk from the same state in interleaved rounds, after one
untimed call each (compilation); the table gives each side's best time. JSON rows go
to results/qlearning/bench_compact.json (replaced by label).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time

from absl import flags
import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import common
from rltape.qlearning import config as config_lib
from rltape.qlearning import experiment
from rltape.qlearning import train as train_lib


def _state_and_config(a):
  if a.workdir:
    try:
      c, state, step = experiment.load_workdir(a.workdir)
    except ValueError as e:
      raise SystemExit(f"--workdir: {e}") from None
    return state, c, f"{a.workdir} step {step}"
  c = config_lib.default_config()
  c.update(config_lib.column_overrides(8))
  c.update(task=a.task, train_max_length=a.level, optimizer="adam", learning_rate=3e-3)
  if not 1 <= a.running <= c.num_seeds:
    raise SystemExit(f"--running={a.running} must lie in [1, {c.num_seeds}]")
  state = train_lib.make_train(c).init(jax.random.key(0))
  solved = np.where(np.arange(c.num_seeds) < a.running, -1, 0).astype(np.int32)
  state = state.replace(length=jnp.full_like(state.length, a.level), solved_at=jnp.asarray(solved))
  return state, c, f"fresh {a.task} level {a.level}, {a.running} running"


def define_flags(fv):
  flags.DEFINE_string(
      "workdir", "", "A Q-learning workdir (its latest checkpoint).", flag_values=fv
  )
  flags.DEFINE_string(
      "task", "mul1", "Task of the fresh seeds (without --workdir).", flag_values=fv
  )
  flags.DEFINE_integer("level", 50, "Curriculum level of the fresh seeds.", flag_values=fv)
  flags.DEFINE_integer("running", 2, "Fresh seeds left unsolved.", flag_values=fv)
  flags.DEFINE_integer("updates", 5, "Updates per timed chunk.", flag_values=fv)
  flags.DEFINE_integer("repeats", 3, "Timed rounds per form.", flag_values=fv)
  flags.DEFINE_string(
      "out",
      "results/qlearning/bench_compact.json",
      "JSON rows (replaced by label).",
      flag_values=fv,
  )


def main(argv=None):
  a = common.parse_flags(define_flags, sys.argv[1:] if argv is None else argv, "bench_compact")
  state, c, label = _state_and_config(a)
  c.chunk_updates = a.updates
  fn = jax.jit(train_lib.make_train(c).train_chunk)
  forms = {"full": lambda s: fn(s), "compact": lambda s: experiment.compact_chunk(fn, s)}
  first = {}
  for name, f in forms.items():
    t = time.perf_counter()
    jax.block_until_ready(f(state))
    first[name] = time.perf_counter() - t
  best = {name: float("inf") for name in forms}
  for _ in range(a.repeats):
    for name, f in forms.items():
      t = time.perf_counter()
      jax.block_until_ready(f(state))
      best[name] = min(best[name], time.perf_counter() - t)
  running = int(np.sum(np.asarray(state.solved_at) < 0))
  row = dict(
      label=label,
      task=c.task,
      seeds=c.num_seeds,
      running=running,
      updates=a.updates,
      full_updates_per_s=a.updates / best["full"],
      compact_updates_per_s=a.updates / best["compact"],
      speedup=best["full"] / best["compact"],
      first_call_s=first,
      backend=jax.default_backend(),
      machine=platform.platform(),
  )
  print(json.dumps(row, indent=1))
  rows = []
  if os.path.exists(a.out):
    with open(a.out) as f:
      rows = [r for r in json.load(f) if r.get("label") != label]
  with open(a.out, "w") as f:
    json.dump(rows + [row], f, indent=1)


if __name__ == "__main__":
  main()
