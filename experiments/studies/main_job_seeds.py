r"""The README's main job for several pool seeds: wall time, result, errors at 2001.

  python -m experiments.studies.main_job_seeds --pool_seeds=0,100,200,300,400 \
      --workroot=/tmp/main_job --out=results/neuralgpu/main_job_seeds.json

For each K, runs the README's main-job command with ``:seed=K`` appended to the config
argument (a fresh workdir ``<workroot>/seed_K``; an existing one is refused, so nothing
is overwritten) and times it as a user would (the whole command: start-up, compile,
training, final evaluation). Then evaluates the pool's chosen seed at ``--long_lengths``
(default 2001 with 32 examples) with ``evaluate_neuralgpu.py`` (not part of the timed
command). Writes one JSON record per K to ``--out`` (after each run) and prints a
markdown table.
"""

import json
import os
import subprocess
import sys
import time

from absl import app
from absl import flags

from runkit import workdir as workdir_lib

FLAGS = flags.FLAGS
_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # experiments/
CONFIG = os.path.join(_HERE, "configs", "ngpu.py")


def define_flags():
  flags.DEFINE_list("pool_seeds", ["0", "100", "200", "300", "400"], "Values of seed=K.")
  flags.DEFINE_string("workroot", "/tmp/main_job", "Parent of the runs' workdirs.")
  flags.DEFINE_string("out", "", "JSON file for the records.")
  flags.DEFINE_list("long_lengths", ["2001:32"], "length:examples evaluated afterwards.")
  flags.DEFINE_string(
      "config_arg",
      "",
      "Extra config-argument items (key=value,...) " "before seed=K; empty = the README's command.",
  )


def command(seed: int, workdir: str, config_arg: str = "") -> list[str]:
  arg = ",".join(x for x in (config_arg, f"seed={seed}") if x)
  return [
      sys.executable,
      os.path.join(_HERE, "train_neuralgpu.py"),
      f"--config={CONFIG}:{arg}",
      f"--workdir={workdir}",
  ]


def run_one(seed: int, workroot: str, long_lengths, config_arg: str = "") -> dict:
  workdir = os.path.join(workroot, f"seed_{seed}")
  if os.path.exists(workdir):
    raise ValueError(f"{workdir} exists; use another --workroot (nothing was changed)")
  cmd = command(seed, workdir, config_arg)
  t0 = time.time()
  proc = subprocess.run(cmd, capture_output=True, text=True)
  wall = time.time() - t0
  if proc.returncode:
    raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
  summary = workdir_lib.read_summary(workdir)
  if summary is None:
    raise RuntimeError(f"{' '.join(cmd)} wrote no summary in {workdir!r}")
  rec = {
      "pool_seed": seed,
      "command": " ".join(cmd[1:]),
      "wall_s": round(wall, 1),
      "stop_reason": summary.get("stop_reason"),
      "step": summary.get("step"),
      "best_seed": summary.get("best_seed"),
      "num_solved": summary.get("num_solved"),
      "train_minutes": summary.get("train_minutes"),
      "total_minutes": summary.get("total_minutes"),
      "eval": summary.get("eval"),
      "stdout_tail": proc.stdout[-1500:],
  }
  lengths = ",".join(x.split(":")[0] for x in long_lengths)
  examples = ",".join(x.split(":")[1] for x in long_lengths)
  t1 = time.time()
  ev = subprocess.run(
      [
          sys.executable,
          os.path.join(_HERE, "evaluate_neuralgpu.py"),
          f"--workdir={workdir}",
          f"--lengths={lengths}",
          f"--examples={examples}",
      ],
      capture_output=True,
      text=True,
  )
  if ev.returncode:
    raise RuntimeError(f"evaluation of {workdir} failed:\n{ev.stderr[-3000:]}")
  step = summary.get("step")
  with open(os.path.join(workdir, f"eval_{step}.json")) as f:
    rec["long_eval"] = json.load(f)["rows"]
  rec["long_eval_s"] = round(time.time() - t1, 1)
  return rec


SOLVED_REASONS = ("one_solved", "all_solved")  # neuralgpu.pool's stop reasons


def table(records) -> str:
  lines = [
      "| seed=K | solved | steps | seed | wall (min) | 41 | 201 | 401 | 2001 digit / seq |",
      "|---:|---|---:|---:|---:|---|---|---|---|",
  ]
  for r in records:
    ev = {row["length"]: row for row in r["eval"] or []}

    def cell(n):
      row = ev.get(n)
      return "-" if row is None else f"{row['seq_wrong']}/{row['examples']} wrong"

    lg = r["long_eval"][0] if r.get("long_eval") else None
    lcell = (
        "-"
        if lg is None
        else (f"{100 * lg['digit_error']:.3f}% / " f"{lg['seq_wrong']}/{lg['examples']} wrong")
    )
    solved = r["stop_reason"] in SOLVED_REASONS
    lines.append(
        f"| {r['pool_seed']} | {solved} | {r['step']} | "
        f"{r['best_seed']} | {r['wall_s'] / 60:.2f} | {cell(41)} | {cell(201)} | "
        f"{cell(401)} | {lcell} |"
    )
  return "\n".join(lines)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  try:
    seeds = [int(x) for x in FLAGS.pool_seeds]
  except ValueError:
    raise app.UsageError(f"--pool_seeds must be integers, got {FLAGS.pool_seeds}") from None
  for x in FLAGS.long_lengths:
    n, _, k = x.partition(":")
    if not (n.isdigit() and k.isdigit()):
      raise app.UsageError(f"--long_lengths entries must be length:examples, got {x!r}")
  records = []
  for k in seeds:
    try:
      records.append(run_one(k, FLAGS.workroot, FLAGS.long_lengths, FLAGS.config_arg))
    except ValueError as e:
      raise app.UsageError(str(e)) from None
    print(
        json.dumps(
            {x: records[-1][x] for x in ("pool_seed", "wall_s", "stop_reason", "step", "best_seed")}
        ),
        flush=True,
    )
    if FLAGS.out:
      with open(FLAGS.out, "w") as f:
        json.dump(records, f, indent=1)
  print(table(records))


if __name__ == "__main__":
  define_flags()
  app.run(main)
