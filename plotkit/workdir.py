"""Reading a training workdir: which binary made it, its config, metrics and summaries.

Kinds (from the keys of ``config.json``):

* ``ngpu``: ``experiments/train_neuralgpu.py`` without a pool (``metrics.jsonl``,
  ``summary.json``, ``checkpoints/``);
* ``ngpu_pool``: a Neural GPU seed pool (``train_neuralgpu.py`` with ``seeds=N``, or
  ``train_neuralgpu.py``; ``summary.json`` with per-seed results and solve checks);
* ``qlearning``: ``experiments/train_qlearning.py`` (``metrics.jsonl`` one line per chunk,
  ``summary.json``);
* ``rlntm``: ``experiments/train_rlntm.py`` (``metrics.jsonl`` with per-seed lists,
  ``summary.json``, ``traces.txt``).

Everything here only reads. A run still in progress is a workdir too (its files may
end in a partly written line, which is skipped).
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from runkit import workdir as layout

KINDS = ("ngpu", "ngpu_pool", "qlearning", "rlntm")


class NotAWorkdirError(ValueError):
  """The directory is not a training workdir of one of ``KINDS``."""


@dataclasses.dataclass(frozen=True)
class Workdir:
  """One workdir's records, as read from disk.

  Attributes:
    path: the directory.
    kind: one of ``KINDS``.
    config: ``config.json`` as a dict.
    metrics: the lines of ``metrics.jsonl`` (dicts, in file order).
    summary: ``summary.json`` (older pools: ``pool_summary.json``; None while the
      run has not finished).
    has_checkpoint: ``checkpoints/`` holds at least one step.
  """

  path: str
  kind: str
  config: dict
  metrics: list
  summary: dict | None
  has_checkpoint: bool

  @property
  def name(self) -> str:
    return os.path.basename(os.path.normpath(self.path))


def kind_of_config(config: dict) -> str | None:
  """The kind of run a ``config.json`` belongs to, or None."""
  if not isinstance(config, dict):
    return None
  if "model" in config and "curriculum" in config:
    # A single run is a pool of one seed.
    pool = config.get("pool") or {}
    return "ngpu_pool" if int(pool.get("num_seeds", 1)) > 1 else "ngpu"
  if "controller" in config and "epsilon" in config:
    return "qlearning"
  if "agent" in config and "promote_threshold" in config:
    return "rlntm"
  return None


def read_jsonl(path: str) -> list[dict]:
  """The JSON objects of a JSON-lines file; lines that do not parse (a line being
  written) are skipped. [] when the file does not exist."""
  if not os.path.exists(path):
    return []
  rows = []
  with open(path) as f:
    for line in f:
      line = line.strip()
      if not line:
        continue
      try:
        row = json.loads(line)
      except json.JSONDecodeError:
        continue
      if isinstance(row, dict):
        rows.append(row)
  return rows


def _read_json(path: str) -> Any:
  if not os.path.exists(path):
    return None
  try:
    with open(path) as f:
      return json.load(f)
  except json.JSONDecodeError:
    return None


def _has_checkpoint(path: str) -> bool:
  ckpt = os.path.join(path, "checkpoints")
  if not os.path.isdir(ckpt):
    return False
  return any(
      name.isdigit() and os.path.isdir(os.path.join(ckpt, name)) for name in os.listdir(ckpt)
  )


def load(path: str) -> Workdir:
  """Reads a workdir; ``NotAWorkdirError`` naming ``path`` when it is not one."""
  if not isinstance(path, str) or not path:
    raise NotAWorkdirError(f"workdir must be a directory path, got {path!r}")
  allowed = ", ".join(KINDS)
  if not os.path.isdir(path):
    what = "does not exist" if not os.path.exists(path) else "is not a directory"
    raise NotAWorkdirError(
        f"{path!r} is not a training workdir: it {what} "
        f"(expected a workdir of one of: {allowed})"
    )
  cfg_path = os.path.join(path, layout.CONFIG_FILE)
  config = _read_json(cfg_path)
  if config is None:
    why = "has no config.json" if not os.path.exists(cfg_path) else "has an unreadable config.json"
    raise NotAWorkdirError(
        f"{path!r} is not a training workdir: it {why} "
        f"(expected a workdir of one of: {allowed})"
    )
  kind = kind_of_config(config)
  if kind is None:
    raise NotAWorkdirError(
        f"{path!r} is not a training workdir: its config.json (keys "
        f"{sorted(config)[:8] if isinstance(config, dict) else type(config).__name__}) "
        f"is not one of: {allowed}"
    )
  summary = _read_json(os.path.join(path, layout.SUMMARY_FILE))
  if summary is None and kind == "ngpu_pool":  # pools made before the common layout
    summary = _read_json(os.path.join(path, layout.OLD_POOL_SUMMARY_FILE))
  return Workdir(
      path=path,
      kind=kind,
      config=config,
      metrics=read_jsonl(os.path.join(path, layout.METRICS_FILE)),
      summary=summary if isinstance(summary, dict) else None,
      has_checkpoint=_has_checkpoint(path),
  )


def is_inside(path: str, directory: str) -> bool:
  """``path`` is ``directory`` or below it (after resolving links)."""
  p, d = os.path.realpath(path), os.path.realpath(directory)
  return p == d or p.startswith(d.rstrip(os.sep) + os.sep)


def default_out_dir(workdir: str) -> str:
  """Where the plots of ``workdir`` go by default: the sibling ``<workdir>_plots``,
  so that the workdir itself is never written."""
  return os.path.normpath(os.path.abspath(workdir)) + "_plots"
