"""The one parser of config-file arguments: ``--config=<file>:<arg>`` hands ``arg`` (e.g.
``"variant=faithful,task=badd,smoke"``) to the file's ``get_config(arg)``, which reads it
with ``parse_arg`` and converts values with ``as_int`` / ``as_float``; every error names
the item and what is allowed. ``apply_overrides`` applies ``key.sub=value`` items, the
language of ``--config.key.sub=value``, wherever a list of overrides is given in text
(a study's recipe, a table's ``--set``)."""

from __future__ import annotations

import ast
from typing import Any, Iterable, Optional


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


def typed_value(key: str, old: Any, text: str) -> Any:
  """``text`` read as a value of ``old``'s type, the way ``--config.key=text`` reads it:
  bools from true/false/1/0, ints, floats, strings, tuples from a Python literal
  (``(8,12,25)``); ValueError naming ``key`` otherwise."""
  if isinstance(old, bool):
    if text not in ("True", "False", "true", "false", "1", "0"):
      raise ValueError(f"{key}={text!r}: expected a bool (true / false)")
    return text in ("True", "true", "1")
  if isinstance(old, int):
    return as_int(key, text)
  if isinstance(old, float):
    return as_float(key, text)
  if isinstance(old, str):
    return text
  if isinstance(old, (tuple, list)) or old is None:
    try:
      v = ast.literal_eval(text)
    except (ValueError, SyntaxError):
      if old is None:
        return text
      raise ValueError(f"{key}={text!r}: expected a tuple literal, e.g. (8,12,25)") from None
    if isinstance(old, (tuple, list)) and not isinstance(v, (tuple, list)):
      raise ValueError(f"{key}={text!r}: expected a tuple literal, e.g. (8,12,25)")
    return tuple(v) if isinstance(v, list) else v
  raise ValueError(f"{key} is a {type(old).__name__}, which cannot be set from text")


def _section_of(config, key: str):
  """(the section holding ``key``'s last part, that part) for a dotted ``key``;
  ValueError naming the key (and what is there) when it is not in ``config``
  (overrides never add keys)."""
  *sections, leaf = key.split(".")
  node = config
  for i, s in enumerate(sections):
    if s not in node or not hasattr(node[s], "keys"):
      raise ValueError(
          f"unknown config key {key!r}: no section {'.'.join(sections[: i + 1])!r}; "
          f"sections: {sorted(k for k in node.keys() if hasattr(node[k], 'keys'))}"
      )
    node = node[s]
  if leaf not in node:
    raise ValueError(f"unknown config key {key!r}; keys there: {sorted(node.keys())}")
  return node, leaf


def set_dotted(config, key: str, value: Any) -> None:
  """``config.a.b = value`` for ``key = "a.b"``; ValueError naming the key (and the keys
  of its section) when it is not in ``config`` (overrides never add keys)."""
  node, leaf = _section_of(config, key)
  node[leaf] = value


def apply_overrides(config, items: Iterable[str]) -> None:
  """``["model.num_maps=24", "curriculum.failure_share=0.2", ...]`` applied to ``config``
  in place: the language of ``--config.key=value`` (dotted keys that must exist, values
  typed from the current value by ``typed_value``); ValueError naming a bad item."""
  for item in items:
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
      raise ValueError(f"override {item!r} must be key=value, e.g. model.num_maps=24")
    node, leaf = _section_of(config, key)
    node[leaf] = typed_value(key, node[leaf], text.strip())
