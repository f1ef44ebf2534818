"""Orbax checkpoints of a whole training state, and the run's ``progress.json``.

Every trainer keeps its checkpoints in ``workdir/checkpoints`` (one orbax step per save,
the oldest dropped past ``max_to_keep``) and writes ``workdir/progress.json``
``{"step", "train_seconds", ...}`` after each save, so that a resumed run knows how much of
its time budget is spent. The state is saved as flax's state dict of the pytree, so any
``flax.struct`` dataclass (or nest of them) round-trips into a template of the same
structure; a resumed run continues bit-identically from it.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Optional

import flax
import orbax.checkpoint as ocp

from runkit import workdir as layout

PROGRESS_FILE = "progress.json"


def make_manager(workdir: str, max_to_keep: Optional[int] = None) -> ocp.CheckpointManager:
  """The checkpoint manager of ``workdir/checkpoints`` (made if missing)."""
  options = ocp.CheckpointManagerOptions(
      max_to_keep=None if max_to_keep is None else int(max_to_keep), create=True
  )
  return ocp.CheckpointManager(
      os.path.abspath(os.path.join(workdir, layout.CHECKPOINTS_DIR)), options=options
  )


def restore(manager: ocp.CheckpointManager, step: int, template: Any) -> Any:
  """Checkpoint ``step`` restored into ``template``'s structure; ValueError saying which
  checkpoint could not be read (orbax raises several types)."""
  target = flax.serialization.to_state_dict(template)
  try:
    restored = manager.restore(int(step), args=ocp.args.StandardRestore(target))
  except Exception as e:  # noqa: BLE001 -- re-raised with the place and the likely cause
    raise ValueError(
        f"cannot restore checkpoint step {step} from {manager.directory}: {e}. "
        "Was it written with another config? Use a new --workdir."
    ) from e
  return flax.serialization.from_state_dict(template, restored)


def restore_or(manager: ocp.CheckpointManager, template: Any) -> Any:
  """The latest checkpoint restored into ``template``'s structure, or the template."""
  step = manager.latest_step()
  return template if step is None else restore(manager, step, template)


def save(
    manager: ocp.CheckpointManager,
    step: int,
    state: Any,
    workdir: str,
    train_seconds: float,
    force: bool = False,
    extra: Optional[dict] = None,
) -> None:
  """Saves ``state`` as checkpoint ``step`` (once per step), waits for it, then records
  ``progress.json`` (``extra`` adds trainer-specific keys)."""
  if manager.latest_step() == step:
    return
  manager.save(
      int(step), args=ocp.args.StandardSave(flax.serialization.to_state_dict(state)), force=force
  )
  manager.wait_until_finished()
  write_progress(workdir, step, train_seconds, extra)


def write_progress(
    workdir: str, step: int, train_seconds: float, extra: Optional[dict] = None
) -> None:
  rec = {"step": int(step), "train_seconds": float(train_seconds), **(extra or {})}
  tmp = os.path.join(workdir, PROGRESS_FILE + ".tmp")
  with open(tmp, "w") as f:
    json.dump(rec, f)
  os.replace(tmp, os.path.join(workdir, PROGRESS_FILE))


def read_progress(workdir: str) -> dict:
  """``progress.json`` of ``workdir`` ({} when the run has not saved yet)."""
  path = os.path.join(workdir, PROGRESS_FILE)
  if not os.path.exists(path):
    return {}
  with open(path) as f:
    return json.load(f)


def read_elapsed(workdir: str) -> float:
  """Training seconds spent by the runs of ``workdir`` so far (0 for a new one)."""
  return float(read_progress(workdir).get("train_seconds", 0.0))


def load_latest(
    workdir: str, template: Any, restore_fn: Callable[[Any, Any], Any] = restore_or
) -> tuple[Any, int]:
  """(the latest state of ``workdir``, its step), for evaluation binaries; ValueError
  when the workdir has no checkpoint. ``restore_fn(manager, template)`` reads it (a
  trainer passes its own when it also reads older layouts)."""
  manager = make_manager(workdir)
  if manager.latest_step() is None:
    raise ValueError(f"no checkpoint in {os.path.join(workdir, 'checkpoints')!r}")
  state = restore_fn(manager, template)
  return state, int(manager.latest_step())
