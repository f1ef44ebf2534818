"""The benchmark command at its tiny size: every Neural GPU section runs and writes its
JSON and the summary (no timing is asserted; speed targets live in the JSON)."""

import json
import os

import pytest

from benchmarks import __main__ as suite
from benchmarks import common, ngpu
from tests import _cli


def _run(*args):
  return _cli.run_module("benchmarks", *args, timeout=900)


def test_flops_match_the_faithful_formula():
  cfg, n = ngpu.model_config("faithful", 24)
  mcfg = cfg.model
  # Kaiser & Sutskever's CGRU: 216 B n m^2 FLOPs per forward, 2 per step, n steps, x3.
  assert ngpu.train_step_flops(mcfg, 32, n) == 3 * 216 * 32 * n * 24**2 * 2 * n


def test_bad_size_and_kind_are_named():
  with pytest.raises(ValueError, match="'huge'"):
    common.check_size("huge")
  with pytest.raises(ValueError, match="'big'"):
    ngpu.model_config("big")


def _tiny_suite(tmp_path, sections):
  out = str(tmp_path / "bench")
  r = _run("--size=tiny", "--sections=" + ",".join(sections), f"--out_dir={out}", "--notorch")
  assert r.returncode == 0, r.stderr[-3000:]
  for name in sections:
    with open(os.path.join(out, f"{name}.json")) as f:
      d = json.load(f)
    assert d["section"] == name and d["rows"], name
    assert d["machine"]["jax"] and d["matmul_gflops"] > 0
  readme = open(os.path.join(out, "README.md")).read()
  for title in (suite.TITLES[s] for s in sections):
    assert title in readme
  return out


@pytest.mark.slow
def test_tiny_page_faults_section(tmp_path):
  # Three child processes (one per malloc setting), ~30 s of one worker: slow.
  out = _tiny_suite(tmp_path, ["page_faults"])
  faults = json.load(open(os.path.join(out, "page_faults.json")))["rows"]
  assert {r["malloc"] for r in faults} == set(ngpu.MALLOC_SETTINGS)
  assert all(r["step_s"] > 0 and r["minor_faults_per_step"] >= 0 for r in faults)


@pytest.mark.slow
def test_tiny_main_job_and_pools_sections(tmp_path):
  # The two sections that compile the most programs (three remat policies; single-seed
  # and pool steps), ~50 s of one worker: slow.
  out = _tiny_suite(tmp_path, ["main_job", "pools"])
  for r in json.load(open(os.path.join(out, "pools.json")))["rows"]:
    assert r["pool_seed_steps_per_s"] > 0 and r["sequential_seed_steps_per_s"] > 0
    ratio = r["pool_seed_steps_per_s"] / r["sequential_seed_steps_per_s"]
    assert r["ratio"] == pytest.approx(ratio, abs=1e-3)  # recorded to 3 decimals


def test_tiny_suite_writes_its_sections(tmp_path):
  # The command at its tiny size with the train-step, memory and compile sections
  # (page_faults, main_job and pools: the slow tests above).
  out = _tiny_suite(tmp_path, ["train_steps", "memory", "compile"])
  mem = json.load(open(os.path.join(out, "memory.json")))["rows"]
  by = {r["remat"]: r["temp_bytes"] for r in mem}
  assert by["sqrt"] < by["none"]  # rematerialising keeps fewer residuals
  steps = json.load(open(os.path.join(out, "train_steps.json")))["rows"]
  assert all(r["step_s_best"] > 0 and 0 < r["of_matmul"] for r in steps)


def test_unknown_section_is_refused_before_anything_runs(tmp_path):
  r = _run("--sections=train_steps,nope", f"--out_dir={tmp_path / 'x'}")
  assert r.returncode != 0 and "nope" in r.stderr
  assert not os.path.exists(tmp_path / "x")
