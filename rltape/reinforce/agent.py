"""RL-NTM episodes and the REINFORCE loss (Zaremba & Sutskever 2015; Williams 1992).

An episode is a fixed-length ``lax.scan`` over the environment's ``max_steps``
(steps after the episode ended are no-ops and are masked out of the loss). At
step ``t`` the controller reads the memory at the head's previous location,
samples the input-head move, the memory-head move and the write flag, writes
the argmax symbol when it writes, and writes its memory vector at the memory
head's next location.

Objective. With ``alive_t`` = the episode has not ended before step ``t``,
``w_t`` the write flag and ``y_t`` the target of this step's write, the
per-step reward is

    r_t = alive_t * (env_reward_t + nll_coef_reward * w_t * [y_t >= 0] * log p(y_t | h_t)),

so ``R = sum_t r_t`` depends on the parameters both through the sampled
actions and directly (the log-likelihood of the written symbol, which depends
on the memory vectors). Its gradient (talk slide "Reinforce: derivative")

    dJ = E_a[ sum_t d log pi(a_t | h_t) (G_t - b_t) ] + E_a[ sum_t d r_t ],
    G_t = sum_{s >= t} gamma^(s - t) r_s   (reward-to-go),

is estimated from sampled episodes by the surrogate whose gradient is the
bracket; ``b_t`` is the learned baseline (trained by regression on ``G_t``
with the gradient stopped at the LSTM state). Optional variance reduction as
in the paper: an entropy bonus on the three action distributions and a
scaling of their logits (in the controller). :func:`log_prob_and_return` and
:func:`make_grad_estimator` expose the episode to ``rltape.gradcheck``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from rltape.envs import memory as memory_lib
from rltape.reinforce.controller import Controller

PyTree = Any


@dataclasses.dataclass(frozen=True)
class AgentConfig:
  """Static settings of the agent and its loss (hashable; safe as a jit static)."""

  hidden: int = 64
  mem_dim: int = 16
  mem_moves: tuple[int, ...] = memory_lib.MOVES
  logit_scale: float = 1.0
  gamma: float = 1.0
  nll_coef: float = 1.0  # weight of log p(target) in the reward
  entropy_coef: float = 0.0  # entropy bonus on the action distributions
  baseline_coef: float = 0.5  # weight of the baseline regression loss
  use_baseline: bool = True
  symbol_source: str = "lstm"  # "lstm" or "direct" (see rltape.reinforce.controller)
  # True: the REINFORCE return G_t includes the log-likelihood reward (the objective
  # J = E[sum_t r_t] above, checked by rltape.gradcheck). False: G_t is the environment
  # reward only and log p(target) trains the symbol softmax as a supervised loss on
  # the steps that write; then writing is not punished for an untrained softmax
  # (with it in G_t, "never write" (-1 at the time limit) beat writing a guess
  # (-0.5 + log(1/base)), and seeds collapsed into silence).
  nll_in_return: bool = True
  # "gate": the memory write is a gate in (0, 1) trained by backpropagation. "sampled":
  # a fourth sampled action (keep the cell / overwrite it), trained by REINFORCE.
  memory_write: str = "gate"
  core: str = "lstm"  # "lstm" or "ff" (see rltape.reinforce.controller)


class Trajectory(NamedTuple):
  """Per-step records of one episode; every field has a leading [T] axis."""

  in_move: jax.Array  # int32
  mem_move: jax.Array  # int32
  write: jax.Array  # int32 in {0, 1}
  symbol: jax.Array  # int32, the argmax symbol (written when write == 1)
  log_prob: jax.Array  # float: log pi of the three sampled actions
  log_prob_heads: jax.Array  # float [T, H]: per head (input move, memory move, write
  # [, memory write])
  entropy: jax.Array  # float: summed entropy of the three distributions
  target_ll: jax.Array  # float: log p(target symbol), 0 when there is no target
  env_reward: jax.Array  # float
  alive: jax.Array  # bool: the episode had not ended before this step
  target: jax.Array  # int32, -1 when no target is left
  baseline: jax.Array  # float
  mem_head: jax.Array  # int32, memory head after this step's move
  solved: jax.Array  # bool [], (final) every target written correctly
  mem_write: jax.Array = None  # int32 [T]: 1 = overwrote the memory cell (-1: gated write)


def make_controller(cfg: AgentConfig, env) -> Controller:
  return Controller(
      hidden=cfg.hidden,
      num_in_moves=env.num_moves,
      num_mem_moves=len(cfg.mem_moves),
      base=env.base,
      mem_dim=cfg.mem_dim,
      logit_scale=cfg.logit_scale,
      symbol_source=cfg.symbol_source,
      memory_write=cfg.memory_write,
      core=cfg.core,
  )


def init_params(key: jax.Array, cfg: AgentConfig, env) -> PyTree:
  """Controller parameters (a flax variables dict)."""
  model = make_controller(cfg, env)
  x = jnp.zeros((model.input_size(env.obs_size),), jnp.float32)
  return model.init(key, model.initial_carry(), x)


def memory_size(env) -> int:
  """Long enough that a head starting in the middle never wraps in an episode."""
  return 2 * env.max_steps + 1


def _categorical_terms(logits, action):
  logp = jax.nn.log_softmax(logits)
  return logp[action], -jnp.sum(jnp.exp(logp) * logp)


def unroll(
    params: PyTree,
    cfg: AgentConfig,
    env,
    env_params,
    key: jax.Array,
    obs0: jax.Array,
    state0,
    forced_actions: jax.Array | None = None,
    greedy: bool = False,
    num_steps: int | None = None,
    record_states: bool = False,
):
  """Runs one episode from ``(obs0, state0)``.

  Args:
    params: controller variables; the computation runs in their float dtype.
    cfg: agent settings.
    env: an ``rltape.envs`` environment.
    env_params: its ``EnvParams``.
    key: PRNG key for sampling the actions.
    obs0, state0: the reset observation and state.
    forced_actions: optional int32[T, H] (in move, memory move, write[, memory
      write]) used instead of sampling (for exact enumeration in gradient checks).
    greedy: take the most likely actions instead of sampling.
    num_steps: scan length (default ``env.max_steps``).
    record_states: also return the env states (reset state first) for rendering.

  Returns:
    ``Trajectory`` (and the stacked env states if ``record_states``).
  """
  model = make_controller(cfg, env)
  dtype = params["params"]["heads"]["kernel"].dtype
  num_steps = env.max_steps if num_steps is None else num_steps
  mem0 = memory_lib.init(memory_size(env), cfg.mem_dim, dtype)
  num_heads = model.num_heads
  sampled_write = num_heads == 4
  prev0 = jnp.zeros((env.num_moves + len(cfg.mem_moves) + 2 + (2 if sampled_write else 0),), dtype)
  keys = jax.random.split(key, num_steps)
  if forced_actions is not None and jnp.shape(forced_actions)[-1] != num_heads:
    raise ValueError(
        f"forced_actions must have {num_heads} actions per step "
        f"(memory_write={cfg.memory_write!r}), got shape "
        f"{jnp.shape(forced_actions)}"
    )
  xs = (
      keys,
      jnp.zeros((num_steps, num_heads), jnp.int32)
      if forced_actions is None
      else jnp.asarray(forced_actions, jnp.int32),
  )

  def step(carry, inp):
    lstm, mem, obs, st, prev = carry
    k, forced = inp
    x = jnp.concatenate(
        [jax.nn.one_hot(obs, env.obs_size, dtype=dtype), memory_lib.read(mem), prev]
    )
    lstm, out = model.apply(params, lstm, x)
    heads = (out.in_logits, out.mem_logits, out.write_logits)
    if sampled_write:
      heads += (out.mem_write_logits,)
    if forced_actions is not None:
      acts = [forced[i] for i in range(num_heads)]
    elif greedy:
      acts = [jnp.argmax(l).astype(jnp.int32) for l in heads]
    else:
      ks = jax.random.split(k, num_heads)
      acts = [jax.random.categorical(kk, l).astype(jnp.int32) for kk, l in zip(ks, heads)]
    terms = [_categorical_terms(l, a) for l, a in zip(heads, acts)]
    log_prob_heads = jnp.stack([t[0] for t in terms])
    log_prob = jnp.sum(log_prob_heads)
    entropy = sum(t[1] for t in terms)
    in_move, mem_move, write = acts[:3]
    symbol = jnp.argmax(out.symbol_logits).astype(jnp.int32)
    alive = ~(st.terminated | st.truncated)
    obs, st2, reward, _, _, info = env.step(k, st, jnp.stack([in_move, write, symbol]), env_params)
    target = info["target"]
    sym_logp = jax.nn.log_softmax(out.symbol_logits)
    target_ll = jnp.where(target >= 0, sym_logp[jnp.maximum(target, 0)], 0.0)
    if sampled_write:
      mem_write = acts[3]
      # Keep (gate 1) or overwrite (gate 0) the cell at the head's next location.
      w = mem_write.astype(dtype)
      gate, vector = jnp.broadcast_to(1 - w, out.mem_vector.shape), w * out.mem_vector
    else:
      mem_write, gate, vector = jnp.int32(-1), out.mem_gate, out.mem_vector
    mem = memory_lib.move_and_write(mem, mem_move, gate, vector, cfg.mem_moves)
    prev = [
        jax.nn.one_hot(in_move, env.num_moves, dtype=dtype),
        jax.nn.one_hot(mem_move, len(cfg.mem_moves), dtype=dtype),
        jax.nn.one_hot(write, 2, dtype=dtype),
    ]
    if sampled_write:
      prev.append(jax.nn.one_hot(mem_write, 2, dtype=dtype))
    prev = jnp.concatenate(prev)
    rec = dict(
        in_move=in_move,
        mem_move=mem_move,
        write=write,
        symbol=symbol,
        log_prob=log_prob,
        log_prob_heads=log_prob_heads,
        entropy=entropy,
        target_ll=target_ll,
        env_reward=reward.astype(dtype),
        alive=alive,
        target=target,
        baseline=out.baseline,
        mem_head=mem.head,
        mem_write=mem_write,
    )
    return (lstm, mem, obs, st2, prev), (rec, st2 if record_states else None)

  carry0 = (model.initial_carry(dtype), mem0, obs0, state0, prev0)
  (_, _, _, st_final, _), (rec, states) = jax.lax.scan(step, carry0, xs)
  solved = (st_final.num_correct == st_final.num_targets) & (
      st_final.write_pos == st_final.num_targets
  )
  traj = Trajectory(solved=solved, **rec)
  if record_states:
    states = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[None], b]), state0, states)
    return traj, states
  return traj


def rewards(traj: Trajectory, cfg: AgentConfig) -> jax.Array:
  """r_t (float[T]); differentiable through the target log-likelihood."""
  alive = traj.alive.astype(traj.target_ll.dtype)
  has_target = (traj.target >= 0).astype(alive.dtype)
  wrote = traj.write.astype(alive.dtype)
  return alive * (traj.env_reward + cfg.nll_coef * wrote * has_target * traj.target_ll)


def reward_to_go(r_t: jax.Array, gamma: float) -> jax.Array:
  """G_t = sum_{s >= t} gamma^(s-t) r_s, for float[T]."""

  def back(g, r):
    g = r + gamma * g
    return g, g

  _, g = jax.lax.scan(back, jnp.zeros((), r_t.dtype), r_t, reverse=True)
  return g


def episode_loss(traj: Trajectory, cfg: AgentConfig) -> tuple[jax.Array, dict]:
  """REINFORCE loss of one episode (minimise; its minus-gradient estimates dJ).

  Returns:
    (loss, metrics) where loss = policy + pathwise + entropy + baseline terms.
  """
  alive = traj.alive.astype(traj.log_prob.dtype)
  r_t = rewards(traj, cfg)
  r_ret = r_t if cfg.nll_in_return else alive * traj.env_reward
  g_t = reward_to_go(jax.lax.stop_gradient(r_ret), cfg.gamma)
  b_t = traj.baseline if cfg.use_baseline else jnp.zeros_like(traj.baseline)
  adv = jax.lax.stop_gradient(g_t - b_t)
  policy = -jnp.sum(alive * traj.log_prob * adv)
  pathwise = -jnp.sum(r_t)  # only the log-likelihood term carries a gradient
  entropy = -cfg.entropy_coef * jnp.sum(alive * traj.entropy)
  baseline = (
      cfg.baseline_coef * jnp.sum(alive * (traj.baseline - g_t) ** 2)
      if cfg.use_baseline
      else jnp.zeros((), alive.dtype)
  )
  loss = policy + pathwise + entropy + baseline
  metrics = dict(
      ret=jnp.sum(traj.env_reward * alive),
      objective=jnp.sum(r_t),
      baseline_mse=jnp.sum(alive * (traj.baseline - g_t) ** 2) / jnp.maximum(jnp.sum(alive), 1.0),
      entropy=jnp.sum(alive * traj.entropy) / jnp.maximum(jnp.sum(alive), 1.0),
      steps=jnp.sum(alive),
      solved=traj.solved.astype(alive.dtype),
  )
  return loss, metrics


# --------------------------------------------------------------- gradient checking
def split_params(variables: PyTree) -> tuple[PyTree, PyTree]:
  """(policy parameters, baseline parameters) of a controller variables dict."""
  p = dict(variables["params"])
  baseline = p.pop("baseline")
  return p, baseline


def join_params(policy: PyTree, baseline: PyTree) -> PyTree:
  """Inverse of :func:`split_params`; the baseline is cast to the policy's dtype."""
  dtype = policy["heads"]["kernel"].dtype
  baseline = jax.tree_util.tree_map(lambda x: jnp.asarray(x, dtype), baseline)
  return {"params": {**policy, "baseline": baseline}}


def make_gradcheck_fns(
    cfg: AgentConfig, env, env_params, inputs, baseline_params: PyTree, num_steps: int, loss_fn=None
):
  """Adapters for ``rltape.gradcheck.check_reinforce_gradient``.

  The checked parameters are the policy's (LSTM, action/symbol/memory heads);
  the baseline's own parameters are held fixed, since its gradient is a
  regression, not part of dJ.

  Args:
    cfg: agent settings (``entropy_coef`` should be 0: the bonus is not part of J).
    env, env_params: the environment.
    inputs: the input tape of the single, fixed episode.
    baseline_params: fixed baseline parameters.
    num_steps: horizon T of the tiny setting.
    loss_fn: the episode loss to check (default :func:`episode_loss`); tests
      pass deliberately broken ones.

  Returns:
    (log_prob_and_return, grad_estimator), functions of (policy params, actions[T, H]),
    H = 3, or 4 with ``memory_write="sampled"``.
  """
  loss_fn = episode_loss if loss_fn is None else loss_fn
  obs0, state0 = env.reset_to(inputs, env_params)
  key = jax.random.key(0)

  def run(policy, actions):
    return unroll(
        join_params(policy, baseline_params),
        cfg,
        env,
        env_params,
        key,
        obs0,
        state0,
        forced_actions=actions,
        num_steps=num_steps,
    )

  def log_prob_and_return(policy, actions):
    traj = run(policy, actions)
    # Probability of the whole sequence, masked steps included, so sum_a p(a) = 1.
    return jnp.sum(traj.log_prob), jnp.sum(rewards(traj, cfg))

  def surrogate(policy, actions):
    return -loss_fn(run(policy, actions), cfg)[0]

  return log_prob_and_return, jax.grad(surrogate)
