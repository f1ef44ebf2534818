"""Random-policy throughput of the JAX environments vs the plain-Python reference.

    python -m benchmarks.bench_envs                 # table + results/envs/bench.json
    python -m benchmarks.bench_envs --n_envs 1024 --n_steps 100 --tasks Copy:10

JAX: one jitted program per task: `vmap` over `n_envs` environments inside a
`lax.scan` of `n_steps` steps; every step draws a uniformly random action per env
(move, write flag, symbol), steps all envs, and resets the finished ones with
`rltape.envs.auto_reset` (a fresh reset is computed for every env each step and
selected where the episode ended, so reset cost is included; per-env seeds come from
`rltape.envs.batch_seeds`). Inputs are sampled at exactly the given
length (`length_jitter` = 0).

Baseline: `rltape.envs.reference.ReferenceEnv`, a plain-Python (standard library only)
re-implementation of gym 0.19.0's algorithmic environments (and of the LSA rules), one
env in one process, driven by the same random policy with Python's `random`, reset on
done. gym 0.19.0 itself is not installed here; the reference follows its code structure
(Python lists, a `random` draw per input symbol, attribute updates per step).

Both are measured in the same run on the same machine; steps/s counts every env step
(a reset is not a step). Compile time is reported separately and excluded. The two
sides run in interleaved rounds (`--repeats`); the table gives each side's best run,
the ratio of the bests and the median per-round ratio, as the machine may be shared.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time

from absl import flags
import jax

import rltape.envs as envs
from benchmarks import common
from benchmarks import rl as rl_bench

DEFAULT_TASKS = (
    "Copy:10",
    "RepeatCopy:10",
    "ReversedAddition:10",
    "lsa/copy:100",
    "lsa/add2:100",
    "lsa/walk:100",
    "Copy:1000",
)


def make_jax_runner(env, params, n_envs: int, n_steps: int):
  """jit(run(key) -> (total reward, episodes finished)) over n_envs x n_steps steps."""
  return jax.jit(rl_bench.make_env_runner(env, params, n_envs, n_steps))


def bench_jax_once(run, seed: int, n_envs: int, n_steps: int) -> dict:
  t0 = time.perf_counter()
  _, eps = jax.block_until_ready(run(jax.random.key(seed)))
  seconds = time.perf_counter() - t0
  return {
      "steps_per_s": n_envs * n_steps / seconds,
      "seconds": seconds,
      "episodes_per_step": int(eps) / (n_envs * n_steps),
  }


def bench_python_once(name: str, length: int, min_seconds: float, seed: int) -> dict:
  """One run of at least `min_seconds` of the reference env with a random policy."""
  r = rl_bench.reference_run(name, length, min_seconds, seed)
  return {
      "steps_per_s": r["steps"] / r["seconds"],
      "steps": r["steps"],
      "seconds": r["seconds"],
      "episodes_per_step": r["episodes"] / r["steps"],
  }


def bench_pair(
    name: str, length: int, n_envs: int, n_steps: int, repeats: int, python_seconds: float
) -> dict:
  """Interleaved rounds (JAX run, then Python run) so both sides see the same load.

  Reports each side's best run, the ratio of the bests, and the median of the
  per-round ratios (the machine is shared and its speed drifts between runs).
  """
  env = envs.make(name, max_length=length)
  params = envs.make_params(length, 0)
  run = make_jax_runner(env, params, n_envs, n_steps)
  t0 = time.perf_counter()
  jax.block_until_ready(run(jax.random.key(0)))
  compile_s = time.perf_counter() - t0
  jruns, pruns = [], []
  for i in range(repeats):
    jruns.append(bench_jax_once(run, i + 1, n_envs, n_steps))
    pruns.append(bench_python_once(name, length, python_seconds, i))
  best_j = max(jruns, key=lambda r: r["steps_per_s"])
  best_p = max(pruns, key=lambda r: r["steps_per_s"])
  rounds = sorted(j["steps_per_s"] / p["steps_per_s"] for j, p in zip(jruns, pruns))
  return {
      "jax": {
          **best_j,
          "compile_s": compile_s,
          "steps_per_s_all": [r["steps_per_s"] for r in jruns],
      },
      "python": {**best_p, "steps_per_s_all": [r["steps_per_s"] for r in pruns]},
      "ratio": best_j["steps_per_s"] / best_p["steps_per_s"],
      "ratio_median_round": rounds[len(rounds) // 2],
  }


def parse_task(text: str) -> tuple[str, int]:
  name, _, length = text.rpartition(":")
  if name not in envs.registered_names() or not length.isdigit() or int(length) < 1:
    raise SystemExit(
        f"--tasks entries must be NAME:LENGTH with NAME in "
        f"{', '.join(envs.registered_names())} and LENGTH >= 1; got {text!r}"
    )
  return name, int(length)


def main(argv=None):
  def define(fv):
    flags.DEFINE_list("tasks", list(DEFAULT_TASKS), "NAME:LENGTH,...", flag_values=fv)
    flags.DEFINE_integer("n_envs", 4096, "Environments stepped in parallel.", flag_values=fv)
    flags.DEFINE_integer("n_steps", 200, "Steps per timed program.", flag_values=fv)
    flags.DEFINE_integer("repeats", 5, "Interleaved rounds per side.", flag_values=fv)
    flags.DEFINE_float("python_seconds", 2.0, "Seconds per Python round.", flag_values=fv)
    flags.DEFINE_string(
        "out",
        os.path.join(os.path.dirname(__file__), "..", "results", "envs", "bench.json"),
        "JSON record.",
        flag_values=fv,
    )

  args = common.parse_flags(define, sys.argv[1:] if argv is None else argv, "bench_envs")
  for flag in ("n_envs", "n_steps", "repeats"):
    if getattr(args, flag) < 1:
      raise SystemExit(f"--{flag} must be >= 1, got {getattr(args, flag)}")
  if args.python_seconds <= 0:
    raise SystemExit(f"--python_seconds must be > 0, got {args.python_seconds}")
  tasks = [parse_task(t) for t in args.tasks]

  rows = []
  header = (
      f"{'task':<18} {'len':>5} {'jax steps/s':>12} {'python steps/s':>15} "
      f"{'ratio':>7} {'median':>7} {'compile s':>9}"
  )
  print(header)
  print("-" * len(header))
  for name, length in tasks:
    r = bench_pair(name, length, args.n_envs, args.n_steps, args.repeats, args.python_seconds)
    rows.append({"task": name, "length": length, **r})
    print(
        f"{name:<18} {length:>5} {r['jax']['steps_per_s']:>12.3g} "
        f"{r['python']['steps_per_s']:>15.3g} {r['ratio']:>7.0f} "
        f"{r['ratio_median_round']:>7.0f} {r['jax']['compile_s']:>9.1f}",
        flush=True,
    )

  record = {
      "benchmark": "random-policy env steps/s: jit+vmap+scan with auto-reset vs plain-Python "
      "reference, single process",
      "n_envs": args.n_envs,
      "n_steps": args.n_steps,
      "repeats": args.repeats,
      "jax_version": jax.__version__,
      "devices": [str(d) for d in jax.devices()],
      "cpu_count": os.cpu_count(),
      "platform": platform.platform(),
      "python": platform.python_version(),
      "loadavg_at_end": os.getloadavg() if hasattr(os, "getloadavg") else None,
      "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
      "rows": rows,
  }
  os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
  with open(args.out, "w") as f:
    json.dump(record, f, indent=2)
  print(f"wrote {os.path.abspath(args.out)}")


if __name__ == "__main__":
  main()
