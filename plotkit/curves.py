"""Figures from a workdir's records (``plotkit.workdir.Workdir``): learning curves with
the curriculum length, error against test length, a pool's solved fraction against
steps. Matplotlib only (no JAX): each function returns a ``Figure`` on the Agg canvas,
or None when the workdir has nothing of that kind to draw yet.
"""

from __future__ import annotations

import os
import re
from typing import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from plotkit.workdir import Workdir

_EVAL_KEY = re.compile(r"^(?:seed\d+/)?eval_seq_error_(\d+)$")
_SEED_KEY = re.compile(r"^seed(\d+)/(.+)$")


def figure(
    rows: int = 1,
    cols: int = 1,
    *,
    width: float = 7.5,
    row_height: float = 2.6,
    sharex: bool = True,
):
  """A Figure on the Agg canvas with a ``rows x cols`` grid of axes (a flat list)."""
  fig = Figure(figsize=(width, max(row_height * rows, 2.4)), layout="constrained")
  FigureCanvasAgg(fig)
  axes = fig.subplots(rows, cols, sharex=sharex, squeeze=False)
  return fig, [ax for row in axes for ax in row]


def save(fig: Figure, path: str, dpi: int = 110) -> str:
  """Writes ``fig`` as a PNG at ``path`` (its folder must exist); returns ``path``."""
  if not path.endswith(".png"):
    raise ValueError(f"plot path {path!r} must end in .png")
  fig.savefig(path, dpi=dpi)
  return path


def _title(wd: Workdir, what: str) -> str:
  task = wd.config.get("task", "?")
  return f"{wd.name} ({wd.kind}, task {task}): {what}"


def _series(rows: Sequence[dict], key: str, step_key: str = "step"):
  pts = [
      (r[step_key], r[key])
      for r in rows
      if key in r and step_key in r and isinstance(r[key], (int, float))
  ]
  if not pts:
    return np.zeros((0,)), np.zeros((0,))
  s, v = zip(*pts)
  return np.asarray(s, float), np.asarray(v, float)


def _per_seed_lists(rows: Sequence[dict], key: str, step_key: str):
  """steps [N], values [N, seeds] from rows whose ``key`` is a per-seed list."""
  pts = [(r[step_key], r[key]) for r in rows if isinstance(r.get(key), list) and step_key in r]
  if not pts:
    return np.zeros((0,)), np.zeros((0, 0))
  width = max(len(v) for _, v in pts)
  steps = np.asarray([s for s, _ in pts], float)
  vals = np.full((len(pts), width), np.nan)
  for i, (_, v) in enumerate(pts):
    vals[i, : len(v)] = [np.nan if x is None else float(x) for x in v]
  return steps, vals


# ------------------------------------------------------------------ Neural GPU
def ngpu_learning_curves(wd: Workdir):
  """Training sequence and digit error, the solve checks' sequence error at each
  check length, the curriculum length (right axis) and the loss, against steps."""
  train = [r for r in wd.metrics if "loss" in r]
  if not train:
    return None
  fig, (ax, ax_loss) = figure(2, 1)
  s, v = _series(train, "train_seq_error")
  ax.plot(s, v, label="train sequence error", color="C0")
  s, v = _series(train, "train_digit_error")
  ax.plot(s, v, label="train digit error", color="C1")
  lengths = sorted(
      {int(m.group(1)) for r in wd.metrics for k in r for m in [_EVAL_KEY.match(k)] if m}
  )
  for i, n in enumerate(lengths):
    # The checks' lines (``seed<N>/eval_seq_error_<n>`` of a one-seed run's seed, or an
    # unprefixed key).
    checks = [
        {"step": r["step"], "e": r[k]}
        for r in wd.metrics
        if "step" in r
        for k in r
        if (m := _EVAL_KEY.match(k)) and int(m.group(1)) == n
    ]
    s, v = _series(checks, "e")
    ax.plot(s, v, "o", ms=3.5, color=f"C{(i + 2) % 10}", label=f"check: sequence error at {n}")
  ax.set_ylim(-0.02, 1.02)
  ax.set_ylabel("error")
  ax.grid(alpha=0.3)
  s, v = _series(train, "cur_length")
  if s.size:
    cur = ax.twinx()
    cur.step(s, v, where="post", color="0.45", ls="--", lw=1.2, label="curriculum length")
    cur.set_ylabel("curriculum length", color="0.35")
    cur.set_ylim(0, max(float(np.max(v)) * 1.1, 1.0))
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = cur.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="upper right")
  else:
    ax.legend(fontsize=7, loc="upper right")
  s, v = _series(train, "loss")
  ax_loss.plot(s, v, color="C3", label="loss")
  if v.size and np.all(v > 0) and np.max(v) > 10 * np.min(v):
    ax_loss.set_yscale("log")
  ax_loss.set_ylabel("training loss")
  ax_loss.set_xlabel("step")
  ax_loss.grid(alpha=0.3)
  fig.suptitle(_title(wd, "learning curves"), fontsize=9)
  return fig


def _train_length(config: dict) -> int | None:
  cu = config.get("curriculum") or {}
  n = cu.get("max_length")
  return int(n) if n else None


def error_vs_length_figure(
    rows: Sequence[dict],
    title: str,
    train_length: int | None = None,
    earlier: Sequence[tuple[int, Sequence[dict]]] = (),
):
  """Digit and sequence error against test length from an evaluation table
  (``[{"length", "examples", "digit_error", "seq_error", "seq_wrong"}]``), with the
  training length marked; ``earlier`` = ``[(step, rows)]`` drawn faintly."""
  rows = sorted((r for r in rows if "length" in r), key=lambda r: r["length"])
  if not rows:
    return None
  fig, (ax,) = figure(1, 1, row_height=3.4)
  for step, old in earlier:
    old = sorted(old, key=lambda r: r["length"])
    ax.plot([r["length"] for r in old], [r["seq_error"] for r in old], color="C0", alpha=0.15, lw=1)
  n = [r["length"] for r in rows]
  ax.plot(n, [r["seq_error"] for r in rows], "o-", color="C0", label="sequence error")
  ax.plot(n, [r["digit_error"] for r in rows], "s-", color="C1", label="digit error")
  for r in rows:
    if "seq_wrong" in r and "examples" in r:
      ax.annotate(
          f"{r['seq_wrong']}/{r['examples']} wrong",
          (r["length"], r["seq_error"]),
          textcoords="offset points",
          xytext=(4, 6),
          fontsize=7,
      )
  if train_length:
    ax.axvline(train_length, color="0.5", ls="--", lw=1)
    ax.annotate(
        "training length",
        (train_length, 0.98),
        fontsize=7,
        color="0.4",
        xytext=(3, 0),
        textcoords="offset points",
        va="top",
    )
  if len(n) > 1 and max(n) / max(min(n), 1) > 8:
    ax.set_xscale("log")
  ax.set_xticks(n)
  ax.set_xticklabels([str(x) for x in n])
  ax.minorticks_off()
  ax.set_ylim(-0.02, 1.02)
  ax.set_xlabel("test length (symbols)")
  ax.set_ylabel("error")
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  fig.suptitle(title, fontsize=9)
  return fig


def ngpu_error_vs_length(wd: Workdir):
  """The final evaluation table (single run, or a pool's best seed) against length;
  that seed's solve checks faintly behind it."""
  if not wd.summary or not wd.summary.get("eval"):
    return None
  best = wd.summary.get("best_seed")
  earlier = [
      (e["step"], [r for r in e["rows"] if r.get("part") != "rest"])
      for e in wd.summary.get("evals", [])
      if e.get("rows") and e.get("seed") == best
  ]
  what = "error against test length"
  if wd.kind == "ngpu_pool" and "best_seed" in wd.summary:
    what += f" (seed {wd.summary['best_seed']}, the pool's best)"
  what += f" after {wd.summary.get('step', '?')} steps"
  return error_vs_length_figure(
      wd.summary["eval"], _title(wd, what), _train_length(wd.config), earlier
  )


def ngpu_pool_curves(wd: Workdir):
  """Each seed's training sequence error and curriculum length against steps, with
  the steps where a seed was solved, stopped or restarted."""
  train = [r for r in wd.metrics if any(_SEED_KEY.match(k) for k in r)]
  if not train:
    return None
  seeds = sorted({int(m.group(1)) for r in train for k in r for m in [_SEED_KEY.match(k)] if m})
  fig, (ax, ax_len) = figure(2, 1)
  for i, sd in enumerate(seeds):
    c = f"C{i % 10}"
    s, v = _series(train, f"seed{sd}/train_seq_error")
    ax.plot(s, v, color=c, lw=1.2, label=f"seed {sd}")
    s, v = _series(train, f"seed{sd}/cur_length")
    ax_len.step(s, v, where="post", color=c, lw=1.2)
  summary = wd.summary or {}
  for r in summary.get("seeds", []):
    if r.get("solved_at") is not None:
      ax.axvline(r["solved_at"], color="g", lw=0.8, alpha=0.6)
      ax.annotate(
          f"seed {r['seed']} solved",
          (r["solved_at"], 0.5),
          fontsize=7,
          color="g",
          rotation=90,
          va="center",
          ha="right",
      )
  for r in summary.get("stops", []):
    ax.axvline(r["step"], color="0.3", lw=0.8, ls=":")
  for r in summary.get("restarts", []):
    ax.axvline(r["step"], color="C3", lw=0.8, ls=":")
  ax.set_ylim(-0.02, 1.02)
  ax.set_ylabel("train sequence error")
  ax.grid(alpha=0.3)
  ax.legend(fontsize=7, ncol=min(len(seeds), 4), loc="upper right")
  ax_len.set_ylabel("curriculum length")
  ax_len.set_xlabel("step")
  ax_len.grid(alpha=0.3)
  fig.suptitle(_title(wd, "every seed's learning curve"), fontsize=9)
  return fig


def pool_solved_steps(summary: dict) -> tuple[np.ndarray, np.ndarray]:
  """(steps, solved fraction) of a Neural GPU pool summary: at step t, the seeds solved
  by t over the seed runs started by t (the pool's seeds plus restarts up to t)."""
  solved = sorted(
      int(r["solved_at"]) for r in summary.get("seeds", []) if r.get("solved_at") is not None
  )
  restarts = sorted(int(r["step"]) for r in summary.get("restarts", []))
  n0 = int(summary.get("num_seeds", len(summary.get("seeds", []))) or 1)
  end = int(summary.get("step", max(solved + restarts + [0])))
  steps = sorted(set([0, end] + solved + restarts))
  frac = [sum(s <= t for s in solved) / (n0 + sum(r <= t for r in restarts)) for t in steps]
  return np.asarray(steps, float), np.asarray(frac, float)


def solved_fraction_figure(
    steps,
    fraction,
    title: str,
    *,
    per_seed=None,
    per_seed_label: str = "",
    seed_names=None,
    step_label="step",
):
  """The solved fraction against steps (a step line); below it, optionally, one line
  per seed of ``per_seed`` (``(steps, values [N, seeds])``)."""
  rows = 2 if per_seed is not None and per_seed[1].size else 1
  fig, axes = figure(rows, 1)
  ax = axes[0]
  ax.step(steps, fraction, where="post", color="g", lw=1.8)
  ax.set_ylim(-0.02, 1.02)
  ax.set_ylabel("fraction of seeds solved")
  ax.grid(alpha=0.3)
  if rows == 2:
    s, vals = per_seed
    names = seed_names or [str(i) for i in range(vals.shape[1])]
    for i in range(vals.shape[1]):
      axes[1].plot(s, vals[:, i], lw=1.1, color=f"C{i % 10}", label=f"seed {names[i]}")
    axes[1].set_ylabel(per_seed_label)
    axes[1].grid(alpha=0.3)
    if vals.shape[1] <= 12:
      axes[1].legend(fontsize=7, ncol=min(vals.shape[1], 4))
  axes[-1].set_xlabel(step_label)
  fig.suptitle(title, fontsize=9)
  return fig


def ngpu_pool_solved_fraction(wd: Workdir):
  """A Neural GPU pool's solved fraction against steps (from its ``summary.json``),
  and each seed's worst sequence error over the solve lengths at every solve check."""
  if not wd.summary:
    return None
  steps, frac = pool_solved_steps(wd.summary)
  checks = wd.summary.get("evals", [])
  per_seed = None
  names = None
  if checks:
    seeds = sorted({int(e["seed"]) for e in checks})
    at = sorted({int(e["step"]) for e in checks})
    vals = np.full((len(at), len(seeds)), np.nan)
    for e in checks:
      errs = [r["seq_error"] for r in e.get("rows", []) if "seq_error" in r]
      if errs:
        vals[at.index(int(e["step"])), seeds.index(int(e["seed"]))] = max(errs)
    per_seed, names = (np.asarray(at, float), vals), [str(s) for s in seeds]
  n = wd.summary.get("num_seed_runs", wd.summary.get("num_seeds"))
  title = _title(
      wd,
      f"solved fraction ({wd.summary.get('num_solved', 0)} of {n} seed runs; "
      f"{wd.summary.get('verdict', '')})".replace("; )", ")"),
  )
  return solved_fraction_figure(
      steps,
      frac,
      title,
      per_seed=per_seed,
      seed_names=names,
      per_seed_label="check: worst sequence error",
  )


# ------------------------------------------------------------------- Q-learning
def qlearning_curves(wd: Workdir):
  """Q-learning losses, each seed's curriculum length and test accuracy, against
  updates."""
  if not wd.metrics:
    return None
  fig, (ax, ax_len, ax_acc) = figure(3, 1)
  for i, key in enumerate(("q_loss", "sup_loss", "penalty")):
    s, v = _series(wd.metrics, key)
    if s.size and np.any(v > 0):
      ax.plot(s, v, color=f"C{i}", label=key.replace("_", " "))
  if any(line.get_ydata().size and np.all(line.get_ydata() > 0) for line in ax.lines):
    ax.set_yscale("log")
  ax.set_ylabel("loss")
  ax.grid(alpha=0.3)
  if ax.lines:
    ax.legend(fontsize=7)
  s, lens = _per_seed_lists(wd.metrics, "length_per_seed", "step")
  for i in range(lens.shape[1]):
    ax_len.step(s, lens[:, i], where="post", lw=1.1, color=f"C{i % 10}")
  ax_len.set_ylabel("curriculum\ncomplexity")
  ax_len.grid(alpha=0.3)
  s, acc = _per_seed_lists(wd.metrics, "test_accuracy", "step")
  for i in range(acc.shape[1]):
    ax_acc.plot(s, acc[:, i], lw=1.1, color=f"C{i % 10}", label=f"seed {i}")
  s, v = _series(wd.metrics, "window_accuracy")
  ax_acc.plot(s, v, color="k", lw=1.5, ls="--", label="training window (mean)")
  ax_acc.set_ylim(-0.02, 1.02)
  ax_acc.set_ylabel(f"test accuracy\n(length {wd.config.get('test_length', '?')})")
  ax_acc.set_xlabel("update")
  ax_acc.grid(alpha=0.3)
  if acc.shape[1] <= 10:
    ax_acc.legend(fontsize=7, ncol=4)
  fig.suptitle(_title(wd, f"{wd.config.get('controller', '')} Q-learning curves"), fontsize=9)
  return fig


def qlearning_solved_fraction(wd: Workdir):
  s, v = _series(wd.metrics, "seeds_solved")
  if not s.size:
    return None
  n = int(wd.config.get("num_seeds", 1)) or 1
  per = _per_seed_lists(wd.metrics, "test_accuracy", "step")
  return solved_fraction_figure(
      np.concatenate([[0.0], s]),
      np.concatenate([[0.0], v / n]),
      _title(wd, f"solved fraction of {n} seeds (test length {wd.config.get('test_length')})"),
      per_seed=per,
      per_seed_label="test accuracy",
      step_label="update",
  )


# ----------------------------------------------------------------------- RL-NTM
def rlntm_curves(wd: Workdir):
  """RL-NTM: each seed's return, curriculum length, test accuracy and entropy
  against updates."""
  if not wd.metrics:
    return None
  panels = [
      ("ret", "episode return"),
      ("length", "curriculum length"),
      ("test_accuracy", f"test accuracy\n(length {wd.config.get('test_length', '?')})"),
      ("entropy", "policy entropy"),
  ]
  fig, axes = figure(len(panels), 1, row_height=2.1)
  for ax, (key, label) in zip(axes, panels):
    s, vals = _per_seed_lists(wd.metrics, key, "updates")
    for i in range(vals.shape[1]):
      if key == "length":
        ax.step(s, vals[:, i], where="post", lw=1.1, color=f"C{i % 10}")
      else:
        ax.plot(s, vals[:, i], lw=1.1, color=f"C{i % 10}", label=f"seed {i}")
    ax.set_ylabel(label)
    ax.grid(alpha=0.3)
  axes[2].set_ylim(-0.02, 1.02)
  axes[-1].set_xlabel("update")
  fig.suptitle(_title(wd, "RL-NTM (REINFORCE) curves"), fontsize=9)
  return fig


def rlntm_solved_fraction(wd: Workdir):
  s, v = _series(wd.metrics, "seeds_solved", "updates")
  if not s.size:
    return None
  n = int(wd.config.get("num_seeds", 1)) or 1
  per = _per_seed_lists(wd.metrics, "test_accuracy", "updates")
  return solved_fraction_figure(
      np.concatenate([[0.0], s]),
      np.concatenate([[0.0], v / n]),
      _title(wd, f"solved fraction of {n} seeds (test length {wd.config.get('test_length')})"),
      per_seed=per,
      per_seed_label="test accuracy",
      step_label="update",
  )


def record_figures(wd: Workdir) -> dict:
  """``{file name: Figure}`` of every record-based picture of the workdir's kind (the
  ones with something to draw)."""
  makers = {
      "ngpu": {
          "learning_curves.png": ngpu_learning_curves,
          "error_vs_length.png": ngpu_error_vs_length,
      },
      "ngpu_pool": {
          "learning_curves.png": ngpu_pool_curves,
          "solved_fraction.png": ngpu_pool_solved_fraction,
          "error_vs_length.png": ngpu_error_vs_length,
      },
      "qlearning": {
          "learning_curves.png": qlearning_curves,
          "solved_fraction.png": qlearning_solved_fraction,
      },
      "rlntm": {"learning_curves.png": rlntm_curves, "solved_fraction.png": rlntm_solved_fraction},
  }[wd.kind]
  out = {}
  for name, make in makers.items():
    fig = make(wd)
    if fig is not None:
      out[name] = fig
  return out


def write_all(figures: dict, out_dir: str) -> list[str]:
  """Saves ``{file name: Figure}`` under ``out_dir``; returns the paths."""
  return [save(fig, os.path.join(out_dir, name)) for name, fig in figures.items()]
