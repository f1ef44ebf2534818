"""Running the project's binaries from tests the way the docs run them."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_module(module: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
  """``python -m module args`` from the repository root, output captured as text."""
  return subprocess.run(
      [sys.executable, "-m", module, *args],
      cwd=ROOT,
      capture_output=True,
      text=True,
      timeout=timeout,
  )
