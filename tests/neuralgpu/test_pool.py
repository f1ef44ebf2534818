"""Seed pools: sharded pool == every seed alone, 2 processes == 1, divergence, verdicts.

The multi-device and multi-process runs happen in subprocesses
(``_pool_worker.py``) so this process keeps its single CPU device. They compile
the faithful model in three fresh processes (about 3.5 CPU-minutes), so they
are marked slow: ``pytest -m slow tests/neuralgpu/test_pool.py``.
"""

import os
import socket
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neuralgpu import pool
from neuralgpu import tasks as tasks_lib
from neuralgpu import train
from neuralgpu import resolve as resolve_lib
from tests.neuralgpu import _pool_worker as worker

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKER = os.path.join(ROOT, "tests", "neuralgpu", "_pool_worker.py")
STEPS = 4


def _env(devices: int) -> dict:
  env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS",)}
  env.update(
      JAX_PLATFORMS="cpu",
      PYTHONPATH=ROOT,
      XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
  )
  return env


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  """4-device single-process pools (vmap and map seed loops) and the vmap pool over
  2 processes x 2 devices."""
  d = tmp_path_factory.mktemp("pool")
  one = str(d / "one.npz")
  two = str(d / "two.npz")
  mapped = str(d / "map.npz")
  port = _free_port()
  procs = [
      subprocess.Popen(
          [sys.executable, WORKER, one, str(STEPS)],
          env=_env(4),
          stdout=subprocess.PIPE,
          stderr=subprocess.STDOUT,
      ),
      subprocess.Popen(
          [sys.executable, WORKER, mapped, str(STEPS)],
          env={**_env(4), "POOL_SEED_LOOP": "map"},
          stdout=subprocess.PIPE,
          stderr=subprocess.STDOUT,
      ),
  ]
  for pid in range(2):
    procs.append(
        subprocess.Popen(
            [sys.executable, WORKER, two, str(STEPS), f"127.0.0.1:{port}", "2", str(pid)],
            env=_env(2),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    )
  for p in procs:
    out, _ = p.communicate(timeout=900)
    assert p.returncode == 0, out.decode()[-4000:]
  return np.load(one), np.load(two), np.load(mapped)


_SINGLE = {}


def _single_step(cfg, tasks, mcfg, bucket):
  if bucket not in _SINGLE:
    _SINGLE[bucket] = jax.jit(train.make_train_step(cfg, tasks, bucket, mcfg))
  return _SINGLE[bucket]


def _alone(seed_index: int, buckets) -> train.TrainState:
  """Seed ``seed_index`` trained by itself with the plain train step."""
  cfg = worker.smoke_config()
  tasks = (tasks_lib.get_task(cfg.task),)
  mcfg = resolve_lib.resolve_model_config(cfg)
  st = train.init_state(jax.random.key(cfg.seed + seed_index), cfg, 1)
  cur = worker.start_lengths(worker.NUM_SEEDS)[seed_index]
  st = st.replace(curriculum=st.curriculum.replace(cur=jnp.full((1,), cur, jnp.int32)))
  for b in buckets:
    st = _single_step(cfg, tasks, mcfg, int(b))(st)
  return jax.device_get(st)


def _template():
  cfg = worker.smoke_config()
  return jax.eval_shape(lambda: pool.init_pool(np.arange(worker.NUM_SEEDS), cfg, 1))


def _unflatten(npz) -> pool.PoolState:
  leaves, tdef = jax.tree.flatten(_template())
  return jax.tree.unflatten(tdef, [npz[f"leaf{i}"] for i in range(len(leaves))])


@pytest.mark.slow
@pytest.mark.parametrize("loop", ["vmap", "map"])
def test_sharded_pool_equals_each_seed_alone(runs, loop):
  one = runs[0] if loop == "vmap" else runs[2]
  assert int(one["num_devices"]) == 4
  buckets = [int(b) for b in one["buckets"]]
  assert set(buckets) == {9}  # seeds at length 5 and 9 share the bucket of the longest
  ps = _unflatten(one)
  assert ps.alive.all() and (ps.diverged_at == -1).all()
  curs = ps.train.curriculum.cur[:, 0]
  assert list(curs[::2]) != list(curs[1::2])  # seeds kept their own curricula
  for i in range(worker.NUM_SEEDS):
    alone = _alone(i, buckets)
    mine = pool.seed_state(ps, i)
    assert int(mine.step) == STEPS
    np.testing.assert_array_equal(mine.curriculum.cur, alone.curriculum.cur)
    for a, b in zip(jax.tree.leaves(mine.params), jax.tree.leaves(alone.params)):
      np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)
    for k in alone.metrics:
      np.testing.assert_allclose(
          mine.metrics[k], alone.metrics[k], rtol=2e-5, atol=2e-6, err_msg=f"seed {i} metric {k}"
      )


@pytest.mark.slow
def test_two_processes_equal_one_process(runs):
  one, two, _ = runs
  assert int(two["num_processes"]) == 2 and int(two["num_devices"]) == 4
  np.testing.assert_array_equal(one["buckets"], two["buckets"])
  a, b = _unflatten(one), _unflatten(two)
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_allclose(x, y, rtol=2e-5, atol=2e-6)


# Each loop form runs once in the default suite (vmap with the mesh, map without);
# the other two combinations are slow (~110 s of CPU together).
@pytest.mark.parametrize(
    "loop,use_mesh",
    [
        pytest.param("vmap", False, marks=pytest.mark.slow),
        ("map", False),
        ("vmap", True),
        pytest.param("map", True, marks=pytest.mark.slow),
    ],
)
def test_seed_loops_match_each_seed_alone(loop, use_mesh):
  """One device, 2 seeds at different curriculum lengths: both seed loops, with and
  without a (1-device) mesh, give each seed its solo run (`map` is what `auto` picks
  on CPU; with a mesh it runs under shard_map)."""
  cfg = worker.smoke_config()
  tasks = (tasks_lib.get_task(cfg.task),)
  mcfg = resolve_lib.resolve_model_config(cfg)
  mesh = pool.make_mesh(2, jax.devices()[:1]) if use_mesh else None
  ps = pool.init_pool([cfg.seed, cfg.seed + 1], cfg, 1, mesh)
  cur = jnp.asarray(worker.start_lengths(2), jnp.int32)[:, None]
  ps = ps.replace(train=ps.train.replace(curriculum=ps.train.curriculum.replace(cur=cur)))
  if mesh is not None:
    ps = jax.device_put(ps, pool.seed_sharding(mesh))
  fn = pool.PoolStepCache(cfg, tasks, mcfg, mesh, seed_loop=loop)(9)
  after = jax.device_get(fn(fn(ps)))
  assert after.alive.all()
  for i in range(2):
    alone = _alone(i, [9, 9])
    mine = pool.seed_state(after, i)
    for a, b in zip(jax.tree.leaves(mine.params), jax.tree.leaves(alone.params)):
      np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)
    for k in alone.metrics:
      np.testing.assert_allclose(mine.metrics[k], alone.metrics[k], rtol=2e-5, atol=2e-6)


def test_pool_steps_are_shared_by_runs_of_one_training_config():
  """Two runs of one training config (budgets aside) in a process get the same pool step;
  another slot count, seed loop, mesh or training setting gets its own."""
  cfg = worker.smoke_config()
  tasks = (tasks_lib.get_task(cfg.task),)
  mcfg = resolve_lib.resolve_model_config(cfg)
  step = lambda c, **kw: pool.PoolStepCache(c, tasks, mcfg, **kw)(9)  # noqa: E731
  longer = cfg.copy_and_resolve_references()
  longer.num_train_steps, longer.eval.every = 1000, 7  # budget and checks only
  assert step(cfg, seed_loop="map") is step(longer, seed_loop="map")
  assert step(cfg, seed_loop="map") is not step(cfg, seed_loop="vmap")
  mesh = pool.make_mesh(2, jax.devices()[:1])
  assert step(cfg, seed_loop="map", mesh=mesh) is not step(cfg, seed_loop="map")
  more = cfg.copy_and_resolve_references()
  more.pool.num_seeds = int(cfg.pool.num_seeds) + 2
  assert step(more, seed_loop="map") is not step(cfg, seed_loop="map")
  lr = cfg.copy_and_resolve_references()
  lr.optim.lr = float(cfg.optim.lr) * 2
  assert step(lr, seed_loop="map") is not step(cfg, seed_loop="map")


def test_seed_loop_values():
  assert pool.resolve_seed_loop("auto", "cpu") == "map"
  assert pool.resolve_seed_loop("auto", "gpu") == "vmap"
  assert pool.resolve_seed_loop("vmap", "cpu") == "vmap"
  with pytest.raises(ValueError, match="pool.seed_loop='pmap'; allowed"):
    pool.resolve_seed_loop("pmap")


def test_diverged_seed_is_frozen_and_others_unaffected():
  cfg = worker.smoke_config()
  tasks = (tasks_lib.get_task(cfg.task),)
  mcfg = resolve_lib.resolve_model_config(cfg)
  ps = pool.init_pool([cfg.seed, cfg.seed + 1], cfg, 1)
  nine = jnp.full((2, 1), 9, jnp.int32)
  ps = ps.replace(train=ps.train.replace(curriculum=ps.train.curriculum.replace(cur=nine)))
  # Seed 1's input projection overflows float32 in the forward pass.
  in_w = ps.train.params["in_w"].at[1].set(3e38)
  ps = ps.replace(train=ps.train.replace(params={**ps.train.params, "in_w": in_w}))
  before = jax.device_get(ps)
  fn = jax.jit(pool.make_pool_step(cfg, tasks, 9, mcfg))
  after = jax.device_get(fn(fn(ps)))
  np.testing.assert_array_equal(after.alive, [True, False])
  np.testing.assert_array_equal(after.diverged_at, [-1, 1])
  for x, y in zip(
      jax.tree.leaves(pool.seed_state(after, 1)), jax.tree.leaves(pool.seed_state(before, 1))
  ):
    np.testing.assert_array_equal(x, y)  # frozen at its last finite state
  st = train.init_state(jax.random.key(cfg.seed), cfg, 1)
  st = st.replace(curriculum=st.curriculum.replace(cur=jnp.full((1,), 9, jnp.int32)))
  step = _single_step(cfg, tasks, mcfg, 9)
  alone = jax.device_get(step(step(st)))
  for x, y in zip(jax.tree.leaves(pool.seed_state(after, 0).params), jax.tree.leaves(alone.params)):
    np.testing.assert_allclose(x, y, rtol=2e-5, atol=2e-6)
  assert np.all(np.isfinite(pool.seed_state(after, 0).metrics["loss"]))


@pytest.mark.parametrize(
    "solved,seeds,want",
    [
        (0, 8, "Fails"),
        (1, 8, "Struggles"),
        (3, 8, "Struggles"),
        (4, 8, "Works"),
        (8, 8, "Works"),
        (0, 1, "Fails"),
        (1, 1, "Works"),
        (1, 3, "Struggles"),
        (2, 3, "Works"),
    ],
)
def test_pool_verdict_thresholds(solved, seeds, want):
  assert pool.pool_verdict(solved, seeds, 0.5, 0.0) == want


def test_pool_verdict_custom_thresholds():
  # Works only with all seeds; Struggles needs more than a quarter.
  assert pool.pool_verdict(7, 8, 1.0, 0.25) == "Struggles"
  assert pool.pool_verdict(2, 8, 1.0, 0.25) == "Fails"
  assert pool.pool_verdict(8, 8, 1.0, 0.25) == "Works"


@pytest.mark.parametrize(
    "args", [(9, 8, 0.5, 0.0), (1, 0, 0.5, 0.0), (1, 8, 0.5, 0.5), (1, 8, 1.5, 0.0)]
)
def test_pool_verdict_rejects_bad_values(args):
  with pytest.raises(ValueError):
    pool.pool_verdict(*args)


def test_mesh_needs_a_multiple_of_the_devices():
  with pytest.raises(ValueError, match="num_seeds=3 must be a positive multiple"):
    pool.make_mesh(3, jax.devices() * 2)
  assert pool.make_mesh(2).devices.size == len(jax.devices())
