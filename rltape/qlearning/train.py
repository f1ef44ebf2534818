"""The Q-learning training program, jitted whole and vmapped over a pool of seeds.

`make_train(config)` builds pure functions over a `TrainState` whose every leaf has
a leading seed axis:

* `init(key)` -> state for `config.num_seeds` independent runs,
* `train_chunk(state)` -> (state, metrics): `config.chunk_updates` updates inside
  one `lax.scan`, each update = one epsilon-greedy batch rollout (`lax.scan` over
  the episode) + one SGD step on the Q-learning loss + the supervised symbol loss,
  with the curriculum advanced inside the program,
* `test(state)` -> greedy whole-sequence accuracy at `config.test_length` per seed,
* `record_success(state, acc)` -> state with the first successful update recorded,
* `train(key)`: the whole run (init, all chunks, tests) as one function for jit.

The binary (`experiments/train_qlearning.py`) loops over chunks in Python for logging
and checkpoints; a notebook may call `jax.jit(train)` directly.

Episode bookkeeping follows Zaremba et al. (2016, "Learning Simple Algorithms from
Examples"): reward 1 per correct prediction, a wrong one ends the episode; Vhat =
predictions left before a step (`info["targets_left"]`), so Vhat after a step is
Vhat - correct.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import optax

from rltape.envs import curriculum as env_curriculum
from rltape.qlearning import config as config_lib
from rltape.qlearning import controllers
from rltape.qlearning import targets

NUM_WRITE = 2  # joint action = move * 2 + write


@flax.struct.dataclass
class TrainState:
  """Per-seed training state (leading seed axis when batched)."""

  params: Any
  opt_state: Any
  rng: jax.Array  # uint32 [2] key data; raw so orbax can checkpoint it
  length: jax.Array  # int32, current curriculum length
  win_solved: jax.Array  # int32, greedy episodes solved in the current window
  win_total: jax.Array  # int32, greedy episodes seen in the current window
  last_window_acc: jax.Array  # float32, accuracy of the last closed window
  step: jax.Array  # int32, updates done
  solved_at: jax.Array  # int32, update at which the test was first passed; -1


class Trajectory(NamedTuple):
  """One batch rollout, time major: every field is [T, B] unless noted."""

  x: jax.Array  # float32 [T + 1, B, D], controller inputs incl. the final one
  action: jax.Array  # int32, joint action taken
  greedy: jax.Array  # bool, the action was the greedy one
  reward: jax.Array  # float32
  end: jax.Array  # bool, the episode terminated or was truncated at this step
  valid: jax.Array  # bool, the episode was still running before this step
  v: jax.Array  # int32, predictions left before this step (Vhat)
  target: jax.Array  # int32, symbol this step's write had to produce (-1 none)
  write: jax.Array  # bool
  correct: jax.Array  # bool


def task_env_name(task: str) -> str:
  return f"lsa/{task}"


def make_envs(config: ml_collections.ConfigDict, train_complexity: int | None = None):
  """Training and test environments of `config.task` from `rltape.envs`; the
  training one holds episodes up to `train_complexity` (default train_max_length)."""
  import rltape.envs as envs  # imported late: tests may pass their own envs

  name = task_env_name(config.task)
  if train_complexity is None:
    train_complexity = config.train_max_length
  # Complexities become input lengths (columns, digits): the environments are only
  # as long as the longest episode needs, so the rollouts' static step count is too.
  return (
      envs.make(name, max_length=env_length(config, train_complexity)),
      envs.make(name, max_length=env_length(config, config.test_length)),
  )


def env_length(config: ml_collections.ConfigDict, complexity: int) -> int:
  """The environment max_length (input length) that episodes of `complexity` need."""
  return int(config_lib.length_of_complexity(config, int(complexity)))


class Agent(NamedTuple):
  """The pure functions of one training configuration."""

  init: Callable
  train_chunk: Callable
  test: Callable
  record_success: Callable
  train: Callable
  model: controllers.Controller


def episode_params(config, env, complexity, train: bool = True):
  """EnvParams of the episodes at curriculum `complexity` (traced int ok).

  Training episodes (as in the paper's code) draw lengths from
  [complexity - length_spread, complexity]; with `config.no_carry_curriculum` (add3's
  extra curriculum) a share `no_carry_fraction(complexity)` of them has no carries.
  Test episodes (`train=False`) have exactly `complexity` and ordinary digits.
  Complexity becomes an input length by `config_lib.length_of_complexity` (with
  ``complexity_unit="paper"`` the addition grids count cells and reverse counts
  twice its digits, as the paper's code does).
  """
  complexity = jnp.asarray(complexity, jnp.int32)
  length = config_lib.length_of_complexity(config, complexity)
  if not train or not hasattr(env.default_params, "length_jitter"):
    return env.default_params.replace(length=length)
  low = config_lib.length_of_complexity(config, jnp.maximum(complexity - config.length_spread, 1))
  p = env.default_params.replace(length=low, length_jitter=length - low)
  if config.get("no_carry_curriculum", False):
    p = p.replace(no_carry_frac=env_curriculum.no_carry_fraction(complexity))
  return p


def make_train(
    config: ml_collections.ConfigDict, env=None, test_env=None, length_cap: int | None = None
) -> Agent:
  """Builds the training program of `config`.

  Args:
    config: see `rltape.qlearning.config`; validated here.
    env: training environment (rltape.envs API); built from config.task when
      None.
    test_env: environment whose max_length >= config.test_length.
    length_cap: a complexity <= train_max_length (None: train_max_length). Training
      episodes are no longer than this (`env` need only be as long); a seed whose
      curriculum is beyond it trains at the cap and counts no curriculum window
      statistics until it runs under a larger cap (`config.env_buckets`).

  Returns:
    An `Agent` of pure, jittable functions (not yet jitted, except that callers
    usually wrap `train_chunk`, `test` and `record_success` in `jax.jit`).
  """
  config_lib.validate(config)
  cap = config.train_max_length if length_cap is None else int(length_cap)
  if not 1 <= cap <= config.train_max_length:
    raise ValueError(
        f"length_cap {length_cap!r} must lie in " f"[1, train_max_length={config.train_max_length}]"
    )
  capped = cap < config.train_max_length
  if env is None or test_env is None:
    env, test_env = make_envs(config, cap)
  if env.max_length < env_length(config, cap):
    raise ValueError(
        f"training env max_length {env.max_length} < "
        f"{env_length(config, cap)}, the input length "
        f"of complexity {cap}"
    )
  if test_env.max_length < env_length(config, config.test_length):
    raise ValueError(
        f"test env max_length {test_env.max_length} < "
        f"{env_length(config, config.test_length)}, the input length of "
        f"test_length {config.test_length}"
    )
  base, obs_size, num_moves = env.base, env.obs_size, env.num_moves
  num_actions = num_moves * NUM_WRITE
  model = controllers.Controller(
      config.controller,
      config.units,
      num_actions,
      base,
      head_layer=bool(config.get("head_layer", False)),
  )
  encode = lambda o, a, s: controllers.encode_input(
      o, a, s, obs_size=obs_size, num_actions=num_actions, base=base
  )
  in_dim = controllers.input_size(obs_size, num_actions, base)
  opt = {"sgd": optax.sgd, "adam": optax.adam}[config.get("optimizer", "sgd")]
  tx = optax.chain(optax.clip_by_global_norm(config.grad_clip), opt(config.learning_rate))
  batch = config.batch_size
  top_lr_scale = float(config.get("top_lr_scale", 1.0))

  def rollout(params, key, e, p, n, epsilon, record):
    """Epsilon-greedy rollout of n episodes; returns (Trajectory|None, solved)."""
    k_reset, k_steps = jax.random.split(key)
    obs, st = jax.vmap(e.reset, (0, None))(jax.random.split(k_reset, n), p)
    carry0 = model.initial_carry((n,))
    init = (
        st,
        obs,
        carry0,
        jnp.full((n,), num_actions, jnp.int32),
        jnp.full((n,), base, jnp.int32),
        jnp.zeros((n,), bool),
        jnp.zeros((n,), bool),
    )

    def step(c, key):
      st, obs, carry, prev_a, prev_sym, done, solved = c
      x = encode(obs, prev_a, prev_sym)
      carry, (q, logits) = model.apply(params, carry, x)
      k_explore, k_rand, k_env = jax.random.split(key, 3)
      greedy_a = jnp.argmax(q, axis=-1).astype(jnp.int32)
      explore = jax.random.uniform(k_explore, (n,)) < epsilon
      rand_a = jax.random.randint(k_rand, (n,), 0, num_actions, jnp.int32)
      a = jnp.where(explore, rand_a, greedy_a)
      sym = jnp.argmax(logits, axis=-1).astype(jnp.int32)
      move, write = a // NUM_WRITE, a % NUM_WRITE
      action = jnp.stack([move, write, sym], axis=-1).astype(jnp.int32)
      obs2, st2, r, term, trunc, info = jax.vmap(e.step, (0, 0, 0, None))(
          jax.random.split(k_env, n), st, action, p
      )
      valid = ~done
      correct = info["correct"] & valid
      v = info["targets_left"].astype(jnp.int32)
      # The last required prediction made correctly solves the episode.
      solved = solved | (correct & (v == 1))
      end = (term | trunc) & valid
      prev_sym2 = jnp.where(write == 1, sym, base).astype(jnp.int32)
      rec = None
      if record:
        rec = (
            x,
            a,
            a == greedy_a,
            jnp.where(valid, r, 0.0).astype(jnp.float32),
            end,
            valid,
            v,
            info["target"].astype(jnp.int32),
            write == 1,
            correct,
        )
      return (st2, obs2, carry, a, prev_sym2, done | term | trunc, solved), rec

    final, recs = jax.lax.scan(step, init, jax.random.split(k_steps, e.max_steps))
    st, obs, _, prev_a, prev_sym, _, solved = final
    if not record:
      return None, solved
    x, a, g, r, end, valid, v, tgt, w, corr = recs
    x_all = jnp.concatenate([x, encode(obs, prev_a, prev_sym)[None]], axis=0)
    return Trajectory(x_all, a, g, r, end, valid, v, tgt, w, corr), solved

  def episode_td(q_tm1, q_t, traj_b):
    """TD errors of one episode ([T] fields)."""
    a, g, r, end, valid, v, corr = traj_b
    cont = jnp.where(end, 0.0, 1.0)
    if config.dynamic_discount:
      r_t, d_t = targets.dynamic_discount_transform(r, cont, v, v - corr.astype(jnp.int32))
    else:
      r_t, d_t = r, cont * config.gamma
    # lambda_t refers to the action taken at s_t, i.e. the next step's action.
    greedy_next = jnp.concatenate([g[1:], jnp.ones((1,), bool)])
    if config.watkins:
      lam = targets.watkins_lambda(greedy_next, config.lambda_)
    else:
      lam = jnp.zeros_like(r_t)
    return targets.q_lambda_td(q_tm1, a, r_t, d_t, q_t, lam)

  def loss_fn(params, traj: Trajectory, solved, penalty_on):
    q, logits = controllers.unroll(model, params, model.initial_carry((batch,)), traj.x)
    fields = (traj.action, traj.greedy, traj.reward, traj.end, traj.valid, traj.v, traj.correct)
    td = jax.vmap(episode_td, in_axes=(1, 1, 1), out_axes=1)(q[:-1], q[1:], fields)
    valid = traj.valid.astype(jnp.float32)
    sup_mask = (traj.valid & traj.write & (traj.target >= 0)).astype(jnp.float32)

    def reduce(x, mask):
      # "sum_time": summed over an episode's steps, averaged over episodes, so
      # the step size grows with the episode up to the gradient clip; "mean":
      # a mean over the valid steps.
      if config.loss_reduction == "sum_time":
        return jnp.sum(mask * x) / batch
      return jnp.sum(mask * x) / jnp.maximum(mask.sum(), 1.0)

    q_loss = 0.5 * reduce(td**2, valid)
    ce = optax.softmax_cross_entropy_with_integer_labels(logits[:-1], jnp.maximum(traj.target, 0))
    sup_loss = reduce(ce, sup_mask)
    loss = q_loss + config.sup_weight * sup_loss
    pen = jnp.float32(0.0)
    if config.penalty:
      # Confident samples: the steps of episodes that were solved outright.
      conf = valid * solved[None, :].astype(jnp.float32)
      pen = reduce(targets.interval_penalty(q[:-1]), conf)
      loss = loss + penalty_on * config.penalty_weight * pen
    sym_acc = jnp.sum(sup_mask * (jnp.argmax(logits[:-1], -1) == traj.target)) / jnp.maximum(
        sup_mask.sum(), 1.0
    )
    return loss, dict(q_loss=q_loss, sup_loss=sup_loss, penalty=pen, symbol_accuracy=sym_acc)

  def init_one(key):
    k_params, k_run = jax.random.split(key)
    x = jnp.zeros((in_dim,), jnp.float32)
    params = model.init(k_params, model.initial_carry(), x)
    return TrainState(
        params=params,
        opt_state=tx.init(params),
        rng=jax.random.key_data(k_run),
        length=jnp.int32(config.curriculum_start),
        win_solved=jnp.int32(0),
        win_total=jnp.int32(0),
        last_window_acc=jnp.float32(0.0),
        step=jnp.int32(0),
        solved_at=jnp.int32(-1),
    )

  def update_one(s: TrainState):
    key = jax.random.fold_in(jax.random.wrap_key_data(s.rng), s.step)
    k_roll, _ = jax.random.split(key)
    p = episode_params(config, env, jnp.minimum(s.length, cap) if capped else s.length)
    penalty_on = (s.last_window_acc >= config.penalty_start_accuracy).astype(jnp.float32)
    epsilon = jnp.float32(config.epsilon)
    if config.get("greedy_when_penalty", False) and config.penalty:
      # The paper's code stops exploring on samples it already gets right once the
      # penalty is on; here: while the penalty is on, the whole batch is greedy.
      epsilon = jnp.where(penalty_on > 0, 0.0, epsilon)
    traj, solved = rollout(s.params, k_roll, env, p, batch, epsilon, True)
    (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        s.params, traj, solved, penalty_on
    )
    upd, opt_state = tx.update(grads, s.opt_state, s.params)
    if top_lr_scale != 1.0:
      # A seed whose curriculum has reached train_max_length trains on with a
      # smaller step (its learning rate times top_lr_scale).
      scale = jnp.where(s.length >= config.train_max_length, top_lr_scale, 1.0)
      upd = jax.tree.map(lambda u: u * scale.astype(u.dtype), upd)
    params = optax.apply_updates(s.params, upd)
    # Episodes without an exploratory step followed the greedy policy exactly,
    # so they measure its whole-sequence accuracy at no extra cost.
    fully_greedy = jnp.all(traj.greedy | ~traj.valid, axis=0)
    n_solved, n_total = jnp.sum(fully_greedy & solved), jnp.sum(fully_greedy)
    if capped:
      # Episodes below the seed's curriculum length say nothing about that length.
      n_solved = jnp.where(s.length <= cap, n_solved, 0)
      n_total = jnp.where(s.length <= cap, n_total, 0)
    win_solved = s.win_solved + n_solved
    win_total = s.win_total + n_total
    close = win_total >= config.curriculum_episodes
    acc = win_solved / jnp.maximum(win_total, 1)
    advance = close & (acc >= config.curriculum_threshold)
    length = jnp.where(
        advance, jnp.minimum(s.length + config.curriculum_step, config.train_max_length), s.length
    )
    s = s.replace(
        params=params,
        opt_state=opt_state,
        length=length.astype(jnp.int32),
        win_solved=jnp.where(close, 0, win_solved).astype(jnp.int32),
        win_total=jnp.where(close, 0, win_total).astype(jnp.int32),
        last_window_acc=jnp.where(close, acc, s.last_window_acc).astype(jnp.float32),
        step=s.step + 1,
    )
    metrics = dict(
        aux,
        loss=loss,
        train_solved=jnp.mean(solved),
        length=s.length.astype(jnp.float32),
        window_accuracy=s.last_window_acc,
        penalty_on=penalty_on,
        exploratory_share=jnp.sum(traj.valid & ~traj.greedy) / jnp.maximum(jnp.sum(traj.valid), 1),
    )
    return s, metrics

  def init(key):
    # The seeds one after another (lax.map), not vmapped: a vmapped initialisation of
    # several orthogonal GRU kernels (batched QRs in one program) deadlocks XLA:CPU's
    # thread pool (jax 0.10.2, 2 cores); map gives the same values bit for bit.
    return jax.lax.map(init_one, jax.random.split(key, config.num_seeds))

  freeze = bool(config.get("freeze_when_solved", False))

  def update_or_keep(s: TrainState):
    new, metrics = update_one(s)
    if not freeze:
      return new, metrics
    # A solved seed keeps its state (the run of that seed has ended).
    done = s.solved_at >= 0
    return jax.tree.map(lambda n, o: jnp.where(done, o, n), new, s), metrics

  def train_chunk(state):
    def body(s, _):
      return jax.vmap(update_or_keep)(s)

    return jax.lax.scan(body, state, None, length=config.chunk_updates)

  def test_one(s: TrainState):
    # The update at this step uses the first half of the same split.
    key = jax.random.split(jax.random.fold_in(jax.random.wrap_key_data(s.rng), s.step))[1]
    p = episode_params(config, test_env, config.test_length, train=False)
    _, solved = rollout(s.params, key, test_env, p, config.test_batch, 0.0, False)
    return jnp.mean(solved.astype(jnp.float32))

  def test(state):
    return jax.vmap(test_one)(state)

  def record_success(state, acc):
    newly = (state.solved_at < 0) & (acc >= config.success_accuracy)
    return state.replace(solved_at=jnp.where(newly, state.step, state.solved_at))

  def train(key):
    def chunk(s, i):
      s, m = train_chunk(s)
      acc = test(s)
      s = record_success(s, acc)
      return s, (jax.tree.map(lambda v: v.mean(0), m), acc)

    state = init(key)
    n_chunks = config.num_updates // config.chunk_updates
    state, (metrics, accs) = jax.lax.scan(chunk, state, jnp.arange(n_chunks))
    return state, metrics, accs

  return Agent(init, train_chunk, test, record_success, train, model)
