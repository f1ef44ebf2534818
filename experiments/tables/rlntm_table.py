"""Collects RL-NTM run summaries into a markdown table, a JSON file and traces.

  python -m experiments.tables.rlntm_table --runs=/tmp/rlntm_runs --out=results/rlntm

Reads ``<runs>/<task>/summary.json`` (finished runs) or, for runs still going
or stopped, the last line of ``<runs>/<task>/metrics.jsonl``; writes
``<out>/<prefix>_runs.json``, ``<out>/<prefix>_table.md`` and ``<out>/<prefix>_traces.md``
(no prefix by default: ``runs.json``, ``table.md``, ``traces.md``).
"""

import json
import os

from absl import app, flags

from runkit import workdir as workdir_lib

_RUNS = flags.DEFINE_string("runs", "/tmp/rlntm_runs", "Directory with one workdir per task.")
_OUT = flags.DEFINE_string("out", "results/rlntm", "Output directory.")
_PREFIX = flags.DEFINE_string(
    "prefix", "", "Output file prefix: <prefix>_runs.json, ... " "(none: runs.json, ...)."
)

TASKS = ("Copy", "DuplicatedInput", "Reverse", "RepeatCopy", "ForwardReverse")


def _workdir(runs, task):
  for name in (task, task.lower()):
    if os.path.isdir(os.path.join(runs, name)):
      return os.path.join(runs, name)
  return None


def _name(kind):
  return f"{_PREFIX.value}_{kind}" if _PREFIX.value else kind


def main(argv):
  del argv
  rows, table, traces = {}, [], []
  table.append(
      "| task | seeds solved (test length) | final re-test, 256 episodes | "
      "updates run / budget | wall s / budget | updates to solve (per solved seed) | "
      "curriculum length reached |"
  )
  table.append("|---|---|---|---|---|---|---|")
  for task in TASKS:
    wd = _workdir(_RUNS.value, task)
    if wd is None:
      table.append(f"| {task} | not run | | | | | |")
      continue
    s = workdir_lib.read_summary(wd)
    if s is not None:
      rows[task] = s
      n = s["num_seeds"]
      solved = sum(s["solved"])
      final_ok = sum(1 for a, b in zip(s["solved"], s["final_test_accuracy"]) if a and b >= 1.0)
      steps = sorted(x for x in s["solved_step"] if x >= 0)
      table.append(
          f"| {task} | {solved}/{n} ({100 * solved / n:.0f}%) at length {s['test_length']} "
          f"(train <= {s['train_length']}) | {final_ok}/{n} | {s['updates']} / "
          f"{s['update_budget']} | {s['wall_s']:.0f} / {s['wall_budget_s']:.0f} | "
          f"{steps} | {s['final_curriculum_length']} |"
      )
      tr = os.path.join(wd, workdir_lib.TRACES_FILE)
      if os.path.exists(tr) and open(tr).read().strip():
        traces.append(f"## {task}\n\n```\n{open(tr).read().strip()}\n```\n")
    else:
      lines = open(os.path.join(wd, workdir_lib.METRICS_FILE)).read().strip().splitlines()
      last = json.loads(lines[-1]) if lines else {}
      rows[task] = dict(unfinished=True, **last)
      table.append(
          f"| {task} | {last.get('seeds_solved', 0)}/? (run not finished) | | "
          f"{last.get('updates')} | {last.get('wall_s')} | | {last.get('length')} |"
      )
  os.makedirs(_OUT.value, exist_ok=True)
  with open(os.path.join(_OUT.value, _name("runs.json")), "w") as f:
    json.dump(rows, f, indent=1)
  with open(os.path.join(_OUT.value, _name("table.md")), "w") as f:
    f.write("\n".join(table) + "\n")
  with open(os.path.join(_OUT.value, _name("traces.md")), "w") as f:
    f.write(
        "# Greedy episodes of solved RL-NTM seeds (Time / Input Tape / Output Tape)\n\n"
        "'#' = no write. The last line of each trace gives the memory head's offset "
        "from its start after each step.\n\n" + "\n".join(traces)
    )
  print("\n".join(table))


if __name__ == "__main__":
  app.run(main)
