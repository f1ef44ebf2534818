r"""Seed-success study: trains S seeds of each recipe and records when each meets two bars.

  taskset -c 0 python -m experiments.studies.seed_study --recipes=default,default+satadapt \
      --task=badd --seeds=16 --max_steps=12000 --out_dir=results/neuralgpu/seed_study

A recipe is a variant of ``experiments/studies/sweep_badd_pools.py`` (a base config of
``experiments/configs/ngpu.py``, ``default`` being the main job's, followed by
``+``-joined modifiers). Every seed trains from scratch on one device, one after the
other, sharing one compiled train step; pin the process to one core (``taskset``) to
measure "minutes of one core". Bars, checks and records: ``neuralgpu.study``.

Per recipe the study writes ``<out_dir>/<task>__<recipe>.json`` after every seed (a
rerun with the same budget and bars skips the seeds already recorded, so an
interrupted study resumes; a file of another budget, bars or config is refused), then
renders every JSON file of ``out_dir`` into ``<out_dir>/README.md`` and
``<out_dir>/solved_fraction.png`` (``--render_only`` does just that). Seeds of one recipe
run in several processes (other ``--first_seed``, other ``--out_dir``) join with
``--merge=<their files>``.
"""

import json
import os
import time

from absl import app
from absl import flags

FLAGS = flags.FLAGS
TASKS = ("badd", "bmul")


def define_flags():
  """Defined only when run as a binary, so tests can import the helpers."""
  flags.DEFINE_list("recipes", ["default"], "Recipes (variants) to study.")
  flags.DEFINE_string("task", "badd", f"Task: one of {TASKS}.")
  flags.DEFINE_integer("seeds", 16, "Seeds per recipe.")
  flags.DEFINE_integer("first_seed", 0, "Seeds first_seed, first_seed + 1, ...")
  flags.DEFINE_list(
      "seed_list",
      [],
      "Explicit seeds (e.g. a row's failing seeds, to screen a change on "
      "them first); overrides --first_seed and --seeds.",
  )
  flags.DEFINE_integer("max_steps", 12000, "Step budget per seed.")
  flags.DEFINE_integer("check_every", 500, "Steps between checks.")
  flags.DEFINE_float(
      "max_seconds",
      1200.0,
      "Wall-time budget per seed (compile and "
      "checks included); a seed stops at the first check past it.",
  )
  flags.DEFINE_list(
      "ours", ["201:512", "401:128"], "Our bar: length:examples, no wrong " "sequence at each."
  )
  flags.DEFINE_integer("confirm", 2, "Our bar: passing checks in a row.")
  flags.DEFINE_list(
      "dngpu",
      ["401:64", "4001:8"],
      "DNGPU's bar: length:examples, digit "
      "error below 1% at each (the last length only every "
      "--dngpu_long_every steps, once the others pass).",
  )
  flags.DEFINE_integer("dngpu_long_every", 2000, "See --dngpu.")
  flags.DEFINE_enum(
      "stop_on",
      "both",
      ["both", "ours"],
      "A seed stops once it has met "
      "both bars, or once it has met ours (DNGPU's bar then counts only if "
      "met by that step).",
  )
  flags.DEFINE_string("out_dir", "results/neuralgpu/seed_study", "Output folder.")
  flags.DEFINE_bool("render_only", False, "Only render out_dir's JSON files.")
  flags.DEFINE_list(
      "merge",
      [],
      "Study files (e.g. the same recipe's other seeds, run "
      "in another process with another --out_dir) whose records join the "
      "file of the same name in out_dir; their settings must match.",
  )


def parse_seed_list(items) -> list[int]:
  """``--seed_list`` as distinct non-negative ints; ValueError naming a bad one."""
  seeds = []
  for t in items:
    t = str(t).strip()
    if not t.isdigit():
      raise ValueError(f"--seed_list entry {t!r} is not a non-negative integer")
    if int(t) in seeds:
      raise ValueError(f"--seed_list repeats seed {t}")
    seeds.append(int(t))
  return seeds


def parse_pairs(items, what):
  out = []
  for t in items:
    n, _, k = str(t).partition(":")
    if not (n.isdigit() and k.isdigit() and int(n) >= 3 and int(k) >= 1):
      raise ValueError(
          f"--{what} entries must be length:examples (length >= 3, " f"examples >= 1), got {t!r}"
      )
    out.append((int(n), int(k)))
  return tuple(x[0] for x in out), tuple(x[1] for x in out)


def file_name(task: str, recipe: str) -> str:
  return f"{task}__{recipe}.json"


def _header(task, recipe, cfg, budget, bars) -> dict:
  import dataclasses

  return {
      "task": task,
      "recipe": recipe,
      "budget": dataclasses.asdict(budget),
      "bars": {
          k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(bars).items()
      },
      "config": json.loads(cfg.to_json()),
  }


def _with_added_defaults(cfg):
  """A config dict with every key of ``config.ADDED_DEFAULTS`` it lacks set to that
  default (a study file written before the key existed)."""
  import copy
  from neuralgpu import config as config_lib

  if not isinstance(cfg, dict):
    return cfg
  cfg = copy.deepcopy(cfg)
  for dotted, value in config_lib.ADDED_DEFAULTS.items():
    group, key = dotted.split(".")
    if isinstance(cfg.get(group), dict):
      cfg[group].setdefault(key, json.loads(json.dumps(value)))  # as the JSON file holds it
  return cfg


def load_or_new(path: str, header: dict) -> dict:
  """The recipe's study file, or a new one; refuses a file of another setting."""
  from neuralgpu import study

  if not os.path.exists(path):
    return {**header, "records": []}
  with open(path) as f:
    try:
      old = json.load(f)
    except json.JSONDecodeError as e:
      raise ValueError(f"{path} is not a study file ({e}); move it away") from None
  if not isinstance(old, dict) or "records" not in old:
    raise ValueError(f"{path} is not a study file (no 'records'); move it away")
  for k in ("task", "recipe", "budget", "bars", "config"):
    mine, theirs = old.get(k), header[k]
    if k == "config":  # keys added since with their defaults do not change the recipe
      mine, theirs = _with_added_defaults(mine), _with_added_defaults(theirs)
    elif k in study.ADDED_DEFAULTS and isinstance(mine, dict):  # so do budget fields
      mine = {**study.ADDED_DEFAULTS[k], **mine}
    if mine != theirs:
      raise ValueError(
          f"{path} was made with another {k} ({old.get(k)!r} != "
          f"{header[k]!r}); use another --out_dir or move the file away"
      )
  return old


def write_json(path: str, data: dict) -> None:
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    json.dump(data, f, indent=1)
  os.replace(tmp, path)


def run_recipe(task_name, recipe, seeds, budget, bars, out_dir, echo=print) -> dict:
  from experiments.studies.sweep_badd_pools import variant_config
  from neuralgpu import study, tasks
  from neuralgpu import resolve as resolve_lib
  from neuralgpu import step_cache as step_cache_lib

  cfg = variant_config(recipe, task_name)
  path = os.path.join(out_dir, file_name(task_name, recipe))
  data = load_or_new(path, _header(task_name, recipe, cfg, budget, bars))
  done = {r["seed"] for r in data["records"]}
  task = tasks.get_task(task_name)
  mcfg = resolve_lib.resolve_model_config(cfg)
  cache = step_cache_lib.StepCache(cfg, (task,), mcfg)
  for seed in seeds:
    if seed in done:
      continue
    rec = study.run_seed(
        cfg,
        seed,
        task,
        budget,
        bars,
        step_cache=cache,
        mcfg=mcfg,
        log=lambda d: echo(json.dumps({"recipe": recipe, **d})),
    )
    data["records"].append(rec)
    data["summary"] = study.summarize(data["records"], budget.max_steps)
    write_json(path, data)
    echo(
        json.dumps(
            {
                "recipe": recipe,
                "seed": seed,
                "first_step": rec["first_step"],
                "steps": rec["steps"],
                "wall_s": rec["wall_s"],
            }
        )
    )
  return data


def merge_into(out_dir: str, paths) -> list[str]:
  """Adds each file's records (seeds not yet there) to ``out_dir``'s file of that name."""
  from neuralgpu import study

  done = []
  for src in paths:
    with open(src) as f:
      other = json.load(f)
    if not isinstance(other, dict) or "records" not in other:
      raise ValueError(f"{src} is not a study file")
    dst = os.path.join(out_dir, os.path.basename(src))
    if os.path.abspath(dst) == os.path.abspath(src):
      raise ValueError(f"--merge={src} is the destination itself")
    header = {k: other[k] for k in ("task", "recipe", "budget", "bars", "config")}
    data = load_or_new(dst, header)
    have = {r["seed"] for r in data["records"]}
    data["records"] += [r for r in other["records"] if r["seed"] not in have]
    data["records"].sort(key=lambda r: r["seed"])
    data["summary"] = study.summarize(data["records"], data["budget"]["max_steps"])
    write_json(dst, data)
    done.append(dst)
  return done


def load_all(out_dir: str) -> list[dict]:
  out = []
  for name in sorted(os.listdir(out_dir)):
    if name.endswith(".json"):
      with open(os.path.join(out_dir, name)) as f:
        d = json.load(f)
      if isinstance(d, dict) and d.get("records"):
        out.append(d)
  return out


def _fmt(x, nd=0):
  if x is None:
    return "-"
  return f"{x:.{nd}f}" if isinstance(x, float) else str(x)


def render(out_dir: str) -> str:
  """README.md table and solved_fraction.png from every study file in ``out_dir``."""
  from neuralgpu import study

  studies = load_all(out_dir)
  lines = [
      "# Seed-success study",
      "",
      "Each row: a recipe trained from scratch on every seed (one core of this CPU per "
      "seed, one seed after the other). `ours` = no wrong sum among the bar's examples at "
      "each length, two checks in a row on fresh examples; `dngpu` = digit error below 1% "
      "at each length, every position counted. Steps to solve: median / largest over the "
      "seeds that solved. Budget: per-seed steps and seconds. Files: one JSON per row "
      "(every check's numbers); rendered by `python -m experiments.studies.seed_study "
      "--render_only --out_dir=<this folder>`.",
      "",
      "| task | recipe | seeds | ours solved | ours median / max steps | dngpu solved | "
      "dngpu median / max steps | step budget | seed stops at | dngpu bar | examples/step | "
      "seed-steps/s | max seed wall (s) | total wall (min) |",
      "|---|---|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|",
  ]
  for d in studies:
    s = study.summarize(d["records"], d["budget"]["max_steps"])
    o, g = s["ours"], s["dngpu"]
    lines.append(
        f"| {d['task']} | `{d['recipe']}` | {s['seeds']} | {o['solved']}/{s['seeds']} | "
        f"{_fmt(o['median_steps'])} / {_fmt(o['max_steps'])} | {g['solved']}/{s['seeds']} | "
        f"{_fmt(g['median_steps'])} / {_fmt(g['max_steps'])} | {s['max_steps']} | "
        f"{'both bars' if d['budget'].get('stop_on', 'both') == 'both' else 'our bar'} | "
        f"{_bar_text(d['bars'])} | {s['examples_per_step']} | {s['seed_steps_per_s']:.1f} | "
        f"{s['max_seed_wall_s']:.0f} | {s['wall_s'] / 60:.1f} |"
    )
  lines += [
      "",
      "dngpu bar: length:examples, the last length at most every N steps once the "
      "others pass. A row whose seeds stop at our bar counts DNGPU's bar only if it "
      "was met by then.",
  ]
  text = "\n".join(lines) + "\n"
  with open(os.path.join(out_dir, "README.md"), "w") as f:
    f.write(text)
  if studies:
    plot(studies, os.path.join(out_dir, "solved_fraction.png"))
  return text


def _bar_text(b: dict) -> str:
  pairs = ", ".join(f"{n}:{k}" for n, k in zip(b["dngpu_lengths"], b["dngpu_examples"]))
  return f"{pairs} / {b['dngpu_long_every']}"


def plot(studies, path: str) -> None:
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  from neuralgpu import study

  fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
  for ax, bar in zip(axes, study.BARS):
    for d in studies:
      top = d["budget"]["max_steps"]
      steps = list(range(0, top + 1, max(1, top // 200)))
      ax.plot(
          steps,
          study.solved_fraction_curve(d["records"], bar, steps),
          label=f"{d['task']} {d['recipe']} ({len(d['records'])} seeds)",
      )
    ax.set_title(f"bar: {bar}")
    ax.set_xlabel("train steps")
    ax.grid(alpha=0.3)
  axes[0].set_ylabel("fraction of seeds solved")
  axes[0].set_ylim(0, 1.02)
  axes[1].legend(fontsize=7, loc="lower right")
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  try:
    os.makedirs(FLAGS.out_dir, exist_ok=True)
    if FLAGS.merge:
      print("merged into", merge_into(FLAGS.out_dir, FLAGS.merge))
    if FLAGS.render_only or FLAGS.merge:
      print(render(FLAGS.out_dir))
      return
    if FLAGS.task not in TASKS:
      raise ValueError(f"--task={FLAGS.task!r}; allowed: {TASKS}")
    if FLAGS.seeds < 1 or FLAGS.first_seed < 0:
      raise ValueError(
          f"--seeds={FLAGS.seeds} must be >= 1 and --first_seed=" f"{FLAGS.first_seed} >= 0"
      )
    seeds = parse_seed_list(FLAGS.seed_list) or list(
        range(FLAGS.first_seed, FLAGS.first_seed + FLAGS.seeds)
    )
    from experiments.studies.sweep_badd_pools import variant_config
    from neuralgpu import study

    for r in FLAGS.recipes:  # every recipe is checked before anything compiles
      variant_config(r, FLAGS.task)
    ol, oe = parse_pairs(FLAGS.ours, "ours")
    dl, de = parse_pairs(FLAGS.dngpu, "dngpu")
    bars = study.Bars(
        ours_lengths=ol,
        ours_examples=oe,
        confirm=FLAGS.confirm,
        dngpu_lengths=dl,
        dngpu_examples=de,
        dngpu_long_every=FLAGS.dngpu_long_every,
    )
    bars.validate()
    budget = study.Budget(
        max_steps=FLAGS.max_steps,
        check_every=FLAGS.check_every,
        max_seconds=FLAGS.max_seconds,
        stop_on=FLAGS.stop_on,
    )
    budget.validate()
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  for r in FLAGS.recipes:
    t0 = time.time()
    run_recipe(FLAGS.task, r, seeds, budget, bars, FLAGS.out_dir)
    print(f"{r}: {time.time() - t0:.0f} s", flush=True)
  print(render(FLAGS.out_dir))


if __name__ == "__main__":
  define_flags()
  app.run(main)
