"""Pictures of training runs: learning curves, error against test length, a pool's
solved fraction, the Neural GPU state over its steps, Q-values and policy over an
episode.

* ``plotkit.workdir``: reads a workdir of ``experiments/train_neuralgpu.py``,
  ``train_neuralgpu.py``, ``train_qlearning.py`` or ``train_rlntm.py`` (only reads);
* ``plotkit.curves``: figures from the records of a workdir (matplotlib only);
* ``plotkit.ngpu``: the Neural GPU state over its steps (``neuralgpu.model.state_trace``);
* ``plotkit.rl``: Q-values and policy over a greedy episode of a tape agent;
* ``plotkit.render``: every picture of one workdir as PNGs (the library side of
  ``python -m experiments.plot_workdir``).

Figures are ``matplotlib.figure.Figure`` objects drawn on the Agg canvas: nothing
touches pyplot's global state, so the same functions serve scripts, tests and
notebooks.
"""
