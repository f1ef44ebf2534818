"""Q-values and policy over one greedy episode of a trained tape agent.

* Q-learning (Zaremba et al. 2016, "Learning Simple Algorithms from Examples",
  section 4): at every step the Q-values of every joint action (head move x write or
  not), the action taken (the greedy one), the predicted symbol and its probability,
  and, with the dynamic discount, the predictions still to make (the value the
  Q-values estimate on a solved episode).
* RL-NTM (Zaremba & Sutskever 2015, "Reinforcement Learning Neural Turing Machines",
  section 4): the probability the policy gives its chosen (most likely) action of
  each head, the input- and memory-head positions, and the baseline against the
  return still to come.

Both read a workdir's latest checkpoint (``load_qlearning`` / ``load_rlntm``; read
only) and return the episode as numpy arrays plus the talk's Time / Input Tape /
Output Tape trace (``rltape.envs.render``).
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from plotkit.curves import figure


def _require_checkpoint(workdir: str) -> None:
  ckpt = os.path.join(workdir, "checkpoints")
  if not os.path.isdir(ckpt) or not any(n.isdigit() for n in os.listdir(ckpt)):
    raise ValueError(f"{workdir!r} has no checkpoint in {ckpt!r}: no episode to show")


def _seed_params(params, i: int):
  return jax.tree_util.tree_map(lambda x: x[i], params)


def best_seed(solved_at, accuracy=None) -> int:
  """The first seed to pass its test (smallest ``solved_at`` >= 0), else the one with
  the best final accuracy, else 0."""
  solved_at = [int(s) for s in solved_at]
  passed = [(s, i) for i, s in enumerate(solved_at) if s >= 0]
  if passed:
    return min(passed)[1]
  if accuracy is not None and len(accuracy):
    acc = np.nan_to_num(np.asarray(accuracy, float), nan=-1.0)
    return int(np.argmax(acc))
  return 0


def _pick_seed(workdir, config, params, solved, seed, update) -> dict[str, Any]:
  """The loaders' answer for one seed of a pool: the given one (checked), else the first
  that passed its test, else the most accurate (summary.json's final test accuracy)."""
  n = int(config.num_seeds)
  if seed is None:
    from runkit import workdir as workdir_lib

    summary = workdir_lib.read_summary(workdir)
    acc = summary.get("final_test_accuracy") if isinstance(summary, dict) else None
    seed = best_seed(np.asarray(solved), acc)
  if not 0 <= int(seed) < n:
    raise ValueError(f"seed {seed!r} is not in [0, {n}) for workdir {workdir!r}")
  return {
      "config": config,
      "params": _seed_params(params, int(seed)),
      "seed": int(seed),
      "update": int(update),
  }


# ------------------------------------------------------------------- Q-learning
def load_qlearning(workdir: str, seed: int | None = None) -> dict[str, Any]:
  """``{config, params, seed, update}`` of a Q-learning workdir (default seed: the
  first that passed its test, else the most accurate)."""
  from rltape.qlearning import experiment

  _require_checkpoint(workdir)
  config, state, update = experiment.load_workdir(workdir)
  return _pick_seed(workdir, config, state.params, state.solved_at, seed, update)


@functools.lru_cache(maxsize=8)
def _q_episode_program(config_json: str, complexity: int):
  """(jitted greedy episode ``(params, key) -> (records, states)``, test environment) of
  one config at one complexity, built and compiled once."""
  from rltape.qlearning import controllers
  from rltape.qlearning import train as train_lib

  config = ml_collections.ConfigDict(json.loads(config_json))
  agent = train_lib.make_train(config)
  _, env = train_lib.make_envs(config)
  model = agent.model
  num_actions = env.num_moves * train_lib.NUM_WRITE
  p = train_lib.episode_params(config, env, complexity, train=False)
  encode = lambda o, a, s: controllers.encode_input(
      o, a, s, obs_size=env.obs_size, num_actions=num_actions, base=env.base
  )

  @jax.jit
  def run(params, key):
    obs, st = env.reset(key, p)
    init = (st, obs, model.initial_carry(), jnp.int32(num_actions), jnp.int32(env.base))

    def step(c, k):
      st, obs, carry, prev_a, prev_sym = c
      carry, (q, logits) = model.apply(params, carry, encode(obs, prev_a, prev_sym))
      a = jnp.argmax(q).astype(jnp.int32)
      sym = jnp.argmax(logits).astype(jnp.int32)
      move, write = a // train_lib.NUM_WRITE, a % train_lib.NUM_WRITE
      alive = ~(st.terminated | st.truncated)
      obs2, st2, r, _, _, info = env.step(k, st, jnp.stack([move, write, sym]), p)
      prev_sym2 = jnp.where(write == 1, sym, env.base).astype(jnp.int32)
      rec = dict(
          q=q,
          action=a,
          symbol=sym,
          symbol_prob=jax.nn.softmax(logits)[sym],
          targets_left=info["targets_left"],
          reward=r,
          alive=alive,
          head=st.head[1],
          write=write,
      )
      return (st2, obs2, carry, a, prev_sym2), (rec, st2)

    _, (rec, states) = jax.lax.scan(step, init, jax.random.split(key, env.max_steps))
    states = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[None], b]), st, states)
    return rec, states

  return run, env


def q_episode(
    config: ml_collections.ConfigDict,
    params,
    complexity: int | None = None,
    key: jax.Array | None = None,
) -> dict[str, Any]:
  """One greedy episode of a Q-learning agent at ``complexity`` (default: the run's
  test length, at most 20), as ``rltape.qlearning.train``'s rollout runs it with
  epsilon 0. Returns ``{q [T, A], action [T], symbol [T], symbol_prob [T],
  targets_left [T], reward [T], return_to_go [T], alive [T], head [T], action_names
  [A], solved, trace (text), complexity}`` over the steps the episode ran."""
  if complexity is None:
    complexity = min(int(config.test_length), 20)
  complexity = int(complexity)
  if not 1 <= complexity <= int(config.test_length):
    raise ValueError(
        f"complexity {complexity!r} must lie in [1, test_length="
        f"{config.test_length}] of the run"
    )
  key = jax.random.key(0) if key is None else key
  run, env = _q_episode_program(config.to_json(), complexity)
  rec, states = run(params, key)
  rec = jax.tree_util.tree_map(np.asarray, rec)
  t = int(np.sum(rec["alive"]))
  rec = {k: v[:t] for k, v in rec.items()}
  last = jax.tree_util.tree_map(lambda x: np.asarray(x)[t], states)
  solved = bool(last.num_correct == last.num_targets and last.write_pos == last.num_targets)
  names = [f"{m}{'+write' if w else ''}" for m in env.move_names for w in (0, 1)]
  gamma = 1.0 if config.dynamic_discount else float(config.gamma)
  to_go = np.zeros(t)
  acc = 0.0
  for i in range(t - 1, -1, -1):
    acc = float(rec["reward"][i]) + gamma * acc
    to_go[i] = acc
  return dict(
      rec,
      action_names=names,
      solved=solved,
      trace=env.render(states),
      complexity=complexity,
      task=str(config.task),
      return_to_go=to_go,
      dynamic_discount=bool(config.dynamic_discount),
  )


def plot_q_episode(ep: dict[str, Any], title: str = ""):
  """Heatmap of the Q-values of every joint action over the episode's steps, the
  greedy action marked (white dots); below it the value the agent expects against the
  return that came (with the dynamic discount, max Q x the predictions still to make,
  since Q then estimates their correct fraction), and the predicted symbol's
  probability on the steps that write."""
  q = np.asarray(ep["q"])
  t, a = q.shape
  fig, (ax, ax_v) = figure(2, 1, width=min(max(7.0, 0.22 * t + 2.5), 16.0), row_height=2.6)
  im = ax.imshow(
      q.T,
      aspect="auto",
      cmap="coolwarm",
      interpolation="nearest",
      extent=(-0.5, t - 0.5, a - 0.5, -0.5),
  )
  fig.colorbar(im, ax=ax, label="Q", pad=0.01)
  ax.plot(
      np.arange(t), ep["action"], "o", ms=3.5, mfc="white", mec="k", mew=0.6, label="greedy action"
  )
  ax.set_yticks(range(a))
  ax.set_yticklabels(ep["action_names"], fontsize=7)
  ax.set_title("Q-values of every joint action (move x write)", fontsize=8)
  ax.legend(fontsize=7, loc="upper right")
  steps = np.arange(t)
  q_max = q.max(axis=1)
  if ep.get("dynamic_discount"):
    # With the dynamic discount Q estimates Q / Vhat (Vhat = predictions still to make),
    # so max Q x Vhat is the number of correct predictions the agent expects to come.
    ax_v.plot(
        steps,
        q_max * ep["targets_left"],
        "o-",
        ms=3,
        color="C0",
        label="max Q x predictions still to make",
    )
    ax_v.step(
        steps,
        ep["targets_left"],
        where="mid",
        color="0.4",
        ls="--",
        label="predictions still to make",
    )
  else:
    ax_v.plot(steps, q_max, "o-", ms=3, color="C0", label="max Q")
  ax_v.plot(steps, ep["return_to_go"], ":", color="k", lw=1.2, label="return to come")
  writes = np.asarray(ep["write"]) == 1
  ax_p = ax_v.twinx()
  ax_p.plot(
      steps[writes],
      np.asarray(ep["symbol_prob"])[writes],
      "s",
      ms=3.5,
      color="C2",
      label="p(written symbol)",
  )
  ax_p.set_ylim(0, 1.05)
  ax_p.set_ylabel("p(symbol)", color="C2")
  h1, l1 = ax_v.get_legend_handles_labels()
  h2, l2 = ax_p.get_legend_handles_labels()
  ax_v.legend(h1 + h2, l1 + l2, fontsize=7, loc="lower left")
  ax_v.set_xlabel("time step")
  ax_v.set_ylabel("value")
  ax_v.grid(alpha=0.3)
  head = (
      f"{ep['task']} at complexity {ep['complexity']}: "
      f"{'solved' if ep['solved'] else 'not solved'} in {t} steps"
  )
  fig.suptitle((title + "\n" if title else "") + head, fontsize=9)
  return fig


# ----------------------------------------------------------------------- RL-NTM
def load_rlntm(workdir: str, seed: int | None = None) -> dict[str, Any]:
  """``{config, params, seed, update}`` of an RL-NTM workdir (default seed: the first
  solved, else the most accurate at the final test)."""
  from runkit import checkpoints
  from runkit import workdir as workdir_lib
  from rltape.reinforce import train as rtrain

  _require_checkpoint(workdir)
  config = ml_collections.ConfigDict(workdir_lib.read_config_dict(workdir, "an RL-NTM"))
  mgr = checkpoints.make_manager(workdir)
  update = mgr.latest_step()
  init = rtrain.make_train(config).init
  template = jax.jit(jax.vmap(init))(
      jax.random.split(jax.random.key(config.seed), config.num_seeds)
  )
  state = checkpoints.restore(mgr, update, template)
  return _pick_seed(workdir, config, state.params, state.solved_step, seed, update)


def rlntm_episode(
    config: ml_collections.ConfigDict,
    params,
    length: int | None = None,
    key: jax.Array | None = None,
) -> dict[str, Any]:
  """One greedy RL-NTM episode at input ``length`` (default: the run's test length,
  at most 12). Returns ``{p_chosen [T, heads], in_move, mem_move, write [T],
  in_head, mem_head [T], baseline [T], to_go [T], head_names, solved, trace,
  length}`` over the steps the episode ran."""
  import rltape.envs as envs
  from rltape.reinforce import agent as agent_lib
  from rltape.reinforce import config as rconfig
  from rltape.reinforce import train as rtrain

  length = min(int(config.test_length), 12) if length is None else int(length)
  if not 1 <= length <= int(config.test_length):
    raise ValueError(f"length {length!r} must lie in [1, test_length={config.test_length}]")
  key = jax.random.key(0) if key is None else key
  _, env = rtrain.make_envs(config)
  cfg = rconfig.agent_config(config)
  env_params = envs.make_params(length, 0)
  k_reset, k_roll = jax.random.split(key)
  obs, st = env.reset(k_reset, env_params)
  traj, states = jax.jit(
      lambda p, k, o, s: agent_lib.unroll(
          p, cfg, env, env_params, k, o, s, greedy=True, record_states=True
      )
  )(params, k_roll, obs, st)
  alive = np.asarray(traj.alive)
  t = int(alive.sum())
  r = np.asarray(agent_lib.rewards(traj, cfg))
  to_go = np.asarray(agent_lib.reward_to_go(jnp.asarray(r), cfg.gamma))
  names = ["input move", "memory move", "write"] + (
      ["memory write"] if cfg.memory_write == "sampled" else []
  )
  return {
      "p_chosen": np.exp(np.asarray(traj.log_prob_heads))[:t],
      "in_move": np.asarray(traj.in_move)[:t],
      "mem_move": np.asarray(traj.mem_move)[:t],
      "write": np.asarray(traj.write)[:t],
      "in_head": np.asarray(states.head)[:t, 1],
      "mem_head": np.asarray(traj.mem_head)[:t] - agent_lib.memory_size(env) // 2,
      "baseline": np.asarray(traj.baseline)[:t],
      "to_go": to_go[:t],
      "head_names": names,
      "solved": bool(traj.solved),
      "trace": env.render(states),
      "length": length,
      "task": str(config.task),
  }


def plot_rlntm_episode(ep: dict[str, Any], title: str = ""):
  """The policy over a greedy RL-NTM episode: each head's probability of its chosen
  action, the input and memory head positions (writes marked), and the baseline
  against the return still to come."""
  t = ep["p_chosen"].shape[0]
  steps = np.arange(t)
  fig, (ax_p, ax_h, ax_b) = figure(3, 1, width=min(max(7.0, 0.22 * t + 2.5), 16.0), row_height=2.1)
  for i, name in enumerate(ep["head_names"]):
    ax_p.plot(steps, ep["p_chosen"][:, i], "o-", ms=3, lw=1, color=f"C{i}", label=name)
  ax_p.set_ylim(-0.02, 1.02)
  ax_p.set_ylabel("p(chosen action)")
  ax_p.legend(fontsize=7, ncol=len(ep["head_names"]))
  ax_p.grid(alpha=0.3)
  ax_h.plot(steps, ep["in_head"], "o-", ms=3, color="C0", label="input head (before move)")
  ax_h.plot(steps, ep["mem_head"], "s-", ms=3, color="C1", label="memory head (after move)")
  w = ep["write"] == 1
  ax_h.plot(steps[w], ep["in_head"][w], "v", color="k", ms=4, label="writes")
  ax_h.set_ylabel("position")
  ax_h.legend(fontsize=7)
  ax_h.grid(alpha=0.3)
  ax_b.plot(steps, ep["baseline"], color="C4", label="baseline")
  ax_b.plot(steps, ep["to_go"], color="0.3", ls="--", label="return to go")
  ax_b.set_ylabel("return")
  ax_b.set_xlabel("time step")
  ax_b.legend(fontsize=7)
  ax_b.grid(alpha=0.3)
  head = (
      f"{ep['task']} at length {ep['length']}: "
      f"{'solved' if ep['solved'] else 'not solved'} in {t} steps"
  )
  fig.suptitle((title + "\n" if title else "") + head, fontsize=9)
  return fig


# ------------------------------------------------------------ gradient checking
def gradcheck_figure(results: dict, title: str = "exact REINFORCE gradient check"):
  """``results``: ``{name: rltape.gradcheck.GradCheckResult}``. Left: each parameter
  leaf's largest relative error per estimator (log scale) against the tolerance.
  Right: every coordinate's absolute difference between the estimator's exact
  expectation and the finite difference of the exact objective (log scale)."""
  fig, (ax_err, ax_abs) = figure(1, 2, width=11.0, row_height=4.4, sharex=False)
  names = list(results)
  leaves = list(next(iter(results.values())).max_rel_error)
  y = np.arange(len(leaves))
  h = 0.8 / max(len(names), 1)
  for i, name in enumerate(names):
    r = results[name]
    err = np.maximum([r.max_rel_error[k] for k in leaves], 1e-16)
    ax_err.barh(
        y + i * h,
        err,
        height=h,
        color=f"C{i}",
        label=f"{name}: {'passed' if r.passed else 'FAILED'}",
    )
    est = np.concatenate([np.ravel(x) for x in jax.tree_util.tree_leaves(r.estimator_grad)])
    fd = np.concatenate([np.ravel(x) for x in jax.tree_util.tree_leaves(r.finite_diff_grad)])
    ax_abs.plot(
        np.maximum(np.abs(est - fd), 1e-16), "o", ms=3, alpha=0.8, color=f"C{i}", label=name
    )
  rtol = next(iter(results.values())).rtol
  ax_err.axvline(rtol, color="k", ls="--", lw=1, label=f"tolerance (rtol {rtol:g})")
  ax_err.set_xscale("log")
  ax_err.set_yticks(y + h * (len(names) - 1) / 2)
  ax_err.set_yticklabels(leaves, fontsize=6)
  ax_err.invert_yaxis()
  ax_err.set_xlabel("largest relative error in the leaf")
  ax_err.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.16), ncol=2)
  ax_abs.set_yscale("log")
  ax_abs.set_xlabel("parameter coordinate (leaves in the order on the left)")
  ax_abs.set_ylabel("|estimator - finite difference|")
  ax_abs.grid(alpha=0.3)
  ax_abs.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.16), ncol=2)
  fig.suptitle(title, fontsize=9)
  return fig
