"""The Neural GPU's optimizers: Adam / AdaMax from optax or DNGPU's clipped AdaMax with
its beta2 schedule (Freivalds & Liepins 2017, their trainer), global-norm clipping, the
learning rate, and its decay (optax's reduce-on-plateau or DNGPU's rule); gradient noise
(Kaiser & Sutskever 2015, section 4, or DNGPU's)."""

from __future__ import annotations

from typing import Any, Callable

import flax
import jax
import jax.numpy as jnp
import optax


def b2_schedule(cfg) -> Callable[[jax.Array], jax.Array] | float:
  """beta2 of the optimizer: fixed, or DNGPU's 1 - max(5e-4, 0.01 * 0.5^(t/2000))."""
  o = cfg.optim
  if o.b2_schedule == "dngpu":
    return lambda count: 1.0 - jnp.maximum(5e-4, 0.01 * 0.5 ** (count.astype(jnp.float32) / 2000.0))
  return float(o.b2)


class ClippedAdamaxState(flax.struct.PyTreeNode):
  count: jax.Array
  mu: Any  # first moment
  nu: Any  # infinity norm


def scale_by_clipped_adamax(
    b1: float, b2, eps: float, clip_multiplier: float = 1.2, clip_epsilon: float = 1e-4
) -> optax.GradientTransformation:
  """DNGPU's AdaMax: each gradient element is first clipped to
  +-(clip_multiplier * nu + clip_epsilon), nu being its running infinity norm (so the
  first steps warm up and a gradient spike moves a weight at most ~lr); no bias
  correction. ``b2`` is a float or a function of the step count."""
  b2_fn = b2 if callable(b2) else (lambda _: b2)

  def init(params):
    return ClippedAdamaxState(
        count=jnp.zeros((), jnp.int32),
        mu=jax.tree.map(jnp.zeros_like, params),
        nu=jax.tree.map(jnp.zeros_like, params),
    )

  def update(grads, state, params=None):
    del params
    beta2 = b2_fn(state.count)
    clipped = jax.tree.map(
        lambda g, n: jnp.clip(
            g, -(clip_multiplier * n + clip_epsilon), clip_multiplier * n + clip_epsilon
        ),
        grads,
        state.nu,
    )
    mu = jax.tree.map(lambda m, g: b1 * m + (1.0 - b1) * g, state.mu, clipped)
    nu = jax.tree.map(lambda n, g: jnp.maximum(beta2 * n, jnp.abs(g)), state.nu, clipped)
    updates = jax.tree.map(lambda m, n: m / (n + eps), mu, nu)
    return updates, ClippedAdamaxState(count=state.count + 1, mu=mu, nu=nu)

  return optax.GradientTransformation(init, update)


class DngpuDecayState(flax.struct.PyTreeNode):
  count: jax.Array  # int32 steps seen
  acc: jax.Array  # float32 sum of the monitored loss in the current window
  hist: jax.Array  # float32[3] means of the last three windows (oldest first)
  scale: jax.Array  # float32 learning-rate scale


def dngpu_lr_decay(
    every: int, factor: float, min_scale: float
) -> optax.GradientTransformationExtraArgs:
  """DNGPU's learning-rate decay (their trainer): every ``every`` steps the mean of the
  monitored loss (``value``) over the window is appended to a history that starts at
  [1e6] * 3; when the window before the last two is better than both of them
  (``min(h[-2:]) > min(h[-3:])``), the scale becomes ``max(min_scale, scale * factor)``.
  The new scale applies from the next update on."""

  def init(params):
    del params
    return DngpuDecayState(
        count=jnp.zeros((), jnp.int32),
        acc=jnp.zeros((), jnp.float32),
        hist=jnp.full((3,), 1e6, jnp.float32),
        scale=jnp.ones((), jnp.float32),
    )

  def update(updates, state, params=None, *, value, **extra_args):
    del params, extra_args
    updates = jax.tree.map(lambda u: u * state.scale.astype(u.dtype), updates)
    count = state.count + 1
    acc = state.acc + jnp.asarray(value, jnp.float32)
    at = jnp.mod(count, int(every)) == 0
    hist = jnp.where(at, jnp.concatenate([state.hist[1:], (acc / int(every))[None]]), state.hist)
    decay = at & (jnp.minimum(hist[1], hist[2]) > jnp.min(hist))
    scale = jnp.where(
        decay, jnp.maximum(float(min_scale), state.scale * float(factor)), state.scale
    )
    return updates, DngpuDecayState(
        count=count, acc=jnp.where(at, 0.0, acc), hist=hist, scale=scale
    )

  return optax.GradientTransformationExtraArgs(init, update)


def lr_scale_of(opt_state) -> jax.Array:
  """The learning-rate scale inside the optimizer state (reduce-on-plateau or DNGPU's
  decay; jittable, and logged by the host loop; 1.0 if none)."""
  for leaf in jax.tree.leaves(opt_state, is_leaf=lambda x: hasattr(x, "scale")):
    if hasattr(leaf, "scale"):
      return jnp.mean(jnp.asarray(leaf.scale, jnp.float32))
  return jnp.ones((), jnp.float32)


def make_optimizer(cfg) -> optax.GradientTransformationExtraArgs:
  o = cfg.optim
  fn = {
      "adam": optax.scale_by_adam,
      "adamax": optax.scale_by_adamax,
      "clipped_adamax": scale_by_clipped_adamax,
  }[o.optimizer]
  b2 = b2_schedule(cfg)
  if callable(b2) and o.optimizer != "clipped_adamax":  # optax's take a float b2
    fn = optax.inject_hyperparams(fn, static_args=("b1", "eps"))
  scale = fn(b1=o.b1, b2=b2, eps=o.eps)
  if o.get("lr_decay", "plateau") == "dngpu":
    decay = dngpu_lr_decay(int(o.plateau_window), float(o.plateau_factor), float(o.min_lr_scale))
  else:
    decay = optax.contrib.reduce_on_plateau(
        factor=o.plateau_factor,
        patience=o.plateau_patience,
        accumulation_size=o.plateau_window,
        min_scale=float(o.min_lr_scale),
    )
  return optax.chain(
      optax.clip_by_global_norm(o.grad_clip),
      scale,
      optax.scale(-o.lr),
      decay,
  )


def add_grad_noise(grads, key, form: str, noise: float, lr, step, last_seq_err):
  """Gradient noise, per element, before the optimizer.

  ``"kaiser"`` (Kaiser & Sutskever 2015, section 4): normal with std
  ``noise * sqrt(t^-0.55 * max(0, seq_err - 0.02))`` at step t (1-based), so it fades as
  training error falls. ``"dngpu"`` (Freivalds & Liepins 2017; their model): a normal
  truncated at 2 std, times ``lr * noise`` (they use noise = 1e-4).
  """
  leaves, tdef = jax.tree.flatten(grads)
  keys = jax.random.split(key, len(leaves))
  if form == "dngpu":
    leaves = [
        g + noise * lr * jax.random.truncated_normal(k, -2.0, 2.0, g.shape, g.dtype)
        for g, k in zip(leaves, keys)
    ]
  else:
    t = (step + 1).astype(jnp.float32)
    std = noise * jnp.sqrt(t**-0.55 * jnp.maximum(0.0, last_seq_err - 0.02))
    leaves = [g + std * jax.random.normal(k, g.shape, g.dtype) for g, k in zip(leaves, keys)]
  return jax.tree.unflatten(tdef, leaves)
