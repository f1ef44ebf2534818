"""Q-learning targets of "Learning Simple Algorithms from Examples".

Zaremba, Mikolov, Joulin & Fergus (2016) train the controller's Q-head with three
ingredients, each expressed here as small unbatched functions over one episode
(time on the leading axis, rlax convention: the transition `tm1 -> t` carries
`r_t`, `discount_t` and the next state's `q_t`):

* Dynamic discount. With Vhat(s) = number of predictions still to make, the model
  estimates Qhat = Q / Vhat. The one-step target becomes

      Qhat_tm1 <- r_t / Vhat_tm1 + (Vhat_t / Vhat_tm1) max_a Qhat_t(a),

  i.e. ordinary Q-learning on the transformed reward `r_t / Vhat_tm1` and discount
  `Vhat_t / Vhat_tm1` (`dynamic_discount_transform`). Products of the transformed
  discounts telescope, so multi-step returns become "sum of the rewards, divided by
  Vhat at the start".
* Watkins Q(lambda). The behaviour policy is 95% greedy, 5% uniform; returns are
  summed (lambda = 1) up to the first exploratory action and bootstrap from max Q
  there. In rlax's `lambda_returns` recursion
  `G_tm1 = r_t + discount_t ((1 - lambda_t) max q_t + lambda_t G_t)`, so the cut is
  the per-step `lambda_t = 1` when the action taken at `s_t` was greedy, else 0
  (`watkins_lambda`).
* Penalty. Under the dynamic discount a correct Qhat lies in [0, 1]; once the
  model is accurate, a small quadratic penalty (weight 0.01) pulls the Q values of
  confident samples back into that interval (`interval_penalty`).
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import rlax

Array = chex.Array


def dynamic_discount_transform(
    r_t: Array, discount_t: Array, v_tm1: Array, v_t: Array
) -> tuple[Array, Array]:
  """Rewrites reward and discount so Q-learning estimates Q / Vhat.

  Args:
    r_t: [T] rewards of the transitions tm1 -> t.
    discount_t: [T] environment continuation (0 at termination, else 1 or a fixed
      gamma).
    v_tm1: [T] Vhat at the start of each transition (predictions left before the
      step). Values < 1 only occur on padding after the episode ended and are
      treated as 1 so the result stays finite.
    v_t: [T] Vhat after each transition.

  Returns:
    (r_t / Vhat_tm1, discount_t * Vhat_t / Vhat_tm1), both float32 [T].
  """
  chex.assert_rank([r_t, discount_t, v_tm1, v_t], 1)
  chex.assert_equal_shape([r_t, discount_t, v_tm1, v_t])
  v_tm1 = jnp.maximum(jnp.asarray(v_tm1, jnp.float32), 1.0)
  v_t = jnp.asarray(v_t, jnp.float32)
  return (jnp.asarray(r_t, jnp.float32) / v_tm1, jnp.asarray(discount_t, jnp.float32) * v_t / v_tm1)


def watkins_lambda(greedy_t: Array, lambda_: float = 1.0) -> Array:
  """Per-step lambda that cuts a return at the first exploratory action.

  Args:
    greedy_t: [T] bool, whether the action taken at s_t (the state the
      transition tm1 -> t lands in) was the greedy one.
    lambda_: trace decay used while the behaviour stays greedy (Watkins: 1).

  Returns:
    float32 [T]: lambda_ where greedy, 0 where exploratory.
  """
  chex.assert_rank(greedy_t, 1)
  return jnp.where(greedy_t, jnp.float32(lambda_), jnp.float32(0.0))


def q_lambda_targets(r_t: Array, discount_t: Array, q_t: Array, lambda_t: Array) -> Array:
  """Watkins Q(lambda) regression targets (lambda_t = 0 gives one-step targets).

  G_tm1 = r_t + discount_t ((1 - lambda_t) max_a q_t(a) + lambda_t G_t), with the
  last step bootstrapping fully from max_a q_T.

  Args:
    r_t: [T] rewards.
    discount_t: [T] discounts.
    q_t: [T, A] Q values of the states s_t.
    lambda_t: [T] per-step lambda.

  Returns:
    float32 [T] targets for Q(s_tm1, a_tm1), with gradients stopped.
  """
  chex.assert_rank([r_t, discount_t, q_t, lambda_t], [1, 1, 2, 1])
  v_t = jnp.max(q_t, axis=-1)
  return jax.lax.stop_gradient(rlax.lambda_returns(r_t, discount_t, v_t, lambda_t))


def q_lambda_td(
    q_tm1: Array, a_tm1: Array, r_t: Array, discount_t: Array, q_t: Array, lambda_t: Array
) -> Array:
  """TD errors (target - Q(s_tm1, a_tm1)) of Watkins Q(lambda), via rlax."""
  chex.assert_rank([q_tm1, a_tm1, r_t, discount_t, q_t, lambda_t], [2, 1, 1, 1, 2, 1])
  return rlax.q_lambda(q_tm1, a_tm1, r_t, discount_t, q_t, lambda_t, stop_target_gradients=True)


def interval_penalty(q: Array, low: float = 0.0, high: float = 1.0) -> Array:
  """Quadratic distance of each Q value from [low, high], summed over actions.

  Args:
    q: [..., A] Q values.
    low: lower end of the admissible interval.
    high: upper end.

  Returns:
    [...] sum_a (relu(q - high)^2 + relu(low - q)^2).
  """
  return jnp.sum(jnp.square(jax.nn.relu(q - high)) + jnp.square(jax.nn.relu(low - q)), axis=-1)
