r"""Where a trained Neural GPU fails: a markdown report with tables and PNG plots.

  python -m experiments.studies.failure_report --workdir=/tmp/ngpu_badd --out_dir=/tmp/report
  python -m experiments.studies.failure_report --workdir=/tmp/before,/tmp/after --names=before,after \
      --out_dir=/tmp/report --search_seconds=300

For each checkpoint (one or several, side by side) the report gives: random-input error
at the test lengths; the structured suites of ``neuralgpu.failures`` (Price, Zaremba &
Sutskever 2016, section 4): sequence error against carry-chain length, against the
length of a run of one digit, against the padded length of small operands, all-maximum
and symmetric operands; the talk's questions with the model's answers; where in the
output the first wrong digit falls; and what an adversarial search finds in
``--search_seconds`` (saved as a reusable failure set, ``failures.load_cases``).

Writes only under ``--out_dir`` (``report.md``, ``*.png``, ``report.json``,
``failures_<name>.json``); never into a workdir it reads.
"""

from __future__ import annotations

import json
import os

from absl import app
from absl import flags
from absl import logging

FLAGS = flags.FLAGS
flags.DEFINE_list("workdir", None, "Training workdir(s), comma-separated.")
flags.DEFINE_list("names", [], "A short name per workdir (default: the folder names).")
flags.DEFINE_integer("seed_index", None, "Pool workdirs: which seed (default: the best).")
flags.DEFINE_string("out_dir", None, "Where the report goes (must not be a workdir read).")
flags.DEFINE_string("task", None, "Task (default: the run's last task).")
flags.DEFINE_integer("length", 201, "Test length of the carry, run and symmetric suites.")
flags.DEFINE_integer("per_chain", 4, "Cases per carry-chain length (+1 near miss for add).")
flags.DEFINE_list("random_lengths", ["201", "401"], "Random-input test lengths.")
flags.DEFINE_integer("random_examples", 256, "Random-input examples per length.")
flags.DEFINE_float(
    "search_seconds",
    60.0,
    "Adversarial search budget per checkpoint " "(seconds, compile included; 0 = no search).",
)
flags.DEFINE_integer("search_length", 0, "Length of the searched questions (0 = --length).")
flags.DEFINE_integer("search_population", 32, "Population of the search.")
flags.DEFINE_integer("search_max_failures", 1000, "The search stops once it has this many.")
flags.DEFINE_integer("seed", 0, "Seed of the suites and the search.")
flags.DEFINE_list(
    "suites",
    ["carry", "run", "padded", "max", "symmetric", "talk"],
    "Structured suites to run (neuralgpu.failures.FAMILIES).",
)
flags.DEFINE_bool(
    "render_only",
    False,
    "Re-render report.md and the plots from "
    "<out_dir>/report.json (no workdir read, nothing evaluated).",
)
flags.mark_flags_as_required(["out_dir"])


def _check_flags():
  """Every flag checked before anything is loaded or compiled."""
  if FLAGS.names and len(FLAGS.names) != len(FLAGS.workdir):
    raise app.UsageError(
        f"--names={FLAGS.names} needs one name per workdir " f"({len(FLAGS.workdir)} given)"
    )
  names = FLAGS.names or [os.path.basename(os.path.normpath(w)) for w in FLAGS.workdir]
  if len(set(names)) != len(names):
    raise app.UsageError(f"names {names} must differ (give --names)")
  out = os.path.abspath(FLAGS.out_dir)
  for w in FLAGS.workdir:
    if not os.path.isdir(w):
      raise app.UsageError(f"--workdir={w!r} is not a directory")
    wa = os.path.abspath(w)
    if out == wa or out.startswith(wa + os.sep):
      raise app.UsageError(
          f"--out_dir={FLAGS.out_dir!r} lies inside workdir {w!r}; the "
          "report never writes into a workdir it reads"
      )
  if FLAGS.length < 5:
    raise app.UsageError(f"--length={FLAGS.length} must be >= 5")
  try:
    lengths = [int(x) for x in FLAGS.random_lengths]
  except ValueError:
    raise app.UsageError(f"--random_lengths={FLAGS.random_lengths} must be integers") from None
  if any(n < 3 for n in lengths):
    raise app.UsageError(f"--random_lengths={lengths} must all be >= 3")
  if FLAGS.search_seconds < 0:
    raise app.UsageError(f"--search_seconds={FLAGS.search_seconds} must be >= 0")
  if FLAGS.search_length and FLAGS.search_length < 5:
    raise app.UsageError(f"--search_length={FLAGS.search_length} must be >= 5 (or 0)")
  from neuralgpu import failures

  bad = [x for x in FLAGS.suites if x not in failures.FAMILIES]
  if bad or not FLAGS.suites:
    raise app.UsageError(f"--suites={FLAGS.suites}: allowed {failures.FAMILIES}")
  if FLAGS.per_chain < 1 or FLAGS.search_population < 1 or FLAGS.random_examples < 1:
    raise app.UsageError("--per_chain, --search_population and --random_examples must be >= 1")
  return names, lengths


def analyse(workdir: str, name: str, random_lengths, out_dir: str, echo=print) -> dict:
  """Every suite, the random-input table and the search for one checkpoint."""
  from neuralgpu import evaluate, failures, restore, train as train_lib

  cfg, mcfg, state, step = restore.load(workdir, FLAGS.seed_index)
  task = restore.task_for(cfg, FLAGS.task)
  params = train_lib.eval_params(state)
  sets = state.relax.active_sets
  model = failures.Predictor(params, sets, mcfg)
  echo(f"[{name}] {workdir}: task {task.name}, step {step}")
  rnd = evaluate.evaluate_table(
      evaluate.final_key(int(cfg.seed) + 1),
      params,
      sets,
      mcfg,
      cfg.eval,
      task,
      random_lengths,
      [FLAGS.random_examples] * len(random_lengths),
  )
  suites = {
      k: v
      for k, v in failures.structured_suites(
          task, FLAGS.length, FLAGS.per_chain, FLAGS.seed
      ).items()
      if k in FLAGS.suites
  }
  results = {}
  for fam, cases in suites.items():
    results[fam] = failures.evaluate_cases(model, cases)
    wrong = sum(not r["correct"] for r in results[fam])
    echo(f"[{name}] {fam}: {wrong}/{len(cases)} wrong")
  found = {"failures": [], "rounds": 0, "evaluated": 0, "seconds": 0.0}
  search_len = FLAGS.search_length or FLAGS.length
  set_path = None
  if FLAGS.search_seconds > 0:
    found = failures.search(
        model,
        task,
        search_len,
        FLAGS.search_seconds,
        FLAGS.search_population,
        FLAGS.seed,
        max_failures=FLAGS.search_max_failures,
    )
    set_path = os.path.join(out_dir, f"failures_{name}.json")
    failures.save_cases(
        set_path,
        found["failures"],
        {
            "workdir": os.path.abspath(workdir),
            "step": int(step),
            "length": search_len,
            "seconds": FLAGS.search_seconds,
        },
    )
    echo(
        f"[{name}] search: {len(found['failures'])} failures in {found['evaluated']} "
        f"questions ({found['seconds']:.0f} s)"
    )
  adv = failures.evaluate_cases(model, found["failures"][:200])
  return {
      "name": name,
      "workdir": os.path.abspath(workdir),
      "task": task.name,
      "length": FLAGS.length,
      "step": int(step),
      "random": rnd,
      "results": results,
      "summary": {f: failures.summarise(r) for f, r in results.items()},
      "search": {
          "length": search_len,
          "seconds": FLAGS.search_seconds,
          "rounds": found["rounds"],
          "evaluated": found["evaluated"],
          "took": found["seconds"],
          "cap": FLAGS.search_max_failures,
          "failures": len(found["failures"]),
          "set": set_path,
          "examples": adv[:12],
      },
  }


def _fmt_int(task_name, v, width=None):
  import numpy as np
  from neuralgpu import tasks as tasks_lib

  if v is None:
    return "(not a number)"
  s = np.base_repr(int(v), tasks_lib.get_task(task_name).base)
  if width:
    s = s.zfill(width)
  return s if len(s) <= 60 else f"{s[:26]}...{s[-26:]} ({len(s)} digits)"


def plot(reports: list[dict], out_dir: str) -> list[str]:
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  files = []
  panels = [
      ("carry", "carry-chain length c", "seq_error_vs_carry.png"),
      ("run", "length of the run of one digit", "seq_error_vs_run.png"),
      ("padded", "padded length of small operands", "seq_error_vs_padding.png"),
  ]
  for fam, xlabel, fname in panels:
    if fam not in reports[0]["summary"]:
      continue
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for r in reports:
      rows = r["summary"][fam]
      ax.plot(
          [x["param"] for x in rows], [x["seq_error"] for x in rows], "o-", ms=3, label=r["name"]
      )
    ax.set_xlabel(xlabel)
    ax.set_ylabel("sequence error")
    ax.set_ylim(-0.03, 1.03)
    ax.set_title(
        f"{reports[0]['task']}: {fam} (test length {FLAGS.length})"
        if fam != "padded"
        else f"{reports[0]['task']}: zero-padded small operands"
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = os.path.join(out_dir, fname)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    files.append(path)
  fig, ax = plt.subplots(figsize=(6, 3.5))
  for r in reports:
    rel = [
        x["first_wrong"] / max(x["result_digits"], 1)
        for fam in r["results"].values()
        for x in fam
        if not x["correct"]
    ]
    if rel:
      ax.hist(rel, bins=20, range=(0, 1), alpha=0.5, label=f"{r['name']} ({len(rel)} wrong)")
  ax.set_xlabel("first wrong digit / result width (0 = least significant)")
  ax.set_ylabel("wrong cases")
  ax.set_title("where the first error falls (all structured suites)")
  ax.legend(fontsize=8)
  fig.tight_layout()
  path = os.path.join(out_dir, "first_error_position.png")
  fig.savefig(path, dpi=110)
  plt.close(fig)
  files.append(path)
  return files


def markdown(reports: list[dict], pngs: list[str]) -> str:
  from neuralgpu import failures

  t = reports[0]["task"]
  names = [r["name"] for r in reports]
  out = [
      f"# Failure report: {t}",
      "",
      "Structured suites of Price, Zaremba & Sutskever (2016, section 4), answered by "
      "each checkpoint (the parameter average where the run kept one). Sequence error = "
      "share of wrong answers; first wrong digit counted from the least significant "
      "(0). Every truth is Python integer arithmetic.",
      "",
  ]
  out.append("| checkpoint | workdir | step |")
  out.append("|---|---|---:|")
  for r in reports:
    out.append(f"| {r['name']} | `{r['workdir']}` | {r['step']} |")
  out += [
      "",
      "## Random inputs",
      "",
      "| length | " + " | ".join(f"{n} wrong / examples" for n in names) + " |",
      "|---:|" + "---:|" * len(names),
  ]
  for i, row in enumerate(reports[0]["random"]):
    out.append(
        f"| {row['length']} | "
        + " | ".join(
            f"{r['random'][i]['seq_wrong']}/{r['random'][i]['examples']} "
            f"({r['random'][i]['digit_error']:.3%} digits)"
            for r in reports
        )
        + " |"
    )
  out += ["", "## Headline", ""]
  for r in reports:
    s = r["summary"]
    k = (FLAGS.length - 1) // 2
    parts = []
    if "carry" in s:
      c = failures.first_failing_param(s["carry"], "carry")
      parts.append(
          "carry chains "
          + (
              f"first fail at c = {c}"
              if c
              else f"no failure up to c = {k} (every c from 1 to {k} at " f"length {FLAGS.length})"
          )
      )
    if "run" in s:
      run = failures.first_failing_param(s["run"], "run")
      parts.append(
          "runs of one digit "
          + (f"first fail at run length {run}" if run else f"no failure up to {k}")
      )
    if "padded" in s:
      pad = [x for x in s["padded"] if x["wrong"]]
      parts.append(
          "padded small operands "
          + ("wrong at lengths " + ", ".join(str(x["param"]) for x in pad) if pad else "all right")
      )
    out.append(
        f"- **{r['name']}**: "
        + "; ".join(parts)
        + f"; adversarial search: {r['search']['failures']} failures in "
        f"{r['search']['evaluated']} questions "
        f"({r['search'].get('took', r['search']['seconds']):.0f} s at "
        f"length {r['search']['length']})."
    )
  out.append("")
  for fam in ("carry", "run", "padded", "max", "symmetric"):
    if fam not in reports[0]["summary"]:
      continue
    label = {
        "carry": "carry-chain length c",
        "run": "run length",
        "padded": "padded length",
        "max": "length",
        "symmetric": "0 = a op a, 1 = a op reversed(a)",
    }[fam]
    out += [
        f"## {fam}",
        "",
        f"| {label} | "
        + " | ".join(f"{n}: wrong / cases (median first wrong)" for n in names)
        + " |",
        "|---:|" + "---:|" * len(names),
    ]
    for i, row in enumerate(reports[0]["summary"][fam]):
      cells = []
      for r in reports:
        x = r["summary"][fam][i]
        med = "" if x["median_first_wrong"] is None else f" ({x['median_first_wrong']:.0f})"
        cells.append(f"{x['wrong']}/{x['cases']}{med}")
      out.append(f"| {row['param']} | " + " | ".join(cells) + " |")
    out.append("")
  out += ["## The talk's questions", ""]
  for r in reports if "talk" in reports[0]["results"] else []:
    out.append(f"**{r['name']}**")
    out.append("")
    for x in r["results"]["talk"]:
      mark = "right" if x["correct"] else f"WRONG (first wrong digit {x['first_wrong']})"
      out.append(
          f"- {x['note']} (length {x['length']}): {mark}; model "
          f"`{_fmt_int(t, x['answer'])}`, truth `{_fmt_int(t, x['truth'])}`"
      )
    out.append("")
  out += ["## Adversarial search", ""]
  for r in reports:
    s = r["search"]
    took, cap = s.get("took", s["seconds"]), s.get("cap", 1000)
    capped = " (the cap: the search stopped there)" if s["failures"] >= cap else ""
    out.append(
        f"**{r['name']}**: {s['failures']} failing questions{capped} among "
        f"{s['evaluated']} evaluated ({s['rounds']} rounds in {took:.0f} s of a "
        f"{s['seconds']:.0f} s budget, length {s['length']})"
        + (f", saved to `{os.path.basename(s['set'])}`" if s["set"] else "")
        + "."
    )
    for x in s["examples"][:6]:
      out.append(
          f"- `{_fmt_int(t, x['a'])}` op `{_fmt_int(t, x['b'])}`: "
          f"{x['wrong_digits']} wrong digits, first at {x['first_wrong']}"
      )
    out.append("")
  out += ["## Plots", ""] + [f"![{os.path.basename(p)}]({os.path.basename(p)})" for p in pngs]
  return "\n".join(out) + "\n"


def render(out_dir: str) -> None:
  path = os.path.join(out_dir, "report.json")
  if not os.path.exists(path):
    raise app.UsageError(f"--render_only: {path!r} does not exist")
  with open(path) as f:
    reports = json.load(f)
  for r in reports:  # JSON keys are strings; the families' params are ints
    for rows in r["summary"].values():
      for x in rows:
        x["param"] = int(x["param"])
  FLAGS.length = reports[0].get("length", FLAGS.length)
  pngs = plot(reports, out_dir)
  with open(os.path.join(out_dir, "report.md"), "w") as f:
    f.write(markdown(reports, pngs))
  print(f"wrote {os.path.join(out_dir, 'report.md')}")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if FLAGS.render_only:
    render(FLAGS.out_dir)
    return
  if not FLAGS.workdir:
    raise app.UsageError("--workdir is required (or --render_only)")
  names, lengths = _check_flags()
  from neuralgpu import restore

  for w in FLAGS.workdir:  # every workdir must be one before anything compiles
    try:
      restore.load_config(w)
    except ValueError as e:
      raise app.UsageError(str(e)) from None
  logging.set_verbosity(logging.WARNING)
  os.makedirs(FLAGS.out_dir, exist_ok=True)
  reports = [analyse(w, n, lengths, FLAGS.out_dir) for w, n in zip(FLAGS.workdir, names)]
  tasks = {r["task"] for r in reports}
  if len(tasks) > 1:
    raise app.UsageError(f"workdirs of different tasks {sorted(tasks)}; report one task")
  pngs = plot(reports, FLAGS.out_dir)
  with open(os.path.join(FLAGS.out_dir, "report.md"), "w") as f:
    f.write(markdown(reports, pngs))
  with open(os.path.join(FLAGS.out_dir, "report.json"), "w") as f:
    json.dump(reports, f, default=str)
  print(f"wrote {os.path.join(FLAGS.out_dir, 'report.md')}")


if __name__ == "__main__":
  app.run(main)
