"""Training tests: config validation, curriculum and relaxation rules worked by
hand, and an end-to-end smoke run that checkpoints, resumes bit-identically and
lowers the loss."""

import json
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.configs import ngpu
from neuralgpu import config as config_lib
from neuralgpu import curriculum
from neuralgpu import optim
from neuralgpu import train
from neuralgpu import batches as batches_lib
from neuralgpu import loop
from neuralgpu import resolve as resolve_lib
from neuralgpu import restore
from neuralgpu import step_cache
from neuralgpu import tasks as tasks_lib


# ---------------------------------------------------------------------------
# Config validation: clear errors before anything compiles.
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path,value,match",
    [
        ("task", "divide", "divide"),
        ("task", "add1", "add1"),
        ("task", "mul17", "17"),
        ("curriculum.max_length", -5, "max_length"),
        ("curriculum.start_length", 1, "start_length"),
        ("model.remat", "sometimes", "remat"),
        ("model.conv_impl", "fft", "conv_impl"),
        ("model.gate_type", "soft", "gate_type"),
        ("optim.optimizer", "sgd", "optimizer"),
        ("model.dropout", 1.5, "dropout"),
        ("operand_mode", "weird", "operand_mode"),
        ("relax.end_sets", 9, "end_sets"),
        ("curriculum.bucket_mode", "random", "bucket_mode"),
        ("curriculum.all_bins_form", "stacked", "all_bins_form"),
        ("curriculum.short_share", 1.5, "short_share"),
        ("model.input_layer", "onehot", "input_layer"),
        ("optim.b2_schedule", "cosine", "b2_schedule"),
        ("optim.min_lr_scale", -0.1, "min_lr_scale"),
        ("optim.ema_decay", 1.0, "ema_decay"),
        ("curriculum.late_bins", 8, "late_bins"),
        ("curriculum.late_from_step", -1, "late_from_step"),
    ],
)
def test_bad_config_values_are_rejected(path, value, match):
  c = config_lib.default_config()
  node = c
  *parents, leaf = path.split(".")
  for p in parents:
    node = node[p]
  node[leaf] = value
  with pytest.raises(ValueError, match=match):
    config_lib.validate(c)


def test_config_variants_validate():
  for arg in (
      "variant=faithful",
      "variant=fast",
      "variant=smoke",
      "variant=dngpu",
      "variant=dngpu_cycle",
      "variant=dngpu_short,seeds=1",
      "variant=faithful,task=bmul+qmul+mul,width=128",
      "task=bmul+mul5+mul",
  ):
    c = ngpu.get_config(arg)
    config_lib.validate(c)
  assert ngpu.get_config("task=bmul+qmul+mul").task == "bmul,qmul,mul"
  with pytest.raises(ValueError, match="variant"):
    ngpu.get_config("variant=huge")
  with pytest.raises(ValueError, match="colour"):
    ngpu.get_config("colour=red")


# ---------------------------------------------------------------------------
# Curriculum and relaxation, by hand.
# ---------------------------------------------------------------------------
def _cfg(**cu):
  c = config_lib.default_config()
  c.curriculum.start_length = 5
  c.curriculum.max_length = 9
  c.curriculum.advance_every = 2
  c.curriculum.update(cu)
  return c


def test_length_curriculum_advances_and_solves():
  c = _cfg()
  cs = curriculum.init(1, c)
  lengths = jnp.array([5, 5, 5, 5, 3], jnp.int32)
  # 1 wrong of 4 at the current length -> 25% > 15%: no advance at step 2.
  cs = curriculum.record(cs, 0, lengths, jnp.array([1, 0, 0, 0, 1], bool))
  cs, passed = curriculum.update(cs, jnp.int32(2), c)
  assert int(cs.cur[0]) == 5 and not bool(passed)
  # 0 wrong of 4 (the length-3 example does not count) -> advance to 7.
  cs = curriculum.record(cs, 0, lengths, jnp.array([0, 0, 0, 0, 1], bool))
  cs, _ = curriculum.update(cs, jnp.int32(3), c)  # not a check step
  assert int(cs.cur[0]) == 5
  cs, passed = curriculum.update(cs, jnp.int32(4), c)
  assert int(cs.cur[0]) == 7 and bool(passed)
  assert float(cs.err_count[0]) == 0.0  # window reset
  for step in (6, 8):
    cs = curriculum.record(cs, 0, jnp.full((4,), int(cs.cur[0]), jnp.int32), jnp.zeros((4,), bool))
    cs, _ = curriculum.update(cs, jnp.int32(step), c)
  assert int(cs.cur[0]) == 9 and bool(cs.solved[0])
  # A solved task whose error rises above drop_back_threshold drops back.
  cs = curriculum.record(cs, 0, jnp.full((4,), 9, jnp.int32), jnp.ones((4,), bool))
  cs, _ = curriculum.update(cs, jnp.int32(10), c)
  assert int(cs.cur[0]) == 7 and not bool(cs.solved[0])


def test_choose_task_base_curriculum():
  c = _cfg(other_task_prob=0.0)
  cs = curriculum.init(3, c)
  assert int(curriculum.choose_task(jax.random.key(0), cs, c)) == 0
  cs = cs.replace(solved=jnp.array([True, False, False]))
  assert int(curriculum.choose_task(jax.random.key(0), cs, c)) == 1
  cs = cs.replace(solved=jnp.array([True, True, True]))
  assert int(curriculum.choose_task(jax.random.key(0), cs, c)) == 2
  c2 = _cfg(other_task_prob=1.0)
  cs = cs.replace(solved=jnp.array([True, False, False]))
  picks = {int(curriculum.choose_task(jax.random.key(i), cs, c2)) for i in range(40)}
  assert picks == {1, 2}  # only unsolved tasks, both reached


def test_sample_lengths_cycle_bucket():
  c = _cfg(bucket_mode="cycle", buckets=(5, 9), max_length=9)
  lengths = curriculum.sample_lengths(jax.random.key(0), 64, jnp.int32(9), jnp.bool_(False), c, 9)
  assert set(np.asarray(lengths).tolist()) == {7, 9}
  capped = curriculum.sample_lengths(jax.random.key(0), 64, jnp.int32(7), jnp.bool_(False), c, 9)
  assert set(np.asarray(capped).tolist()) == {7}
  low = curriculum.sample_lengths(jax.random.key(0), 64, jnp.int32(9), jnp.bool_(False), c, 5)
  assert set(np.asarray(low).tolist()) == {3, 5}


def test_late_bins_join_the_cycle_at_their_step():
  """curriculum.late_bins: the longest bins are held back until late_from_step, then
  the cycle runs over every bin from its first."""
  c = _cfg(
      bucket_mode="cycle",
      buckets=(5, 9, 13, 17),
      max_length=17,
      start_length=17,
      late_bins=2,
      late_from_step=5,
  )
  config_lib.validate(c)
  got = [batches_lib.host_bucket(c, s, 17) for s in range(13)]
  assert got == [5, 9, 5, 9, 5, 5, 9, 13, 17, 5, 9, 13, 17]
  c.curriculum.late_bins = 0
  assert [batches_lib.host_bucket(c, s, 17) for s in range(5)] == [5, 9, 13, 17, 5]
  assert step_cache.buckets_to_compile(c) == [5, 9, 13, 17]


def test_fill_lengths_fill_the_bin():
  c = _cfg(bucket_mode="all", buckets=(8, 12), max_length=11, start_length=11, short_share=0.0)
  full = curriculum.fill_lengths(jax.random.key(0), 64, jnp.int32(11), c, 8)
  assert set(np.asarray(full).tolist()) == {7}  # the longest odd length <= 8
  capped = curriculum.fill_lengths(jax.random.key(0), 64, jnp.int32(5), c, 12)
  assert set(np.asarray(capped).tolist()) == {5}  # never above the current length
  c.curriculum.short_share = 0.5
  mixed = np.asarray(curriculum.fill_lengths(jax.random.key(1), 400, jnp.int32(11), c, 12))
  assert set(mixed.tolist()) <= {3, 5, 7, 9, 11} and 0.35 < np.mean(mixed < 11) < 0.65


def test_clipped_adamax_hand_values():
  """DNGPU AdaMax: g clipped to +-(1.2 nu + 1e-4); mu = .9 mu + .1 g; nu = max(b2 nu, |g|)."""
  t = optim.scale_by_clipped_adamax(0.9, 0.99, 1e-8)
  st = t.init({"w": jnp.zeros(2)})
  u, st = t.update({"w": jnp.array([1.0, -2.0])}, st)
  np.testing.assert_allclose(u["w"], [1e-5 / (1e-4 + 1e-8), -1e-5 / (1e-4 + 1e-8)], rtol=1e-5)
  u, st = t.update({"w": jnp.array([1.0, 0.0])}, st)
  # step 2: clip 2.2e-4 -> g = [2.2e-4, 0]; mu = [3.1e-5, -9e-6]; nu = [2.2e-4, 0.99e-4]
  np.testing.assert_allclose(
      u["w"], [3.1e-5 / (2.2e-4 + 1e-8), -9e-6 / (0.99e-4 + 1e-8)], rtol=1e-4
  )
  assert int(st.count) == 2


def test_dngpu_b2_schedule():
  c = ngpu.get_config("variant=dngpu")
  b2 = optim.b2_schedule(c)
  np.testing.assert_allclose(
      [float(b2(jnp.int32(n))) for n in (0, 2000, 100_000)], [0.99, 0.995, 0.9995], rtol=1e-6
  )
  for name in ("adam", "adamax", "clipped_adamax"):  # every optimizer takes the schedule
    c.optim.optimizer = name
    tx = optim.make_optimizer(c)
    w = {"w": jnp.ones(2)}
    u, _ = tx.update(w, tx.init(w), w, value=jnp.float32(1.0))
    assert np.all(np.isfinite(np.asarray(u["w"]))) and np.all(np.asarray(u["w"]) < 0)
  c.optim.b2_schedule = "none"
  assert optim.b2_schedule(c) == c.optim.b2


def test_default_config_is_the_short_bin_pool():
  c = ngpu.get_config()
  assert c.curriculum.buckets == (8, 12, 16, 20, 25) and c.curriculum.max_length == 25
  assert c.curriculum.bucket_mode == "cycle" and c.curriculum.fill_bins
  assert c.pool.num_seeds == 2 and c.pool.stop_when == "any" and c.pool.restart_after == 0
  assert c.batch_size == 32
  assert c.optim.saturation_adapt == "dngpu" and c.model.saturation_form == "dngpu"
  old = ngpu.get_config("variant=dngpu_short")
  assert old.pool.num_seeds == 6 and old.pool.restart_after == 5000
  assert old.optim.saturation_adapt == "fixed"
  assert ngpu.get_config("variant=dngpu_cycle").curriculum.buckets == ngpu.DNGPU_BINS


def test_parameter_moving_average():
  """ema' = d * ema + (1 - d) * params' after each step; checks use it (eval_params)."""
  c = ngpu.get_config("variant=smoke")
  task = tasks_lib.get_task("badd")
  off = train.init_state(jax.random.key(0), c, 1)
  assert off.ema_params is None and train.eval_params(off) is off.params
  c.optim.ema_decay = 0.75
  st = train.init_state(jax.random.key(0), c, 1)
  chex.assert_trees_all_close(st.ema_params, st.params)
  step = jax.jit(train.make_train_step(c, (task,), 9))
  s1 = step(st)
  s2 = step(s1)
  want1 = jax.tree.map(lambda e, p: 0.75 * e + 0.25 * p, st.params, s1.params)
  want2 = jax.tree.map(lambda e, p: 0.75 * e + 0.25 * p, want1, s2.params)
  chex.assert_trees_all_close(s2.ema_params, want2, rtol=1e-6, atol=1e-7)
  assert train.eval_params(s2) is s2.ema_params
  # The raw parameters follow the same path as without the average.
  c.optim.ema_decay = 0.0
  s_off = jax.jit(train.make_train_step(c, (task,), 9))(off)
  chex.assert_trees_all_close(s_off.params, s1.params)


def _all_bins_cfg(form):
  c = ngpu.get_config("variant=dngpu")
  c.model.num_maps = 6
  c.model.candidate_dropout = 0.0
  c.model.saturation_cost = 0.0
  c.batch_size = 3
  c.curriculum.buckets = (5, 8, 11)
  c.curriculum.max_length = c.curriculum.start_length = 11
  c.curriculum.all_bins_form = form
  return c


def test_all_bins_forms_agree():
  """One padded batch with ragged depth == one forward per bin (same data, same loss
  and gradients), without dropout."""
  task = tasks_lib.get_task("badd")
  states = []
  for form in ("separate", "ragged"):
    c = _all_bins_cfg(form)
    st = train.init_state(jax.random.key(0), c, 1)
    states.append(jax.jit(train.make_train_step(c, (task,), 11))(st))
  a, b = states
  np.testing.assert_allclose(a.metrics["ce"], b.metrics["ce"], rtol=1e-5)
  for k in ("digit_wrong", "digit_total", "seq_total"):
    assert float(a.metrics[k]) == float(b.metrics[k])
  assert float(a.metrics["seq_total"]) == 9.0  # 3 bins x batch 3
  chex.assert_trees_all_close(a.params, b.params, rtol=1e-4, atol=1e-6)


def test_relaxation_pull_growth_and_hard_average():
  c = config_lib.default_config()
  c.model.num_sets = 3
  c.relax.end_sets = 1
  c.relax.pull_start = 0.05
  c.relax.pull_growth = 2.0
  c.relax.pull_threshold = 0.1
  rs = curriculum.relax_init(c)
  params = {
      "gate_w": jnp.array([1.0, 2.0, 6.0]),
      "gate_b": jnp.zeros(3),
      "cand_w": jnp.array([0.0, 3.0, 3.0]),
      "cand_b": jnp.zeros(3),
  }
  rs, p, avg = curriculum.relax_update(rs, params, jnp.bool_(True), c)
  assert float(rs.pull) == pytest.approx(0.1) and not bool(avg)  # 0.05 < 0.1: grow only
  np.testing.assert_array_equal(p["gate_w"], params["gate_w"])
  rs, p, avg = curriculum.relax_update(rs, params, jnp.bool_(True), c)
  assert bool(avg) and int(rs.active_sets) == 1
  np.testing.assert_allclose(p["gate_w"], [3.0, 3.0, 3.0])
  np.testing.assert_allclose(p["cand_w"], [2.0, 2.0, 2.0])
  rs2, _, avg = curriculum.relax_update(rs, params, jnp.bool_(False), c)
  assert not bool(avg) and float(rs2.pull) == float(rs.pull)


# ---------------------------------------------------------------------------
# End to end: train, checkpoint, resume bit-identically, loss goes down.
# ---------------------------------------------------------------------------
def _smoke(steps, **kw):
  c = ngpu.get_config(f"variant=smoke,steps={steps}")
  c.log_every = 2
  c.checkpoint_every = 4
  c.optim.lr = 0.02
  c.update(kw)
  return c


def _final_state(workdir, c):
  _, _, state, step = restore.load(workdir)  # a single run is a pool of one seed
  return state, step


def test_train_checkpoint_resume_bit_identical(tmp_path):
  full = str(tmp_path / "full")
  part = str(tmp_path / "part")
  out_full = loop.train_and_evaluate(_smoke(12), full)
  assert out_full["step"] == 12
  # Interrupted after 6 steps (a checkpoint at 4 and a final one at 6), then resumed.
  loop.train_and_evaluate(_smoke(6), part)
  assert sorted(int(d) for d in os.listdir(os.path.join(part, "checkpoints")) if d.isdigit()) == [
      4,
      6,
  ]
  out_part = loop.train_and_evaluate(_smoke(12), part)
  assert out_part["step"] == 12
  a, sa = _final_state(full, _smoke(12))
  b, sb = _final_state(part, _smoke(12))
  # The one seed trained is the config's seed: the oracle is its bare jitted train steps.
  oracle_cfg = _smoke(12)
  st = train.init_state(jax.random.key(oracle_cfg.seed), oracle_cfg, 1)
  tasks_ = (tasks_lib.get_task(oracle_cfg.task),)
  steps_ = {}
  max_cur = int(np.max(np.asarray(st.curriculum.cur)))
  for i in range(12):
    bucket = batches_lib.host_bucket(oracle_cfg, i, max_cur)
    if bucket not in steps_:
      steps_[bucket] = jax.jit(train.make_train_step(oracle_cfg, tasks_, bucket))
    st = steps_[bucket](st)
    if (i + 1) % int(oracle_cfg.curriculum.advance_every) == 0:  # as the host loop reads it
      max_cur = int(np.max(np.asarray(st.curriculum.cur)))
  chex.assert_trees_all_close(a.params, st.params, rtol=1e-5, atol=1e-6)
  assert sa == sb == 12
  chex.assert_trees_all_equal(a.params, b.params)
  chex.assert_trees_all_equal(a.opt_state, b.opt_state)
  chex.assert_trees_all_equal(a.curriculum, b.curriculum)
  np.testing.assert_array_equal(a.key, b.key)

  # The resumed run's logged metrics equal the uninterrupted run's.
  def losses(wd):
    rows = [json.loads(l) for l in open(os.path.join(wd, "metrics.jsonl"))]
    return {r["step"]: r["loss"] for r in rows if "loss" in r}

  lf, lp = losses(full), losses(part)
  for s in (8, 10, 12):
    assert lf[s] == lp[s]
  # Loss goes down.
  assert lf[12] < lf[2]
  # Provenance is recorded.
  prov = [json.loads(l) for l in open(os.path.join(full, "provenance.jsonl"))]
  assert {"jax", "jaxlib", "flax", "optax"} <= set(prov[0]["versions"])
  assert "missing" not in prov[0]["versions"].values()  # all installed: all found
  assert prov[0]["devices"] and "git_commit" in prov[0]
  summary = json.load(open(os.path.join(full, "summary.json")))
  assert [r["length"] for r in summary["eval"]] == [9, 15]
  # One seed runs as a pool of one: one seed record, and every metrics line of the
  # window carries the seed's own values under both names.
  assert summary["num_seeds"] == 1 and [r["seed"] for r in summary["seeds"]] == [0]
  assert summary["best_seed"] == 0 and summary["solved_at"] == summary["seeds"][0]["solved_at"]
  rows = [json.loads(l) for l in open(os.path.join(full, "metrics.jsonl"))]
  train_rows = [r for r in rows if "loss" in r]
  assert train_rows and all(r["loss"] == r["seed0/loss"] for r in train_rows)
  assert all(r["lr_scale"] == r["seed0/lr_scale"] for r in train_rows)


def test_mismatched_config_refused_and_nothing_lost(tmp_path):
  wd = str(tmp_path / "wd")
  loop.train_and_evaluate(_smoke(4), wd)
  before = sorted(os.listdir(os.path.join(wd, "checkpoints")))
  cfg_before = open(os.path.join(wd, "config.json")).read()
  other = _smoke(8)
  other.model.num_maps = 12
  with pytest.raises(ValueError, match="num_maps"):
    loop.train_and_evaluate(other, wd)
  assert sorted(os.listdir(os.path.join(wd, "checkpoints"))) == before
  assert open(os.path.join(wd, "config.json")).read() == cfg_before


def test_saved_dots_bytes_and_auto_remat_on_cpu():
  # The faithful model (height 4, 2 CGRUs per step, one step per position): at batch 32,
  # widest bin 41, 128 maps, save_dots keeps 41 steps x (1 state + 2 CGRUs x 3 conv
  # outputs) x 32 x 41 x 4 x 128 floats.
  c = ngpu.get_config("variant=faithful,task=badd")
  c.batch_size, c.model.num_maps = 32, 128
  c.curriculum.buckets = tuple(b for b in c.curriculum.buckets if b <= 41)
  c.curriculum.max_length = 41
  assert resolve_lib.saved_dots_bytes(c) == 41 * 7 * 32 * 41 * 4 * 128 * 4
  assert jax.default_backend() == "cpu"
  assert resolve_lib.resolve_model_config(c).remat == "save_dots"
  assert resolve_lib.resolve_model_config(c).conv_impl == "grouped"  # >= 128 maps
  c.model.num_maps = 24
  assert resolve_lib.resolve_model_config(c).conv_impl == "folded"
  c.model.num_maps = 512  # 4x the maps, 4x the bytes: still 3.1 GiB > 2 GiB
  assert resolve_lib.saved_dots_bytes(c) > resolve_lib.SAVE_DOTS_BUDGET_BYTES
  assert resolve_lib.resolve_model_config(c).remat == "every_step"
  c.model.remat = "none"  # an explicit choice is kept
  assert resolve_lib.resolve_model_config(c).remat == "none"
