"""Q-learning on the "Learning Simple Algorithms" tasks (Zaremba et al. 2016).

`get_config(arg)` takes comma-separated variant switches:

  task=copy|reverse|walk|add2|add3|mul1   (default copy)
  controller=gru|lstm|ff                  (default gru)
  col=1..10   a column of the talk's RL table (units, discount, Watkins Q(lambda),
              penalty, test length); default 8 = dynamic discount + Watkins + penalty
  seeds=N, updates=N, chunk=N, max_len=N, test_batch=N   budget knobs
  smoke       a seconds-long run (tiny controller, 2 seeds) for tests

Launch (one cell of the table, 10 seeds, test length 100):

  nice -n 15 python experiments/train_rltape.py \
      --config=experiments/configs/rltape.py:task=copy,controller=gru,col=8 \
      --workdir=/tmp/rltape/copy_gru_col8
"""
from rltape.qlearning import config as config_lib

_INT_KEYS = dict(seeds="num_seeds", updates="num_updates", chunk="chunk_updates",
                 max_len="train_max_length", test_batch="test_batch",
                 units="units", seed="seed", batch="batch_size",
                 test_every="test_every_chunks")


def get_config(arg=None):
  opts = config_lib.parse_arg(arg)
  c = config_lib.default_config()
  c.task = opts.pop("task", c.task)
  c.controller = opts.pop("controller", c.controller)
  col = opts.pop("col", "8")
  try:
    col = int(col)
  except ValueError:
    raise ValueError(f"col must be an int in 1..10, got {col!r}") from None
  c.update(config_lib.column_overrides(col))
  if opts.pop("smoke", None):
    c.update(dict(units=16, num_seeds=2, batch_size=4, num_updates=4,
                  chunk_updates=2, train_max_length=8, curriculum_episodes=8,
                  test_length=min(c.test_length, 12), test_batch=4,
                  checkpoint_every_chunks=1))
  for k, v in list(opts.items()):
    if k in _INT_KEYS:
      try:
        c[_INT_KEYS[k]] = int(v)
      except ValueError:
        raise ValueError(f"{k} must be an int, got {v!r}") from None
      opts.pop(k)
  if opts:
    raise ValueError(f"unknown config options {sorted(opts)}; allowed: task, "
                     f"controller, col, smoke, {', '.join(sorted(_INT_KEYS))}")
  config_lib.validate(c)
  return c
