"""Configuration of the Q-learning tape agents, with validation.

`default_config()` holds the settings of "Learning Simple Algorithms from Examples"
(Zaremba, Mikolov, Joulin & Fergus 2016; its public code): one-layer GRU with
200 units, SGD lr 0.1, gradient-norm clip 5, batch 20, 95% greedy behaviour,
curriculum from complexity 6 in steps of 4 at 99.5% whole-sequence accuracy.
`TABLE_COLUMNS` lists the ten columns of the talk's RL table. `validate` rejects bad
values with a message naming the value and what is allowed, before anything is
compiled.
"""

from __future__ import annotations

import ml_collections

from runkit import config_args

TASKS = ("copy", "reverse", "walk", "add2", "add3", "mul1")
CONTROLLERS = ("gru", "lstm", "ff")

# The talk's RL table: (test length, units, discount, Watkins Q(lambda), penalty);
# discount None means the dynamic discount "D".
TABLE_COLUMNS = (
    (100, 600, 1.0, False, False),
    (100, 400, 1.0, False, False),
    (100, 200, 1.0, False, False),
    (100, 200, 0.99, False, False),
    (100, 200, 0.95, False, False),
    (100, 200, None, False, False),
    (100, 200, None, True, False),
    (100, 200, None, True, True),
    (1000, 200, None, True, False),
    (1000, 200, None, True, True),
)


def default_config() -> ml_collections.ConfigDict:
  """Paper defaults; the table's best column (8: D + Watkins + penalty)."""
  c = ml_collections.ConfigDict()
  c.task = "copy"
  c.controller = "gru"
  c.units = 200
  # GRU / LSTM: Dense(units) + tanh between the recurrent state and the heads, as in
  # the paper's code (x -> GRU -> Linear -> Tanh -> heads).
  c.head_layer = True
  c.dynamic_discount = True
  c.gamma = 1.0  # fixed discount, used when dynamic_discount is False
  c.watkins = True
  c.lambda_ = 1.0  # Watkins trace decay while the behaviour stays greedy
  c.penalty = True
  c.penalty_weight = 0.01
  # The penalty is switched on once the last curriculum window's greedy
  # whole-sequence accuracy reaches this value ("once training accuracy is high").
  c.penalty_start_accuracy = 0.9
  c.epsilon = 0.05
  # With the penalty on (see penalty_start_accuracy), act greedily (epsilon 0), as the
  # paper's code stops exploring on samples it gets right once its penalty is on.
  c.greedy_when_penalty = True
  # A seed that has passed the test takes no more updates: the paper's code ends a run
  # when its test passes, so the policy it reports is the one that passed.
  c.freeze_when_solved = True
  c.optimizer = "sgd"  # "sgd" (the paper) or "adam" (an option of this project)
  c.learning_rate = 0.1
  # An option of this project (1.0 = off, as in the paper): once a seed's curriculum
  # reaches train_max_length, its learning rate is multiplied by this factor, so the
  # last level trains on with smaller steps until the test passes.
  c.top_lr_scale = 1.0
  c.grad_clip = 5.0
  c.batch_size = 20
  # The paper's code minimises the mean over step slots of 10 * CE + 0.5 * td^2
  # (docs/qlearning_vs_original.md, finding 1): "mean" over the valid steps, CE x 10.
  # "sum_time" sums over an episode's steps instead (this project's earlier default).
  c.sup_weight = 10.0
  c.loss_reduction = "mean"
  # Curriculum on the input length (complexity).
  c.curriculum_start = 6
  c.curriculum_step = 4
  c.curriculum_threshold = 0.995
  c.length_spread = 4  # complexity c trains on lengths [c - spread, c]
  # How a complexity (curriculum level, test_length) becomes an input length:
  # "paper" as the paper's code counts it (add2 / add3: cells, i.e. rows x columns;
  # reverse: a sample of complexity c has c // 2 digits; the other tasks: their
  # length), "length": complexity = input length (columns) for every task.
  c.complexity_unit = "paper"
  # add3 only: the talk's "extra curriculum" -- training episodes draw no-carry digits
  # with probability 1 while complexity <= 12, 0.5 while <= 16, then 0
  # (rltape.envs.curriculum.no_carry_fraction); test episodes never do.
  c.no_carry_curriculum = False
  c.curriculum_episodes = 200  # greedy episodes per accuracy window
  c.train_max_length = 30  # static shape of the training environment
  # An option of this project (off: as before): each chunk of updates trains on an
  # environment just long enough for the longest curriculum length among the seeds
  # still training (one compile per level), so early levels take fewer rollout steps.
  # A seed whose curriculum advances past that length inside the chunk trains on at
  # the old length, without window statistics, until the next chunk.
  c.env_buckets = False
  # Success test: greedy whole-sequence accuracy at test_length.
  c.test_length = 100
  c.test_batch = 100
  c.success_accuracy = 1.0
  # Budget and bookkeeping.
  c.num_seeds = 10
  c.num_updates = 20000
  c.chunk_updates = 250
  c.test_every_chunks = 1
  c.checkpoint_every_chunks = 4
  c.stop_when_all_solved = True
  c.wall_budget_s = 0.0  # stop after this much wall time (0: no limit)
  c.seed = 0
  return c


COMPLEXITY_UNITS = ("paper", "length")
OPTIMIZERS = ("sgd", "adam")
# complexity per unit of input length under complexity_unit="paper"
PAPER_COMPLEXITY_PER_LENGTH = {"add2": 2, "add3": 3, "reverse": 2}


def length_of_complexity(c: ml_collections.ConfigDict, complexity):
  """The input length (columns, digits) of episodes at ``complexity`` (int or array)."""
  per = 1
  if c.get("complexity_unit", "length") == "paper":
    per = PAPER_COMPLEXITY_PER_LENGTH.get(c.task, 1)
  if per == 1:
    return complexity
  if isinstance(complexity, int):
    return max(complexity // per, 1)
  import jax.numpy as jnp

  return jnp.maximum(complexity // per, 1)


def column_overrides(col: int) -> dict:
  """Config values of table column `col` (1-based, as in the talk)."""
  if not 1 <= col <= len(TABLE_COLUMNS):
    raise ValueError(f"table column {col!r} out of range; allowed: 1..{len(TABLE_COLUMNS)}")
  test_length, units, gamma, watkins, penalty = TABLE_COLUMNS[col - 1]
  return dict(
      test_length=test_length,
      units=units,
      dynamic_discount=gamma is None,
      gamma=1.0 if gamma is None else gamma,
      watkins=watkins,
      penalty=penalty,
  )


def validate(c: ml_collections.ConfigDict) -> None:
  """Raises ValueError naming the bad value and the allowed ones."""

  def need(ok, msg):
    if not ok:
      raise ValueError(msg)

  need(c.task in TASKS, f"unknown task {c.task!r}; allowed: {TASKS}")
  need(c.controller in CONTROLLERS, f"unknown controller {c.controller!r}; allowed: {CONTROLLERS}")
  need(isinstance(c.units, int) and c.units >= 1, f"units must be a positive int, got {c.units!r}")
  need(0.0 <= c.lambda_ <= 1.0, f"lambda_ must lie in [0, 1], got {c.lambda_!r}")
  need(0.0 < c.gamma <= 1.0, f"gamma must lie in (0, 1], got {c.gamma!r}")
  need(0.0 <= c.epsilon <= 1.0, f"epsilon must lie in [0, 1], got {c.epsilon!r}")
  need(c.penalty_weight >= 0.0, f"penalty_weight must be >= 0, got {c.penalty_weight!r}")
  need(
      0.0 <= c.curriculum_threshold <= 1.0,
      f"curriculum_threshold must lie in [0, 1], got {c.curriculum_threshold!r}",
  )
  need(
      0.0 <= c.success_accuracy <= 1.0,
      f"success_accuracy must lie in [0, 1], got {c.success_accuracy!r}",
  )
  need(
      c.get("complexity_unit", "length") in COMPLEXITY_UNITS,
      f"complexity_unit must be one of {COMPLEXITY_UNITS}, got {c.get('complexity_unit')!r}",
  )
  need(
      isinstance(c.get("head_layer", False), bool),
      f"head_layer must be a bool, got {c.get('head_layer')!r}",
  )
  need(
      isinstance(c.get("env_buckets", False), bool),
      f"env_buckets must be a bool, got {c.get('env_buckets')!r}",
  )
  need(
      isinstance(c.get("freeze_when_solved", False), bool),
      f"freeze_when_solved must be a bool, got {c.get('freeze_when_solved')!r}",
  )
  need(
      c.loss_reduction in ("sum_time", "mean"),
      f"loss_reduction must be 'sum_time' or 'mean', got {c.loss_reduction!r}",
  )
  need(
      c.get("optimizer", "sgd") in OPTIMIZERS,
      f"optimizer must be one of {OPTIMIZERS}, got {c.get('optimizer')!r}",
  )
  need(c.learning_rate > 0, f"learning_rate must be > 0, got {c.learning_rate!r}")
  need(
      0.0 < c.get("top_lr_scale", 1.0) <= 1.0,
      f"top_lr_scale must lie in (0, 1], got {c.get('top_lr_scale')!r}",
  )
  for name in (
      "batch_size",
      "num_seeds",
      "num_updates",
      "chunk_updates",
      "curriculum_episodes",
      "test_batch",
      "test_every_chunks",
      "checkpoint_every_chunks",
  ):
    v = c[name]
    need(isinstance(v, int) and v >= 1, f"{name} must be an int >= 1, got {v!r}")
  need(c.curriculum_step >= 0, f"curriculum_step must be >= 0, got {c.curriculum_step!r}")
  need(
      1 <= c.curriculum_start <= c.train_max_length,
      f"curriculum_start {c.curriculum_start!r} must lie in "
      f"[1, train_max_length={c.train_max_length!r}]",
  )
  need(c.length_spread >= 0, f"length_spread must be >= 0, got {c.length_spread!r}")
  need(c.test_length >= 1, f"test_length must be >= 1, got {c.test_length!r}")
  need(
      not c.get("no_carry_curriculum", False) or c.task == "add3",
      f"no_carry_curriculum=True needs task 'add3' (3-row addition), got task {c.task!r}",
  )
  need(
      c.num_updates % c.chunk_updates == 0,
      f"num_updates ({c.num_updates}) must be a multiple of chunk_updates " f"({c.chunk_updates})",
  )


_INT_KEYS = dict(
    seeds="num_seeds",
    updates="num_updates",
    chunk="chunk_updates",
    max_len="train_max_length",
    test_batch="test_batch",
    units="units",
    seed="seed",
    batch="batch_size",
    test_every="test_every_chunks",
)


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  """A named Q-learning config (the binaries read it through
  ``experiments/configs/qlearning.py``; notebooks call it). ``arg``: comma-separated switches

    task=copy|reverse|walk|add2|add3|mul1   (default copy)
    controller=gru|lstm|ff                  (default gru)
    col=1..10   a column of the talk's RL table (units, discount, Watkins Q(lambda),
                penalty, test length); default 8 = dynamic discount + Watkins + penalty
    seeds=N, updates=N, chunk=N, max_len=N, test_batch=N, units=N, seed=N, batch=N,
    test_every=N   budget knobs
    smoke       a seconds-long run (tiny controller, 2 seeds) for tests

  ValueError naming an unknown switch or a bad value."""
  opts = config_args.parse_arg(arg)
  c = default_config()
  c.task = opts.pop("task", c.task)
  c.controller = opts.pop("controller", c.controller)
  col = config_args.as_int("col", opts.pop("col", "8"))
  c.update(column_overrides(col))
  if opts.pop("smoke", None):
    c.update(
        dict(
            units=16,
            num_seeds=2,
            batch_size=4,
            num_updates=4,
            chunk_updates=2,
            train_max_length=8,
            curriculum_episodes=8,
            test_length=min(c.test_length, 12),
            test_batch=4,
            checkpoint_every_chunks=1,
        )
    )
  for k, v in list(opts.items()):
    if k in _INT_KEYS:
      c[_INT_KEYS[k]] = config_args.as_int(k, v)
      opts.pop(k)
  if opts:
    raise ValueError(
        f"unknown config options {sorted(opts)}; allowed: task, "
        f"controller, col, smoke, {', '.join(sorted(_INT_KEYS))}"
    )
  validate(c)
  return c
