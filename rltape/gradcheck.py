"""Exact gradient checking for REINFORCE-style (score-function) estimators.

A stochastic gradient estimator cannot be checked against finite differences
sample by sample, and averaging samples needs millions of them for a useful
precision (Zaremba, "Turing complete neural network based models", slides on
gradient checking of REINFORCE). In a tiny setting -- a few steps, a tiny
controller, a limited action space -- every action sequence ``a`` can be
enumerated instead, which makes both sides exact:

* the objective  ``J(theta) = sum_a p_theta(a) R(a, theta)``, where ``R`` may
  itself depend on ``theta`` (e.g. a log-likelihood reward computed from
  memory vectors that are trained by backpropagation);
* the estimator's expectation  ``E[g] = sum_a p_theta(a) g(a, theta)``, where
  ``g`` is the per-sample gradient the training code uses.

The check compares ``E[g]`` with central finite differences of ``J``,
``(J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)``, in float64, and
reports the largest relative error in each parameter leaf. An unbiased
estimator passes to ~1e-8; a biased one (a missing log-probability term, a
reward that is not stopped from being differentiated inside the score term, a
baseline that depends on the action it is subtracted for) fails with errors of
order one.

Note what such a check *cannot* see: a bug that keeps the estimator unbiased
only changes its variance, e.g. the wrong sign on a baseline that depends only
on the past (``E[grad log p(a_t) b_t] = 0`` for any such ``b_t``).

Usage (the functions take one action sequence, unbatched)::

    def log_prob_and_return(params, actions):   # actions: int32[T, heads]
        ...                                     # -> (sum_t log p(a_t|...), R(a, params))
    def grad_estimator(params, actions):        # -> pytree like params
        return jax.grad(surrogate)(params, actions)

    actions = gradcheck.enumerate_action_sequences(3, (3, 3, 2))
    result = gradcheck.check_reinforce_gradient(
        log_prob_and_return, grad_estimator, params, actions)
    assert result.passed, result.report()

``log_prob_and_return`` must return the log-probability of the *whole*
sequence, including steps after the episode ended (they still sum to one over
the enumeration), so that ``sum_a p(a) = 1``; the check reports that total.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

PyTree = Any
LogProbAndReturn = Callable[[PyTree, jax.Array], tuple[jax.Array, jax.Array]]
GradEstimator = Callable[[PyTree, jax.Array], PyTree]


class GradCheckError(AssertionError):
  """Raised by :func:`check_reinforce_gradient` on a mismatch when asked to."""


@dataclasses.dataclass(frozen=True)
class GradCheckResult:
  """Outcome of a gradient check.

  Attributes:
    passed: every leaf's max relative error is within ``rtol`` and the
      enumerated probabilities sum to one.
    max_rel_error: leaf path -> max over elements of
      ``|g - fd| / max(|g| + |fd|, atol)``.
    max_abs_error: leaf path -> max over elements of ``|g - fd|``.
    worst: leaf path -> (flat index, estimator value, finite-difference value)
      of the worst element.
    estimator_grad: the exact expectation of the estimator (numpy pytree).
    finite_diff_grad: central finite differences of the exact objective.
    objective: the exact objective ``J(theta)``.
    total_probability: ``sum_a p(a)`` (1 when the enumeration is complete).
    num_sequences: number of enumerated action sequences.
    eps, rtol, atol: the settings used.
  """

  passed: bool
  max_rel_error: dict[str, float]
  max_abs_error: dict[str, float]
  worst: dict[str, tuple[int, float, float]]
  estimator_grad: PyTree
  finite_diff_grad: PyTree
  objective: float
  total_probability: float
  num_sequences: int
  eps: float
  rtol: float
  atol: float

  def report(self) -> str:
    """A table of the per-leaf errors, marking the leaves that fail."""
    lines = [
        f"REINFORCE gradient check: {'PASSED' if self.passed else 'FAILED'} "
        f"({self.num_sequences} action sequences, sum p = {self.total_probability:.12f}, "
        f"J = {self.objective:.8g}, eps = {self.eps:g}, rtol = {self.rtol:g})",
        f"{'leaf':<48} {'max rel err':>12} {'max abs err':>12}  worst (index: estimator vs finite diff)",
    ]
    for path, rel in self.max_rel_error.items():
      idx, est, fd = self.worst[path]
      flag = "  <-- MISMATCH" if rel > self.rtol else ""
      lines.append(
          f"{path:<48} {rel:12.3e} {self.max_abs_error[path]:12.3e}  "
          f"[{idx}]: {est:+.8e} vs {fd:+.8e}{flag}"
      )
    if abs(self.total_probability - 1.0) > 1e-9:
      lines.append(
          "Enumeration incomplete: the probabilities of the given action "
          "sequences do not sum to one."
      )
    return "\n".join(lines)


def enumerate_action_sequences(num_steps: int, choices: Sequence[int]) -> np.ndarray:
  """Every action sequence of a small discrete action space.

  Args:
    num_steps: episode length T.
    choices: number of choices of each action head at each step, e.g.
      ``(3, 3, 2)`` for input move, memory move, write flag.

  Returns:
    int32[N, T, len(choices)] with ``N = prod(choices) ** T``, in
    lexicographic order.

  Raises:
    ValueError: on a non-positive size or an enumeration over 10**6 sequences.
  """
  if num_steps < 1 or not choices or any(int(c) < 1 for c in choices):
    raise ValueError(f"need num_steps >= 1 and positive choices, got {num_steps}, {choices}")
  per_step = int(np.prod(choices))
  n = per_step**num_steps
  if n > 10**6:
    raise ValueError(
        f"{n} action sequences ({per_step}^{num_steps}) is too many to "
        "enumerate; shrink the number of steps or the action space"
    )
  step_actions = np.array(
      list(itertools.product(*[range(int(c)) for c in choices])), np.int32
  )  # [per_step, heads]
  idx = np.array(list(itertools.product(range(per_step), repeat=num_steps)), np.int32)
  return step_actions[idx]  # [N, T, heads]


def _leaf_paths(tree: PyTree) -> list[str]:
  return [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_leaves_with_path(tree)]


def _to_f64(tree: PyTree) -> PyTree:
  return jax.tree_util.tree_map(
      lambda x: jnp.asarray(x, jnp.float64)
      if jnp.issubdtype(jnp.asarray(x).dtype, jnp.floating)
      else x,
      tree,
  )


# The two programs are module-level jits keyed on the (hashable) user
# functions, so repeated checks of the same functions and shapes compile once.


def _sequence_terms(log_prob_and_return, params, acts):
  return jax.vmap(log_prob_and_return, in_axes=(None, 0))(params, acts)


@functools.partial(jax.jit, static_argnums=(0,))
def _objective(log_prob_and_return, params, acts):
  logp, ret = _sequence_terms(log_prob_and_return, params, acts)
  p = jnp.exp(logp)
  return jnp.sum(p * ret), jnp.sum(p)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _expected_estimate(log_prob_and_return, grad_estimator, params, acts):
  logp, _ = _sequence_terms(log_prob_and_return, params, acts)
  # The weights are the (fixed) probabilities of drawing each sequence.
  w = jax.lax.stop_gradient(jnp.exp(logp))
  g = jax.vmap(grad_estimator, in_axes=(None, 0))(params, acts)
  g_flat = jax.vmap(lambda t: ravel_pytree(t)[0])(g)
  return w @ g_flat


def _finite_differences(log_prob_and_return, params, acts, eps):
  """Central differences of J along every coordinate, reusing the compiled J."""
  flat, unravel = ravel_pytree(params)
  flat = np.asarray(flat)
  out = np.zeros_like(flat)
  for i in range(flat.shape[0]):
    d = np.zeros_like(flat)
    d[i] = eps
    j_plus = _objective(log_prob_and_return, unravel(jnp.asarray(flat + d)), acts)[0]
    j_minus = _objective(log_prob_and_return, unravel(jnp.asarray(flat - d)), acts)[0]
    out[i] = (float(j_plus) - float(j_minus)) / (2 * eps)
  return out


def check_reinforce_gradient(
    log_prob_and_return: LogProbAndReturn,
    grad_estimator: GradEstimator,
    params: PyTree,
    actions: np.ndarray,
    *,
    eps: float = 1e-5,
    rtol: float = 1e-4,
    atol: float = 1e-6,
    raise_on_failure: bool = False,
) -> GradCheckResult:
  """Compares an estimator's exact expectation with finite differences of J.

  Runs in float64 (inside ``jax.enable_x64``); float leaves of ``params`` are
  cast to float64, so the functions should compute in the dtype of their
  parameters.

  Args:
    log_prob_and_return: ``(params, actions[T, heads]) -> (log p(a), R(a))``,
      both scalars; ``R`` may depend on ``params``.
    grad_estimator: ``(params, actions[T, heads]) -> pytree like params``, the
      per-sample gradient estimate ``g(a, theta)`` the training code uses
      (e.g. ``jax.grad`` of a surrogate; of *minus* the loss if the training
      code minimises a loss).
    params: the parameters to check (a pytree of float arrays).
    actions: int[N, T, heads], all action sequences with nonzero probability
      (see :func:`enumerate_action_sequences`).
    eps: finite-difference step.
    rtol: largest relative error allowed per element.
    atol: floor of the relative error's denominator, so that elements whose
      true gradient is zero are compared absolutely.
    raise_on_failure: raise ``GradCheckError`` with the report on mismatch.

  Returns:
    A :class:`GradCheckResult`.
  """
  actions = np.asarray(actions)
  if actions.ndim != 3 or not np.issubdtype(actions.dtype, np.integer):
    raise ValueError(f"actions must be int[N, T, heads], got {actions.dtype}{actions.shape}")
  if not eps > 0:
    raise ValueError(f"eps must be positive, got {eps}")

  with jax.enable_x64(True):
    params64 = _to_f64(params)
    acts = jnp.asarray(actions, jnp.int32)
    j, total = _objective(log_prob_and_return, params64, acts)
    est = np.asarray(_expected_estimate(log_prob_and_return, grad_estimator, params64, acts))
    fd = _finite_differences(log_prob_and_return, params64, acts, eps)
    unravel = ravel_pytree(params64)[1]
    est_tree = jax.tree_util.tree_map(np.asarray, unravel(jnp.asarray(est)))
    fd_tree = jax.tree_util.tree_map(np.asarray, unravel(jnp.asarray(fd)))

  paths = _leaf_paths(params64)
  max_rel, max_abs, worst = {}, {}, {}
  for path, e, f in zip(
      paths, jax.tree_util.tree_leaves(est_tree), jax.tree_util.tree_leaves(fd_tree)
  ):
    e, f = np.ravel(e), np.ravel(f)
    if e.size == 0:
      continue
    err = np.abs(e - f)
    rel = err / np.maximum(np.abs(e) + np.abs(f), atol)
    i = int(np.argmax(rel))
    max_rel[path], max_abs[path] = float(rel[i]), float(err.max())
    worst[path] = (i, float(e[i]), float(f[i]))
  total = float(total)
  passed = all(r <= rtol for r in max_rel.values()) and abs(total - 1.0) <= 1e-9
  result = GradCheckResult(
      passed=passed,
      max_rel_error=max_rel,
      max_abs_error=max_abs,
      worst=worst,
      estimator_grad=est_tree,
      finite_diff_grad=fd_tree,
      objective=float(j),
      total_probability=total,
      num_sequences=int(actions.shape[0]),
      eps=eps,
      rtol=rtol,
      atol=atol,
  )
  if raise_on_failure and not passed:
    raise GradCheckError(result.report())
  return result
