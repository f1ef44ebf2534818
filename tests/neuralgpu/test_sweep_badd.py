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


def test_dotted_overrides_are_modifiers_and_named_ones_are_their_shorthands():
  # Any modifier may be written in the --config.x=y language; a named one is exactly its
  # table of overrides, applied in order (a later one wins).
  named = sweep.variant_config("default+satadapt+b32+hard0.1")
  dotted = sweep.variant_config(
      "default+model.saturation_form=dngpu+model.saturation_cost=0.001"
      "+optim.saturation_adapt=dngpu+batch_size=32+curriculum.failure_share=0.1"
  )
  assert named.to_dict() == dotted.to_dict()
  later = sweep.variant_config("default+b32+batch_size=16+model.num_maps=12")
  assert later.batch_size == 16 and later.model.num_maps == 12
  bins = sweep.variant_config("dngpu+cyc+curriculum.buckets=(8,12,16,41)")
  assert tuple(bins.curriculum.buckets) == (8, 12, 16, 41)
  default = sweep.variant_config("default")
  for name, overrides in sweep.NAMED.items():
    c = sweep.variant_config(f"default+{name}")
    for key, value in overrides.items():
      section, _, leaf = key.rpartition(".")
      got = c[section][leaf] if section else c[leaf]
      assert got == value, (name, key)
    assert c.to_dict() != default.to_dict() or name == "cyc", name  # the default cycles


@pytest.mark.parametrize(
    "name,match",
    [
        ("default+model.nope=1", "unknown config key 'model.nope'"),
        ("default+nosection.x=1", "no section 'nosection'"),
        ("default+optim.lr=fast", "optim.lr='fast' must be a number"),
        ("default+batch_size=3.5", "batch_size='3.5' must be an integer"),
        ("default+hardx", "unknown modifier 'hardx'"),
        ("default+m2.5", "unknown modifier 'm2.5'"),
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
