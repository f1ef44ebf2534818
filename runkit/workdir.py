"""A workdir remembers the config of its run: a new run records it, a resumed run must
match it except for the keys allowed to change."""

from __future__ import annotations

import json
import os


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
  path = os.path.join(workdir, "config.json")
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
