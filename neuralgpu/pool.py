"""Seed pools: S independent Neural GPU runs trained as one sharded program.

Success of a Neural GPU run depends heavily on its seed (Kaiser & Sutskever
2015; Price et al. 2016), so a result is a pool of runs. A pool is one
``TrainState`` whose every leaf has a leading seed axis ``[S, ...]``: each seed
has its own parameters, optimizer state, curriculum and relaxation state and
PRNG key. The pool step is ``jax.vmap(train_step)`` over that axis (or, on CPU
where that measured slower, ``lax.map``; ``pool.seed_loop``), jitted with the seed
axis sharded over a 1-D device mesh (``NamedSharding``), so seeds never
communicate and each device generates only its own seeds' data.

Differing curriculum lengths: the train step's only static argument is the
padded length bucket. The host picks it from the largest curriculum length over
the live seeds; every seed samples its example lengths capped at its own
``cur`` and masks the padding, so one compiled step serves every seed. A seed
in a pool therefore follows exactly the run it would have alone under the same
bucket schedule (``tests/neuralgpu/test_pool.py`` checks this per seed).

Divergence: after each step a seed whose new state holds a non-finite value is
frozen at its last finite state (``alive`` false, ``diverged_at`` = the step) and
reported; its neighbours are unaffected because nothing crosses the seed axis.

Restarts (``pool.restart_after`` > 0): a slot of the pool whose seed has not
started to generalise after ``restart_after`` steps of its own (digit error above
``restart_max_digit_error`` at ``restart_probe_length``, a length well beyond the
training lengths), has diverged, or (``restart_max_steps``) is still unsolved
after that many steps, starts over with the next unused seed. A slot then trains
several seeds in turn; ``seed_id`` and ``started_at`` say which and since when,
so a restarted seed's run is that seed's run from scratch, checkpoints resume
it, and the summary counts every seed run (a restarted one as not solved). The
slot operations are in ``neuralgpu.restarts``, the host loop in ``neuralgpu.loop``.

Several processes (``jax.distributed.initialize``): the mesh spans every
process's devices, each process builds only the seeds on its own devices
(``jax.make_array_from_callback``), and host-side reads go through a jitted
replication (an all-gather over the runtime's collectives).
"""

from __future__ import annotations

import os
from typing import Callable, Sequence

import flax
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from neuralgpu import config as config_lib
from neuralgpu import evaluate as evaluate_lib
from neuralgpu import optim as optim_lib
from neuralgpu import train as train_lib
from neuralgpu import batches as batches_lib
from neuralgpu import step_cache as step_cache_lib

SEED_AXIS = "seed"
VERDICTS = ("Works", "Struggles", "Fails")


@flax.struct.dataclass
class PoolState:
  train: train_lib.TrainState  # every leaf [S, ...]
  alive: jax.Array  # bool[S]: false once the seed has diverged
  diverged_at: jax.Array  # int32[S]: step at which it diverged, -1 if never
  seed_id: jax.Array  # int32[S]: the seed each slot trains now
  started_at: jax.Array  # int32[S]: pool step at which that seed started
  running: jax.Array  # bool[S]: false once the seed was stopped (no more steps)


def make_mesh(num_seeds: int, devices: Sequence[jax.Device] | None = None) -> jax.sharding.Mesh:
  """A 1-D mesh over ``devices`` (default: all devices of all processes).

  Raises:
    ValueError: if ``num_seeds`` is not a positive multiple of the device count.
  """
  devices = list(devices if devices is not None else jax.devices())
  if num_seeds < 1 or num_seeds % len(devices):
    raise ValueError(
        f"num_seeds={num_seeds} must be a positive multiple of the number of "
        f"devices ({len(devices)}) so every device holds the same number of seeds"
    )
  return jax.sharding.Mesh(np.asarray(devices), (SEED_AXIS,))


def seed_sharding(mesh) -> NamedSharding:
  return NamedSharding(mesh, P(SEED_AXIS))


def replicated(mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def _stack_init(seeds: np.ndarray, cfg, num_tasks: int) -> PoolState:
  keys = jax.vmap(jax.random.key)(jnp.asarray(seeds, jnp.uint32))
  ts = jax.vmap(lambda k: train_lib.init_state(k, cfg, num_tasks))(keys)
  s = len(seeds)
  return PoolState(
      train=ts,
      alive=jnp.ones((s,), bool),
      diverged_at=jnp.full((s,), -1, jnp.int32),
      seed_id=jnp.asarray(seeds, jnp.int32),
      started_at=jnp.zeros((s,), jnp.int32),
      running=jnp.ones((s,), bool),
  )


def init_pool(seeds: Sequence[int], cfg, num_tasks: int, mesh=None) -> PoolState:
  """The pool's initial state; seed ``i`` starts as ``init_state(key(seeds[i]))``.

  With a mesh, each process computes only the seeds on its own devices.
  """
  seeds = np.asarray(list(seeds), np.int64)
  if mesh is None:
    return _stack_init(seeds, cfg, num_tasks)
  shapes = jax.eval_shape(lambda: _stack_init(seeds, cfg, num_tasks))
  sharding = seed_sharding(mesh)
  cache = {}

  def local(idx_slice: slice) -> PoolState:
    k = (idx_slice.start, idx_slice.stop)
    if k not in cache:
      cache[k] = jax.device_get(_stack_init(seeds[idx_slice], cfg, num_tasks))
    return cache[k]

  leaves, tdef = jax.tree.flatten(shapes)

  def build(i, sd):
    def cb(index):
      sub = jax.tree.leaves(local(index[0]))[i]
      return sub

    return jax.make_array_from_callback(sd.shape, sharding, cb)

  return jax.tree.unflatten(tdef, [build(i, sd) for i, sd in enumerate(leaves)])


def _finite(tree) -> jax.Array:
  leaves = [
      jnp.all(jnp.isfinite(x))
      for x in jax.tree.leaves(tree)
      if jnp.issubdtype(x.dtype, jnp.floating)
  ]
  return jnp.all(jnp.stack(leaves)) if leaves else jnp.ones((), bool)


SEED_LOOPS = ("auto", "vmap", "map")


def resolve_seed_loop(seed_loop: str, backend: str | None = None) -> str:
  """``auto`` -> ``map`` on CPU, ``vmap`` elsewhere (measured, see ``make_pool_step``)."""
  if seed_loop not in SEED_LOOPS:
    raise ValueError(f"pool.seed_loop={seed_loop!r}; allowed: {SEED_LOOPS}")
  if seed_loop != "auto":
    return seed_loop
  return "map" if (backend or jax.default_backend()) == "cpu" else "vmap"


def make_pool_step(
    cfg, tasks: tuple, bucket: int, mcfg=None, seed_loop: str = "vmap"
) -> Callable[[PoolState], PoolState]:
  """The pure pool step ``PoolState -> PoolState`` for padded length ``bucket``.

  ``seed_loop`` is how the seeds of one device are stepped: ``vmap`` batches them
  (every matmul gets a seed axis; on GPU a pool of 8 then costs about one seed's
  latency-bound step), ``map`` runs them one after another inside the same program
  (``lax.map``), each with the single-seed shapes. Measured on the 2-core CPU
  (faithful 24 maps, batch 32, bmul, 8 seeds; ms per seed-step, pool vs 8 single-seed
  steps from Python): length 5: vmap 43.0 vs 28.8 (0.67x), map 24.3 vs 29.1 (1.20x);
  length 13: vmap 251 vs 183 (0.73x), map 166 vs 201 (1.21x). XLA:CPU runs the
  seed-batched matmuls slower than the same matmuls one by one, and the single-seed
  step is compute bound, so ``map`` only saves the per-step dispatch.
  Both give each seed the same result to float rounding.
  """
  one = train_lib.make_train_step(cfg, tasks, bucket, mcfg)
  if seed_loop == "vmap":

    def step(ts, running):
      del running  # a batched step computes every seed; stopped ones are not kept
      return jax.vmap(one)(ts)

  elif seed_loop == "map":

    def step(ts, running):
      # A stopped seed costs nothing: lax.cond runs one branch per seed.
      return jax.lax.map(lambda a: jax.lax.cond(a[1], one, lambda t: t, a[0]), (ts, running))

  else:
    raise ValueError(f"seed_loop={seed_loop!r}; allowed: 'vmap', 'map'")

  def pool_step(ps: PoolState) -> PoolState:
    new = step(ps.train, ps.running)
    # Not opt_state: reduce_on_plateau starts its best loss at +inf.
    finite = jax.vmap(lambda t: _finite((t.params, t.metrics)))(new)
    stepped = ps.alive & ps.running
    ok = stepped & finite

    def keep(n, o):
      return jnp.where(ok.reshape((-1,) + (1,) * (n.ndim - 1)), n, o)

    train = jax.tree.map(keep, new, ps.train)
    diverged_at = jnp.where(stepped & ~finite, new.step + ps.started_at, ps.diverged_at)
    return ps.replace(train=train, alive=ps.alive & (finite | ~stepped), diverged_at=diverged_at)

  return pool_step


class PoolStepCache(step_cache_lib.StepCache):
  """Compiled pool steps, one per bucket, sharded over ``mesh`` when given.

  With ``seed_loop="map"`` and a mesh, each device maps over its own seeds
  (``jax.shard_map``); with ``vmap`` the jitted step is partitioned over the mesh.
  They live in the process's compile cache as the single-seed steps, keyed also by the
  seed loop and the mesh: a pool rerun with the same training config (the slot count is
  in it) and mesh (a resumption, a notebook cell run again, tests) compiles no step again.
  """

  def __init__(self, cfg, tasks, mcfg, mesh=None, seed_loop: str = "vmap"):
    super().__init__(cfg, tasks, mcfg, name="pool")
    self.mesh = mesh
    self.seed_loop = resolve_seed_loop(seed_loop)
    mesh_key = None
    if mesh is not None:
      mesh_key = (tuple(d.id for d in mesh.devices.flat), tuple(mesh.axis_names))
    self._prefix += (self.seed_loop, mesh_key)

  def _build(self, bucket: int):
    fn = make_pool_step(self.cfg, self.tasks, bucket, self.mcfg, self.seed_loop)
    if self.mesh is None:
      return jax.jit(fn, donate_argnums=0)
    sh = seed_sharding(self.mesh)
    if self.seed_loop == "map":
      # check_vma=False: optax's reduce_on_plateau has a cond whose branches
      # differ in varying-axis type inside shard_map; seeds never interact.
      fn = jax.shard_map(
          fn, mesh=self.mesh, in_specs=P(SEED_AXIS), out_specs=P(SEED_AXIS), check_vma=False
      )
    return jax.jit(fn, in_shardings=(sh,), out_shardings=sh, donate_argnums=0)


def to_host(tree, mesh=None):
  """A numpy copy of a (possibly multi-process sharded) pytree on every process."""
  if mesh is not None and jax.process_count() > 1:
    tree = jax.jit(lambda t: t, out_shardings=replicated(mesh))(tree)
  return jax.device_get(tree)


def max_live_length(ps: PoolState, mesh=None) -> int:
  """Largest curriculum length over live seeds (all seeds if none is alive)."""

  def f(cur, alive):
    live = jnp.where(alive[:, None], cur, 0)
    return jnp.where(jnp.any(alive), jnp.max(live), jnp.max(cur))

  if mesh is not None:
    out = jax.jit(f, out_shardings=replicated(mesh))(ps.train.curriculum.cur, ps.alive)
  else:
    out = jax.jit(f)(ps.train.curriculum.cur, ps.alive)
  return int(jax.device_get(out))


def seed_state(ps_host: PoolState, i: int) -> train_lib.TrainState:
  """Seed ``i``'s TrainState from a host copy of the pool."""
  return jax.tree.map(lambda x: x[i], ps_host.train)


def per_seed_metrics(metrics_host: dict) -> list[dict]:
  """``summarize_metrics`` for every seed of host metric sums ``{k: [S]}``."""
  s = len(next(iter(metrics_host.values())))
  return [train_lib.summarize_metrics({k: v[i] for k, v in metrics_host.items()}) for i in range(s)]


def zero_pool_metrics(ps: PoolState) -> PoolState:
  m = jax.tree.map(jnp.zeros_like, ps.train.metrics)
  return ps.replace(train=ps.train.replace(metrics=m))


def pool_verdict(
    num_solved: int, num_seeds: int, works_fraction: float, struggles_fraction: float
) -> str:
  """ "Works" / "Struggles" / "Fails" from the fraction of seeds solved.

  Works: fraction >= ``works_fraction``. Struggles: fraction >
  ``struggles_fraction`` (default 0: at least one seed) but below works.
  Fails: otherwise.
  """
  if num_seeds < 1 or not 0 <= num_solved <= num_seeds:
    raise ValueError(f"need 0 <= num_solved={num_solved} <= num_seeds={num_seeds}, num_seeds >= 1")
  if not 0.0 <= struggles_fraction < works_fraction <= 1.0:
    raise ValueError(
        f"need 0 <= struggles_fraction={struggles_fraction} < "
        f"works_fraction={works_fraction} <= 1"
    )
  f = num_solved / num_seeds
  if f >= works_fraction:
    return "Works"
  if f > struggles_fraction:
    return "Struggles"
  return "Fails"


# ----------------------------------------------------------------------------
# Pool config, per-seed verdicts and the host loop.
# ----------------------------------------------------------------------------
def pool_defaults():
  """The ``pool`` section of a pool config (added by ``with_pool``)."""
  import ml_collections

  p = ml_collections.ConfigDict()
  p.num_seeds = 8  # seeds cfg.seed, cfg.seed + 1, ... (a multiple of the devices)
  # Verdict thresholds on the fraction f of seeds solved (see pool_verdict):
  # Works if f >= works_fraction, Struggles if f > struggles_fraction, else Fails.
  p.works_fraction = 0.5
  p.struggles_fraction = 0.0
  p.screen_examples = 16  # cheap first check at each length before the full count
  p.init_from = ""  # transfer: a pool workdir whose params start this pool
  p.shard = True  # shard the seed axis over all devices
  # How a device steps its seeds: vmap | map | auto (map on CPU, vmap elsewhere;
  # measured in make_pool_step).
  p.seed_loop = "auto"
  # all: train until every seed is solved (the tables' verdicts); any: stop at the first
  # solved seed and evaluate it (a pool that beats the seed lottery of one run).
  p.stop_when = "all"
  # Restarts (0 = off): a seed that after ``restart_after`` steps of its own makes more
  # than ``restart_max_digit_error`` digit errors at ``restart_probe_length`` (raw
  # parameters, ``restart_probe_examples`` examples; probed once, at the first check at or
  # after that age) is replaced by the next unused seed; so is a diverged seed, and with
  # ``restart_max_steps`` > 0 any seed still unsolved after that many steps of its own.
  p.restart_after = 0
  # A seed counts as solved once it passes this many checks in a row (each check on fresh
  # examples): a margin against a seed that passes one check by luck.
  p.confirm_checks = 1
  p.restart_probe_length = 51
  p.restart_probe_examples = 32
  p.restart_max_digit_error = 0.05
  p.restart_max_steps = 0
  # What happens to such a seed: restart (the next unused seed takes its slot) or stop
  # (it takes no more steps, so the seeds still learning get its compute; if no seed
  # would be left running, the failing ones restart instead).
  p.on_probe_fail = "restart"
  return p


STOP_WHEN = ("all", "any")
ON_PROBE_FAIL = ("restart", "stop")


def with_pool(cfg):
  """``cfg`` with a default ``pool`` section if it has none."""
  if "pool" not in cfg:
    cfg.pool = pool_defaults()
  return cfg


def validate_pool(cfg) -> None:
  """Raises ValueError naming any bad pool value (and the base config's)."""
  config_lib.validate(cfg)
  if "pool" not in cfg:
    raise ValueError("config has no 'pool' section; build it with neuralgpu.pool.with_pool")
  p = cfg.pool
  if int(p.num_seeds) < 1:
    raise ValueError(f"pool.num_seeds={p.num_seeds} must be >= 1")
  if not 0.0 <= float(p.struggles_fraction) < float(p.works_fraction) <= 1.0:
    raise ValueError(
        f"need 0 <= pool.struggles_fraction={p.struggles_fraction} < "
        f"pool.works_fraction={p.works_fraction} <= 1"
    )
  resolve_seed_loop(str(p.get("seed_loop", "auto")))
  if str(p.get("stop_when", "all")) not in STOP_WHEN:
    raise ValueError(f"pool.stop_when={p.stop_when!r}; allowed: {STOP_WHEN}")
  if int(p.screen_examples) < 1:
    raise ValueError(f"pool.screen_examples={p.screen_examples} must be >= 1")
  if str(p.get("on_probe_fail", "restart")) not in ON_PROBE_FAIL:
    raise ValueError(f"pool.on_probe_fail={p.on_probe_fail!r}; allowed: {ON_PROBE_FAIL}")
  if int(p.get("confirm_checks", 1)) < 1:
    raise ValueError(f"pool.confirm_checks={p.confirm_checks} must be >= 1")
  for k in ("restart_after", "restart_max_steps"):
    if int(p.get(k, 0)) < 0:
      raise ValueError(f"pool.{k}={p.get(k)} must be >= 0 (0 = off)")
  if int(p.get("restart_after", 0)) or int(p.get("restart_max_steps", 0)):
    if int(p.restart_probe_length) < 3:
      raise ValueError(f"pool.restart_probe_length={p.restart_probe_length} must be >= 3")
    if int(p.restart_probe_examples) < 1:
      raise ValueError(f"pool.restart_probe_examples={p.restart_probe_examples} must be >= 1")
    if not 0.0 <= float(p.restart_max_digit_error) < 1.0:
      raise ValueError(
          f"pool.restart_max_digit_error={p.restart_max_digit_error} must be " "in [0, 1)"
      )
    if int(p.restart_max_steps) and int(p.restart_max_steps) <= int(p.restart_after):
      raise ValueError(
          f"pool.restart_max_steps={p.restart_max_steps} must be 0 (off) or > "
          f"pool.restart_after={p.restart_after}"
      )
    if p.init_from:
      raise ValueError(
          f"pool.init_from={p.init_from!r} cannot be combined with restarts "
          "(a restarted seed would start from scratch, not from the source)"
      )
  if p.init_from and not os.path.isdir(os.path.join(p.init_from, "checkpoints")):
    raise ValueError(f"pool.init_from={p.init_from!r} is not a pool workdir with checkpoints")


def seed_solve_check(key, ts_host, mcfg, cfg, task) -> dict:
  """Whether one seed is solved: 0 sequence errors at every ``eval.solve_lengths``.

  Cheapest first: the training length on ``pool.screen_examples`` examples, then
  that many at each solve length, then the rest of each length's ``eval.examples``
  (other examples: screen + rest = the full count). The first part with an error
  ends the check (the seed is not solved), so unsolved seeds cost little.
  """
  lengths = [int(n) for n in cfg.eval.lengths]
  screen = int(cfg.pool.screen_examples)
  counts = tuple(cfg.eval.get("check_examples", ()) or ())
  if counts:  # checks stricter than the final table (eval.check_examples per solve length)
    full = {int(n): int(k) for n, k in zip(cfg.eval.solve_lengths, counts)}
  else:
    full = {int(n): int(cfg.eval.examples[lengths.index(int(n))]) for n in cfg.eval.solve_lengths}
  plan = [(int(cfg.curriculum.max_length), screen, "screen")]
  plan += [(n, min(screen, c), "screen") for n, c in full.items()]
  plan += [(n, c - screen, "rest") for n, c in full.items() if c > screen]
  rows = []
  for n, count, part in plan:
    k = jax.random.fold_in(key, n)
    if part == "rest":
      k = jax.random.fold_in(k, 1)
    row = evaluate_lib.evaluate_length(
        k,
        train_lib.eval_params(ts_host),
        ts_host.relax.active_sets,
        mcfg,
        cfg.eval,
        task,
        n,
        count,
        cfg.operand_mode,
    )
    row["part"] = part
    rows.append(row)
    if row["seq_wrong"]:
      return {"solved": False, "rows": rows}
  return {"solved": True, "rows": rows}


def pool_step_count(ps: PoolState, mesh=None) -> int:
  """The pool's step: the largest ``started_at + step`` over its slots."""
  h = to_host((ps.started_at, ps.train.step), mesh)
  return int(np.max(np.asarray(h[0], np.int64) + np.asarray(h[1], np.int64)))


# Pool checkpoints written before restarts and stops lack these.
_ADDED_FIELDS = ("seed_id", "started_at", "running")


def restore_pool(manager, template: PoolState) -> PoolState:
  """The latest pool checkpoint restored into ``template``, or the template.

  A checkpoint written before slots could restart or stop (no ``seed_id``,
  ``started_at``, ``running``) is read with the template's values for those: each
  slot's first seed, started at 0, running.
  """
  import flax
  import orbax.checkpoint as ocp
  from runkit import checkpoints

  try:
    return checkpoints.restore_or(manager, template)
  except ValueError as first_error:
    full = flax.serialization.to_state_dict(template)
    target = {k: v for k, v in full.items() if k not in _ADDED_FIELDS}
    try:
      restored = manager.restore(manager.latest_step(), args=ocp.args.StandardRestore(target))
    except Exception:
      raise first_error from None
    restored.update({k: full[k] for k in _ADDED_FIELDS})
    return flax.serialization.from_state_dict(template, restored)


def load_transfer(template: PoolState, cfg, mesh) -> PoolState:
  """Params and relaxation state of ``pool.init_from``; fresh optimizer and curriculum."""
  import ml_collections
  from runkit import checkpoints
  from runkit import workdir as workdir_lib

  src_dir = cfg.pool.init_from
  src_cfg = ml_collections.ConfigDict(workdir_lib.read_config_dict(src_dir, "a pool"))
  if int(src_cfg.pool.num_seeds) != int(cfg.pool.num_seeds):
    raise ValueError(
        f"pool.init_from={src_dir!r} has {src_cfg.pool.num_seeds} seeds; "
        f"this pool has {cfg.pool.num_seeds}"
    )
  if src_cfg.model.to_dict() != cfg.model.to_dict():
    raise ValueError(f"pool.init_from={src_dir!r} was trained with another model config")
  n_src = len(config_lib.task_names(src_cfg))
  src_template = init_pool(
      np.arange(int(src_cfg.pool.num_seeds)) + int(src_cfg.seed), src_cfg, n_src, None
  )
  src, _ = checkpoints.load_latest(src_dir, jax.device_get(src_template), restore_pool)
  train = template.train.replace(params=src.train.params, relax=src.train.relax)
  if train.ema_params is not None:
    train = train.replace(ema_params=jax.tree.map(jnp.copy, src.train.params))
  opt = jax.vmap(optim_lib.make_optimizer(cfg).init)(train.params)
  out = template.replace(train=train.replace(opt_state=opt))
  return jax.device_put(out, seed_sharding(mesh)) if mesh is not None else out


def best_seed_index(seeds_out: list[dict]) -> int:
  """The first solved seed (earliest ``solved_at``), else the live, running seed with the
  lowest final training sequence error, else seed 0."""
  solved = [(r["solved_at"], i) for i, r in enumerate(seeds_out) if r["solved"]]
  if solved:
    return min(solved)[1]
  live = [
      ((r["final_train_metrics"] or {}).get("train_seq_error", 1.0), i)
      for i, r in enumerate(seeds_out)
      if r["diverged_at"] is None and r.get("running", True)
  ]
  return min(live)[1] if live else 0


def run_pool_steps(
    ps: PoolState, cfg, steps: PoolStepCache, start_step: int, num_steps: int, mesh=None
) -> tuple[PoolState, list[int]]:
  """Runs ``num_steps`` pool steps with the host's bucket choice; returns the buckets.

  The bare loop of ``neuralgpu.loop.train_and_evaluate`` (no logging, checkpoints or evaluation), for
  tests and benchmarks.
  """
  max_cur = max_live_length(ps, mesh)
  buckets = []
  for step in range(start_step, start_step + num_steps):
    b = batches_lib.host_bucket(cfg, step, max_cur)
    buckets.append(b)
    ps = steps(b)(ps)
    if (step + 1) % int(cfg.curriculum.advance_every) == 0:
      max_cur = max_live_length(ps, mesh)
  return ps, buckets
