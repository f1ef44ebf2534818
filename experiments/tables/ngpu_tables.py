r"""The talk's Neural GPU tables from seed-pool workdirs, beside the talk's words.

  python -m experiments.tables.ngpu_tables --root=/tmp/pools \
      --out=results/neuralgpu/tables.md --plot=results/neuralgpu/tables_solved.png

``--root`` holds one pool workdir per cell at ``<root>/<cell>`` (cells as in
``experiments/configs/ngpu_tables.py``, e.g. ``<root>/known/mul2/24``), each
with the ``summary.json`` that ``experiments/train_neuralgpu.py`` writes. Each
table cell reads "talk: <word> / measured: <verdict> (solved/seeds, steps,
minutes)"; a cell without a pool reads "talk: <word> / not run". A seed not
solved within its pool's step and time budget counts as not solved, so a
measured verdict is a lower bound on the pool's outcome with more budget.
"""

import os

from absl import app
from absl import flags

from runkit import workdir as workdir_lib

FLAGS = flags.FLAGS


def define_flags():
  """Defined only when run as a binary, so tests can import the helpers."""
  flags.DEFINE_string("root", None, "Directory of pool workdirs, one per cell.")
  flags.DEFINE_string("out", "", "Markdown output file (default: print).")
  flags.DEFINE_string("plot", "", "PNG of the solved fraction per measured cell.")


def load_summaries(root: str, cells) -> dict:
  out = {}
  for cell in cells:
    summary = workdir_lib.read_summary(os.path.join(root, cell))
    if summary is not None:
      out[cell] = summary
  return out


def cell_text(cell: str, talk: dict, summaries: dict) -> str:
  word = talk[cell][2] if cell in talk else ""
  s = summaries.get(cell)
  prefix = f"talk: {word} / " if word else ""
  if s is None:
    return prefix + "not run"
  return (
      f"{prefix}measured: **{s['verdict']}** ({s['num_solved']}/{s['num_seeds']} solved, "
      f"{s['step']} steps, {s['train_minutes']:.0f} min)"
  )


def render(summaries: dict) -> str:
  from experiments.configs import ngpu_tables as nt

  talk = nt.TALK
  lines = [
      "# The talk's Neural GPU tables: measured pools beside the talk's words",
      "",
      "Verdicts: Works if >= works_fraction of the seeds are solved, Struggles if more "
      "than struggles_fraction (default: at least one seed), Fails otherwise; a seed is "
      "solved with 0 sequence errors at every solve length. Seeds not solved within the "
      "pool's step/time budget count as not solved.",
      "",
  ]
  lines += [
      "## Known Results",
      "",
      "| Problem | Base | 24 filters | 128 filters |",
      "|---|---:|---|---|",
  ]
  for op, name in (("add", "Addition"), ("mul", "Multiplication")):
    for base in (2, 10):
      cells = [cell_text(f"known/{op}{base}/{w}", talk, summaries) for w in (24, 128)]
      lines.append(f"| {name} | {base} | " + " | ".join(cells) + " |")
  lines += [
      "",
      "## Bigger models (multiplication)",
      "",
      "| Base | 24 | 128 | 256 | 512 |",
      "|---:|---|---|---|---|",
  ]
  for base in (2, 10):
    cells = [cell_text(f"bigger/mul{base}/{w}", talk, summaries) for w in (24, 128, 256, 512)]
    lines.append(f"| {base} | " + " | ".join(cells) + " |")
  lines += [
      "",
      "## Bigger models and curriculum (decimal multiplication)",
      "",
      "| Curriculum | 128 | 256 | 512 |",
      "|---|---|---|---|",
  ]
  for c, label in nt.CURRICULUM_LABELS.items():
    cells = [cell_text(f"curriculum/{c}/{w}", talk, summaries) for w in (128, 256, 512)]
    lines.append(f"| {label} | " + " | ".join(cells) + " |")
  lines += [
      "",
      "## Transfer",
      "",
      "| Experiment | Width | The talk | source | transfer | " "scratch (same budget) |",
      "|---|---:|---|---|---|---|",
  ]
  for name, (src, dst, words) in nt.TRANSFER.items():
    for w in nt.TRANSFER_WIDTHS:
      cells = [cell_text(f"transfer/{name}/{r}/{w}", talk, summaries) for r in nt.TRANSFER_ROLES]
      lines.append(f"| {src} -> {dst} | {w} | {words} | " + " | ".join(cells) + " |")
  measured = [c for c in summaries]
  if measured:
    lines += [
        "",
        "## Measured pools",
        "",
        "| Cell | Task | Filters | Seeds | Solved | "
        "Verdict | The talk | Steps (budget) | Train min (budget) | Stop | Diverged |",
        "|---|---|---:|---:|---:|---|---|---|---|---|---:|",
    ]
    for c in measured:
      s = summaries[c]
      word = talk[c][2] if c in talk else ""
      div = sum(1 for r in s["seeds"] if r["diverged_at"] is not None)
      budget_min = f"{s['max_train_minutes']:.0f}" if s["max_train_minutes"] else "none"
      lines.append(
          f"| {c} | {s['task']} | {s['num_maps']} | {s['num_seeds']} | "
          f"{s['num_solved']} | {s['verdict']} | {word} | {s['step']} "
          f"({s['num_train_steps']}) | {s['train_minutes']:.1f} ({budget_min}) | "
          f"{s['stop_reason']} | {div} |"
      )
  return "\n".join(lines) + "\n"


def plot(summaries: dict, path: str) -> None:
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  from experiments.configs import ngpu_tables as nt

  cells = list(summaries)
  fracs = [summaries[c]["solved_fraction"] for c in cells]
  fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(cells)), 3.5))
  ax.bar(range(len(cells)), fracs, color="tab:blue")
  for i, c in enumerate(cells):
    word = nt.TALK[c][2] if c in nt.TALK else ""
    ax.text(i, fracs[i] + 0.02, f"talk: {word}\n{summaries[c]['verdict']}", ha="center", fontsize=8)
  ax.set_xticks(range(len(cells)))
  ax.set_xticklabels(cells, rotation=30, ha="right", fontsize=8)
  ax.set_ylim(0, 1.2)
  ax.set_ylabel("fraction of seeds solved")
  ax.axhline(0.5, color="gray", lw=0.5, ls="--")
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if not FLAGS.root or not os.path.isdir(FLAGS.root):
    raise app.UsageError(f"--root={FLAGS.root!r} is not a directory")
  from experiments.configs import ngpu_tables as nt

  summaries = load_summaries(FLAGS.root, nt.CELLS)
  text = render(summaries)
  if FLAGS.out:
    with open(FLAGS.out, "w") as f:
      f.write(text)
  else:
    print(text)
  if FLAGS.plot and summaries:
    plot(summaries, FLAGS.plot)


if __name__ == "__main__":
  define_flags()
  app.run(main)
