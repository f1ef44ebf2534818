"""Run records: provenance, TensorBoard events + metrics.jsonl, and a progress bar."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from typing import Any

import jax
import numpy as np


def _git_commit() -> str:
  here = os.path.dirname(os.path.abspath(__file__))
  try:
    out = subprocess.run(["git", "-C", here, "rev-parse", "HEAD"], capture_output=True,
                         text=True, timeout=10)
    dirty = subprocess.run(["git", "-C", here, "status", "--porcelain"], capture_output=True,
                           text=True, timeout=10).stdout.strip()
    return out.stdout.strip() + ("+dirty" if dirty else "") if out.returncode == 0 else "unknown"
  except (OSError, subprocess.SubprocessError):
    return "unknown"


def _version(dist: str) -> str:
  """The installed version of a distribution (``orbax-checkpoint``, not ``orbax``)."""
  import importlib.metadata
  try:
    return importlib.metadata.version(dist)
  except importlib.metadata.PackageNotFoundError:  # recorded, not fatal
    return "missing"


def write_provenance(workdir: str, config, mcfg) -> dict:
  """Appends one line per run start to ``provenance.jsonl``."""
  rec = {
      "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
      "argv": sys.argv,
      "python": platform.python_version(),
      "versions": {m: _version(m) for m in ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint",
                                             "numpy")},
      "backend": jax.default_backend(),
      "devices": [d.device_kind for d in jax.devices()],
      "xla_flags": os.environ.get("XLA_FLAGS", ""),
      "git_commit": _git_commit(),
      "resolved_conv_impl": mcfg.conv_impl,
      "config": json.loads(config.to_json()),
  }
  with open(os.path.join(workdir, "provenance.jsonl"), "a") as f:
    f.write(json.dumps(rec) + "\n")
  return rec


def read_elapsed(workdir: str) -> float:
  path = os.path.join(workdir, "progress.json")
  if not os.path.exists(path):
    return 0.0
  with open(path) as f:
    return float(json.load(f).get("train_seconds", 0.0))


def plateau_scale(opt_state) -> float:
  """The reduce-on-plateau lr scale inside the optimizer state (1.0 if none)."""
  for leaf_state in jax.tree.leaves(opt_state, is_leaf=lambda x: hasattr(x, "scale")):
    if hasattr(leaf_state, "scale"):
      return float(np.asarray(leaf_state.scale).mean())
  return 1.0


class MetricWriter:
  """TensorBoard events (tensorboardX) plus a metrics.jsonl file."""

  def __init__(self, workdir: str):
    self._jsonl = open(os.path.join(workdir, "metrics.jsonl"), "a")
    try:
      from tensorboardX import SummaryWriter
      self._tb = SummaryWriter(os.path.join(workdir, "tb"))
    except ImportError:
      self._tb = None

  def write(self, step: int, scalars: dict[str, Any]) -> None:
    clean = {k: float(v) for k, v in scalars.items()}
    self._jsonl.write(json.dumps({"step": int(step), **clean}) + "\n")
    self._jsonl.flush()
    if self._tb is not None:
      for k, v in clean.items():
        self._tb.add_scalar(k, v, int(step))
      self._tb.flush()

  def close(self) -> None:
    self._jsonl.close()
    if self._tb is not None:
      self._tb.close()


class progress:
  """A tqdm bar over steps with the curriculum length, errors and steps/s."""

  def __init__(self, config, start_step: int):
    self._bar = None
    if config.progress_bar:
      from tqdm import tqdm
      self._bar = tqdm(total=int(config.num_train_steps), initial=start_step, unit="step",
                       dynamic_ncols=True)
    self._last = start_step

  def update(self, step: int, summary: dict) -> None:
    if self._bar is None:
      return
    self._bar.update(step - self._last)
    self._last = step
    self._bar.set_postfix(len=summary.get("cur_length"),
                          seq_err=f"{summary.get('train_seq_error', 0):.3f}",
                          dig_err=f"{summary.get('train_digit_error', 0):.4f}",
                          sps=f"{summary.get('steps_per_s', 0):.1f}")

  def close(self) -> None:
    if self._bar is not None:
      self._bar.close()
