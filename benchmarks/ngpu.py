"""Neural GPU benchmarks: train step against the machine and against plain PyTorch,
memory per remat policy, compile times, seed pools.

Every ratio is measured in one process, sides interleaved in rounds (the machine may be
shared); FLOPs are counted from the architecture (the convolutions of every CGRU at
every step, x3 for forward + backward), never from what a remat policy recomputes.
"""

from __future__ import annotations

import time

import jax
import numpy as np

from benchmarks import common
from neuralgpu import presets as ngpu_configs
from neuralgpu import evaluate, model as model_lib, pool, tasks as tasks_lib, train
from neuralgpu import resolve as resolve_lib

try:  # PyTorch is only in the benchmarks extra
  from benchmarks import torch_ngpu
except ImportError:  # pragma: no cover - depends on the environment
  torch_ngpu = None


# ---------------------------------------------------------------------------
# The models timed.
# ---------------------------------------------------------------------------
def model_config(
    kind: str, maps: int | None = None, batch: int | None = None, length: int | None = None
):
  """(config, padded length) of a benchmarked model.

  ``default``: the main job's model and training (``dngpu_short_sat``: n x 1 x 48,
  kernel 3 along n, one hard-gated CGRU per step, batch 32) at its longest bin, 25.
  ``faithful``: Kaiser & Sutskever (2015) section 2, n x 4 x m, 3x3 kernels, 2 CGRUs per
  step, batch 32 at length 41 (the figures of Price et al. 2016 are of this model).
  ``length``: train that one width instead (a single bin)."""
  if kind == "default":
    c = ngpu_configs.get_config("variant=dngpu_short_sat,task=badd,seeds=1")
    n = int(c.curriculum.buckets[-1])
  elif kind == "faithful":
    c = ngpu_configs.get_config("variant=faithful,task=badd")
    c.batch_size = 32
    c.curriculum.start_length = c.curriculum.max_length
    c.curriculum.bucket_mode = "cap"
    c.curriculum.long_every = 0
    n = int(c.curriculum.max_length)
  else:
    raise ValueError(f"kind={kind!r}; allowed: ('default', 'faithful')")
  if maps is not None:
    c.model.num_maps = int(maps)
  if batch is not None:
    c.batch_size = int(batch)
  if length is not None and int(length) != n:  # one bin of that width
    n = int(length)
    c.curriculum.buckets = (n,)
    c.curriculum.max_length = c.curriculum.start_length = n
  return c, n


def train_step_flops(mcfg, batch: int, n: int) -> float:
  """``common.cgru_train_step_flops`` of the model config ``mcfg`` at padded length n."""
  return common.cgru_train_step_flops(
      batch,
      n,
      int(mcfg.height),
      int(mcfg.kernel_width),
      int(mcfg.kernel_height),
      int(mcfg.num_maps),
      int(mcfg.cgrus_per_step),
      model_lib.num_steps_for(mcfg, n),
  )


def _jax_step(cfg, length, conv_impl=None, remat=None):
  c = cfg.copy_and_resolve_references()
  if conv_impl:
    c.model.conv_impl = conv_impl
  if remat:
    c.model.remat = remat
  mcfg = resolve_lib.resolve_model_config(c)
  task = tasks_lib.get_task("badd")
  fn = jax.jit(train.make_train_step(c, (task,), length, mcfg), donate_argnums=0)
  state = train.init_state(jax.random.key(0), c, 1)
  t0 = time.perf_counter()
  state = jax.block_until_ready(fn(state))
  first = time.perf_counter() - t0
  run = common.stepper(fn, state)
  return (lambda reps: run(reps) / reps), first, mcfg


def _step_cases(size: str):
  """(kind, maps, conv forms x remat policies, reps, rounds) per model."""
  if size == "tiny":
    return [("default", 8, [("shifted", "every_step")], 2, 1)]
  return [
      (
          "default",
          None,
          [
              ("shifted", "none"),
              ("shifted", "every_step"),
              ("shifted", "save_dots"),
              ("shifted", "sqrt"),
              ("xla", "every_step"),
          ],
          20,
          3,
      ),
      (
          "faithful",
          24,
          [
              ("shifted", "none"),
              ("shifted", "save_dots"),
              ("folded", "every_step"),
              ("folded", "save_dots"),
              ("grouped", "save_dots"),
              ("xla", "every_step"),
          ],
          2,
          2,
      ),
      (
          "faithful",
          128,
          [
              ("shifted", "save_dots"),
              ("folded", "every_step"),
              ("folded", "save_dots"),
              ("grouped", "save_dots"),
          ],
          1,
          2,
      ),
      ("faithful", 256, [("folded", "save_dots"), ("grouped", "save_dots")], 1, 1),
  ]


def train_steps(size: str, matmul: float, with_torch: bool = True) -> dict:
  """Train-step time per model, conv form and remat policy, against the dense matmul
  (``matmul`` GFLOP/s) and against the same step in plain PyTorch."""
  rows = []
  for kind, maps, forms, reps, num_rounds in _step_cases(size):
    tiny_length = (9 if kind == "default" else 7) if size == "tiny" else None
    cfg, length = model_config(kind, maps, length=tiny_length)
    batch = int(cfg.batch_size)
    sides, meta = {}, {}
    for conv_impl, remat in forms:
      timed, first, mcfg = _jax_step(cfg, length, conv_impl, remat)
      name = f"jax {conv_impl} remat={remat}"
      sides[name] = lambda t=timed: t(reps)
      meta[name] = {"first_call_s": round(first, 2)}
    flops = train_step_flops(mcfg, batch, length)
    if with_torch and torch_ngpu is not None:
      tkind = "dngpu" if kind == "default" else "faithful"
      tstep = torch_ngpu.make_step(tkind, int(mcfg.num_maps), batch, length)
      t0 = time.perf_counter()
      tstep(1)
      meta["torch eager"] = {"first_call_s": round(time.perf_counter() - t0, 2)}
      sides["torch eager"] = lambda f=tstep: f(reps)
    res = common.rounds(sides, num_rounds)
    torch_best = res.get("torch eager", {}).get("best")
    for name, r in res.items():
      gf = flops / r["best"] / 1e9
      rows.append(
          {
              "model": kind,
              "maps": int(mcfg.num_maps),
              "height": int(mcfg.height),
              "batch": batch,
              "length": length,
              "side": name,
              "step_s_best": round(r["best"], 5),
              "step_s_median": round(r["median"], 5),
              "model_gflops": round(gf, 2),
              "of_matmul": round(gf / matmul, 3),
              "speedup_vs_torch_eager": (round(torch_best / r["best"], 3) if torch_best else None),
              "train_step_gflop": round(flops / 1e9, 3),
              **meta[name],
          }
      )
  md = [
      "Train step (one jitted step: forward, loss, backward, optimizer), best of the "
      "interleaved rounds. `of matmul` = model FLOP/s / the dense matmul's in the same "
      "process; `x torch` = PyTorch eager's time / this side's.",
      "",
      common.md_table(
          [
              "model",
              "maps",
              "B x n",
              "side",
              "step s",
              "GFLOP/s",
              "of matmul",
              "x torch",
              "first call s",
          ],
          [
              [
                  r["model"],
                  r["maps"],
                  f"{r['batch']} x {r['length']}",
                  r["side"],
                  r["step_s_best"],
                  r["model_gflops"],
                  f"{100 * r['of_matmul']:.0f}%",
                  r["speedup_vs_torch_eager"] or "-",
                  r["first_call_s"],
              ]
              for r in rows
          ],
      ),
  ]
  return {"rows": rows, "markdown": "\n".join(md)}


# ---------------------------------------------------------------------------
# Memory.
# ---------------------------------------------------------------------------
def compiled_memory(cfg, length, remat) -> dict:
  """XLA's memory analysis of the compiled train step (no run): temporaries, arguments
  and outputs, in bytes."""
  c = cfg.copy_and_resolve_references()
  c.model.remat = remat
  mcfg = resolve_lib.resolve_model_config(c)
  task = tasks_lib.get_task("badd")
  step = train.make_train_step(c, (task,), length, mcfg)
  abstract = jax.eval_shape(lambda k: train.init_state(k, c, 1), jax.random.key(0))
  t0 = time.perf_counter()
  compiled = jax.jit(step, donate_argnums=0).lower(abstract).compile()
  secs = time.perf_counter() - t0
  ma = compiled.memory_analysis()
  temp = int(getattr(ma, "temp_size_in_bytes", 0))
  args = int(getattr(ma, "argument_size_in_bytes", 0))
  out = int(getattr(ma, "output_size_in_bytes", 0))
  alias = int(getattr(ma, "alias_size_in_bytes", 0))
  return {
      "remat": remat,
      "temp_bytes": temp,
      "argument_bytes": args,
      "output_bytes": out,
      "alias_bytes": alias,
      "peak_estimate_bytes": temp + args + out - alias,
      "compile_s": round(secs, 2),
  }


def memory(size: str) -> dict:
  """Peak bytes of the faithful train step against n and m for each remat policy."""
  if size == "tiny":
    cases = [(8, (9,), ("none", "sqrt"))]
  else:
    cases = [
        (128, (41, 101, 201), ("none", "every_step", "save_dots", "sqrt")),
        (512, (201,), ("every_step", "save_dots", "sqrt")),
    ]
  rows = []
  for maps, lengths, policies in cases:
    for n in lengths:
      cfg, _ = model_config("faithful", maps)
      for remat in policies:
        r = compiled_memory(cfg, n, remat)
        rows.append({"maps": maps, "length": n, "batch": int(cfg.batch_size), **r})
  gib = 2.0**30
  notes = []
  for maps, n in sorted({(r["maps"], r["length"]) for r in rows}):
    best = min(
        (r for r in rows if (r["maps"], r["length"]) == (maps, n)),
        key=lambda r: r["peak_estimate_bytes"],
    )
    notes.append(
        f"{maps} maps at n = {n}: least with `{best['remat']}`, "
        f"{best['peak_estimate_bytes'] / gib:.2f} GiB"
        + (" (fits in 16 GiB)" if best["peak_estimate_bytes"] < 16 * gib else "")
    )
  md = [
      "Faithful model (batch 32), XLA's memory analysis of the compiled train step "
      "(no run): peak estimate = temporaries + arguments + outputs - donated aliases. "
      + "; ".join(notes)
      + ".",
      "",
      common.md_table(
          ["maps", "n", "remat", "temp GiB", "peak GiB", "compile s"],
          [
              [
                  r["maps"],
                  r["length"],
                  r["remat"],
                  f"{r['temp_bytes'] / gib:.3f}",
                  f"{r['peak_estimate_bytes'] / gib:.3f}",
                  r["compile_s"],
              ]
              for r in rows
          ],
      ),
  ]
  return {"rows": rows, "markdown": "\n".join(md)}


# ---------------------------------------------------------------------------
# Compile times.
# ---------------------------------------------------------------------------
def compile_times(size: str) -> dict:
  """Compile (lower + compile) seconds of the default train step, of a pool step and of
  the long-length evaluation."""
  cfg, length = model_config("default", 8 if size == "tiny" else None)
  eval_n = 401
  pool_seeds = 4
  if size == "tiny":
    length, eval_n, pool_seeds = 9, 17, 2
  mcfg = resolve_lib.resolve_model_config(cfg)
  task = tasks_lib.get_task("badd")
  rows = []

  def timed_compile(what, fn, *args):
    t0 = time.perf_counter()
    jax.jit(fn).lower(*args).compile()
    rows.append({"what": what, "compile_s": round(time.perf_counter() - t0, 2)})

  state = jax.eval_shape(lambda k: train.init_state(k, cfg, 1), jax.random.key(0))
  timed_compile(
      f"default train step (n={length})", train.make_train_step(cfg, (task,), length, mcfg), state
  )
  ps = jax.eval_shape(lambda: pool.init_pool(np.arange(pool_seeds), cfg, 1))
  loop = pool.resolve_seed_loop("auto")
  timed_compile(
      f"pool step ({pool_seeds} seeds, {loop}, n={length})",
      pool.make_pool_step(cfg, (task,), length, mcfg, loop),
      ps,
  )
  chunk = evaluate.chunk_size_for(eval_n, mcfg, cfg.eval)
  params = jax.eval_shape(lambda k: model_lib.init_params(k, mcfg), jax.random.key(0))
  x = jax.ShapeDtypeStruct((chunk, eval_n), np.int32)
  pos = jax.ShapeDtypeStruct((chunk, eval_n), np.bool_)

  def predict(p, inputs, positions):
    return model_lib.apply(p, inputs, mcfg, active_sets=1, positions=positions)[0]

  timed_compile(f"evaluation at n={eval_n} (chunk {chunk})", predict, params, x, pos)
  md = [
      "Compile seconds (lower + compile, nothing run).",
      "",
      common.md_table(["what", "compile s"], [[r["what"], r["compile_s"]] for r in rows]),
  ]
  return {"rows": rows, "markdown": "\n".join(md)}


# ---------------------------------------------------------------------------
# Seed pools.
# ---------------------------------------------------------------------------
def pools(size: str) -> dict:
  """Seed-steps/s of a pool of S seeds (one program) against S single-seed runs stepped
  one after another from Python."""
  if size == "tiny":
    cases = [("default", 8, 9, 2, 2, 1)]
  else:
    cases = [("default", None, 25, 8, 5, 3), ("faithful", 24, 13, 8, 1, 2)]
  task = tasks_lib.get_task("badd")
  rows = []
  for kind, maps, length, seeds, steps, num_rounds in cases:
    cfg, _ = model_config(kind, maps)
    cfg.curriculum.buckets = tuple(sorted(set(tuple(cfg.curriculum.buckets) + (length,))))
    mcfg = resolve_lib.resolve_model_config(cfg)
    one = jax.jit(train.make_train_step(cfg, (task,), length, mcfg), donate_argnums=0)
    singles = [
        common.stepper(one, jax.block_until_ready(one(train.init_state(jax.random.key(i), cfg, 1))))
        for i in range(seeds)
    ]
    for loop in (("map",) if size == "tiny" else ("map", "vmap")):
      pfn = jax.jit(pool.make_pool_step(cfg, (task,), length, mcfg, loop), donate_argnums=0)
      run_pool = common.stepper(
          pfn, jax.block_until_ready(pfn(pool.init_pool(np.arange(seeds), cfg, 1)))
      )
      res = common.rounds(
          {
              "pool": lambda: run_pool(steps),
              "sequential": lambda: sum(run(steps) for run in singles),
          },
          num_rounds,
      )
      work = seeds * steps
      rows.append(
          {
              "model": kind,
              "maps": int(mcfg.num_maps),
              "length": length,
              "seeds": seeds,
              "seed_loop": loop,
              "pool_seed_steps_per_s": round(work / res["pool"]["best"], 2),
              "sequential_seed_steps_per_s": round(work / res["sequential"]["best"], 2),
              "ratio": round(res["sequential"]["best"] / res["pool"]["best"], 3),
          }
      )
  md = [
      "Seed pools: one program over S seeds (`map`: the seeds one after another inside "
      "it, `vmap`: batched) against S single-seed runs stepped from Python; ratio > 1: "
      "the pool is faster.",
      "",
      common.md_table(
          ["model", "maps", "n", "seeds", "form", "pool seed-steps/s", "sequential", "ratio"],
          [
              [
                  r["model"],
                  r["maps"],
                  r["length"],
                  r["seeds"],
                  r["seed_loop"],
                  r["pool_seed_steps_per_s"],
                  r["sequential_seed_steps_per_s"],
                  r["ratio"],
              ]
              for r in rows
          ],
      ),
  ]
  return {"rows": rows, "markdown": "\n".join(md)}


def main_job_before_after(size: str) -> dict:
  """Seed-steps/s of the main job's train step over its bins (each bin weighted as the
  cycling curriculum visits them) under the remat defaults in turn: the scan's residuals
  stored (``none``, the first default), every step rematerialised (``every_step``, the
  next) and ``auto`` (now: ``save_dots`` on CPU)."""
  cfg, _ = model_config("default", 8 if size == "tiny" else None)
  bins = [int(b) for b in cfg.curriculum.buckets]
  reps = 20
  if size == "tiny":
    bins, reps = bins[:1], 2
  task = tasks_lib.get_task("badd")
  sides = {}
  for remat in ("none", "every_step", "auto"):
    c = cfg.copy_and_resolve_references()
    c.model.remat = remat
    mcfg = resolve_lib.resolve_model_config(c)
    fns = {b: jax.jit(train.make_train_step(c, (task,), b, mcfg), donate_argnums=0) for b in bins}

    def every_bin(s, fns=fns):
      for b in bins:
        s = fns[b](s)
      return s

    run = common.stepper(
        every_bin, jax.block_until_ready(every_bin(train.init_state(jax.random.key(0), c, 1)))
    )
    sides[f"remat={remat} ({mcfg.remat})"] = lambda run=run: run(reps)
  res = common.rounds(sides, 3 if size == "full" else 1)
  rows = [
      {"side": k, "seed_steps_per_s": round(reps * len(bins) / v["best"], 1), "bins": bins}
      for k, v in res.items()
  ]
  md = [
      "Main job's train step, one seed, every bin in turn (the cycling curriculum), "
      "under each remat default in turn: `none` (the first), `every_step` (the next), "
      "`auto` (now; what it resolves to in brackets).",
      "",
      common.md_table(["side", "seed-steps/s"], [[r["side"], r["seed_steps_per_s"]] for r in rows]),
  ]
  return {"rows": rows, "markdown": "\n".join(md)}


# ---------------------------------------------------------------------------
# Page faults: what the remat policies cost in fresh memory.
# ---------------------------------------------------------------------------
HUGEPAGE_TUNABLE = "glibc.malloc.hugetlb=1"
# How the child process's malloc runs: glibc's defaults, transparent huge pages for
# malloc (an environment setting read at process start), or freed memory kept
# (``runkit.hostmem.keep_freed_memory``, an opt-in called before jax is imported).
MALLOC_SETTINGS = ("default", "hugetlb", "kept")
PAGE_FAULT_COLUMNS = (
    "maps",
    "conv_impl",
    "remat",
    "malloc",
    "step_s",
    "minor_faults_per_step",
    "faulted_mib_per_step",
)


def page_fault_child(
    kind: str,
    maps: int,
    conv_impl: str,
    remat: str,
    reps: int,
    batch=None,
    length=None,
    keep_freed: bool = False,
) -> dict:
  """Seconds per train step and minor page faults per step, in this process (the
  ``page_faults`` section runs it in a child process per setting)."""
  import resource

  from runkit import hostmem

  if keep_freed != hostmem.APPLIED:
    raise RuntimeError(
        f"keep_freed={keep_freed} but runkit.hostmem.APPLIED={hostmem.APPLIED}: the child "
        "must call keep_freed_memory() before it imports jax"
    )

  cfg, length = model_config(kind, maps, batch, length)
  timed, _, _ = _jax_step(cfg, length, conv_impl, remat)
  timed(1)
  before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
  step_s = timed(reps)
  faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / reps
  return {"step_s": round(step_s, 4), "minor_faults_per_step": round(faults)}


def page_faults(size: str) -> dict:
  """The faithful train step per remat policy, each in a fresh child process, with
  glibc's default allocator settings and with transparent huge pages for malloc
  (``GLIBC_TUNABLES=glibc.malloc.hugetlb=1``): step time and minor page faults. XLA:CPU
  allocates each step's temporaries anew; the pages the kernel hands back cost a fault
  and a zeroing each, so a policy that keeps more for the backward pass pays per step
  for memory it touches once."""
  import json as json_lib
  import os
  import subprocess
  import sys

  if size == "tiny":
    cases, maps, reps, shape = [("folded", "every_step")], 4, 1, (2, 7)
  else:
    cases = [("folded", "none"), ("folded", "every_step"), ("folded", "save_dots")]
    maps, reps, shape = 24, 3, (None, None)
  rows = []
  for conv_impl, remat in cases:
    for setting in MALLOC_SETTINGS:
      env = dict(os.environ)
      env.pop("GLIBC_TUNABLES", None)
      if setting == "hugetlb":
        env["GLIBC_TUNABLES"] = HUGEPAGE_TUNABLE
      code = (  # hostmem applies only before jax is imported
          f"from runkit import hostmem; {setting == 'kept'} and hostmem.keep_freed_memory(); "
          "import json; from benchmarks import ngpu; print('RESULT', json.dumps("
          f"ngpu.page_fault_child('faithful', {maps}, {conv_impl!r}, {remat!r}, {reps}, "
          f"{shape[0]}, {shape[1]}, {setting == 'kept'})))"
      )
      out = subprocess.run(
          [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
      )
      line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")][-1]
      r = json_lib.loads(line[len("RESULT ") :])
      rows.append(
          {
              "model": "faithful",
              "maps": maps,
              "conv_impl": conv_impl,
              "remat": remat,
              "malloc": setting,
              **r,
              "faulted_mib_per_step": round(r["minor_faults_per_step"] * 4096 / 2**20, 1),
          }
      )
  md = [
      f"Faithful train step (batch {shape[0] or 32}, n = {shape[1] or 41}) per remat "
      "policy, each in a fresh child "
      "process, with glibc's default malloc (`default`), with transparent huge pages "
      f"for malloc (`hugetlb`: `GLIBC_TUNABLES={HUGEPAGE_TUNABLE}`, read at process "
      "start) and with freed memory kept for reuse (`kept`: "
      "`runkit.hostmem.keep_freed_memory()` called before jax is imported: one arena, "
      "no mmap, no trim; an opt-in, not a default). Faults are counted in 4 KiB pages (a huge page counts once).",
      "",
      common.md_table(
          ["maps", "conv", "remat", "malloc", "step s", "minor faults / step", "MiB"],
          [[r[k] for k in PAGE_FAULT_COLUMNS] for r in rows],
      ),
  ]
  return {"rows": rows, "markdown": "\n".join(md)}
