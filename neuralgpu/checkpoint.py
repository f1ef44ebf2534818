"""Orbax checkpoints of the full training state, and workdir safety checks.

The checkpoint holds the whole ``TrainState`` (parameters, optimizer state with its
counters, curriculum and relaxation state, PRNG key, step, metric sums), so that a
resumed run continues bit-identically. A workdir remembers the config it was made
with; a run whose config would change the training (anything but run-length,
logging and evaluation settings) is refused before anything is written, so a
failed or mistaken run never overwrites an earlier one.
"""
from __future__ import annotations

import json
import os
from typing import Any

import flax
import jax
import orbax.checkpoint as ocp

from neuralgpu.config import RESUMABLE_KEYS
from runkit import workdir as workdir_lib


def check_workdir_config(workdir: str, config, resumable=RESUMABLE_KEYS,
                         added_defaults: dict | None = None) -> None:
  """``runkit.workdir.check_workdir_config`` with the Neural GPU's resumable keys."""
  workdir_lib.check_workdir_config(workdir, config, resumable, added_defaults)


def make_manager(workdir: str, config) -> ocp.CheckpointManager:
  options = ocp.CheckpointManagerOptions(max_to_keep=int(config.keep_checkpoints), create=True)
  return ocp.CheckpointManager(os.path.abspath(os.path.join(workdir, "checkpoints")),
                               options=options)


def restore_or(manager: ocp.CheckpointManager, template: Any) -> Any:
  """The latest checkpoint restored into ``template``'s structure, or the template."""
  step = manager.latest_step()
  if step is None:
    return template
  target = flax.serialization.to_state_dict(template)
  try:
    restored = manager.restore(step, args=ocp.args.StandardRestore(target))
  except Exception as e:  # orbax raises several types; say what and where
    raise ValueError(
        f"cannot restore checkpoint step {step} from {manager.directory}: {e}. "
        "Was it written with another model config? Use a new --workdir.") from e
  return flax.serialization.from_state_dict(template, restored)


def save(manager: ocp.CheckpointManager, step: int, state: Any, workdir: str,
         train_seconds: float, force: bool = False) -> None:
  if manager.latest_step() == step:
    return
  manager.save(step, args=ocp.args.StandardSave(flax.serialization.to_state_dict(state)),
               force=force)
  manager.wait_until_finished()
  tmp = os.path.join(workdir, "progress.json.tmp")
  with open(tmp, "w") as f:
    json.dump({"step": int(step), "train_seconds": float(train_seconds)}, f)
  os.replace(tmp, os.path.join(workdir, "progress.json"))


def load_params(workdir: str, config, template: Any, restore=restore_or) -> tuple[Any, int]:
  """Restores the latest TrainState of a workdir (for evaluation binaries).

  ``restore(manager, template)`` reads the checkpoint (a pool passes its own, which also
  reads pool checkpoints of older layouts).
  """
  manager = make_manager(workdir, config)
  if manager.latest_step() is None:
    raise ValueError(f"no checkpoint in {os.path.join(workdir, 'checkpoints')!r}")
  state = restore(manager, template)
  return state, int(manager.latest_step())
