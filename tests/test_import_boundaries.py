"""The two model families are independent: ``rltape`` imports nothing from ``neuralgpu``,
``neuralgpu`` nothing from ``rltape``, and the shared ``runkit`` neither (read from the
source, so a lazy import inside a function counts too)."""

import ast
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def imported_top_levels(package: str) -> dict[str, set[str]]:
  """{file: top-level modules it imports} for every .py file of ``package``."""
  out = {}
  for dirpath, _, files in os.walk(os.path.join(ROOT, package)):
    for name in files:
      if not name.endswith(".py"):
        continue
      path = os.path.join(dirpath, name)
      tree = ast.parse(open(path).read(), path)
      mods = set()
      for node in ast.walk(tree):
        if isinstance(node, ast.Import):
          mods.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
          mods.add(node.module.split(".")[0])
      out[os.path.relpath(path, ROOT)] = mods
  return out


@pytest.mark.parametrize(
    "package,forbidden",
    [
        ("rltape", {"neuralgpu", "experiments", "benchmarks"}),
        ("neuralgpu", {"rltape", "experiments", "benchmarks"}),
        ("runkit", {"rltape", "neuralgpu", "experiments", "benchmarks"}),
        ("plotkit", {"experiments", "benchmarks"}),
        ("benchmarks", {"experiments"}),
    ],
)
def test_package_does_not_import(package, forbidden):
  files = imported_top_levels(package)
  assert files, package
  bad = {f: sorted(m & forbidden) for f, m in files.items() if m & forbidden}
  assert not bad, f"{package} imports {bad}"


def test_the_checker_sees_imports(tmp_path, monkeypatch):
  # The oracle itself: a file with a lazy import inside a function is caught.
  pkg = tmp_path / "pkg"
  pkg.mkdir()
  (pkg / "m.py").write_text("def f():\n  from neuralgpu.model import apply\n  import rltape.envs\n")
  monkeypatch.setattr(sys.modules[__name__], "ROOT", str(tmp_path))
  assert imported_top_levels("pkg")["pkg/m.py"] == {"neuralgpu", "rltape"}


def test_no_sys_path_manipulation():
  """Every module is imported as installed (``pip install -e .``) or from the repository
  root (``python -m experiments.x``, pytest's rootdir): no file edits ``sys.path``."""
  needle = "sys.path." + "insert"  # split so that this file does not match itself
  needles = (needle, "sys.path." + "append")
  bad = []
  for top in (
      "neuralgpu",
      "rltape",
      "runkit",
      "plotkit",
      "experiments",
      "benchmarks",
      "tests",
      "notebooks",
  ):
    for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
      for name in files:
        if name.endswith((".py", ".ipynb")):
          path = os.path.join(dirpath, name)
          text = open(path).read()
          if any(n in text for n in needles):
            bad.append(os.path.relpath(path, ROOT))
  assert not bad, f"sys.path edited in {bad}"


def test_notebooks_import_the_libraries_only():
  """A notebook runs from the installed packages (a Colab runtime has no checkout): its
  code cells import nothing from ``experiments`` or ``benchmarks``."""
  import json

  bad = {}
  folder = os.path.join(ROOT, "notebooks")
  for name in sorted(os.listdir(folder)):
    if not name.endswith(".ipynb"):
      continue
    cells = json.load(open(os.path.join(folder, name)))["cells"]
    mods = set()
    for cell in cells:
      if cell["cell_type"] != "code":
        continue
      tree = ast.parse("".join(cell["source"]))
      for node in ast.walk(tree):
        if isinstance(node, ast.Import):
          mods.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
          mods.add(node.module.split(".")[0])
    if mods & {"experiments", "benchmarks"}:
      bad[name] = sorted(mods & {"experiments", "benchmarks"})
  assert not bad, f"notebooks importing outside the libraries: {bad}"
