"""Pictures of the Neural GPU state over its steps: at every step and position, the
size of the state and how much the step changed it, so one sees which positions hold
information and where a carry travels (the state pictures of Kaiser & Sutskever 2015,
section 4).

``trace_example`` / ``trace_inputs`` run ``neuralgpu.model.state_trace`` on one
question; ``plot_state`` draws it; ``load_trained`` reads a model from a workdir (read
only).
"""

from __future__ import annotations

import functools
import os
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from neuralgpu import model as model_lib
from neuralgpu import tasks as tasks_lib


def load_trained(workdir: str, seed_index: int | None = None) -> dict[str, Any]:
  """The evaluation parameters of a Neural GPU workdir's latest checkpoint (a pool: its
  best seed, or ``seed_index``): ``{config, mcfg, params, active_sets, task, step}``.
  ValueError naming the workdir when it has no checkpoint. Reads only."""
  from neuralgpu import restore
  from neuralgpu import train as train_lib

  ckpt = os.path.join(workdir, "checkpoints")
  if not os.path.isdir(ckpt) or not any(n.isdigit() for n in os.listdir(ckpt)):
    raise ValueError(f"{workdir!r} has no checkpoint in {ckpt!r}: nothing to trace")
  cfg, mcfg, state, step = restore.load(workdir, seed_index)
  return {
      "config": cfg,
      "mcfg": mcfg,
      "params": train_lib.eval_params(state),
      "active_sets": state.relax.active_sets,
      "task": restore.task_for(cfg, None),
      "step": step,
  }


def carry_question(task: tasks_lib.Task, length: int) -> tuple[int, int]:
  """``(a, b)`` whose sum carries through every digit of a ``length``-symbol row:
  a = base**k - 1 (all digits base-1), b = 1, k = (length - 1) // 2 digits each."""
  k = (int(length) - 1) // 2
  if k < 1:
    raise ValueError(f"length {length!r} must be >= 3 (two operands and the operator)")
  if task.kind == "mul":
    return task.base**k - 1, task.base - 1
  return task.base**k - 1, 1


def _model_key(mcfg) -> tuple:
  return tuple(
      sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in mcfg.to_dict().items())
  )


@functools.lru_cache(maxsize=16)
def _trace_fn(model_key: tuple):
  """``state_trace`` jitted once per model config (and compiled once per shape)."""
  cfg = ml_collections.ConfigDict(dict(model_key))
  return jax.jit(
      lambda p, x, k, pos: model_lib.state_trace(p, x, cfg, active_sets=k, positions=pos)
  )


def trace_example(
    params, active_sets, mcfg, task, a: int, b: int, length: int | None = None
) -> dict[str, Any]:
  """Runs the model on ``a op b`` (an arithmetic task) and keeps every step's state;
  see ``trace_inputs`` for what it returns (plus ``a`` and ``b``)."""
  task = tasks_lib.get_task(task)
  inputs, targets = tasks_lib.encode_example(task, int(a), int(b), length)
  return dict(trace_inputs(params, active_sets, mcfg, task, inputs, targets), a=int(a), b=int(b))


def trace_inputs(params, active_sets, mcfg, task, inputs, targets) -> dict[str, Any]:
  """Runs the model on one encoded example (``inputs``, ``targets``: int ``[n]``, as
  ``neuralgpu.tasks`` encodes them) and keeps every step's state.

  Returns ``{inputs [n], targets [n], predicted [n], scored [n] (the positions an
  evaluation scores), states [steps + 1, n, height, maps] (numpy), norm [steps + 1, n],
  change [steps, n], task, correct}``: ``norm`` is the L2 norm of the state at each
  position over its height and maps, ``change`` the norm of the step's difference
  ``s_t - s_{t-1}``.
  """
  task = tasks_lib.get_task(task)
  inputs, targets = np.asarray(inputs), np.asarray(targets)
  x = jnp.asarray(inputs)[None]
  # The positions the state lives on, as in the evaluation (neuralgpu.evaluate).
  states, logits = _trace_fn(_model_key(mcfg))(
      params, x, jnp.asarray(active_sets, jnp.int32), (x > 0) | (jnp.asarray(targets)[None] > 0)
  )
  states = np.asarray(states)[:, 0]
  predicted = np.asarray(jnp.argmax(logits, -1))[0]
  norm = np.sqrt(np.sum(states**2, axis=(2, 3)))
  change = np.sqrt(np.sum(np.diff(states, axis=0) ** 2, axis=(2, 3)))
  mask = targets > 0
  if model_lib.stripped(mcfg):
    mask = (inputs > 0) | (targets > 0)
    targets = np.asarray(tasks_lib.strip_high_zeros(jnp.asarray(targets)[None]))[0]
  correct = bool(np.all((predicted == targets) | ~mask))
  return {
      "inputs": inputs,
      "targets": targets,
      "predicted": predicted,
      "states": states,
      "norm": norm,
      "change": change,
      "scored": mask,
      "task": task,
      "correct": correct,
  }


def _symbols(row, base: int) -> list[str]:
  """One character per symbol: digits of ``base``, '+', '*', '' for padding and '?' for
  a symbol that is not a digit of the base (a model's invalid prediction)."""
  out = []
  for v in row:
    v = int(v)
    if v == tasks_lib.PAD:
      out.append("")
    elif v == tasks_lib.PLUS:
      out.append("+")
    elif v == tasks_lib.TIMES:
      out.append("*")
    else:
      d = v - tasks_lib.DIGIT_OFFSET
      out.append(np.base_repr(d, 36) if 0 <= d < min(base, 36) else "?")
  return out


def _number(x: int, base: int) -> str:
  """``x`` in ``base``, long numbers shortened to their ends and digit count."""
  s = np.base_repr(x, base) if base <= 36 else str(x)
  return s if len(s) <= 24 else f"{s[:8]}...{s[-8:]} ({len(s)} digits)"


def plot_state(trace: dict[str, Any], title: str = ""):
  """Two heatmaps over (step, position), time running down: the state's norm at each
  position (where information is) and the change each step makes (where the
  computation, a travelling carry for instance, is going on). Under them the input,
  target and prediction rows, wrong digits in red."""
  norm, change = trace["norm"], trace["change"]
  steps, n = change.shape
  width = min(max(6.0, 0.16 * n + 2.5), 16.0)
  height_maps = min(max(2.2, 0.05 * steps + 1.6), 6.0)
  fig = Figure(figsize=(width, 2 * height_maps + 1.4), layout="constrained")
  FigureCanvasAgg(fig)
  grid = fig.add_gridspec(3, 1, height_ratios=[height_maps, height_maps, 1.1])
  ax_norm = fig.add_subplot(grid[0])
  ax_change = fig.add_subplot(grid[1], sharex=ax_norm)
  ax_rows = fig.add_subplot(grid[2], sharex=ax_norm)
  extent = (-0.5, n - 0.5, norm.shape[0] - 0.5, -0.5)
  im = ax_norm.imshow(norm, aspect="auto", cmap="viridis", extent=extent, interpolation="nearest")
  fig.colorbar(im, ax=ax_norm, label="|state|", pad=0.01)
  ax_norm.set_ylabel("step")
  ax_norm.set_title("state norm per position", fontsize=8)
  extent = (-0.5, n - 0.5, steps + 0.5, 0.5)
  im = ax_change.imshow(change, aspect="auto", cmap="magma", extent=extent, interpolation="nearest")
  fig.colorbar(im, ax=ax_change, label="|s_t - s_(t-1)|", pad=0.01)
  ax_change.set_ylabel("step")
  ax_change.set_title("change made by each step", fontsize=8)
  base = trace["task"].base
  rows = [
      ("input", _symbols(trace["inputs"], base)),
      ("target", _symbols(trace["targets"], base)),
      ("model", _symbols(trace["predicted"], base)),
  ]
  wrong = (trace["predicted"] != trace["targets"]) & trace["scored"]
  ax_rows.set_ylim(-0.5, 2.5)
  ax_rows.set_yticks([2, 1, 0])
  ax_rows.set_yticklabels([r[0] for r in rows], fontsize=7)
  if n <= 100:
    fs = 7 if n <= 60 else 5
    for y, (_, syms) in zip((2, 1, 0), rows):
      for x, ch in enumerate(syms):
        if ch:
          ax_rows.text(
              x,
              y,
              ch,
              ha="center",
              va="center",
              fontsize=fs,
              family="monospace",
              color="red" if (y == 0 and wrong[x]) else "black",
          )
  else:
    # Too many positions for characters: mark the wrong predictions only.
    used = trace["inputs"] > 0
    ax_rows.plot(np.flatnonzero(used), np.full(int(used.sum()), 2), "|", color="0.3", ms=5)
    ax_rows.plot(
        np.flatnonzero(trace["targets"] > 0),
        np.full(int((trace["targets"] > 0).sum()), 1),
        "|",
        color="0.3",
        ms=5,
    )
    ax_rows.plot(np.flatnonzero(wrong), np.zeros(int(wrong.sum())), "|", color="red", ms=8)
  ax_rows.set_xlim(-0.5, n - 0.5)
  ax_rows.set_xlabel("position (least significant digit first)")
  for spine in ("top", "right"):
    ax_rows.spines[spine].set_visible(False)
  task = trace["task"]
  verdict = "right" if trace["correct"] else "WRONG"
  if "a" in trace:
    op = "+" if task.kind == "add" else "*"
    head = f"{_number(trace['a'], base)} {op} {_number(trace['b'], base)} (base {base}): {verdict}"
  else:
    head = f"{task.name}, {int(np.sum(trace['inputs'] > 0))} symbols: {verdict}"
  fig.suptitle((title + "\n" if title else "") + head, fontsize=9)
  return fig


def state_figure(
    workdir: str,
    length: int | None = None,
    a: int | None = None,
    b: int | None = None,
    seed_index: int | None = None,
):
  """The state picture of a workdir's model on ``a op b`` (default: the carry chain of
  ``carry_question`` at ``length``, default the training length; a sequence task: one
  random example of that length). Returns (Figure, trace)."""
  m = load_trained(workdir, seed_index)
  task = m["task"]
  if length is None:
    length = int(m["config"].curriculum.max_length)
  if task.is_arithmetic:
    if a is None or b is None:
      a, b = carry_question(task, length)
    trace = trace_example(m["params"], m["active_sets"], m["mcfg"], task, a, b, length)
  else:  # a sequence task: one random example of the length
    inputs, targets = tasks_lib.make_batch(
        jax.random.key(0), task, jnp.array([length], jnp.int32), int(length)
    )
    trace = trace_inputs(
        m["params"],
        m["active_sets"],
        m["mcfg"],
        task,
        np.asarray(inputs)[0],
        np.asarray(targets)[0],
    )
  name = os.path.basename(os.path.normpath(workdir))
  return plot_state(trace, f"{name}: Neural GPU state over its steps (step {m['step']})"), trace
