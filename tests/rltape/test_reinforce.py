"""Tests of the RL-NTM agent: returns, loss, episode unroll, and the exact gradient check.

The gradient check runs the project's REINFORCE estimator in a tiny setting
(Copy of a 2-symbol tape, 3 steps, a 3-unit LSTM, input head {stay, right}:
2 x 3 x 2 = 12 joint actions per step, 1728 sequences), with the memory
vectors in the loop, against central finite differences of the exact
objective.
"""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rltape.envs as envs
from rltape import gradcheck
from rltape.reinforce import agent


class RewardToGoTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_reward_to_go_matches_python(self):
    r = [1.0, -0.5, 2.0, 0.25]
    for gamma in (1.0, 0.9):
      expected = [sum(gamma ** (s - t) * r[s] for s in range(t, len(r))) for t in range(len(r))]
      got = self.variant(agent.reward_to_go, static_argnums=1)(jnp.asarray(r), gamma)
      np.testing.assert_allclose(got, expected, rtol=1e-6)


def _traj(**kw):
  t = 3
  base = dict(
      in_move=jnp.zeros(t, jnp.int32),
      mem_move=jnp.zeros(t, jnp.int32),
      write=jnp.array([1, 0, 1]),
      symbol=jnp.zeros(t, jnp.int32),
      log_prob=jnp.array([-0.5, -1.0, -2.0]),
      log_prob_heads=jnp.zeros((t, 3)),
      entropy=jnp.array([1.0, 2.0, 3.0]),
      target_ll=jnp.array([-0.1, -0.2, -0.3]),
      env_reward=jnp.array([1.0, 0.0, -0.5]),
      alive=jnp.array([True, True, False]),
      target=jnp.array([0, 1, -1]),
      baseline=jnp.array([0.5, 0.25, 9.0]),
      mem_head=jnp.zeros(t, jnp.int32),
      solved=jnp.array(False),
  )
  base.update(kw)
  return agent.Trajectory(**base)


def test_episode_loss_hand_worked():
  cfg = agent.AgentConfig(nll_coef=2.0, entropy_coef=0.1, baseline_coef=0.5, gamma=1.0)
  loss, m = agent.episode_loss(_traj(), cfg)
  # r = alive * (env + 2 * write * [target >= 0] * ll) = [1 - 0.2, 0, 0] (step 2 dead)
  r = np.array([0.8, 0.0, 0.0])
  g = np.array([0.8, 0.0, 0.0])
  adv = g - np.array([0.5, 0.25, 9.0])
  alive = np.array([1.0, 1.0, 0.0])
  policy = -np.sum(alive * np.array([-0.5, -1.0, -2.0]) * adv)
  pathwise = -np.sum(r)
  ent = -0.1 * (1.0 + 2.0)
  base = 0.5 * ((0.5 - 0.8) ** 2 + (0.25 - 0.0) ** 2)
  assert float(loss) == pytest.approx(policy + pathwise + ent + base, rel=1e-6)
  assert float(m["ret"]) == pytest.approx(1.0)
  assert float(m["steps"]) == 2.0


def test_episode_loss_with_environment_return_only():
  cfg = agent.AgentConfig(
      nll_coef=2.0, entropy_coef=0.0, baseline_coef=0.5, gamma=1.0, nll_in_return=False
  )
  loss, m = agent.episode_loss(_traj(), cfg)
  # G_t from env rewards of live steps: r_env = [1, 0, 0] -> G = [1, 0, 0].
  g = np.array([1.0, 0.0, 0.0])
  adv = g - np.array([0.5, 0.25, 9.0])
  alive = np.array([1.0, 1.0, 0.0])
  policy = -np.sum(alive * np.array([-0.5, -1.0, -2.0]) * adv)
  # The log-likelihood of the written target still enters as the supervised term.
  pathwise = -(1.0 + 2.0 * -0.1)
  base = 0.5 * ((0.5 - 1.0) ** 2 + (0.25 - 0.0) ** 2)
  assert float(loss) == pytest.approx(policy + pathwise + base, rel=1e-6)
  assert float(m["objective"]) == pytest.approx(0.8)
  # Gradient wrt target_ll: only the supervised term (-2 at the written, live step).
  grad = jax.grad(lambda ll: agent.episode_loss(_traj(target_ll=ll), cfg)[0])(
      jnp.array([-0.1, -0.2, -0.3])
  )
  np.testing.assert_allclose(grad, [-2.0, 0.0, 0.0])


def test_episode_loss_without_baseline_ignores_it():
  cfg = agent.AgentConfig(use_baseline=False, entropy_coef=0.0, nll_coef=0.0)
  loss, _ = agent.episode_loss(_traj(), cfg)
  # r = [1, 0, 0]; G = [1, 0, 0]; loss = -(-0.5 * 1) - 1
  assert float(loss) == pytest.approx(0.5 - 1.0, rel=1e-6)


@pytest.fixture(scope="module")
def copy_env():
  return envs.make("Copy", max_length=3, base=2, moves=(0, 1))


def test_unroll_forced_never_write_times_out(copy_env):
  env = copy_env
  cfg = agent.AgentConfig(hidden=4, mem_dim=2)
  params = agent.init_params(jax.random.key(0), cfg, env)
  obs, st = env.reset_to(np.array([1, 0, 1]), env.default_params)
  t = env.max_steps
  forced = jnp.tile(jnp.array([1, 2, 0], jnp.int32), (t, 1))  # right, mem right, no write
  traj = jax.jit(
      lambda p: agent.unroll(
          p, cfg, env, env.default_params, jax.random.key(1), obs, st, forced_actions=forced
      )
  )(params)
  cap = 3 + 3 + 4 + 1  # gym: input + target + 4, truncated on the next step
  assert int(jnp.sum(traj.alive)) == cap
  np.testing.assert_array_equal(traj.in_move, 1)
  assert float(traj.env_reward[cap - 1]) == -1.0
  assert float(jnp.sum(traj.env_reward)) == -1.0
  assert not bool(traj.solved)
  # The memory head moved right once per step from the middle of the tape.
  mid = agent.memory_size(env) // 2
  np.testing.assert_array_equal(traj.mem_head, mid + 1 + np.arange(t))
  # log-probs are of the forced actions: each head's log-softmax entry.
  assert np.all(np.asarray(traj.log_prob) < 0)
  np.testing.assert_allclose(traj.log_prob, jnp.sum(traj.log_prob_heads, -1), rtol=1e-6)


def test_sampled_unroll_is_reproducible_and_vmaps(copy_env):
  env = copy_env
  cfg = agent.AgentConfig(hidden=4, mem_dim=2)
  params = agent.init_params(jax.random.key(0), cfg, env)
  obs, st = jax.vmap(env.reset, in_axes=(0, None))(
      jax.random.split(jax.random.key(2), 5), env.default_params
  )
  run = jax.jit(
      jax.vmap(lambda k, o, s: agent.unroll(params, cfg, env, env.default_params, k, o, s))
  )
  keys = jax.random.split(jax.random.key(3), 5)
  a, b = run(keys, obs, st), run(keys, obs, st)
  np.testing.assert_array_equal(a.in_move, b.in_move)
  assert a.in_move.shape == (5, env.max_steps)
  # Once dead, always dead.
  alive = np.asarray(a.alive)
  assert np.all(alive[:, 1:] <= alive[:, :-1])


def test_direct_symbol_depends_on_observation_and_memory_only():
  """symbol_source="direct": the LSTM state cannot change the symbol logits."""
  from rltape.reinforce.controller import Controller

  kw = dict(hidden=6, num_in_moves=3, num_mem_moves=3, base=4, mem_dim=3)
  rng = np.random.default_rng(0)
  carries = [
      tuple(jnp.asarray(rng.normal(size=6), jnp.float32) for _ in range(2)) for _ in range(2)
  ]

  def symbol_logits(model, params, carry, obs, mem, prev):
    x = jnp.concatenate([jax.nn.one_hot(obs, 5), mem, prev])
    return model.apply(params, carry, x)[1].symbol_logits

  mem = jnp.asarray(rng.normal(size=3), jnp.float32)
  prev = jnp.asarray(rng.normal(size=8), jnp.float32)
  prev2 = jnp.asarray(rng.normal(size=8), jnp.float32)
  for source in ("direct", "lstm"):
    model = Controller(symbol_source=source, **kw)
    params = model.init(jax.random.key(0), model.initial_carry(), jnp.zeros((model.input_size(5),)))
    a = symbol_logits(model, params, carries[0], 1, mem, prev)
    b = symbol_logits(model, params, carries[1], 1, mem, prev2)
    c = symbol_logits(model, params, carries[0], 2, mem, prev)
    d = symbol_logits(model, params, carries[0], 1, -mem, prev)
    if source == "direct":
      np.testing.assert_allclose(a, b, rtol=1e-6)  # state and past actions ignored
      assert "symbol" in params["params"]
      assert params["params"]["heads"]["kernel"].shape[-1] == 3 + 3 + 2 + 1
    else:
      assert np.max(np.abs(np.asarray(a) - np.asarray(b))) > 1e-4
      assert "symbol" not in params["params"]
    assert np.max(np.abs(np.asarray(a) - np.asarray(c))) > 1e-4  # observation
    assert np.max(np.abs(np.asarray(a) - np.asarray(d))) > 1e-4  # memory read


def test_direct_symbol_equals_linear_map_of_observation_and_memory():
  from rltape.reinforce.controller import Controller

  model = Controller(
      hidden=5, num_in_moves=2, num_mem_moves=3, base=3, mem_dim=2, symbol_source="direct"
  )
  x = jnp.concatenate([jax.nn.one_hot(2, 4), jnp.array([0.3, -0.7]), jnp.ones(7)])
  params = model.init(jax.random.key(3), model.initial_carry(), x)
  out = model.apply(params, model.initial_carry(), x)[1]
  w = params["params"]["symbol"]
  expected = np.asarray(x[:6]) @ np.asarray(w["kernel"]) + np.asarray(w["bias"])
  np.testing.assert_allclose(out.symbol_logits, expected, rtol=1e-5, atol=1e-6)
  # A write mixes in the embedded observed symbol under one scalar gate:
  # cell <- g * cell + (1 - g) * tanh(E obs); the LSTM state only moves g.
  e = params["params"]["mem_embed"]
  vec = np.tanh(np.asarray(x[:4]) @ np.asarray(e["kernel"]) + np.asarray(e["bias"]))
  other = model.apply(params, (jnp.ones(5), -jnp.ones(5)), x)[1]
  for o in (out, other):
    g = np.asarray(o.mem_gate)
    np.testing.assert_allclose(g, g[0])  # one gate for every dimension
    np.testing.assert_allclose(o.mem_vector, (1 - g[0]) * vec, rtol=1e-5, atol=1e-6)
  assert abs(float(other.mem_gate[0]) - float(out.mem_gate[0])) > 1e-4


def test_sampled_memory_write_overwrites_or_keeps_the_cell(copy_env):
  """memory_write="sampled": a 4th action; a write replaces the cell, a keep leaves it.

  Hand-worked: the memory head stays on one cell, so the vector read at step t is
  the embedding of the observation at the last step s < t that wrote (zero before
  any write). With the direct symbol, log p(target) at step t is a function of
  (observation, read) only, which gives an exact oracle for the read.
  """
  env = copy_env
  cfg = agent.AgentConfig(hidden=4, mem_dim=3, symbol_source="direct", memory_write="sampled")
  params = agent.init_params(jax.random.key(5), cfg, env)
  p = params["params"]
  assert p["heads"]["kernel"].shape[-1] == 2 + 3 + 2 + 2  # moves, memory moves, write, keep/write
  inputs = np.array([1, 0, 1])
  obs, st = env.reset_to(inputs, env.default_params)
  pattern = [1, 0, 1, 0, 0, 1]
  t = len(pattern)
  forced = jnp.array([[1, 1, 0, w] for w in pattern], jnp.int32)  # right, mem stay, no write
  traj = agent.unroll(
      params,
      cfg,
      env,
      env.default_params,
      jax.random.key(1),
      obs,
      st,
      forced_actions=forced,
      num_steps=t,
  )
  np.testing.assert_array_equal(traj.mem_write, pattern)
  assert traj.log_prob_heads.shape == (t, 4)
  np.testing.assert_allclose(traj.log_prob, jnp.sum(traj.log_prob_heads, -1), rtol=1e-6)

  def dense(name, v):
    return np.asarray(v) @ np.asarray(p[name]["kernel"]) + np.asarray(p[name]["bias"])

  cell = np.zeros(3)
  o, s_ = obs, st
  for step, w in enumerate(pattern):
    one_hot = np.eye(env.obs_size)[int(o)]
    logits = dense("symbol", np.concatenate([one_hot, cell]))
    logp = logits - np.log(np.sum(np.exp(logits)))
    target = int(traj.target[step])
    assert target == inputs[0]  # nothing written yet
    np.testing.assert_allclose(traj.target_ll[step], logp[target], rtol=1e-5, atol=1e-6)
    if w:
      cell = np.tanh(dense("mem_embed", one_hot))
    o, s_, *_ = env.step(jax.random.key(0), s_, jnp.array([1, 0, 0]), env.default_params)
  # The gated agent takes three actions per step and names the mismatch.
  with pytest.raises(ValueError, match="forced_actions must have 3 actions"):
    agent.unroll(
        agent.init_params(jax.random.key(0), agent.AgentConfig(hidden=4, mem_dim=3), env),
        agent.AgentConfig(hidden=4, mem_dim=3),
        env,
        env.default_params,
        jax.random.key(1),
        obs,
        st,
        forced_actions=forced,
    )


@pytest.mark.parametrize("source", ["direct", "lstm"])
def test_hard_memory_write_rounds_the_gate_with_a_straight_through_gradient(source):
  """memory_write="hard": same parameters as the gate, the gate rounded to 0 / 1
  forward, and the gradient of the unrounded gate backward."""
  from rltape.reinforce.controller import Controller

  kw = dict(hidden=5, num_in_moves=3, num_mem_moves=3, base=3, mem_dim=2, symbol_source=source)
  soft, hard = Controller(**kw), Controller(memory_write="hard", **kw)
  rng = np.random.default_rng(2)
  x = jnp.asarray(rng.normal(size=soft.input_size(4)), jnp.float32)
  params = soft.init(jax.random.key(0), soft.initial_carry(), x)
  assert jax.tree_util.tree_structure(params) == jax.tree_util.tree_structure(
      hard.init(jax.random.key(0), hard.initial_carry(), x)
  )
  for carry in (soft.initial_carry(), (jnp.ones(5), -2 * jnp.ones(5))):
    g = np.asarray(soft.apply(params, carry, x)[1].mem_gate)
    out = hard.apply(params, carry, x)[1]
    np.testing.assert_array_equal(out.mem_gate, np.round(g))
    if source == "direct":  # the vector is (1 - g) * embedding, with g rounded
      emb = np.asarray(soft.apply(params, carry, x)[1].mem_vector) / (1 - g)
      np.testing.assert_allclose(out.mem_vector, (1 - np.round(g)) * emb, rtol=1e-5, atol=1e-6)

  def gate_sum(model, p):
    return jnp.sum(model.apply(p, soft.initial_carry(), x)[1].mem_gate)

  g_soft = jax.grad(lambda p: gate_sum(soft, p))(params)
  g_hard = jax.grad(lambda p: gate_sum(hard, p))(params)
  for a, b in zip(jax.tree_util.tree_leaves(g_soft), jax.tree_util.tree_leaves(g_hard)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
  assert max(float(np.max(np.abs(a))) for a in jax.tree_util.tree_leaves(g_hard)) > 1e-3


def test_feed_forward_core_is_one_tanh_layer_and_ignores_the_carry():
  """core="ff": every output is a function of this step's input only."""
  from rltape.reinforce.controller import Controller

  model = Controller(
      hidden=5,
      num_in_moves=3,
      num_mem_moves=3,
      base=2,
      mem_dim=2,
      symbol_source="direct",
      core="ff",
  )
  rng = np.random.default_rng(1)
  x = jnp.asarray(rng.normal(size=model.input_size(3)), jnp.float32)
  params = model.init(jax.random.key(0), model.initial_carry(), x)
  assert "lstm" not in params["params"] and "ff" in params["params"]
  other_carry = (jnp.ones(5), -jnp.ones(5))
  c1, a = model.apply(params, model.initial_carry(), x)
  c2, b = model.apply(params, other_carry, x)
  for u, v in zip(a, b):
    np.testing.assert_allclose(u, v, rtol=1e-6)
  np.testing.assert_array_equal(c2[0], other_carry[0])  # carry passed through
  p = params["params"]
  h = np.tanh(np.asarray(x) @ np.asarray(p["ff"]["kernel"]) + np.asarray(p["ff"]["bias"]))
  heads = h @ np.asarray(p["heads"]["kernel"]) + np.asarray(p["heads"]["bias"])
  np.testing.assert_allclose(a.in_logits, heads[:3], rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(a.mem_logits, heads[3:6], rtol=1e-5, atol=1e-6)
  _, c = model.apply(params, model.initial_carry(), -x)
  assert np.max(np.abs(np.asarray(a.in_logits) - np.asarray(c.in_logits))) > 1e-4
  with pytest.raises(ValueError, match="core must be one of"):
    Controller(hidden=5, num_in_moves=3, num_mem_moves=3, base=2, mem_dim=2, core="gru").init(
        jax.random.key(0), model.initial_carry(), x
    )


# ------------------------------------------------------------------ gradient check
T_CHECK = 3


@functools.lru_cache(maxsize=None)
def _check_setup(
    use_baseline: bool,
    loss_name: str = "correct",
    symbol_source: str = "lstm",
    memory_write: str = "gate",
    num_steps: int = T_CHECK,
    core: str = "lstm",
):
  env = envs.make("Copy", max_length=2, base=2, moves=(0, 1))
  cfg = agent.AgentConfig(
      hidden=3,
      mem_dim=2,
      use_baseline=use_baseline,
      entropy_coef=0.0,
      nll_coef=1.0,
      gamma=1.0,
      symbol_source=symbol_source,
      memory_write=memory_write,
      core=core,
  )
  variables = agent.init_params(jax.random.key(1), cfg, env)
  policy, baseline = agent.split_params(variables)
  # A baseline far from zero, so that a mistake in its use shows.
  baseline = jax.tree_util.tree_map(lambda x: x + 0.7, baseline)
  lpr, est = agent.make_gradcheck_fns(
      cfg,
      env,
      env.default_params,
      np.array([1, 0]),
      baseline,
      num_steps,
      loss_fn=BROKEN_LOSSES[loss_name],
  )
  choices = (env.num_moves, 3, 2) + ((2,) if memory_write == "sampled" else ())
  acts = gradcheck.enumerate_action_sequences(num_steps, choices)
  if (
      (use_baseline, loss_name) != (True, "correct")
      and symbol_source == "lstm"
      and memory_write == "gate"
      and core == "lstm"
  ):
    # The exact objective does not depend on the estimator: share its compiled program.
    lpr = _check_setup(True, "correct")[0]
  return lpr, est, policy, acts


def _loss_missing_memory_logprob(traj, cfg):
  """Broken: the memory-head move's log-probability is left out of the score."""
  return agent.episode_loss(
      traj._replace(log_prob=traj.log_prob_heads[:, 0] + traj.log_prob_heads[:, 2]), cfg
  )


def _loss_unstopped_return(traj, cfg):
  """Broken: the reward-to-go is differentiated inside the score-function term."""
  alive = traj.alive.astype(traj.log_prob.dtype)
  r_t = agent.rewards(traj, cfg)
  g_t = agent.reward_to_go(r_t, cfg.gamma)
  adv = g_t - jax.lax.stop_gradient(traj.baseline)
  return -jnp.sum(alive * traj.log_prob * adv) - jnp.sum(r_t), {}


def _loss_missing_memory_write_logprob(traj, cfg):
  """Broken: the sampled memory write's log-probability is left out of the score."""
  return agent.episode_loss(traj._replace(log_prob=jnp.sum(traj.log_prob_heads[:, :3], -1)), cfg)


BROKEN_LOSSES = {
    "correct": None,
    "missing_mem_logprob": _loss_missing_memory_logprob,
    "unstopped_return": _loss_unstopped_return,
    "missing_mem_write_logprob": _loss_missing_memory_write_logprob,
}


@pytest.mark.parametrize("use_baseline", [True, pytest.param(False, marks=pytest.mark.slow)])
def test_gradient_check_passes_for_project_estimator(use_baseline):
  lpr, est, policy, acts = _check_setup(use_baseline)
  result = gradcheck.check_reinforce_gradient(lpr, est, policy, acts, raise_on_failure=True)
  assert result.passed
  assert result.total_probability == pytest.approx(1.0, abs=1e-12)
  # Every controller leaf is covered, the memory-write head included.
  assert "['heads']['kernel']" in result.max_rel_error
  assert any("lstm" in k for k in result.max_rel_error)
  # The check is not vacuous: the gradient is far from zero.
  flat = np.concatenate([np.ravel(x) for x in jax.tree_util.tree_leaves(result.finite_diff_grad)])
  assert np.max(np.abs(flat)) > 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("core,leaf", [("lstm", "symbol"), ("ff", "['ff']")])
def test_gradient_check_passes_with_direct_symbol_output(core, leaf):
  """The direct symbol output, with the LSTM and with the feed-forward core."""
  lpr, est, policy, acts = _check_setup(True, symbol_source="direct", core=core)
  result = gradcheck.check_reinforce_gradient(lpr, est, policy, acts, raise_on_failure=True)
  assert result.passed
  assert any(leaf in k for k in result.max_rel_error)
  flat = np.concatenate([np.ravel(x) for x in jax.tree_util.tree_leaves(result.finite_diff_grad)])
  assert np.max(np.abs(flat)) > 1e-3


@pytest.mark.slow
def test_gradient_check_passes_with_sampled_memory_write():
  """The keep/write action is scored by REINFORCE; the embedding by backprop."""
  lpr, est, policy, acts = _check_setup(
      True, symbol_source="direct", memory_write="sampled", num_steps=2
  )
  assert acts.shape == (24**2, 2, 4)
  result = gradcheck.check_reinforce_gradient(lpr, est, policy, acts, raise_on_failure=True)
  assert result.passed
  assert result.total_probability == pytest.approx(1.0, abs=1e-12)
  g = result.finite_diff_grad
  assert np.max(np.abs(np.asarray(g["mem_embed"]["kernel"]))) > 1e-4  # memory in the loop
  assert np.max(np.abs(np.asarray(g["heads"]["kernel"][:, -2:]))) > 1e-4  # keep/write logits


@pytest.mark.slow
@pytest.mark.parametrize(
    "loss_name,bad_leaf",
    [
        ("missing_mem_logprob", "['heads']"),
        ("unstopped_return", "['heads']"),
        ("missing_mem_write_logprob", "['heads']"),
    ],
)
def test_gradient_check_fails_for_broken_estimators(loss_name, bad_leaf):
  kw = (
      dict(symbol_source="direct", memory_write="sampled", num_steps=2)
      if loss_name == "missing_mem_write_logprob"
      else {}
  )
  lpr, est, policy, acts = _check_setup(True, loss_name, **kw)
  result = gradcheck.check_reinforce_gradient(lpr, est, policy, acts)
  assert not result.passed
  report = result.report()
  assert "FAILED" in report
  assert any(line.startswith(bad_leaf) and "MISMATCH" in line for line in report.splitlines())
