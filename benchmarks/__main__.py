r"""The benchmark suite: one command, JSON per section and a markdown summary.

    python -m benchmarks                          # every section, about 15 min on 2 CPU cores
    python -m benchmarks --size=tiny --out_dir=/tmp/bench     # seconds (the tests run this)
    python -m benchmarks --sections=train_steps,pools

Sections: ``train_steps`` (Neural GPU train step per conv form and remat policy against
the machine's dense matmul and against the same step in plain PyTorch, if installed:
``pip install -e ".[bench]"``), ``main_job`` (the main job's seed-steps/s before and
after the remat default), ``memory`` (compiled peak bytes against n, m and the remat
policy), ``page_faults`` (step time and page faults per remat policy, with and without
huge pages for malloc), ``compile`` (compile seconds), ``pools`` (seed pools against sequential runs),
``rl`` (environment and agent throughput). Each writes ``<out_dir>/<section>.json``
(rows + the machine); ``<out_dir>/README.md`` is rendered from every section file there.
"""

from __future__ import annotations

import json
import os
import time

from absl import app
from absl import flags

from benchmarks import common

SECTIONS = ("train_steps", "main_job", "memory", "page_faults", "compile", "pools", "rl")
TITLES = {
    "train_steps": "Train step against the machine and against PyTorch",
    "main_job": "The main job's train step before and after",
    "memory": "Memory against length, width and remat policy",
    "page_faults": "Page faults per remat policy",
    "compile": "Compile times",
    "pools": "Seed pools",
    "rl": "RL environments and agents",
}

FLAGS = flags.FLAGS
flags.DEFINE_enum(
    "size", "full", list(common.SIZES), "tiny: seconds (a smoke run); full: " "the measured suite."
)
flags.DEFINE_list("sections", list(SECTIONS), f"Sections to run, of {SECTIONS}.")
flags.DEFINE_string("out_dir", "results/benchmarks", "Folder for the JSON files and README.md.")
flags.DEFINE_bool("torch", True, "Time the PyTorch side where PyTorch is installed.")


def run_section(name: str, size: str, matmul: float) -> dict:
  from benchmarks import ngpu

  if name == "train_steps":
    return ngpu.train_steps(size, matmul, with_torch=FLAGS.torch)
  if name == "main_job":
    return ngpu.main_job_before_after(size)
  if name == "memory":
    return ngpu.memory(size)
  if name == "page_faults":
    return ngpu.page_faults(size)
  if name == "compile":
    return ngpu.compile_times(size)
  if name == "pools":
    return ngpu.pools(size)
  if name == "rl":
    from benchmarks import rl

    return rl.run(size)
  raise ValueError(f"section {name!r}; allowed: {SECTIONS}")


def render(out_dir: str) -> str:
  """README.md of out_dir from its section files, in the suite's order."""
  parts = [
      "# Benchmarks",
      "",
      "Rendered by `python -m benchmarks` from the JSON files beside this page; each "
      "section says the machine and the time it was measured. Ratios are measured "
      "side by side in one process; absolute numbers move with the machine's load.",
      "",
  ]
  for name in SECTIONS:
    path = os.path.join(out_dir, f"{name}.json")
    if not os.path.exists(path):
      continue
    with open(path) as f:
      d = json.load(f)
    m = d["machine"]
    parts += [
        f"## {TITLES[name]}",
        "",
        f"*{m['cpu']}, {m['cores_usable']} usable cores, {m['backend']}, jax "
        f"{m['jax']}, load {m['load_avg']}, {m['time_utc']}, size `{d['size']}`, "
        f"{d['wall_s']:.0f} s; dense f32 2048^2 matmul {d['matmul_gflops']:.0f} "
        f"GFLOP/s.*",
        "",
        d["markdown"],
        "",
    ]
  text = "\n".join(parts)
  with open(os.path.join(out_dir, "README.md"), "w") as f:
    f.write(text)
  return text


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  bad = [s for s in FLAGS.sections if s not in SECTIONS]
  if bad:
    raise app.UsageError(f"--sections: {bad} unknown; allowed: {SECTIONS}")
  os.makedirs(FLAGS.out_dir, exist_ok=True)
  machine = common.machine_info()
  matmul = common.matmul_gflops(
      reps=2 if FLAGS.size == "tiny" else 5, n=512 if FLAGS.size == "tiny" else 2048
  )
  print(
      f"{machine['cpu']} ({machine['cores_usable']} cores), jax {machine['jax']}: "
      f"dense matmul {matmul:.0f} GFLOP/s",
      flush=True,
  )
  for name in FLAGS.sections:
    t0 = time.perf_counter()
    res = run_section(name, FLAGS.size, matmul)
    wall = time.perf_counter() - t0
    out = {
        "section": name,
        "size": FLAGS.size,
        "machine": machine,
        "matmul_gflops": round(matmul, 1),
        "wall_s": round(wall, 1),
        **res,
    }
    tmp = os.path.join(FLAGS.out_dir, f".{name}.json.tmp")
    with open(tmp, "w") as f:
      json.dump(out, f, indent=1)
    os.replace(tmp, os.path.join(FLAGS.out_dir, f"{name}.json"))
    print(f"\n## {TITLES[name]} ({wall:.0f} s)\n\n{res['markdown']}\n", flush=True)
  render(FLAGS.out_dir)


if __name__ == "__main__":
  app.run(main)
