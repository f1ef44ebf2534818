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
  """A tqdm bar towards the run's real stop: the larger of the fraction of
  ``num_train_steps`` done and the fraction of the ``max_train_minutes`` budget used
  (when one is set), so a time-limited run's bar and ETA end at its time limit, not at
  a step count it never reaches. A solved run closes it early. The postfix shows the
  step, the curriculum length, errors and steps/s."""

  SCALE = 1000   # the bar counts per-mille of the budget

  def __init__(self, config, start_step: int, elapsed_s: float = 0.0):
    import time
    self._bar = None
    self._steps = max(int(config.num_train_steps), 1)
    self._budget_s = float(config.max_train_minutes or 0.0) * 60.0
    self._t0 = time.time() - float(elapsed_s)
    self._time = time.time
    if config.progress_bar:
      from tqdm import tqdm
      self._bar = tqdm(total=self.SCALE, initial=self._fraction(start_step),
                       dynamic_ncols=True,
                       bar_format="{l_bar}{bar}| {elapsed}<{remaining}{postfix}")
      self._bar.set_postfix(step=start_step)

  def _fraction(self, step: int) -> int:
    f = step / self._steps
    if self._budget_s > 0:
      f = max(f, (self._time() - self._t0) / self._budget_s)
    return int(min(f, 1.0) * self.SCALE)

  def update(self, step: int, summary: dict) -> None:
    if self._bar is None:
      return
    n = self._fraction(step)
    if n > self._bar.n:
      self._bar.update(n - self._bar.n)
    self._bar.set_postfix(step=step, len=summary.get("cur_length"),
                          seq_err=f"{summary.get('train_seq_error', 0):.3f}",
                          dig_err=f"{summary.get('train_digit_error', 0):.4f}",
                          sps=f"{summary.get('steps_per_s', 0):.1f}")

  def close(self) -> None:
    if self._bar is not None:
      self._bar.close()
