"""A progress bar towards a run's real stop."""

from __future__ import annotations

import time
from typing import Any


class ProgressBar:
  """A tqdm bar over the larger of the fraction of ``total_steps`` done and the fraction
  of the time budget ``budget_s`` used (when > 0), so a time-limited run's bar and ETA
  end at its time limit, not at a step count it never reaches; a run that stops early
  (solved) closes it there. ``elapsed_s``: seconds spent before this process (a resumed
  run). ``update(step, **postfix)`` moves it and shows the postfix."""

  SCALE = 1000  # the bar counts per-mille of the budget

  def __init__(
      self,
      total_steps: int,
      budget_s: float = 0.0,
      start_step: int = 0,
      elapsed_s: float = 0.0,
      enabled: bool = True,
      desc: str | None = None,
  ):
    self._bar = None
    self._steps = max(int(total_steps), 1)
    self._budget_s = max(float(budget_s or 0.0), 0.0)
    self._t0 = time.time() - float(elapsed_s)
    self._time = time.time
    if enabled:
      from tqdm import tqdm

      self._bar = tqdm(
          total=self.SCALE,
          initial=self.fraction(start_step),
          desc=desc,
          dynamic_ncols=True,
          bar_format="{l_bar}{bar}| {elapsed}<{remaining}{postfix}",
      )
      self._bar.set_postfix(step=start_step)

  def fraction(self, step: int) -> int:
    """Per-mille of the run done at ``step`` now."""
    f = step / self._steps
    if self._budget_s > 0:
      f = max(f, (self._time() - self._t0) / self._budget_s)
    return int(min(f, 1.0) * self.SCALE)

  def update(self, step: int, **postfix: Any) -> None:
    if self._bar is None:
      return
    n = self.fraction(step)
    if n > self._bar.n:
      self._bar.update(n - self._bar.n)
    self._bar.set_postfix(step=step, **postfix)

  def close(self) -> None:
    if self._bar is not None:
      self._bar.close()
