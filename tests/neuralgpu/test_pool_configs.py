"""Table-cell configs, cost estimates, the pool binary's loop at smoke scale, tables.py."""

import json
import os

import pytest

from experiments.tables import ngpu_tables as tables
from experiments.configs import ngpu_tables as nt
from neuralgpu import loop
from neuralgpu import pool


def test_every_talk_cell_is_there_with_its_word():
  assert len([c for c in nt.TALK if c.startswith("known/")]) == 8
  assert len([c for c in nt.TALK if c.startswith("bigger/")]) == 8
  assert len([c for c in nt.TALK if c.startswith("curriculum/")]) == 12
  # Spot checks against the talk's slides.
  assert nt.TALK["known/add2/24"] == ("badd", 24, "Struggles")
  assert nt.TALK["known/mul2/24"] == ("bmul", 24, "Struggles")
  assert nt.TALK["known/add10/128"] == ("add", 128, "Works")
  assert nt.TALK["known/mul10/128"] == ("mul", 128, "Fails")
  assert nt.TALK["bigger/mul10/512"] == ("mul", 512, "Struggles?")
  assert nt.TALK["curriculum/2-4-10/128"] == ("bmul,qmul,mul", 128, "Works")
  assert nt.TALK["curriculum/2-5-10/128"] == ("bmul,mul5,mul", 128, "Struggles")
  assert nt.TALK["curriculum/2-10/256"] == ("bmul,mul", 256, "Struggles")


@pytest.mark.parametrize("cell", nt.CELLS)
def test_cell_configs_build(cell, tmp_path):
  arg = f"cell={cell}"
  if "/transfer/" in cell:
    (tmp_path / "checkpoints").mkdir()
    arg += f",init_from={tmp_path}"
  c = nt.get_config(arg)
  task, width = nt.cell_task_width(cell)
  assert c.task == task and c.model.num_maps == width and c.pool.num_seeds == 8
  assert c.model.height == 4 and c.model.cgrus_per_step == 2  # the faithful model
  assert c.model.remat == "every_k"
  assert c.eval.solve_lengths == (201, 401)
  pool.validate_pool(c)
  s = nt.get_config(arg + ",variant=smoke")
  assert s.task == task and s.model.num_maps == 8 and s.curriculum.max_length == 9
  pool.validate_pool(s)


@pytest.mark.parametrize(
    "arg,match",
    [
        ("", "cell= is required"),
        ("cell=known/mul3/24", "not a table cell"),
        ("cell=known/mul2/24,foo=1", "unknown config arg key 'foo'"),
        ("cell=known/mul2/24,seeds=0", "seeds=0 must be >= 1"),
        ("cell=known/mul2/24,seeds=x", "seeds='x' must be an integer"),
        ("cell=known/mul2/24,variant=huge", "variant='huge'"),
        ("cell=known/mul2/24,minutes=soon", "minutes='soon'"),
        ("cell=transfer/add-mul/transfer/24", "needs init_from"),
        ("cell=transfer/add-mul/transfer/24,init_from=/nonexistent", "not a pool workdir"),
    ],
)
def test_bad_config_args(arg, match):
  with pytest.raises(ValueError, match=match):
    c = nt.get_config(arg)
    pool.validate_pool(c)


def test_cost_per_1000_steps_by_hand():
  # 24 maps, n = 41, height 4, 3x3 kernel, batch 32, 2 CGRUs/step, fwd+bwd = 3 fwd:
  # per CGRU 2*41*4*(9*24)*(3*24) = 5,101,056 FLOPs; x 41 steps x 2 x 32 x 3.
  assert nt.train_flops_per_step(24) == 5_101_056 * 41 * 2 * 32 * 3
  assert nt.COST[24]["tflop_per_1000_steps_per_seed"] == pytest.approx(40.155512832)
  # Quadratic in the width.
  assert nt.COST[512]["tflop_per_1000_steps_per_seed"] == pytest.approx(
      40.155512832 * (512 / 24) ** 2
  )


@pytest.fixture(scope="module")
def smoke_pool(tmp_path_factory):
  """A GPU-scale cell (512 filters, 2 -> 4 -> 10) at smoke scale, stopped and resumed."""
  root = tmp_path_factory.mktemp("pools")
  wd = str(root / "curriculum" / "2-4-10" / "512")
  c = nt.get_config("cell=curriculum/2-4-10/512,variant=smoke")
  c.num_train_steps = 2
  first = loop.train_and_evaluate(c, wd)
  c.num_train_steps = 4
  second = loop.train_and_evaluate(c, wd)
  return str(root), wd, first, second


@pytest.mark.slow
def test_smoke_pool_runs_and_resumes(smoke_pool):
  _, wd, first, second = smoke_pool
  assert first["step"] == 2 and second["step"] == 4
  assert second["num_seeds"] == 2 and len(second["seeds"]) == 2
  assert second["verdict"] == pool.pool_verdict(second["num_solved"], 2, 0.5, 0.0)
  for r in second["seeds"]:
    assert len(r["curriculum_length"]) == 3  # one length per task of the base curriculum
  with open(os.path.join(wd, "summary.json")) as f:
    assert json.load(f)["step"] == 4
  lines = [json.loads(l) for l in open(os.path.join(wd, "metrics.jsonl"))]
  assert [l["step"] for l in lines if "seed0/loss" in l] == [2, 4]


@pytest.mark.slow
def test_resume_with_another_config_is_refused(smoke_pool):
  _, wd, _, _ = smoke_pool
  c = nt.get_config("cell=curriculum/2-4-10/512,variant=smoke")
  c.model.num_maps = 16
  with pytest.raises(ValueError, match="different config"):
    loop.train_and_evaluate(c, wd)


@pytest.mark.slow
def test_tables_render_measured_and_missing(smoke_pool):
  root, _, _, second = smoke_pool
  summaries = tables.load_summaries(root, nt.CELLS)
  assert list(summaries) == ["curriculum/2-4-10/512"]
  text = tables.render(summaries)
  assert "talk: Works? / measured: **" + second["verdict"] + "**" in text
  assert "| 2 → 4 → 10 |" in text
  assert "talk: Struggles / not run" in text  # known/add2/24 was not run here


@pytest.mark.slow
def test_transfer_starts_from_the_source_params(tmp_path):
  import jax
  import numpy as np
  from runkit import checkpoints

  src_wd = str(tmp_path / "source")
  src_cfg = nt.get_config("cell=transfer/add-mul/source/24,variant=smoke")
  src_cfg.num_train_steps = 2
  loop.train_and_evaluate(src_cfg, src_wd)
  dst_wd = str(tmp_path / "transfer")
  cfg = nt.get_config(f"cell=transfer/add-mul/transfer/24,variant=smoke,init_from={src_wd}")
  assert cfg.task == "bmul"
  cfg.num_train_steps = 0
  out = loop.train_and_evaluate(cfg, dst_wd)
  assert out["step"] == 0
  tmpl = jax.device_get(pool.init_pool(np.arange(2), src_cfg, 1))
  src, _ = checkpoints.load_latest(src_wd, tmpl)
  dst, _ = checkpoints.load_latest(dst_wd, tmpl)
  for a, b in zip(jax.tree.leaves(src.train.params), jax.tree.leaves(dst.train.params)):
    np.testing.assert_array_equal(a, b)
  fresh = jax.device_get(pool.init_pool(np.arange(2), cfg, 1))
  np.testing.assert_array_equal(dst.train.curriculum.cur, fresh.train.curriculum.cur)
  # A transfer from a pool of another size is refused.
  bad = nt.get_config(
      f"cell=transfer/add-mul/transfer/24,variant=smoke,seeds=4," f"init_from={src_wd}"
  )
  with pytest.raises(ValueError, match="has 2 seeds"):
    loop.train_and_evaluate(bad, str(tmp_path / "bad"))


@pytest.mark.slow
@pytest.mark.parametrize("cell", [c for c in nt.CELLS if "/transfer/" not in c])
def test_every_cell_runs_at_smoke_scale(cell, tmp_path):
  c = nt.get_config(f"cell={cell},variant=smoke")
  out = loop.train_and_evaluate(c, str(tmp_path / "wd"))
  assert out["step"] == c.num_train_steps and out["num_seeds"] == 2
  assert out["verdict"] in pool.VERDICTS


def test_bad_seed_loop_rejected():
  c = nt.get_config("cell=known/mul2/24")
  c.pool.seed_loop = "pmap"
  with pytest.raises(ValueError, match="pool.seed_loop='pmap'; allowed"):
    pool.validate_pool(c)
