"""Q-learning targets against returns worked out by hand on short episodes."""

from absl.testing import absltest
from absl.testing import parameterized
import chex
import jax.numpy as jnp
import numpy as np

from rltape.qlearning import targets


def _watkins_dynamic_oracle(rewards, v_before, qhat_next_max, greedy_next, terminal):
  """Plain-Python Watkins return under the dynamic discount.

  From s_tm1: add rewards while the next action stays greedy, stop at the first
  exploratory action (or the end) and add Vhat * max Qhat there, then divide by
  Vhat(s_tm1). No JAX, no recursion shared with the code under test.
  """
  n = len(rewards)
  out = []
  for start in range(n):
    total = 0.0
    for t in range(start, n):
      total += rewards[t]
      if terminal[t]:
        break
      v_next = v_before[t] - rewards[t]
      if t == n - 1 or not greedy_next[t]:
        total += v_next * qhat_next_max[t]
        break
    out.append(total / v_before[start])
  return np.array(out, np.float32)


class TargetsTest(parameterized.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_dynamic_transform_by_hand(self):
    r, d = self.variant(targets.dynamic_discount_transform)(
        jnp.array([1.0, 1.0, 1.0]),
        jnp.array([1.0, 1.0, 0.0]),
        jnp.array([3, 2, 1]),
        jnp.array([2, 1, 0]),
    )
    np.testing.assert_allclose(r, [1 / 3, 1 / 2, 1.0], rtol=1e-6)
    np.testing.assert_allclose(d, [2 / 3, 1 / 2, 0.0], rtol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_dynamic_transform_padding_stays_finite(self):
    r, d = self.variant(targets.dynamic_discount_transform)(
        jnp.array([0.0]), jnp.array([0.0]), jnp.array([0]), jnp.array([0])
    )
    self.assertTrue(np.isfinite(r).all() and np.isfinite(d).all())
    np.testing.assert_allclose([r[0], d[0]], [0.0, 0.0])

  @chex.variants(with_jit=True, without_jit=True)
  def test_one_step_fixed_discount_by_hand(self):
    # gamma 0.9, last transition terminal; lambda 0 => r + 0.9 max q_t.
    g = self.variant(targets.q_lambda_targets)(
        jnp.array([1.0, 1.0, 0.0]),
        jnp.array([0.9, 0.9, 0.0]),
        jnp.array([[0.5, 2.0], [1.0, 3.0], [7.0, 7.0]]),
        jnp.zeros(3),
    )
    np.testing.assert_allclose(g, [2.8, 3.7, 0.0], rtol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_dynamic_full_episode_is_one(self):
    # Three correct predictions out of three: every Qhat target is 3/3 = 1,
    # whatever the bootstrap values, because the episode terminates.
    r, d = targets.dynamic_discount_transform(
        jnp.ones(3), jnp.array([1.0, 1.0, 0.0]), jnp.array([3, 2, 1]), jnp.array([2, 1, 0])
    )
    g = self.variant(targets.q_lambda_targets)(
        r, d, jnp.full((3, 4), 5.0), targets.watkins_lambda(jnp.ones(3, bool))
    )
    np.testing.assert_allclose(g, [1.0, 1.0, 1.0], rtol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_watkins_cut_dynamic_by_hand(self):
    # Vhat 5,4,3,2 -> 4,3,2,1; rewards 1,1,1,1; no termination; max Qhat at
    # s1..s4 = .2,.4,.6,.8; the action at s2 is exploratory.
    #   G3 = (1 + 1*.8)/2                = .9
    #   G2 = (1 + 1 + 1*.8)/3            = .93333
    #   G1 = (1 + 3*.4)/4                = .55   (cut at s2)
    #   G0 = (1 + 1 + 3*.4)/5            = .64   (cut at s2)
    rewards = [1.0, 1.0, 1.0, 1.0]
    v_before = [5, 4, 3, 2]
    qmax = [0.2, 0.4, 0.6, 0.8]
    greedy = [True, False, True, True]
    r, d = targets.dynamic_discount_transform(
        jnp.array(rewards), jnp.ones(4), jnp.array(v_before), jnp.array(v_before) - 1
    )
    q_t = jnp.stack([jnp.array(qmax), jnp.array(qmax) - 1.0], axis=-1)
    g = self.variant(targets.q_lambda_targets)(r, d, q_t, targets.watkins_lambda(jnp.array(greedy)))
    np.testing.assert_allclose(g, [0.64, 0.55, 2.8 / 3, 0.9], rtol=1e-5)
    np.testing.assert_allclose(
        g, _watkins_dynamic_oracle(rewards, v_before, qmax, greedy, [False] * 4), rtol=1e-5
    )

  @parameterized.parameters(
      ([1.0, 0.0], [3, 2], [0.5, 0.1], [True, True], [False, True]),
      (
          [1.0, 1.0, 1.0, 0.0, 0.0],
          [6, 5, 4, 3, 3],
          [0.3, 0.9, 0.1, 0.7, 0.2],
          [False, True, True, False, True],
          [False, False, False, True, True],
      ),
      (
          [1.0, 1.0, 1.0, 1.0, 1.0],
          [9, 8, 7, 6, 5],
          [0.5, 0.6, 0.7, 0.8, 0.9],
          [True, True, False, True, True],
          [False] * 5,
      ),
  )
  def test_watkins_dynamic_against_oracle(self, rewards, v_before, qmax, greedy, terminal):
    v_before = np.array(v_before)
    v_after = v_before - np.array(rewards, np.int32)
    cont = 1.0 - np.array(terminal, np.float32)
    r, d = targets.dynamic_discount_transform(
        jnp.array(rewards), jnp.array(cont), jnp.array(v_before), jnp.array(v_after)
    )
    q_t = jnp.stack([jnp.array(qmax), jnp.zeros(len(qmax))], axis=-1)
    g = targets.q_lambda_targets(r, d, q_t, targets.watkins_lambda(jnp.array(greedy)))
    np.testing.assert_allclose(
        g, _watkins_dynamic_oracle(rewards, v_before, qmax, greedy, terminal), rtol=1e-5, atol=1e-6
    )

  @chex.variants(with_jit=True, without_jit=True)
  def test_watkins_fixed_gamma_by_hand(self):
    # gamma .5, rewards 1,2,4, max q_t = 10,20,40, action at s1 exploratory.
    #   G2 = 4 + .5*40 = 24; G1 = 2 + .5*24 = 14; G0 = 1 + .5*10 = 6.
    g = self.variant(targets.q_lambda_targets)(
        jnp.array([1.0, 2.0, 4.0]),
        jnp.full(3, 0.5),
        jnp.array([[10.0, 0.0], [20.0, 0.0], [40.0, 0.0]]),
        targets.watkins_lambda(jnp.array([False, True, True])),
    )
    np.testing.assert_allclose(g, [6.0, 14.0, 24.0], rtol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_td_is_target_minus_taken_q(self):
    q_tm1 = jnp.array([[0.1, 0.7], [0.3, 0.2], [0.5, 0.9]])
    a_tm1 = jnp.array([1, 0, 0])
    r_t = jnp.array([1.0, 0.0, 1.0])
    d_t = jnp.array([0.5, 0.5, 0.0])
    q_t = jnp.array([[2.0, 0.0], [0.0, 4.0], [1.0, 1.0]])
    lam = jnp.array([1.0, 0.0, 1.0])
    td = self.variant(targets.q_lambda_td)(q_tm1, a_tm1, r_t, d_t, q_t, lam)
    # G2 = 1; G1 = 0 + .5*(1*4... lambda_1 = 0 -> .5*4) = 2; G0 = 1 + .5*G1 = 2.
    np.testing.assert_allclose(td, [2.0 - 0.7, 2.0 - 0.3, 1.0 - 0.5], rtol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_interval_penalty_by_hand(self):
    p = self.variant(targets.interval_penalty)(jnp.array([[-0.5, 0.5, 1.5], [0.0, 1.0, 0.3]]))
    np.testing.assert_allclose(p, [0.5, 0.0], atol=1e-7)


if __name__ == "__main__":
  absltest.main()
