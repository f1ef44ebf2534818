"""experiments/studies/sweep_badd_pools.py: variant parsing (default suite), a tiny run (slow)."""

import json

import pytest

from experiments.studies import sweep_badd_pools as sweep


def test_variant_modifiers():
  c = sweep.variant_config("fast+d0.5+2c+m24+lr0.01+b64+long+cap")
  assert c.model.candidate_dropout == 0.5 and c.model.cgrus_per_step == 2
  assert c.model.num_maps == 24 and c.optim.lr == 0.01 and c.batch_size == 64
  assert c.curriculum.max_length == 81 and c.curriculum.buckets[-1] == 81
  assert c.curriculum.bucket_mode == "cap"
  base = sweep.variant_config("fast")
  assert base.model.candidate_dropout == 0.1 and base.curriculum.max_length == 41
  d = sweep.variant_config("dngpu+cyc+b16")
  assert d.curriculum.bucket_mode == "cycle" and d.curriculum.fill_bins
  assert d.batch_size == 16 and d.optim.optimizer == "clipped_adamax"
  assert d.model.input_layer == "hard_tanh" and d.model.candidate_dropout == 0.5
  short = sweep.variant_config("dngpu+cyc+b16+max25")
  assert short.curriculum.buckets == (8, 12, 16, 20, 25)
  assert short.curriculum.max_length == short.curriculum.start_length == 25
  mixed = sweep.variant_config("dngpu+cyc+bins8-12-25-41")
  assert mixed.curriculum.buckets == (8, 12, 25, 41) and mixed.curriculum.max_length == 41
  late = sweep.variant_config("dngpu+cyc+bins8-12-25-41+late300x1")
  assert late.curriculum.late_bins == 1 and late.curriculum.late_from_step == 300
  tuned = sweep.variant_config("dngpu+sat0.001+ema0.999")
  assert tuned.model.saturation_cost == 0.001 and tuned.optim.ema_decay == 0.999
  hard = sweep.variant_config("default+satadapt+b32+hard0.25")
  assert hard.curriculum.failure_share == 0.25 and hard.batch_size == 32
  back = sweep.variant_config("fast+all+adamax+emb")
  assert back.curriculum.bucket_mode == "all" and len(back.curriculum.buckets) == 9
  assert back.optim.optimizer == "adamax" and back.model.input_layer == "embed_tanh_conv"


@pytest.mark.parametrize(
    "name,match",
    [
        ("slow+d0.5", "must start with one of"),
        ("fast+x3", "unknown modifier 'x3'"),
        ("fast+d1.5", "candidate_dropout"),
        ("default+hard1.5", "failure_share=1.5"),
        ("dngpu+max30", "must be one of the bins"),
        ("dngpu+bins8-x", "'-'-joined lengths"),
        ("dngpu+bins12-8", "increasing"),
        ("dngpu+cyc+late5x", "late<step>x<k>"),
        ("dngpu+late5x1", "bucket_mode='cycle'"),
    ],
)
def test_bad_variants(name, match):
  with pytest.raises(ValueError, match=match):
    sweep.variant_config(name)


@pytest.mark.parametrize(
    "checks,tests,match", [(["2", "1"], ["9:2"], "increasing"), (["1"], ["9"], "length:examples")]
)
def test_bad_checks_and_tests(checks, tests, match):
  with pytest.raises(ValueError, match=match):
    sweep.run(["fast"], checks, 2, 1.0, tests)


@pytest.mark.slow
def test_tiny_sweep_runs(tmp_path):
  out = tmp_path / "sweep.json"
  res = sweep.run(["fast+m8+b4"], ["1", "2"], 2, 600.0, ["9:2"], str(out))
  rows = json.loads(out.read_text())["fast+m8+b4"]
  assert rows == res["fast+m8+b4"]
  assert [r["step"] for r in rows] == [1, 2]
  assert len(rows[-1]["seq9"]) == 2 and all(0.0 <= e <= 1.0 for e in rows[-1]["dig9"])
