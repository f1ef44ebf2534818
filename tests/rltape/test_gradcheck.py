"""Tests of the exact REINFORCE gradient checker on a toy sequential policy.

The toy policy has two action heads (2 and 3 choices) over 3 steps, a state
that remembers the previous action, and a reward that is differentiable in the
parameters, so both terms of the REINFORCE derivative
``sum_a p'(a) R(a) + sum_a p(a) R'(a)`` matter.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rltape import gradcheck

T, CHOICES = 3, (2, 3)


def init_params(key):
  k = jax.random.split(key, 4)
  return {
      "w1": jax.random.normal(k[0], (4, 2)),  # state -> head 1 logits
      "w2": jax.random.normal(k[1], (4, 3)),  # state -> head 2 logits
      "v": jax.random.normal(k[2], (2,)),  # reward scale per head-1 action
      "u": jax.random.normal(k[3], (4,)),
  }


C = jnp.array([0.5, -1.0, 2.0])  # constant reward per head-2 action


def unroll(params, actions):
  """Per-step log-probs [T, 2], rewards [T], states [T, 4]."""

  def step(prev, a):
    s = jnp.concatenate(
        [jax.nn.one_hot(prev, 3, dtype=params["u"].dtype), jnp.ones(1, params["u"].dtype)]
    )
    lp1 = jax.nn.log_softmax(s @ params["w1"])[a[0]]
    lp2 = jax.nn.log_softmax(s @ params["w2"])[a[1]]
    r = params["v"][a[0]] * jnp.tanh(params["u"] @ s) + C[a[1]]
    return a[1], (jnp.stack([lp1, lp2]), r, s)

  _, (lp, r, s) = jax.lax.scan(step, jnp.int32(0), actions)
  return lp, r, s


def log_prob_and_return(params, actions):
  lp, r, _ = unroll(params, actions)
  return jnp.sum(lp), jnp.sum(r)


def reward_to_go(r):
  return jnp.cumsum(r[::-1])[::-1]


def past_baseline(actions):
  """A baseline that depends only on actions before t: legitimate."""
  prev = jnp.concatenate([jnp.zeros(1, jnp.int32), actions[:-1, 0]])
  return 0.7 + 0.9 * jnp.cumsum(prev)


def surrogate(
    params,
    actions,
    *,
    baseline_sign=1.0,
    drop_head2=False,
    stop_grad=True,
    score_sign=1.0,
    action_baseline=False
):
  lp, r, _ = unroll(params, actions)
  if drop_head2:
    lp = lp.at[:, 1].set(0.0)
  g = reward_to_go(r)
  b = past_baseline(actions)
  if action_baseline:
    b = b + 1.5 * actions[:, 1]  # depends on the very action it is subtracted for
  adv = g - baseline_sign * b
  if stop_grad:
    adv = jax.lax.stop_gradient(adv)
  return score_sign * jnp.sum(jnp.sum(lp, axis=1) * adv) + jnp.sum(r)


_ESTIMATORS = {}


def estimator(**kw):
  """One function object per variant, so the checker's compiled programs are reused."""
  key = tuple(sorted(kw.items()))
  if key not in _ESTIMATORS:
    _ESTIMATORS[key] = jax.grad(lambda p, a: surrogate(p, a, **kw))
  return _ESTIMATORS[key]


@pytest.fixture(scope="module")
def setup():
  return init_params(jax.random.key(0)), gradcheck.enumerate_action_sequences(T, CHOICES)


def test_enumeration_is_complete_and_ordered():
  acts = gradcheck.enumerate_action_sequences(2, (2, 3))
  assert acts.shape == (36, 2, 2)
  as_tuples = {tuple(map(tuple, a)) for a in acts}
  assert len(as_tuples) == 36
  assert all(0 <= a[0] < 2 and 0 <= a[1] < 3 for seq in acts for a in seq)
  np.testing.assert_array_equal(acts[0], [[0, 0], [0, 0]])
  np.testing.assert_array_equal(acts[1], [[0, 0], [0, 1]])
  np.testing.assert_array_equal(acts[-1], [[1, 2], [1, 2]])


def test_enumeration_rejects_bad_sizes():
  with pytest.raises(ValueError, match="too many"):
    gradcheck.enumerate_action_sequences(10, (3, 3, 2))
  with pytest.raises(ValueError, match="positive"):
    gradcheck.enumerate_action_sequences(0, (2,))


def test_exact_objective_matches_python_sum(setup):
  params, acts = setup
  result = gradcheck.check_reinforce_gradient(log_prob_and_return, estimator(), params, acts)
  # Independent oracle: a plain Python loop over the sequences in float64.
  p64 = jax.tree_util.tree_map(lambda x: np.asarray(x, np.float64), params)
  total_j, total_p = 0.0, 0.0
  for seq in acts:
    prev, logp, ret = 0, 0.0, 0.0
    for a1, a2 in seq:
      s = np.concatenate([np.eye(3)[prev], [1.0]])
      l1, l2 = s @ p64["w1"], s @ p64["w2"]
      logp += l1[a1] - np.log(np.exp(l1).sum()) + l2[a2] - np.log(np.exp(l2).sum())
      ret += p64["v"][a1] * np.tanh(p64["u"] @ s) + float(C[a2])
      prev = a2
    total_j += np.exp(logp) * ret
    total_p += np.exp(logp)
  assert result.total_probability == pytest.approx(1.0, abs=1e-12)
  assert total_p == pytest.approx(1.0, abs=1e-12)
  assert result.objective == pytest.approx(total_j, rel=1e-10)


@pytest.mark.parametrize("kw", [{}, {"baseline_sign": 0.0}])
def test_correct_estimator_passes(setup, kw):
  params, acts = setup
  result = gradcheck.check_reinforce_gradient(
      log_prob_and_return, estimator(**kw), params, acts, raise_on_failure=True
  )
  assert result.passed
  assert max(result.max_rel_error.values()) < 1e-6
  assert set(result.max_rel_error) == {"['u']", "['v']", "['w1']", "['w2']"}


@pytest.mark.parametrize(
    "kw,bad_leaves",
    [
        ({"drop_head2": True}, {"['w2']"}),  # missing log-probability term
        ({"stop_grad": False}, {"['u']", "['v']"}),  # return differentiated inside the score term
        ({"score_sign": -1.0}, {"['w1']", "['w2']"}),  # descent on the score term
        ({"action_baseline": True}, {"['w2']"}),  # baseline depends on the current action
    ],
)
def test_broken_estimators_fail_with_report(setup, kw, bad_leaves):
  params, acts = setup
  result = gradcheck.check_reinforce_gradient(log_prob_and_return, estimator(**kw), params, acts)
  assert not result.passed
  failing = {k for k, v in result.max_rel_error.items() if v > result.rtol}
  assert bad_leaves <= failing
  report = result.report()
  assert "FAILED" in report and "MISMATCH" in report
  for leaf in bad_leaves:
    line = next(l for l in report.splitlines() if l.startswith(leaf))
    assert "MISMATCH" in line
  with pytest.raises(gradcheck.GradCheckError, match="MISMATCH"):
    gradcheck.check_reinforce_gradient(
        log_prob_and_return, estimator(**kw), params, acts, raise_on_failure=True
    )


def test_wrong_baseline_sign_is_unbiased_so_passes(setup):
  # E[grad log p(a_t) b_t] = 0 for a baseline of the past: the sign flip only
  # changes the variance, which an exact check (by design) cannot see.
  params, acts = setup
  result = gradcheck.check_reinforce_gradient(
      log_prob_and_return, estimator(baseline_sign=-1.0), params, acts
  )
  assert result.passed, result.report()


def test_incomplete_enumeration_fails(setup):
  params, acts = setup
  result = gradcheck.check_reinforce_gradient(
      log_prob_and_return, estimator(), params, acts[: len(acts) // 2]
  )
  assert not result.passed
  assert result.total_probability < 1.0
  assert "Enumeration incomplete" in result.report()


def test_rejects_bad_actions(setup):
  params, acts = setup
  with pytest.raises(ValueError, match="actions"):
    gradcheck.check_reinforce_gradient(
        log_prob_and_return, estimator(), params, acts.astype(np.float32)
    )
