"""The repository's Python files are formatted as ``pyproject.toml`` says (pyink: 2-space
indentation, 100 columns), so a change that breaks the style fails here, naming the files."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FOLDERS = (
    "neuralgpu",
    "rltape",
    "runkit",
    "plotkit",
    "experiments",
    "benchmarks",
    "tests",
    "setup.py",
)


def test_code_is_formatted():
  out = subprocess.run(
      [sys.executable, "-m", "pyink", "--check", "--quiet", *FOLDERS],
      cwd=ROOT,
      capture_output=True,
      text=True,
      timeout=300,
  )
  assert out.returncode == 0, (
      "files not formatted (run `pyink .` from the repository root):\n" + out.stderr[-3000:]
  )
