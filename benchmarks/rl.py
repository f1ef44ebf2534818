"""RL section of the benchmark suite: environment and agent-training throughput.

    from benchmarks import rl
    result = rl.run("tiny")    # seconds (the test suite runs it); "full": a few minutes
    print(result["markdown"])

Two measurements, each a ratio of programs timed in the same process, in interleaved
rounds (every program once per round, so all of them see the same machine load); a row
gives the best run of each side, the ratio of the bests and the median per-round ratio.
A timed block is `calls_per_block` calls of a program, as many as make it last about
one reference run (environments) or `min_block_s` (agents) or more, so that a short
program's best-of is not luckier than a long one's on a loaded machine. Compile time
(`jit(...).lower(...).compile()`) is reported apart and excluded, and each compiled
program runs once untimed before the rounds.

1. Environment steps/s (the logic of `benchmarks/bench_envs.py`): one jitted program
   per task and env count, `vmap` over the envs inside a `lax.scan` over steps; each
   step draws a uniformly random action per env, steps every env and resets the
   finished ones with `rltape.envs.auto_reset` (a fresh reset is computed for every env
   each step, so reset cost is included). Baseline: the plain-Python
   `rltape.envs.reference.ReferenceEnv` (gym 0.19.0's algorithmic rules, standard
   library only), one env in one process, the same random policy, reset on done, run
   for a fixed wall time per round. Every counted step is a transition of a running
   episode (done envs are reset before the next step; a reset is not a step).

2. Agent training env-steps/s for a pool of seeds in one program against one seed:
   * Q-learning (`rltape.qlearning.train`, Zaremba et al. 2016, "Learning Simple
     Algorithms from Examples"): `jax.jit(agent.train_chunk)`, the trainer's chunk of
     `chunk_updates` updates with the seed axis vmapped inside;
   * REINFORCE (`rltape.reinforce.train`, the RL-NTM of Zaremba & Sutskever 2015,
     "Reinforcement Learning Neural Turing Machines"): `jax.jit(jax.vmap(train_chunk))`
     over the seeds, as `train_and_evaluate` does.
   The programs start from fresh initial states (curriculum at its start; the pools
   take the first seeds of one set, initialised one seed at a time, see `_seed_pool`)
   and are not donated (the same state is reused every round; the trainers donate it).
   Env steps are counted as the environment transitions each update's rollout computes:
   an episode is a fixed-length `lax.scan` of the training environment's `max_steps`
   steps, so a chunk takes `max_steps x batch x updates x seeds` env steps. Steps after
   an episode has ended are computed but change nothing; the share of steps taken while
   the episode was still running ("live") is reported too: for REINFORCE from the
   chunk's own metrics (`steps` = alive steps per episode), for Q-learning by a separate,
   untimed run of the one-seed program whose environment counts, on the host, every
   step it is asked to take and whether that episode was running (same initial state,
   so the same episodes).

`SETTINGS` holds every size's sizes; "tiny" (the test suite's smoke run, compile-bound)
compiles at XLA backend optimisation level 0, so its throughputs are not representative.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections

import rltape.envs as envs
from rltape.envs.hashing import hash_bits
from rltape.envs.reference import ReferenceEnv
from rltape.qlearning import config as ql_config_lib
from rltape.qlearning import train as ql_train
from rltape.reinforce import config as rf_config_lib
from rltape.reinforce import train as rf_train

SIZES = ("tiny", "full")

# Everything a size passes to the programs; the test recomputes the step counts from it.
SETTINGS: dict[str, dict[str, Any]] = {
    "tiny": dict(
        rounds=3,
        # A compile-bound smoke size for the test suite: XLA's backend optimisation
        # level 0 halves the compile time (about 9 programs); its throughputs are not
        # representative of the default compilation that "full" measures.
        compiler_options={"xla_backend_optimization_level": 0},
        env_tasks=(("Copy", 10), ("ReversedAddition", 10)),
        env_counts=((1, 500), (64, 50)),  # (envs, scan steps) per program
        reference_seconds=0.05,  # reference run per round
        min_block_s=0.0,  # agents: one call per timed block
        # Table column 3 (plain Q-learning, no discount): it compiles faster than 8.
        ql=dict(
            column=3,
            task="copy",
            controller="ff",
            units=16,
            batch_size=4,
            train_max_length=8,
            test_length=12,
            test_batch=4,
            chunk_updates=2,
        ),
        ql_seeds=(1, 8, 64),
        ql_count_live=True,
        rf=dict(task="Copy", train_length=3, batch_size=4, chunk_updates=2, hidden=8, mem_dim=4),
        rf_seeds=(1, 8),
    ),
    "full": dict(
        rounds=5,
        compiler_options=None,  # XLA's defaults
        env_tasks=(("Copy", 10), ("ReversedAddition", 10)),
        env_counts=((1, 5000), (1024, 200)),
        reference_seconds=0.5,
        min_block_s=1.0,
        # The paper's controller and table column 8 (GRU 200, batch 20) on copy.
        ql=dict(
            column=8,
            task="copy",
            controller="gru",
            units=200,
            batch_size=20,
            train_max_length=30,
            test_length=100,
            test_batch=100,
            chunk_updates=2,
        ),
        ql_seeds=(1, 8, 64),
        ql_count_live=True,
        # RL-NTM defaults of rltape.reinforce.config (LSTM 64, memory 16, batch 32).
        rf=dict(
            task="Copy", train_length=10, batch_size=32, chunk_updates=4, hidden=64, mem_dim=16
        ),
        rf_seeds=(1, 8),
    ),
}


def _check_size(size: str) -> dict[str, Any]:
  if size not in SIZES:
    raise ValueError(f"unknown benchmark size {size!r}; allowed: {', '.join(SIZES)}")
  return SETTINGS[size]


def _timed(fn: Callable, args: tuple, reps: int = 1):
  """(seconds, last output) of `reps` calls of fn(*args), each waited for (so that
  calls never overlap)."""
  t0 = time.perf_counter()
  for _ in range(reps):
    out = jax.block_until_ready(fn(*args))
  return time.perf_counter() - t0, out


def _reps(fn: Callable, args: tuple, min_seconds: float) -> int:
  """Calls per timed block so that a block lasts about `min_seconds` (at least one):
  blocks of similar length see the same share of the machine's load, so that the
  best-of of a short program is not luckier than that of a long one."""
  if min_seconds <= 0:
    return 1
  return max(1, math.ceil(min_seconds / _timed(fn, args)[0]))


def _compile(s: dict, fn: Callable, *args):
  """(compiled executable of fn at args, compile seconds); it then runs once untimed."""
  t0 = time.perf_counter()
  compiled = jax.jit(fn).lower(*args).compile(compiler_options=s["compiler_options"])
  seconds = time.perf_counter() - t0
  jax.block_until_ready(compiled(*args))
  return compiled, seconds


def _call(s: dict, fn: Callable, *args):
  """fn(*args), compiled with the size's compiler options (for untimed programs)."""
  return jax.jit(fn).lower(*args).compile(compiler_options=s["compiler_options"])(*args)


def _first_seeds(states, n: int):
  """The first n seeds of a state with a leading seed axis on every leaf."""
  return jax.tree_util.tree_map(lambda x: x[:n], states)


def _seed_pool(s: dict, init_one: Callable, n: int):
  """States of n seeds (keys fold_in(key(0), i)) with a leading seed axis, made by
  one compiled single-seed `init_one(key) -> state` (leaves get a new leading axis).

  One seed at a time: a vmapped initialisation of several GRU-200 seeds (a batched
  QR per orthogonal recurrent kernel, several in one program) hangs XLA:CPU's
  thread pool on a 2-core machine (jax 0.10.2)."""
  keys = [jax.random.fold_in(jax.random.key(0), i) for i in range(n)]
  init = jax.jit(init_one).lower(keys[0]).compile(compiler_options=s["compiler_options"])
  return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *[init(k) for k in keys])


def _median(xs):
  return statistics.median(xs)


# ----------------------------------------------------------------- environments
def random_actions(key, n_envs, env):
  """int32 [n_envs, 3] uniform actions (move, write flag, symbol), one hash word per env."""
  bits = hash_bits(jax.random.bits(key, (2,), jnp.uint32), (n_envs,), stream=1)
  move = ((bits & 0xFFFF) * env.num_moves) >> 16
  write = (bits >> 16) & 1
  symbol = ((bits >> 17) * env.base) >> 15
  return jnp.stack([move, write, symbol], axis=1).astype(jnp.int32)


def make_env_runner(env, params, n_envs: int, n_steps: int):
  """run(key) -> (total reward, episodes finished) over n_envs x n_steps env steps."""
  reset = jax.vmap(env.reset, in_axes=(0, None))
  step = jax.vmap(env.step, in_axes=(None, 0, 0, None))

  def run(key):
    k_init, k_loop = jax.random.split(key)
    _, state = reset(jax.random.split(k_init, n_envs), params)

    def body(carry, t):
      state, total, episodes = carry
      k_act, k_reset = jax.random.split(jax.random.fold_in(k_loop, t))
      obs, stepped, reward, term, trunc, _ = step(
          k_act, state, random_actions(k_act, n_envs, env), params
      )
      done = term | trunc
      _, state = envs.auto_reset(env, k_reset, obs, stepped, done, params)
      return (state, total + reward.sum(), episodes + done.sum()), None

    init = (state, jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32))
    (_, total, episodes), _ = jax.lax.scan(body, init, jnp.arange(n_steps))
    return total, episodes

  return run


def reference_run(name: str, length: int, min_seconds: float, seed: int) -> dict:
  """The plain-Python reference env under a random policy for >= min_seconds."""
  env = ReferenceEnv(name, seed=seed)
  rng = random.Random(seed)
  n_moves, base = len(env.movements), env.base
  steps = episodes = 0
  env.reset(length)
  t0 = time.perf_counter()
  while True:
    for _ in range(200):
      _, _, done, _ = env.step((rng.randrange(n_moves), rng.randrange(2), rng.randrange(base)))
      steps += 1
      if done:
        episodes += 1
        env.reset(length)
    elapsed = time.perf_counter() - t0
    if elapsed >= min_seconds:
      break
  return {"steps": steps, "seconds": elapsed, "episodes": episodes}


def env_rows(s: dict) -> list[dict]:
  """One row per task and env count: JAX against the reference in the same rounds
  (one reference run per round and task serves both env counts)."""
  rows = []
  for name, length in s["env_tasks"]:
    env = envs.make(name, max_length=length)
    params = envs.make_params(length, 0)
    progs = []
    for n_envs, n_steps in s["env_counts"]:
      fn, compile_s = _compile(s, make_env_runner(env, params, n_envs, n_steps), jax.random.key(0))
      # JAX blocks last about as long as a reference run.
      reps = _reps(fn, (jax.random.key(0),), s["reference_seconds"])
      progs.append(
          dict(
              fn=fn,
              n_envs=n_envs,
              n_steps=n_steps,
              compile_s=compile_s,
              reps=reps,
              rate=[],
              episodes=[],
          )
      )
    ref_rate, ref_steps, ref_eps = [], 0, 0
    for r in range(s["rounds"]):
      for p in progs:
        seconds, (_, eps) = _timed(p["fn"], (jax.random.key(r + 1),), p["reps"])
        p["rate"].append(p["reps"] * p["n_envs"] * p["n_steps"] / seconds)
        p["episodes"].append(int(eps))
      ref = reference_run(name, length, s["reference_seconds"], r)
      ref_rate.append(ref["steps"] / ref["seconds"])
      ref_steps += ref["steps"]
      ref_eps += ref["episodes"]
    for p in progs:
      env_steps = p["n_envs"] * p["n_steps"]
      rows.append(
          dict(
              what="env_steps",
              task=name,
              length=length,
              n_envs=p["n_envs"],
              n_steps=p["n_steps"],
              env_steps=env_steps,
              rounds=s["rounds"],
              calls_per_block=p["reps"],
              jax_steps_per_s=max(p["rate"]),
              reference_steps_per_s=max(ref_rate),
              ratio=max(p["rate"]) / max(ref_rate),
              ratio_median_round=_median([a / b for a, b in zip(p["rate"], ref_rate)]),
              compile_s=p["compile_s"],
              jax_episodes_per_step=sum(p["episodes"]) / (env_steps * s["rounds"]),
              reference_episodes_per_step=ref_eps / ref_steps,
          )
      )
  return rows


# ----------------------------------------------------------------- agents
class LiveStepCounter:
  """An environment with the dynamics of `env` that counts, on the host, each step
  it is asked to take (`slots`) and those taken while the episode was running
  (`live`). A host callback per env per step: for an untimed counting run only."""

  def __init__(self, env):
    self._env = env
    self.slots = 0
    self.live = 0

  def __getattr__(self, name):
    return getattr(self._env, name)

  def _count(self, running):
    self.slots += 1
    self.live += int(running)

  def step(self, key, state, action, params):
    jax.debug.callback(self._count, ~(state.terminated | state.truncated))
    return self._env.step(key, state, action, params)


def ql_config(spec: dict, seeds: int) -> ml_collections.ConfigDict:
  """The Q-learning config of table column `spec["column"]` with the rest of `spec`
  and `seeds` seeds; one chunk of updates."""
  spec = dict(spec)
  c = ql_config_lib.default_config()
  c.update(ql_config_lib.column_overrides(spec.pop("column")))
  c.update(dict(spec, num_seeds=seeds, num_updates=spec["chunk_updates"]))
  ql_config_lib.validate(c)
  return c


def rf_config(spec: dict, seeds: int) -> ml_collections.ConfigDict:
  """The library's RL-NTM config (``rltape.reinforce.config``) for ``spec``'s task with
  its sizes, ``seeds`` seeds and one chunk of updates."""
  c = rf_config_lib.get_config(
      f"task={spec['task']},train={spec['train_length']},"
      f"seeds={seeds},batch={spec['batch_size']},"
      f"chunk={spec['chunk_updates']},hidden={spec['hidden']}"
  )
  c.agent.mem_dim = spec["mem_dim"]
  c.update(
      dict(
          max_updates=spec["chunk_updates"],
          max_wall_s=60.0,
          eval_episodes=4,
          final_eval_episodes=4,
          checkpoint_every_chunks=1,
          num_traces=0,
          trace_length=6,
          progress_bar=False,
      )
  )
  rf_config_lib.validate(c)
  return c


def _seed_rows(s: dict, what: str, progs: list[dict], extra: dict) -> list[dict]:
  """Interleaved rounds over the seed counts; rows with the speed-up over 1 seed."""
  rounds = s["rounds"]
  for p in progs:
    p["rate"] = []
    p["reps"] = _reps(p["fn"], (p["state"],), s["min_block_s"])
  for _ in range(rounds):
    for p in progs:
      seconds, _ = _timed(p["fn"], (p["state"],), p["reps"])
      p["rate"].append(p["reps"] * p["env_steps"] / seconds)
  one = next(p for p in progs if p["seeds"] == 1)
  rows = []
  for p in progs:
    best = max(p["rate"])
    rows.append(
        dict(
            what=what,
            **extra,
            seeds=p["seeds"],
            batch_size=p["batch_size"],
            updates=p["updates"],
            steps_per_episode=p["steps_per_episode"],
            env_steps=p["env_steps"],
            rounds=rounds,
            calls_per_block=p["reps"],
            env_steps_per_s=best,
            env_steps_per_s_per_seed=best / p["seeds"],
            updates_per_s=best / p["env_steps"] * p["updates"],
            speedup_vs_1_seed=best / max(one["rate"]),
            speedup_median_round=_median([a / b for a, b in zip(p["rate"], one["rate"])]),
            counted_steps=None,
            live_steps=p.get("live_steps"),
            live_share=None if p.get("live_steps") is None else p["live_steps"] / p["env_steps"],
            compile_s=p["compile_s"],
        )
    )
  return rows


def qlearning_rows(s: dict) -> list[dict]:
  """Q-learning chunks for each seed count of `s["ql_seeds"]` against one seed."""
  spec, progs = s["ql"], []
  # Every pool takes its first seeds of one set of seed states.
  init_pool1 = ql_train.make_train(ql_config(spec, 1)).init  # leaves [1, ...]
  states = _seed_pool(
      s, lambda k: jax.tree_util.tree_map(lambda x: x[0], init_pool1(k)), max(s["ql_seeds"])
  )
  for seeds in s["ql_seeds"]:
    c = ql_config(spec, seeds)
    env, test_env = ql_train.make_envs(c)
    agent = ql_train.make_train(c, env=env, test_env=test_env)
    state = _first_seeds(states, seeds)
    fn, compile_s = _compile(s, agent.train_chunk, state)
    progs.append(
        dict(
            fn=fn,
            state=state,
            seeds=seeds,
            compile_s=compile_s,
            batch_size=c.batch_size,
            updates=c.chunk_updates,
            steps_per_episode=env.max_steps,
            env_steps=env.max_steps * c.batch_size * c.chunk_updates * seeds,
        )
    )
  rows = _seed_rows(
      s,
      "qlearning_train",
      progs,
      dict(
          agent="qlearning",
          column=spec["column"],
          task=spec["task"],
          controller=spec["controller"],
          units=spec["units"],
          env=ql_train.task_env_name(spec["task"]),
          env_max_length=ql_train.env_length(ql_config(spec, 1), spec["train_max_length"]),
      ),
  )
  if not s["ql_count_live"] or 1 not in s["ql_seeds"]:
    return rows
  # Untimed counting run of the one-seed program (same config and initial state).
  c = ql_config(spec, 1)
  env, test_env = ql_train.make_envs(c)
  counter = LiveStepCounter(env)
  agent = ql_train.make_train(c, env=counter, test_env=test_env)
  one = next(p for p in progs if p["seeds"] == 1)
  jax.block_until_ready(_call(s, agent.train_chunk, one["state"]))
  for row in rows:
    if row["seeds"] == 1:
      row.update(
          counted_steps=counter.slots,
          live_steps=counter.live,
          live_share=counter.live / row["env_steps"],
      )
  return rows


def reinforce_rows(s: dict) -> list[dict]:
  """REINFORCE (RL-NTM) chunks for each seed count of `s["rf_seeds"]` against one."""
  spec, progs = s["rf"], []
  init = rf_train.make_train(rf_config(spec, 1)).init
  states = _seed_pool(s, init, max(s["rf_seeds"]))  # pools take its first seeds
  for seeds in s["rf_seeds"]:
    c = rf_config(spec, seeds)
    programs = rf_train.make_train(c)
    train_chunk, train_env = programs.train_chunk, programs.train_env
    state = _first_seeds(states, seeds)
    fn, compile_s = _compile(s, jax.vmap(train_chunk), state)
    # metrics["steps"]: alive steps per episode, averaged over the batch and updates.
    _, metrics = fn(state)
    live = float(jnp.sum(metrics["steps"])) * c.batch_size * c.chunk_updates
    progs.append(
        dict(
            fn=fn,
            state=state,
            seeds=seeds,
            compile_s=compile_s,
            batch_size=c.batch_size,
            updates=c.chunk_updates,
            steps_per_episode=train_env.max_steps,
            env_steps=train_env.max_steps * c.batch_size * c.chunk_updates * seeds,
            live_steps=round(live),
        )
    )
  return _seed_rows(
      s,
      "reinforce_train",
      progs,
      dict(
          agent="reinforce",
          task=spec["task"],
          controller="lstm",
          units=spec["hidden"],
          env=spec["task"],
          env_max_length=spec["train_length"],
      ),
  )


# ----------------------------------------------------------------- report
def _g(x, digits=3):
  if x is None:
    return "-"
  if isinstance(x, int):
    return str(x)
  if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-2):
    return f"{x:.{digits - 1}e}"
  return f"{x:.{digits}g}"


def markdown(rows: list[dict], size: str) -> str:
  env = [r for r in rows if r["what"] == "env_steps"]
  agents = [r for r in rows if r["what"] != "env_steps"]
  rounds = rows[0]["rounds"] if rows else 0
  out = [
      f"{rounds} interleaved rounds per measurement (JAX backend "
      f"`{jax.default_backend()}`); best run of each side, ratio of the bests, and median "
      "per-round ratio; compile time excluded and given apart."
      + (
          " Size `tiny` compiles at XLA backend optimisation level 0 (a smoke run): its "
          "throughputs are not representative."
          if size == "tiny"
          else ""
      )
      + " Environment steps/s: "
      "jitted, vmapped random-action rollouts with auto-reset against the plain-Python "
      "reference env (gym 0.19.0 rules, one env, one process) measured in the same "
      "rounds.",
      "",
      "| task | len | envs | JAX steps/s | reference steps/s | ratio | median ratio "
      "| compile s |",
      "|---|---:|---:|---:|---:|---:|---:|---:|",
  ]
  for r in env:
    out.append(
        f"| {r['task']} | {r['length']} | {r['n_envs']} | "
        f"{_g(r['jax_steps_per_s'])} | {_g(r['reference_steps_per_s'])} | "
        f"{r['ratio']:.3g} | {r['ratio_median_round']:.3g} | "
        f"{r['compile_s']:.2f} |"
    )
  out += [
      "",
      "Agent training env-steps/s: one jitted chunk of updates (each update a batch "
      "rollout plus one gradient step) with all seeds in one vmapped program, against "
      "one seed; env steps = rollout length (`max_steps`) x batch x updates x seeds, "
      "counting the no-op steps after an episode ended; *live* = share of those taken "
      "while the episode ran (Q-learning: counted on the 1-seed run only). Q-learning "
      "(Zaremba et al. 2016; *col* = the column of its RL table) and REINFORCE (RL-NTM, "
      "Zaremba & Sutskever 2015) both have a seed-vmapped chunk, so both are measured; "
      "every pool starts from the same initial seed states.",
      "",
      "| agent | task | controller | batch x updates | steps/episode | seeds "
      "| env steps/s | per seed | speed-up vs 1 seed | median | live | compile s |",
      "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  ]
  for r in agents:
    agent = r["agent"] + (f" (col {r['column']})" if "column" in r else "")
    out.append(
        f"| {agent} | {r['env']}@{r['env_max_length']} | "
        f"{r['controller']} {r['units']} | {r['batch_size']} x {r['updates']} | "
        f"{r['steps_per_episode']} | {r['seeds']} | {_g(r['env_steps_per_s'])} | "
        f"{_g(r['env_steps_per_s_per_seed'])} | {r['speedup_vs_1_seed']:.2f} | "
        f"{r['speedup_median_round']:.2f} | {_g(r['live_share'], 2)} | "
        f"{r['compile_s']:.2f} |"
    )
  return "\n".join(out) + "\n"


def run(size: str = "full") -> dict:
  """Runs the RL benchmarks at `size` ("tiny": seconds, "full": a few minutes).

  Returns:
    {"name": "rl", "rows": [dict, each with a "what" key], "markdown": str}.

  Raises:
    ValueError: `size` is not one of SIZES.
  """
  s = _check_size(size)
  rows = env_rows(s) + qlearning_rows(s) + reinforce_rows(s)
  return {"name": "rl", "rows": rows, "markdown": markdown(rows, size)}
