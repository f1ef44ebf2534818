"""The shared vocabulary, the task names and the ``Task`` record.

Part of ``neuralgpu.tasks`` (see the package docstring for the encoding).
"""

from __future__ import annotations

import dataclasses
import re

import jax
import numpy as np

PAD = 0
DIGIT_OFFSET = 1
MAX_BASE = 16
MIN_BASE = 2
PLUS = 17
TIMES = 18
VOCAB_SIZE = 19

ARITHMETIC_KINDS = ("add", "mul")
SEQUENCE_KINDS = ("copy", "reverse", "dup", "sort")
KINDS = ARITHMETIC_KINDS + SEQUENCE_KINDS
MODES = ("uniform", "zero_padded", "unpadded")
DEFAULT_SEQUENCE_BASE = 4

# Canonical names; ``add<b>``, ``mul<b>``, ``copy<b>`` etc. are accepted too.
TASK_NAMES = ("badd", "qadd", "add", "bmul", "qmul", "mul", "copy", "reverse", "dup", "sort")

_ALIASES = {
    "badd": ("add", 2),
    "qadd": ("add", 4),
    "add": ("add", 10),
    "bmul": ("mul", 2),
    "qmul": ("mul", 4),
    "mul": ("mul", 10),
    "copy": ("copy", DEFAULT_SEQUENCE_BASE),
    "reverse": ("reverse", DEFAULT_SEQUENCE_BASE),
    "dup": ("dup", DEFAULT_SEQUENCE_BASE),
    "sort": ("sort", DEFAULT_SEQUENCE_BASE),
}
_CANONICAL = {v: k for k, v in _ALIASES.items()}


def _canonical_name(kind: str, base: int) -> str:
  return _CANONICAL.get((kind, base), f"{kind}{base}")


# Every distinct task, by canonical name (kind-major, base-minor).
ALL_TASK_NAMES = tuple(
    _canonical_name(kind, base)
    for kind in ("add", "mul", "copy", "reverse", "dup", "sort")
    for base in range(2, 17)
)
_NAME_FORMS = (
    "badd, qadd, add, bmul, qmul, mul, add<b>, mul<b>, copy, "
    "reverse, dup, sort, copy<b>, reverse<b>, dup<b>, sort<b> "
    f"with base b in {MIN_BASE}..{MAX_BASE}"
)
_NAME_RE = re.compile(r"^(add|mul|copy|reverse|dup|sort)(\d+)$")


def _min_length(kind: str) -> int:
  if kind in ARITHMETIC_KINDS:
    return 3
  return 2 if kind == "dup" else 1


def _require_arithmetic(task):
  if not task.is_arithmetic:
    raise ValueError(f"Task {task.name!r} is not arithmetic (add/mul).")


@dataclasses.dataclass(frozen=True)
class Task:
  """A task: hashable, so it can be a static argument of ``jax.jit``.

  Attributes:
    name: canonical name (``"bmul"``, ``"add5"``, ``"copy"``, ...).
    kind: one of ``KINDS``.
    base: number base (arithmetic) or alphabet size (sequence tasks).
  """

  name: str
  kind: str
  base: int

  def __post_init__(self):
    if self.kind not in KINDS:
      raise ValueError(f"Task kind {self.kind!r} is not one of {KINDS}.")
    _check_base(self.base, self.kind)
    canonical = _canonical_name(self.kind, self.base)
    if self.name != canonical:
      # Equal tasks must compare equal (and share compiled programs).
      raise ValueError(
          f"Task name {self.name!r} does not match kind "
          f"{self.kind!r} and base {self.base}; use "
          f"{canonical!r} or get_task()."
      )

  @property
  def is_arithmetic(self) -> bool:
    return self.kind in ARITHMETIC_KINDS

  @property
  def operator(self) -> int | None:
    """Operator symbol (``PLUS``/``TIMES``) or None for sequence tasks."""
    return {"add": PLUS, "mul": TIMES}.get(self.kind)

  @property
  def min_length(self) -> int:
    """Smallest example length: 3 for arithmetic, 2 for dup, else 1."""
    return _min_length(self.kind)

  def apply(self, a: int, b: int) -> int:
    """The arithmetic operation on Python integers."""
    if self.kind == "add":
      return a + b
    if self.kind == "mul":
      return a * b
    raise ValueError(f"Task {self.name!r} is not arithmetic.")


def _check_base(base, what):
  if (
      not isinstance(base, (int, np.integer))
      or isinstance(base, bool)
      or not MIN_BASE <= base <= MAX_BASE
  ):
    raise ValueError(
        f"Base {base!r} for {what!r} is outside the allowed range "
        f"{MIN_BASE}..{MAX_BASE}. Allowed task names: "
        f"{_NAME_FORMS}."
    )


def get_task(name: str | Task) -> Task:
  """Looks up a task by name (a ``Task`` is returned unchanged).

  Args:
    name: a canonical name from ``TASK_NAMES`` or ``<kind><base>`` such as
      ``"add5"``, ``"mul16"``, ``"sort3"``; ``"add10"`` is ``"add"``.

  Returns:
    The ``Task``; equal names for the same kind and base give equal tasks.

  Raises:
    ValueError: unknown name or base outside 2..16.
  """
  if isinstance(name, Task):
    return name
  if not isinstance(name, str):
    raise ValueError(f"Task name must be a string, got {name!r}. " f"Allowed: {_NAME_FORMS}.")
  if name in _ALIASES:
    kind, base = _ALIASES[name]
  else:
    match = _NAME_RE.match(name)
    if match is None:
      raise ValueError(f"Unknown task name {name!r}. Allowed: {_NAME_FORMS}.")
    kind, base = match.group(1), int(match.group(2))
    if not MIN_BASE <= base <= MAX_BASE:
      raise ValueError(
          f"Task name {name!r} has base {base}, outside "
          f"{MIN_BASE}..{MAX_BASE}. Allowed: {_NAME_FORMS}."
      )
  return Task(name=_canonical_name(kind, base), kind=kind, base=base)


def _check_mode(mode):
  if mode not in MODES:
    raise ValueError(f"Operand mode {mode!r} is not one of {MODES}.")


def _check_pad_to(task, pad_to):
  if (
      not isinstance(pad_to, (int, np.integer))
      or isinstance(pad_to, bool)
      or pad_to < task.min_length
  ):
    raise ValueError(
        f"pad_to={pad_to!r} must be an int >= {task.min_length} "
        f"(the minimum length of task {task.name!r})."
    )
  if task.kind == "mul":
    k = (int(pad_to) - 1) // 2
    if k * (task.base - 1) ** 2 >= 2**31:
      raise ValueError(
          f"pad_to={pad_to} is too long for exact int32 " f"multiplication in base {task.base}."
      )


def _is_concrete(x) -> bool:
  return not isinstance(x, jax.core.Tracer)
