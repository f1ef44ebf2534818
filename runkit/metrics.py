"""A run's metrics: one JSON line per record in ``workdir/metrics.jsonl`` and TensorBoard
events (tensorboardX) in ``workdir/tb``. Every line carries ``step``, the optimizer
updates done so far; values may be lists (per seed), which TensorBoard gets as their mean."""

from __future__ import annotations

import json
import os
from typing import Any, Optional

import numpy as np

from runkit import workdir as layout


def _scalar(v: Any) -> Optional[float]:
  if isinstance(v, bool):
    return float(v)
  if isinstance(v, (int, float, np.integer, np.floating)):
    return float(v)
  if isinstance(v, (list, tuple, np.ndarray)):
    a = np.asarray(v, dtype=float) if len(v) else None
    return None if a is None or not np.isfinite(a).any() else float(np.nanmean(a))
  return None


def _plain(v: Any) -> Any:
  if isinstance(v, np.ndarray):
    return v.tolist()
  if isinstance(v, (np.integer,)):
    return int(v)
  if isinstance(v, (np.floating,)):
    return float(v)
  return v


class MetricWriter:
  """``write(step, record)`` appends ``{"step": step, **record}`` to ``metrics.jsonl``
  and each numeric entry (a list's mean) to TensorBoard."""

  def __init__(self, workdir: str):
    os.makedirs(workdir, exist_ok=True)
    self._jsonl = open(os.path.join(workdir, layout.METRICS_FILE), "a")
    try:
      from tensorboardX import SummaryWriter

      self._tb = SummaryWriter(os.path.join(workdir, layout.TB_DIR))
    except ImportError:  # TensorBoard events are optional; the JSON lines are not
      self._tb = None

  def write(self, step: int, record: dict[str, Any]) -> None:
    rec = {"step": int(step), **{k: _plain(v) for k, v in record.items() if k != "step"}}
    self._jsonl.write(json.dumps(rec) + "\n")
    self._jsonl.flush()
    if self._tb is not None:
      for k, v in rec.items():
        x = _scalar(v)
        if k != "step" and x is not None:
          self._tb.add_scalar(k, x, int(step))
      self._tb.flush()

  def close(self) -> None:
    self._jsonl.close()
    if self._tb is not None:
      self._tb.close()
