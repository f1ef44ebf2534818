"""The one parser of config-file arguments: ``--config=<file>:<arg>`` hands ``arg`` (e.g.
``"variant=faithful,task=badd,smoke"``) to the file's ``get_config(arg)``, which reads it
with ``parse_arg`` and converts values with ``as_int`` / ``as_float``; every error names
the item and what is allowed."""

from __future__ import annotations

from typing import Iterable, Optional


def parse_arg(
    arg: Optional[str], keys: Optional[Iterable[str]] = None, flags: Optional[Iterable[str]] = None
) -> dict:
  """``"key=value,word,..."`` -> ``{key: "value", word: True}`` (values stay strings).

  ``keys``: the allowed ``key=value`` keys (None: any key, for configs that check their
  own). ``flags``: the allowed bare words (None: any, ``()``: none); a bare word outside
  them is refused, as is a key outside ``keys``."""
  keys = None if keys is None else tuple(keys)
  flags = None if flags is None else tuple(flags)
  out = {}
  for item in (arg or "").split(","):
    item = item.strip()
    if not item:
      continue
    if "=" not in item:
      if flags is not None and item not in flags:
        allowed = f"keys: {keys}" + (f", words: {flags}" if flags else "")
        raise ValueError(f"config arg item {item!r} is not key=value; {allowed}")
      out[item] = True
      continue
    k, v = (x.strip() for x in item.split("=", 1))
    if keys is not None and k not in keys:
      raise ValueError(f"unknown config arg key {k!r}; allowed: {keys}")
    out[k] = v
  return out


def as_int(name: str, value, minimum: Optional[int] = None) -> int:
  """``value`` as an int; ValueError naming ``name`` when it is not one or is below
  ``minimum``."""
  try:
    v = int(value)
  except (TypeError, ValueError):
    raise ValueError(f"{name}={value!r} must be an integer") from None
  if minimum is not None and v < minimum:
    raise ValueError(f"{name}={v} must be >= {minimum}")
  return v


def as_float(name: str, value) -> float:
  """``value`` as a float; ValueError naming ``name`` when it is not a number."""
  try:
    return float(value)
  except (TypeError, ValueError):
    raise ValueError(f"{name}={value!r} must be a number") from None
