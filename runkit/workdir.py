"""The workdir every trainer writes, named in one place, and the config it remembers: a
new run records it, a resumed run must match it except for the keys allowed to change.

Layout (``tests/runkit/test_workdir_layout.py`` checks that every trainer writes it)::

    config.json        the run's config (CONFIG_FILE)
    checkpoints/       orbax checkpoints, one per saved step (CHECKPOINTS_DIR)
    progress.json      {step, train_seconds} of the latest checkpoint (runkit.checkpoints)
    metrics.jsonl      one JSON line per logged step (METRICS_FILE)
    tb/                TensorBoard events (TB_DIR)
    provenance.jsonl   one line per process start (PROVENANCE_FILE)
    summary.json       the run's results, written at its end (SUMMARY_FILE)
    traces.txt         the RL-NTM's example episodes (TRACES_FILE)
"""

from __future__ import annotations

import json
import os
from typing import Any

CONFIG_FILE = "config.json"
CHECKPOINTS_DIR = "checkpoints"
METRICS_FILE = "metrics.jsonl"
TB_DIR = "tb"
PROVENANCE_FILE = "provenance.jsonl"
SUMMARY_FILE = "summary.json"
TRACES_FILE = "traces.txt"
# Neural GPU pools made before every trainer wrote SUMMARY_FILE wrote this instead.
OLD_POOL_SUMMARY_FILE = "pool_summary.json"


def read_config_dict(workdir: str, what: str = "a training") -> dict:
  """``workdir``'s CONFIG_FILE as a dict; ValueError naming the missing file (``what``
  names the run in the message, e.g. "a Q-learning")."""
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.exists(path):
    raise ValueError(f"{workdir!r} is not {what} workdir: {path!r} is missing")
  with open(path) as f:
    return json.load(f)


def write_summary(workdir: str, summary: dict, indent: int = 2, default=None) -> None:
  """Writes SUMMARY_FILE (through a temporary file, so a reader never sees half;
  ``default`` as in ``json.dump``)."""
  path = os.path.join(workdir, SUMMARY_FILE)
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    json.dump(summary, f, indent=indent, default=default)
  os.replace(tmp, path)


def read_summary(workdir: str) -> Any:
  """The summary a run wrote in ``workdir`` (SUMMARY_FILE, else a pool's older
  OLD_POOL_SUMMARY_FILE), or None before the run has ended."""
  for name in (SUMMARY_FILE, OLD_POOL_SUMMARY_FILE):
    path = os.path.join(workdir, name)
    if os.path.exists(path):
      with open(path) as f:
        return json.load(f)
  return None


def _flatten(d: dict, prefix: str = "") -> dict:
  out = {}
  for k, v in d.items():
    key = f"{prefix}{k}"
    if isinstance(v, dict):
      out.update(_flatten(v, key + "."))
    else:
      out[key] = list(v) if isinstance(v, tuple) else v
  return out


def check_workdir_config(
    workdir: str, config, resumable, added_defaults: dict | None = None
) -> None:
  """Records the config in a new workdir, or checks it matches an existing one.

  ``resumable``: top-level keys that may change between runs in one workdir
  (run length, logging); any other difference raises ValueError naming it.
  ``added_defaults``: ``{"dotted.key": value}`` for keys added to the config after
  a workdir may have been made; a workdir without such a key matches a config
  holding its default value (the trainer reads the missing key as that default).
  """
  added_defaults = added_defaults or {}
  path = os.path.join(workdir, CONFIG_FILE)
  new = json.loads(config.to_json())
  if os.path.exists(path):
    with open(path) as f:
      old = json.load(f)
    a = {k: v for k, v in _flatten(old).items() if k.split(".")[0] not in resumable}
    b = {k: v for k, v in _flatten(new).items() if k.split(".")[0] not in resumable}
    for k, v in added_defaults.items():
      if k in b and k not in a and k.split(".")[0] not in resumable:
        a[k] = v
    diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    if diff:
      detail = ", ".join(f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in diff[:8])
      raise ValueError(
          f"workdir {workdir!r} holds a run made with a different config ({detail}); "
          "use a new --workdir (nothing was changed on disk)"
      )
    return
  os.makedirs(workdir, exist_ok=True)
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    f.write(config.to_json(indent=2))
  os.replace(tmp, path)
