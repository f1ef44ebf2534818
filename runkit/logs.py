"""Quiet binaries: library log lines (orbax logs every checkpoint save and restore at
INFO) stay off unless the command line asks for them with absl's ``--verbosity``."""

from __future__ import annotations

from absl import flags
from absl import logging


def quiet_libraries() -> None:
  """Sets absl logging to WARNING unless ``--verbosity`` was given (call in ``main``)."""
  fl = flags.FLAGS
  if "verbosity" in fl and fl["verbosity"].present:
    return
  logging.set_verbosity(logging.WARNING)
