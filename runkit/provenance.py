"""``workdir/provenance.jsonl``: one line per run start (or resume) saying what ran: the
command line, library versions, backend and devices, XLA flags, the git commit of the
code (``+dirty`` with uncommitted changes) and the config."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
from typing import Optional

import jax

from runkit import hostmem
from runkit import workdir as layout

VERSIONED = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy")


def git_commit() -> str:
  here = os.path.dirname(os.path.abspath(__file__))
  try:
    out = subprocess.run(
        ["git", "-C", here, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
    )
    dirty = subprocess.run(
        ["git", "-C", here, "status", "--porcelain"], capture_output=True, text=True, timeout=10
    ).stdout.strip()
    return out.stdout.strip() + ("+dirty" if dirty else "") if out.returncode == 0 else "unknown"
  except (OSError, subprocess.SubprocessError):
    return "unknown"


def version(dist: str) -> str:
  """The installed version of a distribution (``orbax-checkpoint``, not ``orbax``)."""
  try:
    return importlib.metadata.version(dist)
  except importlib.metadata.PackageNotFoundError:  # recorded, not fatal
    return "missing"


def write_provenance(workdir: str, config, extra: Optional[dict] = None) -> dict:
  """Appends one line for this run to ``provenance.jsonl``; ``extra`` adds the trainer's
  own facts (e.g. the Neural GPU's resolved conv form)."""
  rec = {
      "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
      "argv": sys.argv,
      "python": platform.python_version(),
      "versions": {m: version(m) for m in VERSIONED},
      "backend": jax.default_backend(),
      "devices": [d.device_kind for d in jax.devices()],
      "xla_flags": os.environ.get("XLA_FLAGS", ""),
      "keep_freed_memory": hostmem.APPLIED,
      "git_commit": git_commit(),
      **(extra or {}),
      "config": json.loads(config.to_json()),
  }
  os.makedirs(workdir, exist_ok=True)
  with open(os.path.join(workdir, layout.PROVENANCE_FILE), "a") as f:
    f.write(json.dumps(rec) + "\n")
  return rec
