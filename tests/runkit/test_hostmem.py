"""runkit.hostmem: keeping freed heap memory applies on Linux/glibc, and a process that
applied it computes the same as one that did not."""

import subprocess
import sys

import pytest

from runkit import hostmem

CHILD = """
import sys
from runkit import hostmem
applied = hostmem.keep_freed_memory() if sys.argv[1] == "keep" else False
import jax, jax.numpy as jnp
x = jnp.arange(4096.0).reshape(64, 64)
f = jax.jit(lambda x: jnp.tanh(x @ x.T / 1e6).sum())
print(applied, hostmem.APPLIED, repr(float(f(x))))
"""


def _run(mode):
  out = subprocess.run(
      [sys.executable, "-c", CHILD, mode], capture_output=True, text=True, check=True
  )
  return out.stdout.split()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_keep_freed_memory_applies_and_changes_no_result():
  kept, default = _run("keep"), _run("default")
  assert kept[:2] == ["True", "True"]  # every mallopt setting applied, recorded
  assert default[:2] == ["False", "False"]
  assert kept[2] == default[2]  # the same value, bit for bit


def test_settings_are_the_documented_ones():
  assert dict(hostmem.SETTINGS) == {
      hostmem.M_ARENA_MAX: 1,
      hostmem.M_MMAP_MAX: 0,
      hostmem.M_TRIM_THRESHOLD: 2**31 - 1,
  }
