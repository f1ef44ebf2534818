r"""Neural GPU train-step throughput and compile time per conv form.

  python benchmarks/bench_ngpu.py [--maps=24,128] [--impls=shifted,xla] [--reps=5]

Runs the real jitted train step (batch 32, length 41, faithful n x 4 x m model,
and the `fast` variant) side by side in one process, prints a table and writes
results/bench_ngpu.json. Ratios measured in one run are what to compare; absolute
numbers depend on the machine and its load.
"""
import json
import os
import sys
import time

from absl import app
from absl import flags
import jax

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from experiments.configs import ngpu  # noqa: E402
from neuralgpu import tasks, train  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("maps", ["24", "128"], "Widths of the faithful model.")
flags.DEFINE_list("impls", ["shifted", "xla"], "Conv forms.")
flags.DEFINE_integer("reps", 5, "Timed steps per case.")
flags.DEFINE_integer("length", 41, "Padded length.")
flags.DEFINE_bool("fast_variant", True, "Also time the `fast` variant.")
flags.DEFINE_string("out", "results/bench_ngpu.json", "JSON output.")
flags.DEFINE_list("memory_maps", [], "Widths for the remat memory table (compile only), e.g. 128,256.")
flags.DEFINE_integer("memory_length", 201, "Padded length for the remat memory table.")


def time_case(cfg, length, reps):
  task = tasks.get_task("badd")
  cfg.curriculum.start_length = cfg.curriculum.max_length
  cfg.curriculum.bucket_mode = "cap"
  cfg.curriculum.long_every = 0
  mcfg = train.resolve_model_config(cfg)
  state = train.init_state(jax.random.key(0), cfg, 1)
  fn = jax.jit(train.make_train_step(cfg, (task,), length, mcfg), donate_argnums=0)
  t0 = time.perf_counter()
  state = fn(state)
  jax.block_until_ready(state.params)
  compile_s = time.perf_counter() - t0
  t0 = time.perf_counter()
  for _ in range(reps):
    state = fn(state)
  jax.block_until_ready(state.params)
  step_s = (time.perf_counter() - t0) / reps
  return {"compile_s": round(compile_s, 2), "step_s": round(step_s, 4),
          "steps_per_s": round(1.0 / step_s, 3)}


def remat_memory(m, length, remat):
  """Temp bytes of the compiled train step (XLA's memory analysis; no run)."""
  c = ngpu.get_config("variant=faithful,task=badd")
  c.model.num_maps = int(m)
  c.model.remat = remat
  c.model.remat_k = 16
  c.curriculum.max_length = length
  c.curriculum.start_length = length
  c.curriculum.buckets = (length,)
  c.curriculum.long_every = 0
  mcfg = train.resolve_model_config(c)
  state = jax.eval_shape(lambda: train.init_state(jax.random.key(0), c, 1))
  fn = jax.jit(train.make_train_step(c, (tasks.get_task("badd"),), length, mcfg))
  t0 = time.perf_counter()
  compiled = fn.lower(state).compile()
  mem = compiled.memory_analysis()
  return {"maps": int(m), "length": length, "remat": remat,
          "temp_mib": round(mem.temp_size_in_bytes / 2**20, 1),
          "compile_s": round(time.perf_counter() - t0, 1)}


def main(argv):
  del argv
  mem_rows = []
  for m in FLAGS.memory_maps:
    for remat in ("none", "every_step", "every_k"):
      r = remat_memory(m, FLAGS.memory_length, remat)
      mem_rows.append(r)
      print(f"memory m={m} n={r['length']} remat={remat:10s} temp {r['temp_mib']:9.1f} MiB", flush=True)
  rows = []
  cases = []
  for m in FLAGS.maps:
    for impl in FLAGS.impls:
      c = ngpu.get_config("variant=faithful,task=badd")
      c.model.num_maps = int(m)
      c.model.conv_impl = impl
      cases.append((f"faithful m={m} h=4 2 CGRU/step", impl, c))
  if FLAGS.fast_variant:
    for impl in FLAGS.impls:
      c = ngpu.get_config("variant=fast,task=badd")
      c.model.conv_impl = impl
      cases.append(("fast m=48 h=1 1 unit/step", impl, c))
  for name, impl, c in cases:
    r = time_case(c, FLAGS.length, FLAGS.reps)
    r.update(model=name, conv_impl=impl, batch=int(c.batch_size), length=FLAGS.length,
             backend=jax.default_backend(), device=jax.devices()[0].device_kind)
    rows.append(r)
    print(f"{name:32s} {impl:8s} compile {r['compile_s']:7.1f}s  step {r['step_s']*1000:8.1f} ms"
          f"  {r['steps_per_s']:7.2f} steps/s", flush=True)
    save(rows, mem_rows)  # after every case: a killed slow case keeps the others
  save(rows, mem_rows)
  print(f"wrote {FLAGS.out}")


def save(rows, mem_rows):
  os.makedirs(os.path.dirname(FLAGS.out) or ".", exist_ok=True)
  with open(FLAGS.out, "w") as f:
    json.dump({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "load_avg": os.getloadavg(), "rows": rows, "remat_memory": mem_rows}, f, indent=2)


if __name__ == "__main__":
  app.run(main)
