"""The RL-NTM's configs (REINFORCE + memory tape, Zaremba & Sutskever 2015) on the gym
tape tasks and ForwardReverse: the library default and its named variants. The binaries
read them through the config file ``experiments/configs/rlntm.py``; a notebook imports
them from here. ``validate(config)`` checks a config; ``agent_config(config)`` reads
its agent settings (a workdir made before a key was added reads that key's old default,
``ADDED_AGENT_DEFAULTS``).

`get_config(arg)` takes comma-separated switches (`get_config()` is the default):

  task=Copy|DuplicatedInput|Reverse|RepeatCopy|ForwardReverse   (default Copy)
  train=N        longest training length (default per task); test = 2 * train
  seeds=N, updates=N, chunk=N, batch=N, wall=SECONDS, hidden=N, seed=N
  entropy=X, lr=X  entropy bonus (default 0.01) and Adam learning rate (default 3e-3)
  nobaseline     REINFORCE without the learned baseline
  envreturn      the REINFORCE return is the environment reward only; log p(target)
                 trains the symbol softmax as a supervised loss where the agent writes
  symbol=lstm|direct   where the output symbol comes from (default lstm): the
                 LSTM output, or directly the symbol under the input head and the
                 memory read (the LSTM cannot memorise the input and replay it)
  memwrite=gate|sampled|hard   how a memory cell is written (default gate): blended by a
                 gate trained by backpropagation, or overwritten / kept by a sampled
                 action trained by REINFORCE (a cell then holds one vector, never a blend),
                 or by the gate rounded to 0 / 1 with a straight-through gradient
  core=lstm|ff   the controller (default lstm): the RL-NTM's LSTM, or a feed-forward
                 layer on the observation, memory read and previous actions (it
                 cannot count steps)
  restart=N      re-initialise a seed not solved within N updates of its current
                 initialisation (0, the default: never); a seed is then a training run
                 with restarts, and the summary also gives the rate per initialisation
  smoke          a seconds-long run (tiny controller, 2 seeds) for tests

Moves: the input head gets left / stay / right (moves=(-1, 0, 1)) except on
ForwardReverse, whose head only stays or moves right, so the memory tape is
needed. Launch (10 seeds, at most 2 hours):

  nice -n 15 python experiments/train_rlntm.py \\
      --config=experiments/configs/rlntm.py:task=Copy,seeds=10,wall=7200 \\
      --workdir=/tmp/rlntm/copy
"""

import ml_collections

import rltape.envs as envs
from rltape.reinforce import agent as agent_lib
from rltape.reinforce.controller import CORES, MEMORY_WRITES, SYMBOL_SOURCES
from runkit import config_args

TASKS = ("Copy", "DuplicatedInput", "Reverse", "RepeatCopy", "ForwardReverse")
# Longest training length per task; the test length is twice it.
_TRAIN_LENGTH = dict(Copy=10, DuplicatedInput=10, Reverse=8, RepeatCopy=6, ForwardReverse=8)

_INT_KEYS = dict(
    train="train_length",
    seeds="num_seeds",
    updates="max_updates",
    chunk="chunk_updates",
    batch="batch_size",
    wall="max_wall_s",
    seed="seed",
    restart="restart_after",
)


def get_config(arg=None):
  opts = config_args.parse_arg(arg)
  c = ml_collections.ConfigDict()
  c.task = opts.pop("task", "Copy")
  if c.task not in TASKS:
    raise ValueError(f"task must be one of {TASKS}, got {c.task!r}")
  c.moves = (0, 1) if c.task == "ForwardReverse" else (-1, 0, 1)
  c.base = 0  # 0: the task's default base
  c.train_length = _TRAIN_LENGTH[c.task]
  c.test_length = 0  # derived below: 2 * train_length
  c.start_length = 1
  c.promote_threshold = 0.9  # batch success rate at the curriculum length
  c.seed = 0
  c.num_seeds = 10
  c.batch_size = 32
  c.chunk_updates = 100
  c.max_updates = 20_000
  c.max_wall_s = 7200.0
  c.restart_after = 0  # updates; 0: a seed is never re-initialised
  c.eval_every_chunks = 1
  c.eval_episodes = 64
  c.final_eval_episodes = 256
  c.checkpoint_every_chunks = 5
  c.num_traces = 2
  c.trace_length = 20
  c.progress_bar = True

  c.agent = ml_collections.ConfigDict()
  c.agent.hidden = 64
  c.agent.mem_dim = 16
  c.agent.logit_scale = 1.0
  c.agent.gamma = 1.0
  c.agent.nll_coef = 1.0
  c.agent.entropy_coef = 0.01
  c.agent.baseline_coef = 0.5
  c.agent.use_baseline = True
  c.agent.symbol_source = "lstm"
  c.agent.nll_in_return = True
  c.agent.memory_write = "gate"
  c.agent.core = "lstm"

  c.optimizer = ml_collections.ConfigDict()
  c.optimizer.name = "adam"
  c.optimizer.learning_rate = 3e-3
  c.optimizer.momentum = 0.9
  c.optimizer.grad_clip = 5.0

  if opts.pop("smoke", None):
    c.update(
        dict(
            num_seeds=2,
            batch_size=4,
            chunk_updates=2,
            max_updates=6,
            train_length=3,
            eval_episodes=4,
            final_eval_episodes=4,
            checkpoint_every_chunks=1,
            trace_length=6,
            progress_bar=False,
        )
    )
    c.agent.hidden = 8
    c.agent.mem_dim = 4
  if opts.pop("nobaseline", None):
    c.agent.use_baseline = False
  if opts.pop("envreturn", None):
    c.agent.nll_in_return = False
  for name, target in (("entropy", "entropy_coef"), ("lr", "learning_rate")):
    if name in opts:
      v = config_args.as_float(name, opts.pop(name))
      (c.agent if name == "entropy" else c.optimizer)[target] = v
  for name, key, allowed in (
      ("symbol", "symbol_source", SYMBOL_SOURCES),
      ("memwrite", "memory_write", MEMORY_WRITES),
      ("core", "core", CORES),
  ):
    if name in opts:
      v = opts.pop(name)
      if v not in allowed:
        raise ValueError(f"{name} must be {' or '.join(map(repr, allowed))}, got {v!r}")
      c.agent[key] = v
  if "hidden" in opts:
    c.agent.hidden = config_args.as_int("hidden", opts.pop("hidden"))
  for k in list(opts):
    if k in _INT_KEYS:
      v = config_args.as_int(k, opts.pop(k))
      c[_INT_KEYS[k]] = float(v) if k == "wall" else v
  if opts:
    raise ValueError(
        f"unknown config options {sorted(opts)}; allowed: task, smoke, "
        f"nobaseline, envreturn, hidden, symbol, memwrite, core, entropy, lr, {', '.join(sorted(_INT_KEYS))}"
    )
  c.test_length = 2 * c.train_length
  return c


# Config keys a run may change when it resumes a workdir (budgets and reporting only).
RESUMABLE_KEYS = (
    "max_updates",
    "max_wall_s",
    "progress_bar",
    "final_eval_episodes",
    "num_traces",
    "trace_length",
    "checkpoint_every_chunks",
)

# Top-level keys added after the first workdirs were made, with the value a config
# without them means.
ADDED_DEFAULTS = {"restart_after": 0}


# Agent keys added after the first workdirs were made, with the value a config
# without them means (the defaults of the original agent).
ADDED_AGENT_DEFAULTS = {
    "agent.symbol_source": "lstm",
    "agent.nll_in_return": True,
    "agent.memory_write": "gate",
    "agent.core": "lstm",
}


def agent_config(config: ml_collections.ConfigDict) -> agent_lib.AgentConfig:
  a = config.agent
  added = {
      k.split(".", 1)[1]: a.get(k.split(".", 1)[1], v) for k, v in ADDED_AGENT_DEFAULTS.items()
  }
  return agent_lib.AgentConfig(
      hidden=a.hidden,
      mem_dim=a.mem_dim,
      logit_scale=a.logit_scale,
      gamma=a.gamma,
      nll_coef=a.nll_coef,
      entropy_coef=a.entropy_coef,
      baseline_coef=a.baseline_coef,
      use_baseline=a.use_baseline,
      symbol_source=added["symbol_source"],
      nll_in_return=bool(added["nll_in_return"]),
      memory_write=added["memory_write"],
      core=added["core"],
  )


def validate(config: ml_collections.ConfigDict) -> None:
  """Raises ValueError naming the bad value and what is allowed."""
  names = envs.registered_names()
  tape_tasks = ("Copy", "DuplicatedInput", "RepeatCopy", "Reverse", "ForwardReverse")
  if config.task not in tape_tasks:
    raise ValueError(
        f"task must be one of {tape_tasks} (RL-NTM tape tasks), got "
        f"{config.task!r}; registered environments: {names}"
    )
  for k in (
      "train_length",
      "test_length",
      "num_seeds",
      "batch_size",
      "chunk_updates",
      "max_updates",
      "eval_episodes",
      "final_eval_episodes",
      "start_length",
  ):
    v = config[k]
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
      raise ValueError(f"config.{k} must be a positive int, got {v!r}")
  if config.test_length < 2 * config.train_length:
    raise ValueError(
        f"config.test_length must be >= 2 * train_length = "
        f"{2 * config.train_length}, got {config.test_length}"
    )
  if config.start_length > config.train_length:
    raise ValueError(
        f"config.start_length must be <= train_length="
        f"{config.train_length}, got {config.start_length}"
    )
  if config.optimizer.name not in ("adam", "sgd"):
    raise ValueError(
        f"config.optimizer.name must be 'adam' or 'sgd', got " f"{config.optimizer.name!r}"
    )
  if not config.optimizer.learning_rate > 0:
    raise ValueError(
        f"config.optimizer.learning_rate must be > 0, got " f"{config.optimizer.learning_rate!r}"
    )
  restart_after = config.get("restart_after", 0)
  if not isinstance(restart_after, int) or isinstance(restart_after, bool) or restart_after < 0:
    raise ValueError(
        f"config.restart_after must be an int >= 0 (0: no restarts), got " f"{restart_after!r}"
    )
  if restart_after and restart_after % config.chunk_updates:
    raise ValueError(
        f"config.restart_after must be a multiple of chunk_updates="
        f"{config.chunk_updates} (restarts happen between chunks), got "
        f"{restart_after}"
    )
  if not 0.0 < config.promote_threshold <= 1.0:
    raise ValueError(
        f"config.promote_threshold must be in (0, 1], got " f"{config.promote_threshold!r}"
    )
  a = config.agent
  if a.hidden < 1 or a.mem_dim < 1:
    raise ValueError(
        f"config.agent.hidden and mem_dim must be >= 1, got " f"{a.hidden}, {a.mem_dim}"
    )
  for key, allowed in (
      ("symbol_source", SYMBOL_SOURCES),
      ("memory_write", MEMORY_WRITES),
      ("core", CORES),
  ):
    value = a.get(key, ADDED_AGENT_DEFAULTS[f"agent.{key}"])
    if value not in allowed:
      raise ValueError(f"config.agent.{key} must be one of {allowed}, got {value!r}")
  if not 0.0 <= a.gamma <= 1.0:
    raise ValueError(f"config.agent.gamma must be in [0, 1], got {a.gamma!r}")
  if not a.logit_scale > 0:
    raise ValueError(f"config.agent.logit_scale must be > 0, got {a.logit_scale!r}")
  if a.entropy_coef < 0 or a.baseline_coef < 0 or a.nll_coef < 0:
    raise ValueError(
        "config.agent entropy_coef, baseline_coef and nll_coef must be >= 0, "
        f"got {a.entropy_coef}, {a.baseline_coef}, {a.nll_coef}"
    )
  if config.moves:
    moves = tuple(config.moves)
    if not set(moves) <= {-1, 0, 1} or len(set(moves)) != len(moves):
      raise ValueError(f"config.moves must be distinct deltas from (-1, 0, 1), got {moves}")
