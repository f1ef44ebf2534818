"""Controllers of the Q-learning agents: shapes, input encoding, unroll = steps."""

from absl.testing import absltest
from absl.testing import parameterized
import jax
import jax.numpy as jnp
import numpy as np

from rltape.qlearning import controllers


class ControllersTest(parameterized.TestCase):

  def test_encode_input_one_hots(self):
    x = controllers.encode_input(
        jnp.array(2), jnp.array(4), jnp.array(3), obs_size=4, num_actions=4, base=3
    )
    self.assertEqual(x.shape, (controllers.input_size(4, 4, 3),))
    # obs slot 2, "start" action slot 4 (of 5), "nothing written" slot 3 (of 4).
    expected = np.zeros(13)
    expected[[2, 4 + 4, 4 + 5 + 3]] = 1
    np.testing.assert_array_equal(x, expected)

  @parameterized.parameters("gru", "lstm", "ff")
  def test_unroll_matches_step_by_step(self, kind):
    m = controllers.Controller(kind, units=8, num_actions=6, base=5)
    d = 7
    params = m.init(jax.random.key(0), m.initial_carry(), jnp.zeros((d,)))
    xs = jax.random.normal(jax.random.key(1), (4, 3, d))
    q, logits = controllers.unroll(m, params, m.initial_carry((3,)), xs)
    self.assertEqual(q.shape, (4, 3, 6))
    self.assertEqual(logits.shape, (4, 3, 5))
    carry = m.initial_carry((3,))
    for t in range(4):
      carry, (q_t, l_t) = m.apply(params, carry, xs[t])
      np.testing.assert_allclose(q[t], q_t, rtol=1e-5, atol=1e-6)
      np.testing.assert_allclose(logits[t], l_t, rtol=1e-5, atol=1e-6)

  @parameterized.parameters("gru", "lstm", "ff")
  def test_head_layer(self, kind):
    """head_layer: Dense(units) + tanh before both heads, recurrent kinds only."""
    m = controllers.Controller(kind, units=8, num_actions=6, base=5, head_layer=True)
    params = m.init(jax.random.key(0), m.initial_carry(), jnp.zeros((7,)))
    p = params["params"]
    self.assertEqual("head_hidden" in p, kind != "ff")
    if kind == "ff":
      return
    x = jax.random.normal(jax.random.key(1), (7,))
    carry, (q, logits) = m.apply(params, m.initial_carry(), x)
    h = carry if kind == "gru" else carry[1]  # the cell's output
    z = np.tanh(
        np.asarray(h) @ np.asarray(p["head_hidden"]["kernel"])
        + np.asarray(p["head_hidden"]["bias"])
    )
    np.testing.assert_allclose(
        q,
        z @ np.asarray(p["q_head"]["kernel"]) + np.asarray(p["q_head"]["bias"]),
        rtol=1e-5,
        atol=1e-5,
    )
    np.testing.assert_allclose(
        logits,
        z @ np.asarray(p["symbol_head"]["kernel"]) + np.asarray(p["symbol_head"]["bias"]),
        rtol=1e-5,
        atol=1e-5,
    )

  def test_ff_has_no_memory_gru_has(self):
    xs = jax.random.normal(jax.random.key(2), (2, 1, 5))
    xs2 = xs.at[0].set(-xs[0])  # differ only at the first step
    for kind, same in (("ff", True), ("gru", False)):
      m = controllers.Controller(kind, units=8, num_actions=4, base=3)
      params = m.init(jax.random.key(0), m.initial_carry(), jnp.zeros((5,)))
      q1, _ = controllers.unroll(m, params, m.initial_carry((1,)), xs)
      q2, _ = controllers.unroll(m, params, m.initial_carry((1,)), xs2)
      self.assertEqual(bool(np.allclose(q1[1], q2[1])), same, kind)

  def test_unknown_kind(self):
    m = controllers.Controller("rnn", units=8, num_actions=4, base=3)
    with self.assertRaisesRegex(ValueError, "unknown controller 'rnn'"):
      m.init(jax.random.key(0), m.initial_carry(), jnp.zeros((5,)))


if __name__ == "__main__":
  absltest.main()
