"""Text traces of episodes, in the style of the talk's "Time / Input Tape / Output Tape".

One row per time step: the time, the head position, the symbol under the head before
the step (Input Tape column), the head move taken, what the step wrote to the output
tape ('#' when it wrote nothing, as in the talk's traces) with a mark for a wrong write,
and the reward. A header shows the whole input and the target; a footer shows the output
tape, the return and how the episode ended.

    Copy   input: ABCDE   target: ABCDE
    Time  Head  Input Tape  Move   Output Tape  Reward
       0     0  A           right  A             +1.0
       ...
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np


def _as_state_list(states: Any) -> list:
  """Normalises one state, a list of states, or a time-stacked state to a list."""
  if isinstance(states, (list, tuple)):
    return [jax.tree_util.tree_map(np.asarray, s) for s in states]
  host = jax.tree_util.tree_map(np.asarray, states)
  if host.time.ndim == 0:
    return [host]
  if host.time.ndim != 1:
    raise ValueError(
        "render: give one episode (states with at most a leading time axis), "
        f"got time with shape {host.time.shape}; slice the batch first"
    )
  n = host.time.shape[0]
  return [jax.tree_util.tree_map(lambda x, i=i: x[i], host) for i in range(n)]


def input_text(env, state) -> str:
  """The active input of one state: a tape line, or one line per grid row."""
  s = jax.tree_util.tree_map(np.asarray, state)
  width = int(s.width)
  rows = [r for r in range(env.rows) if (s.inputs[r] != env.blank).any()] or [0]
  lines = ["".join(env.symbol_char(v) for v in s.inputs[r, :width]) for r in rows]
  return "\n".join(lines)


def _head_text(env, head) -> str:
  if env.grid:
    return f"({int(head[0])},{int(head[1])})"
  return str(int(head[1]))


def render(env, states: Any) -> str:
  """See `AlgorithmicEnv.render`."""
  seq = _as_state_list(states)
  first = seq[0]
  n_t = int(first.num_targets)
  target = "".join(env.symbol_char(v) for v in first.targets[:n_t])
  inp = input_text(env, first)
  out = []
  if "\n" in inp:
    out.append(f"{env.name}  input grid:")
    out.extend("  " + line for line in inp.split("\n"))
    out.append(f"target: {target}")
  else:
    out.append(f"{env.name}  input: {inp}  target: {target}")
  out.append(
      f"{'Time':>4}  {'Head':>7}  {'Input Tape':<10}  {'Move':<5}  "
      f"{'Output Tape':<11}  {'Reward':>6}"
  )
  written = []
  for prev, cur in zip(seq[:-1], seq[1:]):
    if int(cur.time) == int(prev.time):  # no-op step after the end
      continue
    move, write, sym = (int(v) for v in cur.last_action)
    under = env.observe(prev.inputs, prev.head)
    cell = env.symbol_char(int(under))
    if write == 1:
      wp = int(prev.write_pos)
      ok = wp < n_t and sym == int(first.targets[wp])
      ch = env.symbol_char(sym) if 0 <= sym < env.base else f"<{sym}>"
      written.append(ch)
      wtxt = ch + ("" if ok else " (wrong)")
    else:
      wtxt = "#"
    mname = env.move_names[min(max(move, 0), env.num_moves - 1)]
    out.append(
        f"{int(prev.time):>4}  {_head_text(env, prev.head):>7}  {cell:<10}  "
        f"{mname:<5}  {wtxt:<11}  {float(cur.last_reward):>+6.1f}"
    )
  last = seq[-1]
  how = ("terminated" if bool(last.terminated) else "") + (
      " truncated" if bool(last.truncated) else ""
  )
  out.append(
      f"output: {''.join(written)}  return: {float(last.episode_return):+.1f}  "
      f"steps: {int(last.time)}  {how.strip() or 'running'}"
  )
  return "\n".join(out)
