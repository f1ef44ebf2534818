"""The Neural GPU's host loop: ``train_and_evaluate(config, workdir)`` trains 1..S seeds.

A config without a ``pool`` section is one seed: it runs as a pool of one
(``as_pool``), so a single run and a pool of seeds share one loop, one solve check
(``pool.seed_solve_check``), one workdir layout and one summary.

The loop is a sequence of named steps over two small records: ``Run`` (what is fixed
for the run: config, tasks, mesh, compiled steps, checkpoint manager, metric writer) and
``Loop`` (what the host tracks as it goes: the step, the seed of each slot, the checks
passed in a row, solved slots, restarts and stops). Each step below reads and updates
them by name; the device state is the ``PoolState`` of ``neuralgpu.pool``.

One iteration: pick the bucket and take one pool step (``_train_step``); every
``log_every`` steps log the window's metrics (``_log``); every ``eval.every`` steps check
the seeds through their curriculum (``_check_solved``) and restart or stop the ones that
have not started to generalise (``_maybe_restart``); save a checkpoint every
``checkpoint_every`` steps, after that step's checks, so that a resumed run has the same
restarts; stop when solved (all seeds, or the first with ``pool.stop_when="any"``), all
diverged, or out of steps or time. Then a final check of every live seed, the summary
(``_finish``) and, with ``stop_when="any"``, the chosen seed's error table.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import time
from typing import Any, Optional

import jax
import numpy as np

import ml_collections

from neuralgpu import batches as batches_lib
from neuralgpu import config as config_lib
from neuralgpu import evaluate as evaluate_lib
from neuralgpu import optim as optim_lib
from neuralgpu import pool as pool_lib
from neuralgpu import resolve as resolve_lib
from neuralgpu import restarts as restarts_lib
from neuralgpu import step_cache
from neuralgpu import tasks as tasks_lib
from neuralgpu import train as train_lib
from runkit import checkpoints, metrics, progress, provenance
from runkit import workdir as workdir_lib


@dataclasses.dataclass
class Run:
  """What stays fixed for one invocation of ``train_and_evaluate``."""

  config: Any
  workdir: str
  tasks: tuple
  mcfg: Any
  num_slots: int
  mesh: Any
  lead: bool  # process 0 writes the records
  manager: Any
  writer: Optional[metrics.MetricWriter]
  steps: pool_lib.PoolStepCache
  t_start: float  # this invocation's start (its time limit counts from it)
  before: float  # training seconds of earlier invocations
  stop_at_first: bool
  confirm: int  # passing checks in a row that make a seed solved

  def elapsed(self) -> float:
    return self.before + time.time() - self.t_start


@dataclasses.dataclass
class Loop:
  """What the host tracks while the pool trains (slot-indexed lists)."""

  step: int
  seeds: np.ndarray  # the seed each slot trains now
  max_cur: int  # longest curriculum length over the live seeds
  passes: list  # passing checks in a row, per slot
  solved_at: dict = dataclasses.field(default_factory=dict)  # slot -> step
  evals: list = dataclasses.field(default_factory=list)
  restarts: list = dataclasses.field(default_factory=list)
  stops: list = dataclasses.field(default_factory=list)
  last_per: Optional[list] = None  # per-slot train metrics of the last logged window
  last_t: float = 0.0
  last_step: int = 0
  stop_reason: str = "num_train_steps"
  all_dead: bool = False  # no live seed at the last log


def as_pool(config) -> ml_collections.ConfigDict:
  """``config`` itself if it has a ``pool`` section, else a copy that trains its one seed
  as a pool of one (``pool.num_seeds=1``, stopped and evaluated once solved, its checks
  screened on ``eval.screen_examples``)."""
  if "pool" in config:
    return config
  c = copy.deepcopy(config)
  with c.unlocked():
    pool_lib.with_pool(c)
  c.pool.num_seeds = 1
  c.pool.stop_when = "any"
  c.pool.screen_examples = int(c.eval.screen_examples)
  return c


def train_and_evaluate(config, workdir: str, *, record_buckets: list | None = None) -> dict:
  """Trains 1..S seeds (resuming from the workdir), gives each a verdict and evaluates.

  Writes ``workdir/summary.json`` and returns the same dict: per seed its verdict
  (solved or not at ``eval.solve_lengths``), the step it was found solved, its divergence
  step, curriculum lengths and final train metrics; per pool the solved fraction and the
  verdict from the config's thresholds; with ``pool.stop_when="any"`` (a single-seed
  config, the main job) the chosen seed's error table (``eval``). A seed not solved
  within ``num_train_steps`` / ``max_train_minutes`` counts as not solved.

  Args:
    config: a Neural GPU config; without a ``pool`` section, one seed (``as_pool``).
    workdir: checkpoints, metrics.jsonl, TensorBoard events, the summary.
    record_buckets: if given, the bucket of every step is appended to it.
  """
  config = as_pool(config)
  run, ps, loop = _setup(config, workdir)
  bar = progress_bar(config, loop.step, time.time() - run.t_start) if run.lead else None
  try:
    while loop.step < int(config.num_train_steps):
      ps = _train_step(run, ps, loop, record_buckets)
      if loop.step % int(config.log_every) == 0:
        ps = _log(run, ps, loop, bar)
      out_of_time = bool(config.max_train_minutes) and (
          (time.time() - run.t_start) / 60.0 >= config.max_train_minutes
      )
      ending = out_of_time or loop.step >= int(config.num_train_steps)
      if _confirm_due(config, loop):  # a seed that passed its last check, confirmed sooner
        _check_solved(run, pool_lib.to_host(ps, run.mesh), loop, confirming=True)
        if _solved_stop(run, loop):
          break
      elif loop.step % int(config.eval.every) == 0 and (
          config.eval.stop_when_solved or restarts_lib.restarts_enabled(config)
      ):
        ps_host = pool_lib.to_host(ps, run.mesh)
        if config.eval.stop_when_solved:
          _check_solved(run, ps_host, loop)
          if _solved_stop(run, loop):
            break
        if restarts_lib.restarts_enabled(config) and not ending:  # no seed starts at the end
          ps = _maybe_restart(run, ps, ps_host, loop)
      # Saved after the step's checks, so that a resumed run has the same restarts.
      if loop.step % int(config.checkpoint_every) == 0:
        checkpoints.save(run.manager, loop.step, ps, workdir, run.elapsed())
      if (
          loop.step % int(config.log_every) == 0
          and loop.all_dead
          and not restarts_lib.restarts_enabled(config)
      ):
        loop.stop_reason = "all_diverged"
        break
      if out_of_time:
        loop.stop_reason = "max_train_minutes"
        break
  finally:
    if bar is not None:
      bar.close()
  jax.block_until_ready(ps)
  elapsed = run.elapsed()
  checkpoints.save(run.manager, loop.step, ps, workdir, elapsed, force=True)
  run.manager.wait_until_finished()
  return _finish(run, ps, loop, elapsed)


def _setup(config, workdir: str) -> tuple[Run, pool_lib.PoolState, Loop]:
  """Validates, guards the workdir, restores (or starts, or transfers) the pool, reads
  back its restarts and stops, and compiles the steps."""
  pool_lib.validate_pool(config)
  tasks = tuple(tasks_lib.get_task(n) for n in config_lib.task_names(config))
  mcfg = resolve_lib.resolve_model_config(config)
  s = int(config.pool.num_seeds)
  mesh = None
  if config.pool.shard:
    devices = jax.devices()
    if jax.process_count() == 1:  # the largest device count that divides the pool
      devices = devices[: max(d for d in range(1, len(devices) + 1) if s % d == 0)]
    mesh = pool_lib.make_mesh(s, devices)
  lead = jax.process_index() == 0
  manager = open_workdir(config, workdir, mcfg, lead)
  template = pool_lib.init_pool(np.arange(s) + int(config.seed), config, len(tasks), mesh)
  fresh = manager.latest_step() is None
  ps = pool_lib.restore_pool(manager, template)
  if mesh is not None:
    ps = jax.device_put(ps, pool_lib.seed_sharding(mesh))
  if fresh and config.pool.init_from:
    ps = pool_lib.load_transfer(ps, config, mesh)
  step = pool_lib.pool_step_count(ps, mesh)
  loop = Loop(
      step=step,
      # The seed each slot trains now (restarts change it; a resume reads it back).
      seeds=np.asarray(pool_lib.to_host(ps.seed_id, mesh), np.int64),
      max_cur=pool_lib.max_live_length(ps, mesh),
      passes=[0] * s,
  )
  # Restarted and stopped seeds (on resume, read back up to the checkpoint's step).
  for name in ("restarts", "stops"):
    path = os.path.join(workdir, f"{name}.json")
    if os.path.exists(path):
      with open(path) as f:
        getattr(loop, name).extend(r for r in json.load(f) if int(r["step"]) <= step)
  steps = pool_lib.PoolStepCache(
      config, tasks, mcfg, mesh, str(config.pool.get("seed_loop", "auto"))
  )
  t_start = time.time()
  # Compilation counts towards the run's minutes (and its time budget).
  steps.precompile(ps, step_cache.buckets_to_compile(config))
  precompile_s = time.time() - t_start
  run = Run(
      config=config,
      workdir=workdir,
      tasks=tasks,
      mcfg=mcfg,
      num_slots=s,
      mesh=mesh,
      lead=lead,
      manager=manager,
      writer=metrics.MetricWriter(workdir) if lead else None,
      steps=steps,
      t_start=t_start,
      before=checkpoints.read_elapsed(workdir),
      stop_at_first=str(config.pool.get("stop_when", "all")) == "any",
      confirm=int(config.pool.get("confirm_checks", 1)),
  )
  if lead:  # where a run's first minute goes (its steps compiled before the first one)
    run.writer.write(step, {"precompile_s": precompile_s})
  loop.last_t, loop.last_step = time.time(), step
  return run, ps, loop


def _train_step(run: Run, ps, loop: Loop, record_buckets) -> pool_lib.PoolState:
  """One pool step at the bucket of the longest live curriculum length."""
  bucket = batches_lib.host_bucket(run.config, loop.step, loop.max_cur)
  if record_buckets is not None:
    record_buckets.append(bucket)
  ps = run.steps(bucket)(ps)
  loop.step += 1
  if loop.step % int(run.config.curriculum.advance_every) == 0:
    loop.max_cur = pool_lib.max_live_length(ps, run.mesh)
  return ps


# Metrics of a window logged per seed (``seed<N>/<key>``) and, unprefixed, as the mean
# over the seeds that ran in it (for a single-seed run: that seed's values).
_lr_scales = jax.jit(jax.vmap(optim_lib.lr_scale_of))  # per seed
_SEED_KEYS = (
    "loss",
    "ce",
    "train_seq_error",
    "train_digit_error",
    "mean_length",
    "grad_norm",
    "cur_length",
    "pull",
    "active_sets",
    "lr_scale",
)


def _log(run: Run, ps, loop: Loop, bar) -> pool_lib.PoolState:
  """Reads the window's metrics, writes one metrics line and moves the bar; returns the
  pool with its metric sums zeroed."""
  lr_scale = _lr_scales(ps.train.opt_state)
  metrics_host, alive, cur, running, pull, active, lr_host = pool_lib.to_host(
      (
          ps.train.metrics,
          ps.alive,
          ps.train.curriculum.cur,
          ps.running,
          ps.train.relax.pull,
          ps.train.relax.active_sets,
          lr_scale,
      ),
      run.mesh,
  )
  ps = pool_lib.zero_pool_metrics(ps)
  # Stopped seeds take no steps: they have no metrics of this window.
  per = [m if running[i] else None for i, m in enumerate(pool_lib.per_seed_metrics(metrics_host))]
  loop.last_per = per
  loop.all_dead = not np.any(alive)
  now = time.time()
  n_running = sum(m is not None for m in per)
  seed_steps_per_s = n_running * (loop.step - loop.last_step) / max(now - loop.last_t, 1e-9)
  row = {
      "steps_per_s": seed_steps_per_s / max(n_running, 1),
      "seed_steps_per_s": seed_steps_per_s,
      "alive": float(np.sum(alive)),
      "running": float(n_running),
      "elapsed_min": (run.before + now - run.t_start) / 60.0,
  }
  seed_rows = []
  for i, m in enumerate(per):
    if m is None:
      continue
    r = dict(
        m,
        cur_length=float(np.max(cur[i])),
        pull=float(pull[i]),
        active_sets=float(active[i]),
        lr_scale=float(lr_host[i]),
    )
    seed_rows.append(r)
    for k in _SEED_KEYS:
      row[f"seed{int(loop.seeds[i])}/{k}"] = r[k]
  for k in _SEED_KEYS:
    if seed_rows:
      row[k] = float(np.mean([r[k] for r in seed_rows]))
  row["cur_length"] = float(loop.max_cur)  # the longest live curriculum length
  loop.last_t, loop.last_step = now, loop.step
  if run.lead:
    run.writer.write(loop.step, row)
    bar.update(loop.step, **bar_postfix(row))
  return ps


def _solved_stop(run: Run, loop: Loop) -> bool:
  """After a check: whether the run stops because its seeds are solved (every seed, or
  the first with ``pool.stop_when="any"``); sets the stop reason if so."""
  if len(loop.solved_at) == run.num_slots:
    loop.stop_reason = "all_solved"
  elif loop.solved_at and run.stop_at_first:
    loop.stop_reason = "one_solved"
  else:
    return False
  return True


def _confirm_due(config, loop: Loop) -> bool:
  """Whether this step, off the ``eval.every`` grid, is a confirming check: every
  ``eval.confirm_every`` steps while some unsolved seed has passed its last check."""
  ce = int(config.eval.get("confirm_every", 0))
  if not ce or not config.eval.stop_when_solved:
    return False
  if loop.step % int(config.eval.every) == 0 or loop.step % ce:
    return False
  return any(p > 0 and i not in loop.solved_at for i, p in enumerate(loop.passes))


def _check_solved(
    run: Run, ps_host, loop: Loop, final: bool = False, confirming: bool = False
) -> None:
  """Checks every live, running, unsolved seed on fresh examples; a seed is solved at
  ``pool.confirm_checks`` passing checks in a row. Periodic checks only look at seeds
  through their curriculum; a confirming check (``eval.confirm_every``) only at seeds
  that passed their last check; the final one screens every live seed (cheaply, at the
  training length first)."""
  config = run.config
  for i in range(run.num_slots):
    if i in loop.solved_at or not ps_host.alive[i] or not ps_host.running[i]:
      continue
    if confirming and not loop.passes[i]:
      continue
    if (
        not final
        and curriculum_gates_checks(config)
        and not bool(np.all(ps_host.train.curriculum.solved[i]))
    ):
      continue
    # Fresh examples at every check, so that confirming checks are independent.
    key = jax.random.fold_in(evaluate_lib.check_key(int(loop.seeds[i])), loop.step)
    res = pool_lib.seed_solve_check(
        key, pool_lib.seed_state(ps_host, i), run.mcfg, config, run.tasks[-1]
    )
    loop.passes[i] = loop.passes[i] + 1 if res["solved"] else 0
    loop.evals.append(
        {
            "step": loop.step,
            "seed": int(loop.seeds[i]),
            "slot": i,
            **res,
            "passes_in_a_row": loop.passes[i],
        }
    )
    if loop.passes[i] >= run.confirm:
      loop.solved_at[i] = loop.step
    if run.lead:
      run.writer.write(loop.step, _check_row(int(loop.seeds[i]), res["rows"]))


def _check_row(seed: int, rows) -> dict:
  """A check's metrics line: ``seed<N>/eval_seq_error_<n>`` over the examples checked at
  each length (a screen and its rest together)."""
  wrong, total = {}, {}
  for r in rows:
    n = int(r["length"])
    wrong[n] = wrong.get(n, 0) + int(r["seq_wrong"])
    total[n] = total.get(n, 0) + int(r["examples"])
  return {f"seed{seed}/eval_seq_error_{n}": wrong[n] / max(total[n], 1) for n in wrong}


def _probe(run: Run, ps_host, loop: Loop, i: int) -> float:
  """Slot ``i``'s digit error at ``pool.restart_probe_length`` (has it started to
  generalise?)."""
  ts = pool_lib.seed_state(ps_host, i)
  n = int(run.config.pool.restart_probe_length)
  key = jax.random.fold_in(evaluate_lib.check_key(int(loop.seeds[i])), n)
  row = evaluate_lib.evaluate_length(
      key,
      ts.params,
      ts.relax.active_sets,
      run.mcfg,
      run.config.eval,
      run.tasks[-1],
      n,
      int(run.config.pool.restart_probe_examples),
      run.config.operand_mode,
  )
  return row["digit_error"]


def _write_events(run: Run, loop: Loop) -> None:
  """``restarts.json`` and ``stops.json`` (atomically), read back on resume."""
  if not run.lead:
    return
  for name in ("restarts", "stops"):
    tmp = os.path.join(run.workdir, f"{name}.json.tmp")
    with open(tmp, "w") as f:
      json.dump(getattr(loop, name), f, indent=2)
    os.replace(tmp, os.path.join(run.workdir, f"{name}.json"))


def _maybe_restart(run: Run, ps, ps_host, loop: Loop) -> pool_lib.PoolState:
  """Slots whose seed should restart (``restarts.restart_reason``) get the next unused seeds,
  or, with ``pool.on_probe_fail="stop"`` while other seeds still run, stop; the seeds
  still running are then spread over the devices."""
  config = run.config
  failing = {}
  for i in range(run.num_slots):
    if i in loop.solved_at or not bool(ps_host.running[i]):
      continue
    why = restarts_lib.restart_reason(
        config, ps_host, i, loop.step, lambda j: _probe(run, ps_host, loop, j)
    )
    if why is not None:
      failing[i] = why
  if not failing:
    return ps
  still = [i for i in range(run.num_slots) if bool(ps_host.running[i]) and i not in failing]
  if str(config.pool.get("on_probe_fail", "restart")) == "stop" and still:
    ps = restarts_lib.stop_slots(ps, sorted(failing), run.mesh)
    for i, why in failing.items():
      loop.stops.append({"step": loop.step, "slot": i, "seed": int(loop.seeds[i]), "reason": why})
      if run.lead:
        print(f"step {loop.step}: seed {int(loop.seeds[i])} stops: {why}", flush=True)
    # Spread the seeds still running over the devices (a device costs its busiest load).
    ndev = len(run.mesh.devices.flat) if run.mesh is not None else 1
    perm = restarts_lib.balance_permutation([i in still for i in range(run.num_slots)], ndev)
    if np.any(perm != np.arange(run.num_slots)):
      ps = restarts_lib.permute_slots(ps, perm, run.mesh)
      loop.seeds = loop.seeds[perm]
      loop.passes = [loop.passes[j] for j in perm]
      where = {int(old): new for new, old in enumerate(perm)}
      loop.solved_at = {where[k]: v for k, v in loop.solved_at.items()}
      if loop.last_per:
        loop.last_per = [loop.last_per[j] for j in perm]
    _write_events(run, loop)
    return ps
  slots, new = [], []
  next_seed = int(np.max(loop.seeds)) + 1
  for i, why in failing.items():
    loop.passes[i] = 0
    loop.restarts.append(
        {
            "step": loop.step,
            "slot": i,
            "old_seed": int(loop.seeds[i]),
            "new_seed": next_seed,
            "reason": why,
        }
    )
    if run.lead:
      print(
          f"step {loop.step}: slot {i} restarts (seed {int(loop.seeds[i])} -> "
          f"{next_seed}): {why}",
          flush=True,
      )
    slots.append(i)
    new.append(next_seed)
    loop.seeds[i] = next_seed
    next_seed += 1
  ps = restarts_lib.restart_slots(ps, slots, new, loop.step, config, len(run.tasks), run.mesh)
  loop.max_cur = pool_lib.max_live_length(ps, run.mesh)
  _write_events(run, loop)
  return ps


def _finish(run: Run, ps, loop: Loop, elapsed: float) -> dict:
  """The final check, the summary (written by the lead process) and, with
  ``stop_when="any"``, the chosen seed's error table."""
  config, s = run.config, run.num_slots
  t_eval = time.time()
  ps_host = pool_lib.to_host(ps, run.mesh)
  if not (loop.solved_at and run.stop_at_first):
    _check_solved(run, ps_host, loop, final=True)
  if loop.step % int(config.log_every):
    per = [
        m if ps_host.running[i] else None
        for i, m in enumerate(pool_lib.per_seed_metrics(ps_host.train.metrics))
    ]
  else:
    per = loop.last_per
  seeds_out = []
  for i in range(s):
    seeds_out.append(
        {
            "seed": int(loop.seeds[i]),
            "slot": i,
            "started_at": int(ps_host.started_at[i]),
            "running": bool(ps_host.running[i]),
            "solved": i in loop.solved_at,
            "solved_at": loop.solved_at.get(i),
            "diverged_at": int(ps_host.diverged_at[i]) if ps_host.diverged_at[i] >= 0 else None,
            "curriculum_length": [int(c) for c in ps_host.train.curriculum.cur[i]],
            "curriculum_solved": [bool(c) for c in ps_host.train.curriculum.solved[i]],
            "final_train_metrics": per[i] if per else None,
        }
    )
  n_solved = sum(r["solved"] for r in seeds_out)
  runs = s + len(loop.restarts)  # every seed run counts: a restarted one did not solve
  p = config.pool
  out = {
      "task": config.task,
      "num_maps": int(config.model.num_maps),
      "num_seeds": s,
      "step": loop.step,
      "num_train_steps": int(config.num_train_steps),
      "max_train_minutes": float(config.max_train_minutes),
      "stop_reason": loop.stop_reason,
      "train_minutes": elapsed / 60.0,
      "eval_minutes": (time.time() - t_eval) / 60.0,
      "solve_lengths": [int(n) for n in config.eval.solve_lengths],
      "num_seed_runs": runs,
      "restarts": loop.restarts,
      "stops": loop.stops,
      "num_solved": n_solved,
      "solved_fraction": n_solved / runs,
      "verdict": pool_lib.pool_verdict(
          n_solved, runs, float(p.works_fraction), float(p.struggles_fraction)
      ),
      "thresholds": {
          "works_fraction": float(p.works_fraction),
          "struggles_fraction": float(p.struggles_fraction),
      },
      "num_devices": len(run.mesh.devices.flat) if run.mesh is not None else 1,
      "num_processes": jax.process_count(),
      "seeds": seeds_out,
      "evals": loop.evals,
  }
  if run.stop_at_first:
    best = pool_lib.best_seed_index(seeds_out)
    t_best = time.time()
    ts = pool_lib.seed_state(ps_host, best)
    out["best_seed_index"] = best
    out["best_seed"] = int(loop.seeds[best])
    out["solved_at"] = seeds_out[best]["solved_at"]
    from_check = _solving_check_rows(config, loop, best) if seeds_out[best]["solved"] else {}
    lengths = [int(n) for n in config.eval.lengths]
    todo = [(n, int(k)) for n, k in zip(lengths, config.eval.examples) if n not in from_check]
    fresh = evaluate_lib.evaluate_table(
        evaluate_lib.final_key(int(config.seed)),
        train_lib.eval_params(ts),
        ts.relax.active_sets,
        run.mcfg,
        config.eval,
        run.tasks[-1],
        [n for n, _ in todo],
        [k for _, k in todo],
        config.operand_mode,
    )
    by_length = {**{int(r["length"]): r for r in fresh}, **from_check}
    out["eval"] = [by_length[n] for n in lengths]
    out["final_eval_minutes"] = (time.time() - t_eval) / 60.0
    out["total_minutes"] = out["train_minutes"] + out["final_eval_minutes"]
    out["best_eval_minutes"] = (time.time() - t_best) / 60.0
  if run.lead:
    workdir_lib.write_summary(run.workdir, out, default=float)
    run.writer.write(
        loop.step,
        {"num_solved": n_solved, "solved_fraction": n_solved / runs, "num_seed_runs": runs},
    )
    if "eval" in out:
      run.writer.write(
          loop.step, {f"final_seq_error_{r['length']}": r["seq_error"] for r in out["eval"]}
      )
    run.writer.close()
  return out


# ----------------------------------------------------------------------------
# Helpers.
# ----------------------------------------------------------------------------
def _solving_check_rows(config, loop: Loop, slot: int) -> dict[int, dict]:
  """With ``eval.final_from_check``: the final table's rows at the solve lengths taken
  from slot ``slot``'s solving check (the passing check at its solve step; a check's
  screen and rest at one length joined), each marked with ``from_check_step``; ``{}``
  when the option is off or there is no such check (e.g. a resumed run whose check
  records are gone)."""
  if not bool(config.eval.get("final_from_check", False)):
    return {}
  step = loop.solved_at.get(slot)
  checks = [e for e in loop.evals if e["slot"] == slot and e["step"] == step and e["solved"]]
  if step is None or not checks:
    return {}
  rows = {}
  for r in checks[-1]["rows"]:
    n = int(r["length"])
    if n not in [int(x) for x in config.eval.solve_lengths]:
      continue
    a = rows.setdefault(n, {"length": n, "examples": 0, "digit_wrong": 0.0, "seq_wrong": 0})
    # A passing check has no wrong sequence, hence no wrong digit: the joined errors are 0
    # (weighted by examples all the same).
    a["digit_wrong"] += float(r["digit_error"]) * int(r["examples"])
    a["examples"] += int(r["examples"])
    a["seq_wrong"] += int(r["seq_wrong"])
  return {
      n: {
          "length": n,
          "examples": a["examples"],
          "digit_error": a["digit_wrong"] / max(a["examples"], 1),
          "seq_error": a["seq_wrong"] / max(a["examples"], 1),
          "seq_wrong": a["seq_wrong"],
          "from_check_step": int(step),
      }
      for n, a in rows.items()
  }


def curriculum_gates_checks(cfg) -> bool:
  """Solve checks wait for the length curriculum to reach the training length; with no
  length curriculum (start = max length) they run at every ``eval.every`` steps (the
  check screens the training length first, so an unfit model costs little)."""
  return int(cfg.curriculum.start_length) < int(cfg.curriculum.max_length)


def progress_bar(config, start_step: int, elapsed_s: float):
  """The run's bar (``runkit.progress.ProgressBar``) towards ``num_train_steps`` or the
  ``max_train_minutes`` budget, whichever comes first."""
  return progress.ProgressBar(
      config.num_train_steps,
      float(config.max_train_minutes or 0) * 60,
      start_step,
      elapsed_s,
      enabled=bool(config.progress_bar),
  )


def bar_postfix(summary: dict) -> dict:
  """The bar's postfix: curriculum length, training errors, steps/s."""
  return dict(
      len=summary.get("cur_length"),
      seq_err=f"{summary.get('train_seq_error', 0):.3f}",
      dig_err=f"{summary.get('train_digit_error', 0):.4f}",
      sps=f"{summary.get('steps_per_s', 0):.1f}",
  )


def open_workdir(config, workdir: str, mcfg, lead: bool = True):
  """Opens a Neural GPU run's workdir: refuses one made with another config (nothing
  written then), records this run's provenance (``lead``: the process that writes the
  records) and returns the checkpoint manager."""
  os.makedirs(workdir, exist_ok=True)
  if lead:
    workdir_lib.check_workdir_config(
        workdir, config, config_lib.RESUMABLE_KEYS, added_defaults=config_lib.ADDED_DEFAULTS
    )
    provenance.write_provenance(workdir, config, {"resolved_conv_impl": mcfg.conv_impl})
  return checkpoints.make_manager(workdir, config.keep_checkpoints)
