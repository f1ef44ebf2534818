"""Small environments and their jitted step / reset, shared by the environment tests
(each compiled once per test process; tracing one twice fails the test)."""

import functools

import chex
import jax

import rltape.envs as envs

SMALL = 8
# Tests only check values, so they compile without LLVM optimisation (3x faster to
# compile on this CPU); the library and benchmark use the default level.
fast_jit = functools.partial(jax.jit, compiler_options={"xla_backend_optimization_level": 0})


@functools.lru_cache(maxsize=None)
def small_env(name, **kw):
  return envs.make(name, max_length=SMALL, **kw)


def _once(fn, name):
  """jit(assert_max_traces(fn, 1)); the per-env name keeps chex's counters apart."""
  fn.__name__ = f"{fn.__name__}_{name}"
  return fast_jit(chex.assert_max_traces(fn, n=1))


@functools.lru_cache(maxsize=None)
def jit_step_p(name):
  """Jitted step(state, action, params); tracing it twice fails the test."""
  env = small_env(name)

  def step(state, action, params):
    return env.step(jax.random.key(0), state, action, params)

  return _once(step, name)


@functools.lru_cache(maxsize=None)
def jit_step(name):
  step, params = jit_step_p(name), small_env(name).default_params
  return lambda s, a: step(s, a, params)


@functools.lru_cache(maxsize=None)
def jit_reset(name):
  """Jitted reset(key, params); tracing it twice fails the test."""
  env = small_env(name)

  def reset(key, params):
    return env.reset(key, params)

  return _once(reset, name)
