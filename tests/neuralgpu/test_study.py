"""The seed-success study: the bars' bookkeeping (with scripted check results), a tiny
real run, the study file guard and the rendered table and plot."""

import json
import os

import pytest

from experiments.configs import ngpu
from neuralgpu import study
from neuralgpu import loop
from neuralgpu import tasks as tasks_lib

from experiments.studies import seed_study

BADD = tasks_lib.get_task("badd")
TINY_BARS = study.Bars(
    ours_lengths=(15,),
    ours_examples=(6,),
    screen_examples=2,
    confirm=2,
    dngpu_lengths=(15, 21),
    dngpu_examples=(2, 1),
    dngpu_long_every=4,
)


def _smoke():
  return ngpu.get_config("variant=smoke")


def test_bars_and_budget_validate():
  with pytest.raises(ValueError, match="ours_lengths"):
    study.Bars(ours_lengths=(201,), ours_examples=(1, 2)).validate()
  with pytest.raises(ValueError, match="confirm=0"):
    study.Bars(confirm=0).validate()
  with pytest.raises(ValueError, match="dngpu_max_digit_error=1.5"):
    study.Bars(dngpu_max_digit_error=1.5).validate()
  with pytest.raises(ValueError, match="check_every=50"):
    study.Budget(max_steps=10, check_every=50).validate()
  with pytest.raises(ValueError, match="max_steps=0"):
    study.Budget(max_steps=0).validate()


def test_run_seed_bookkeeping_with_scripted_checks(monkeypatch):
  """Ours needs two passing checks in a row; DNGPU's long length waits for the short one
  and for dngpu_long_every steps; the seed stops once both bars are met."""
  # Per check (every 2 steps): does length 15 pass ours (all examples right) and
  # DNGPU's (digit error < 1%)? Does 21 pass DNGPU's?
  script = {
      2: (False, True, False),
      4: (True, True, False),
      6: (False, True, True),
      8: (True, True, True),
      10: (True, True, True),
      12: (True, True, True),
  }
  calls = []

  def fake_eval(key, params, active_sets, mcfg, eval_cfg, task, n, count, mode="uniform"):
    step = fake_eval.step
    ours15, dngpu15, dngpu21 = script[step]
    calls.append((step, n, count))
    if n == 9:  # the training-length screen
      ok = True
    elif n == 21:
      ok = dngpu21
    else:
      ok = ours15 if fake_eval.phase == "ours" else dngpu15
    return {
        "length": n,
        "examples": count,
        "digit_error": 0.0 if ok else 0.5,
        "seq_error": 0.0 if ok else 1.0,
        "seq_wrong": 0 if ok else count,
    }

  real_ours, real_dngpu = study.ours_check, study.dngpu_check

  def ours(*a, **k):
    fake_eval.phase = "ours"
    return real_ours(*a, **k)

  def dngpu(*a, **k):
    fake_eval.phase = "dngpu"
    return real_dngpu(*a, **k)

  monkeypatch.setattr(study.evaluate_lib, "evaluate_length", fake_eval)
  monkeypatch.setattr(study, "ours_check", ours)
  monkeypatch.setattr(study, "dngpu_check", dngpu)
  real_train_step = study.step_cache_lib.StepCache.__call__

  def counting(self, bucket):
    fn = real_train_step(self, bucket)

    def wrapped(state):
      out = fn(state)
      fake_eval.step = int(out.step)
      return out

    return wrapped

  monkeypatch.setattr(study.step_cache_lib.StepCache, "__call__", counting)
  rec = study.run_seed(_smoke(), 0, BADD, study.Budget(max_steps=12, check_every=2), TINY_BARS)
  # ours: pass at 4, fail at 6, pass at 8 and 10 -> met at 10 (second in a row).
  # dngpu: 15 passes from 2; long length due at 2 (fails), next allowed at 6 (passes).
  assert rec["first_step"] == {"ours": 10, "dngpu": 6}
  assert rec["stop"] == "both_bars" and rec["steps"] == 10
  long_checks = sorted({s for s, n, _ in calls if n == 21})
  assert long_checks == [2, 6]
  # A passing ours check saw exactly the bar's examples at 15 (2 screened + 4 more).
  assert [c for s, n, c in calls if s == 8 and n == 15] == [2, 4]


def test_run_seed_trains_and_records_for_real():
  rec = study.run_seed(_smoke(), 3, BADD, study.Budget(max_steps=4, check_every=2), TINY_BARS)
  assert rec["steps"] == 4 and len(rec["checks"]) == 2 and rec["stop"] == "max_steps"
  assert rec["first_step"] == {"ours": None, "dngpu": None}  # 4 steps learn nothing
  assert (
      rec["examples_per_step"] == 4 and rec["wall_s"] >= rec["train_s"] >= 0 and rec["wall_s"] > 0
  )
  s = study.summarize([rec, {**rec, "seed": 4, "first_step": {"ours": 2, "dngpu": None}}], 4)
  assert s["ours"] == {"solved": 1, "median_steps": 2.0, "max_steps": 2}
  assert s["dngpu"]["solved"] == 0
  curve = study.solved_fraction_curve(
      [rec, {**rec, "first_step": {"ours": 2, "dngpu": 4}}], "ours", [0, 2, 4]
  )
  assert curve == [0.0, 0.5, 0.5]


def test_study_file_guard_and_render(tmp_path):
  budget = study.Budget(max_steps=4, check_every=2)
  cfg = _smoke()
  header = seed_study._header("badd", "default", cfg, budget, TINY_BARS)
  data = seed_study.load_or_new(str(tmp_path / "x.json"), header)
  assert data["records"] == []
  rec = {
      "seed": 0,
      "first_step": {"ours": 2, "dngpu": None},
      "steps": 4,
      "train_s": 1.0,
      "wall_s": 2.0,
      "examples_per_step": 16,
      "checks": [],
  }
  data["records"].append(rec)
  seed_study.write_json(str(tmp_path / "x.json"), data)
  assert seed_study.load_or_new(str(tmp_path / "x.json"), header)["records"] == [rec]
  other = seed_study._header("badd", "default", cfg, study.Budget(max_steps=8), TINY_BARS)
  with pytest.raises(ValueError, match="another budget"):
    seed_study.load_or_new(str(tmp_path / "x.json"), other)
  # A file written before a config key existed matches a header holding its default,
  # and only then.
  old_file = json.load(open(tmp_path / "x.json"))
  del old_file["config"]["curriculum"]["failure_share"]
  seed_study.write_json(str(tmp_path / "x.json"), old_file)
  assert seed_study.load_or_new(str(tmp_path / "x.json"), header)["records"] == [rec]
  # So does one written before the budget's stop_on existed (it stopped on both bars).
  del old_file["budget"]["stop_on"]
  seed_study.write_json(str(tmp_path / "x.json"), old_file)
  assert seed_study.load_or_new(str(tmp_path / "x.json"), header)["records"] == [rec]
  ours = seed_study._header(
      "badd", "default", cfg, study.Budget(max_steps=4, check_every=2, stop_on="ours"), TINY_BARS
  )
  with pytest.raises(ValueError, match="another budget"):
    seed_study.load_or_new(str(tmp_path / "x.json"), ours)
  cfg_hard = _smoke()
  cfg_hard.curriculum.failure_share = 0.25
  hard = seed_study._header("badd", "default", cfg_hard, budget, TINY_BARS)
  with pytest.raises(ValueError, match="another config"):
    seed_study.load_or_new(str(tmp_path / "x.json"), hard)
  (tmp_path / "bad.json").write_text("[1, 2]")
  with pytest.raises(ValueError, match="not a study file"):
    seed_study.load_or_new(str(tmp_path / "bad.json"), header)
  os.remove(tmp_path / "bad.json")
  text = seed_study.render(str(tmp_path))
  assert (
      "| badd | `default` | 1 | 1/1 | 2 / 2 | 0/1 | - / - | 4 | both bars | 15:2, 21:1 / 4 |"
      in text
  )
  assert (tmp_path / "README.md").exists() and (tmp_path / "solved_fraction.png").stat().st_size > 0
  with pytest.raises(ValueError, match="length:examples"):
    seed_study.parse_pairs(["201"], "ours")


def test_seed_list_parses_distinct_seeds_and_names_a_bad_one():
  assert seed_study.parse_seed_list([]) == []
  assert seed_study.parse_seed_list(["10", " 12", "14"]) == [10, 12, 14]
  with pytest.raises(ValueError, match="'x1'"):
    seed_study.parse_seed_list(["3", "x1"])
  with pytest.raises(ValueError, match="'-2'"):
    seed_study.parse_seed_list(["-2"])
  with pytest.raises(ValueError, match="repeats seed 4"):
    seed_study.parse_seed_list(["4", "4"])


def test_progress_bar_runs_towards_the_time_budget():
  c = _smoke()
  c.num_train_steps = 50_000
  c.max_train_minutes = 20.0
  c.progress_bar = False
  bar = loop.progress_bar(c, 0, elapsed_s=60.0)  # one minute used (compile)
  now = [1000.0]
  bar._time, bar._t0 = (lambda: now[0]), 1000.0 - 60.0
  assert bar.fraction(0) == 50  # 1 of 20 min = 5.0%
  now[0] += 540.0  # 10 min in all, 1000 steps
  assert bar.fraction(1000) == 500
  c.max_train_minutes = 0.0  # no time budget: steps only
  assert loop.progress_bar(c, 0, 0.0).fraction(25_000) == 500


def test_stop_on_must_be_known():
  with pytest.raises(ValueError, match="stop_on='never'"):
    study.Budget(max_steps=10, stop_on="never").validate()
  study.Budget(max_steps=10, check_every=5, stop_on="ours").validate()


def test_committed_study_files_take_more_seeds_of_their_recipe():
  """Every study file under results/ still matches its recipe's config as built today
  (keys added since are in ``config.ADDED_DEFAULTS``), so that a row can be extended
  with more seeds (``--seed_list``, ``--merge``) instead of being refused."""
  from experiments.studies.sweep_badd_pools import variant_config

  root = os.path.join(os.path.dirname(__file__), "..", "..", "results", "neuralgpu", "seed_study")
  paths = [os.path.join(root, n) for n in sorted(os.listdir(root)) if n.endswith(".json")]
  # The first two rows ran before the train step's remat default became "auto" (their
  # seeds' float sums, hence trajectories, are those of remat="none").
  before_auto_remat = {"badd__default.json", "badd__default+satadapt.json"}
  assert len(paths) >= 8 and before_auto_remat <= {os.path.basename(p) for p in paths}
  for path in paths:
    old = json.load(open(path))
    cfg = variant_config(old["recipe"], old["task"])
    if os.path.basename(path) in before_auto_remat:
      cfg.model.remat = "none"
    budget, bars = study.Budget(**old["budget"]), study.Bars(**old["bars"])
    header = seed_study._header(old["task"], old["recipe"], cfg, budget, bars)
    assert seed_study.load_or_new(path, header)["records"] == old["records"], path


def test_merge_joins_seeds_of_the_same_setting(tmp_path):
  budget = study.Budget(max_steps=4, check_every=2)
  header = seed_study._header("badd", "default", _smoke(), budget, TINY_BARS)
  rec = lambda seed: {
      "seed": seed,
      "first_step": {"ours": None, "dngpu": None},
      "steps": 4,
      "train_s": 1.0,
      "wall_s": 2.0,
      "examples_per_step": 4,
      "checks": [],
  }
  (tmp_path / "a").mkdir()
  (tmp_path / "b").mkdir()
  seed_study.write_json(str(tmp_path / "a" / "x.json"), {**header, "records": [rec(0)]})
  seed_study.write_json(str(tmp_path / "b" / "x.json"), {**header, "records": [rec(1), rec(0)]})
  seed_study.merge_into(str(tmp_path / "a"), [str(tmp_path / "b" / "x.json")])
  merged = seed_study.load_or_new(str(tmp_path / "a" / "x.json"), header)
  assert [r["seed"] for r in merged["records"]] == [0, 1]
  other = seed_study._header("badd", "default", _smoke(), study.Budget(max_steps=6), TINY_BARS)
  seed_study.write_json(str(tmp_path / "b" / "x.json"), {**other, "records": [rec(2)]})
  with pytest.raises(ValueError, match="another budget"):
    seed_study.merge_into(str(tmp_path / "a"), [str(tmp_path / "b" / "x.json")])
