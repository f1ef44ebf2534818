"""runkit.compile_cache: one build per key, compilation in threads, clear errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from runkit import compile_cache


def test_get_builds_once_per_key_and_compile_keeps_the_executables():
  cache = compile_cache.CompileCache()
  builds = []

  def build(k):
    def f():
      builds.append(k)
      return jax.jit(lambda x: x * k + 1.0)

    return f

  a = cache.get(("f", 2), build(2))
  assert cache.get(("f", 2), build(2)) is a and builds == [2]
  cache.get(("f", 3), build(3))
  assert len(cache) == 2 and ("f", 3) in cache and ("f", 4) not in cache
  x = jnp.arange(4.0)
  cache.compile([("f", 2), ("f", 3), ("f", 2)], (x,))
  exe = cache.get(("f", 2), build(2))
  assert not hasattr(exe, "lower") and builds == [2, 3]  # compiled, not rebuilt
  np.testing.assert_array_equal(exe(x), x * 2 + 1.0)
  np.testing.assert_array_equal(cache.get(("f", 3), build(3))(x), x * 3 + 1.0)
  cache.compile([("f", 2)], (x,))  # already compiled: nothing to do
  assert cache.get(("f", 2), build(2)) is exe
  with pytest.raises(KeyError, match="'g'"):
    cache.compile([("g",)], (x,))
  cache.clear()
  assert len(cache) == 0


def test_compile_in_threads_skips_what_is_compiled():
  x = jnp.ones((3,))
  f = jax.jit(lambda v: v + 1.0)
  exe = f.lower(x).compile()
  out = compile_cache.compile_in_threads({"a": f, "b": exe}, (x,))
  assert set(out) == {"a"} and not hasattr(out["a"], "lower")
  assert compile_cache.compile_in_threads({"b": exe}, (x,)) == {}
