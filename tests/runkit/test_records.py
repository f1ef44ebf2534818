"""runkit's run records: checkpoints with progress.json, metrics lines, provenance, the bar."""

import json
import os

import flax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from runkit import checkpoints, metrics, progress, provenance


@flax.struct.dataclass
class _State:
  w: jnp.ndarray
  step: jnp.ndarray


def test_checkpoint_round_trip_progress_and_errors(tmp_path):
  wd = str(tmp_path)
  mgr = checkpoints.make_manager(wd, max_to_keep=2)
  template = _State(w=jnp.zeros(3), step=jnp.array(0))
  assert checkpoints.restore_or(mgr, template) is template  # nothing saved yet
  assert checkpoints.read_progress(wd) == {} and checkpoints.read_elapsed(wd) == 0.0
  for step in (2, 4, 6):
    checkpoints.save(
        mgr,
        step,
        _State(w=jnp.full(3, float(step)), step=jnp.array(step)),
        wd,
        train_seconds=10.0 * step,
        extra={"chunk": step // 2},
    )
  assert sorted(int(x) for x in os.listdir(os.path.join(wd, "checkpoints"))) == [4, 6]
  assert checkpoints.read_progress(wd) == {"step": 6, "train_seconds": 60.0, "chunk": 3}
  got = checkpoints.restore_or(mgr, template)
  np.testing.assert_array_equal(got.w, [6.0, 6.0, 6.0])
  assert int(got.step) == 6
  state, step = checkpoints.load_latest(wd, template)
  assert step == 6 and float(state.w[0]) == 6.0
  with pytest.raises(ValueError, match="cannot restore checkpoint step 6"):
    checkpoints.restore(mgr, 6, {"other": jnp.zeros(2)})
  with pytest.raises(ValueError, match="no checkpoint in"):
    checkpoints.load_latest(str(tmp_path / "empty"), template)


def test_metric_lines_carry_the_step_and_lists(tmp_path):
  w = metrics.MetricWriter(str(tmp_path))
  w.write(10, {"loss": np.float32(0.5), "per_seed": np.array([1.0, 3.0]), "step": 99})
  w.write(20, {"solved": True, "note": "text"})
  w.close()
  lines = [json.loads(l) for l in open(tmp_path / "metrics.jsonl")]
  assert lines == [
      {"step": 10, "loss": 0.5, "per_seed": [1.0, 3.0]},
      {"step": 20, "solved": True, "note": "text"},
  ]
  assert any(f.startswith("events.out.tfevents") for f in os.listdir(tmp_path / "tb"))
  assert metrics._scalar([1.0, 3.0]) == 2.0 and metrics._scalar("x") is None
  assert metrics._scalar([float("nan")]) is None


def test_provenance_appends_one_line_per_start(tmp_path):
  c = ml_collections.ConfigDict({"a": 1})
  provenance.write_provenance(str(tmp_path), c, {"resolved_conv_impl": "shift"})
  provenance.write_provenance(str(tmp_path), c)
  recs = [json.loads(l) for l in open(tmp_path / "provenance.jsonl")]
  assert len(recs) == 2 and recs[0]["config"] == {"a": 1}
  assert recs[0]["resolved_conv_impl"] == "shift" and "resolved_conv_impl" not in recs[1]
  assert set(provenance.VERSIONED) <= set(recs[0]["versions"])


def test_progress_counts_the_larger_of_steps_and_time():
  bar = progress.ProgressBar(1000, budget_s=100.0, elapsed_s=10.0, enabled=False)
  now = [500.0]
  bar._time, bar._t0 = (lambda: now[0]), 500.0 - 10.0
  assert bar.fraction(0) == 100  # 10 of 100 s
  assert bar.fraction(500) == 500  # half the steps beats 10% of the time
  now[0] += 200.0
  assert bar.fraction(0) == 1000  # past the budget: full, never beyond
  assert progress.ProgressBar(1000, enabled=False).fraction(250) == 250


def test_config_args_parse_and_convert_with_named_errors():
  from runkit import config_args

  assert config_args.parse_arg("a=1, b = x ,smoke,", keys=None, flags=None) == {
      "a": "1",
      "b": "x",
      "smoke": True,
  }
  assert config_args.parse_arg(None) == {} and config_args.parse_arg("") == {}
  assert config_args.parse_arg("variant=fast", keys=("variant",)) == {"variant": "fast"}
  with pytest.raises(ValueError, match=r"unknown config arg key 'x'; allowed: \('variant',\)"):
    config_args.parse_arg("x=1", keys=("variant",))
  with pytest.raises(ValueError, match="config arg item 'smoke' is not key=value"):
    config_args.parse_arg("smoke", keys=("variant",), flags=())  # no bare words
  assert config_args.as_int("seeds", "8", 1) == 8
  with pytest.raises(ValueError, match="seeds='x' must be an integer"):
    config_args.as_int("seeds", "x")
  with pytest.raises(ValueError, match="seeds=0 must be >= 1"):
    config_args.as_int("seeds", "0", 1)
  assert config_args.as_float("lr", "1e-3") == 1e-3
  with pytest.raises(ValueError, match="lr='fast' must be a number"):
    config_args.as_float("lr", "fast")


def test_apply_overrides_types_from_the_config_and_names_bad_items():
  import ml_collections

  from runkit import config_args

  c = ml_collections.ConfigDict(
      {"steps": 1, "m": {"x": 0.5, "on": True, "bins": (8, 12), "name": "u", "opt": None}}
  )
  config_args.apply_overrides(
      c, ["steps=3", "m.x=2", "m.on=false", "m.bins=(9,17,25)", "m.name=v", "m.opt=4"]
  )
  assert c.steps == 3 and isinstance(c.steps, int)
  assert c.m.x == 2.0 and isinstance(c.m.x, float) and c.m.on is False
  assert c.m.bins == (9, 17, 25) and c.m.name == "v" and c.m.opt == 4
  for item, match in [
      ("steps=1.5", "steps='1.5' must be an integer"),
      ("m.y=1", r"unknown config key 'm.y'; keys there: \['bins', 'name', 'on', 'opt', 'x'\]"),
      ("q.x=1", "no section 'q'"),
      ("m.bins=3", "expected a tuple literal"),
      ("m.on=maybe", "expected a bool"),
      ("noeq", "must be key=value"),
      ("m=1", "ConfigDict, which cannot be set from text"),
  ]:
    with pytest.raises(ValueError, match=match):
      config_args.apply_overrides(c, [item])
  assert c.steps == 3 and c.m.bins == (9, 17, 25)  # a refused item changes nothing
