"""Every command the docs give (README, docs/, results pages, experiments/README.md)
names a binary that exists, and every flag it passes is one that binary defines (absl
``DEFINE_*`` in the binary or in a module of this repository it imports). A move or a
renamed flag that leaves a documented command stale fails here."""

import glob
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = sorted(
    [os.path.join(ROOT, "README.md")]
    + glob.glob(os.path.join(ROOT, "docs", "*.md"))
    + glob.glob(os.path.join(ROOT, "results", "**", "*.md"), recursive=True)
    + glob.glob(os.path.join(ROOT, "experiments", "**", "*.md"), recursive=True)
)
# python -m pkg.mod ... | python pkg/mod.py ...; arguments run on over "\" line breaks.
COMMAND = re.compile(
    r"python3? (?:-m ((?:experiments|benchmarks)(?:\.\w+)*)(?!\.<)|((?:experiments|benchmarks)/[\w/]+\.py))"
    r"((?:[ \t]+(?:\\\n[ \t]*)?[^\s`|]+)*)"
)
DEFINE = re.compile(r"DEFINE_\w+\(\s*(?:name\s*=\s*)?[\"'](\w+)[\"']")
IMPORT = re.compile(r"^\s*(?:from|import) ((?:benchmarks|experiments)[\w.]*)", re.M)
ABSL_BUILTIN = {"help", "helpfull", "helpshort", "verbosity", "alsologtostderr", "logtostderr"}


def _binary(module, path):
  if path:
    return os.path.join(ROOT, path)
  base = os.path.join(ROOT, *module.split("."))
  return base + ".py" if os.path.exists(base + ".py") else os.path.join(base, "__main__.py")


def _defined_flags(path, seen=None):
  """Flags defined in ``path`` and in the repository modules it imports."""
  seen = set() if seen is None else seen
  if path in seen or not os.path.exists(path):
    return set()
  seen.add(path)
  src = open(path).read()
  names = set(DEFINE.findall(src))
  for mod in IMPORT.findall(src):
    names |= _defined_flags(_binary(mod, None), seen)
  return names


def _commands():
  for doc in DOCS:
    with open(doc) as f:
      text = f.read()
    for m in COMMAND.finditer(text):
      yield os.path.relpath(doc, ROOT), m


def test_the_docs_give_commands():
  assert sum(1 for _ in _commands()) > 50  # the scan itself finds the docs' commands


def test_every_documented_command_names_a_binary_and_its_flags():
  stale = []
  for doc, m in _commands():
    binary = _binary(m.group(1), m.group(2))
    if not os.path.exists(binary):
      stale.append(f"{doc}: {m.group(0).split()[1:3]} -> no {os.path.relpath(binary, ROOT)}")
      continue
    defined = _defined_flags(binary) | ABSL_BUILTIN
    for name in re.findall(r"(?<![\w-])--(\w+)", m.group(3) or ""):
      if name not in defined:
        stale.append(f"{doc}: --{name} is not a flag of {os.path.relpath(binary, ROOT)}")
  assert not stale, "\n".join(stale)


def test_the_check_catches_a_stale_command(tmp_path):
  # The same scan on a made-up page: a moved binary and an unknown flag are both found.
  text = (
      "python -m experiments.seed_study --recipes=x\n"
      "python -m experiments.studies.seed_study --no_such_flag=1 --recipes=x\n"
  )
  found = [(m.group(1), m.group(3)) for m in COMMAND.finditer(text)]
  assert not os.path.exists(_binary(found[0][0], None))
  defined = _defined_flags(_binary(found[1][0], None))
  assert "recipes" in defined and "no_such_flag" not in defined
