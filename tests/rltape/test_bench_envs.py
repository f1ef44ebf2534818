"""The environment benchmark script runs end to end at a tiny size and writes its JSON.

No timing is asserted (speed targets live in `benchmarks/`); this checks the script
works and that both sides ran the same dynamics (episodes per step agree).
"""

import json
import os

import pytest

from benchmarks import bench_envs


def test_bench_envs_tiny(tmp_path):
  out = tmp_path / "bench.json"
  bench_envs.main(
      [
          "--tasks",
          "Copy:6",
          "--n_envs",
          "64",
          "--n_steps",
          "50",
          "--repeats",
          "2",
          "--python_seconds",
          "0.05",
          "--out",
          str(out),
      ]
  )
  rec = json.loads(out.read_text())
  (row,) = rec["rows"]
  assert row["task"] == "Copy" and row["length"] == 6
  assert len(row["jax"]["steps_per_s_all"]) == 2 and len(row["python"]["steps_per_s_all"]) == 2
  assert row["ratio"] == pytest.approx(row["jax"]["steps_per_s"] / row["python"]["steps_per_s"])
  # Same random policy on the same rules: episodes end at the same rate on both sides.
  assert abs(row["jax"]["episodes_per_step"] - row["python"]["episodes_per_step"]) < 0.05


def test_bench_envs_rejects_bad_task():
  with pytest.raises(SystemExit, match="NAME:LENGTH"):
    bench_envs.main(["--tasks", "Nope:10", "--out", os.devnull])


def test_bench_flags_unknown_or_bad_values_exit_naming_them():
  with pytest.raises(SystemExit, match="nope"):
    bench_envs.main(["--nope=1", "--out", os.devnull])
  with pytest.raises(SystemExit, match="n_envs"):
    bench_envs.main(["--n_envs=many", "--out", os.devnull])
  with pytest.raises(SystemExit, match="unexpected arguments"):
    bench_envs.main(["stray", "--out", os.devnull])
