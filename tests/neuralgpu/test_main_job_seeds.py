"""experiments/studies/main_job_seeds.py: the README command per pool seed, the refusal of an
existing workdir and the rendered table (the runs themselves are measurements)."""

import pytest

from experiments.studies import main_job_seeds as mjs


def test_command_is_the_readme_command_with_the_seed():
  cmd = mjs.command(200, "/tmp/w")
  assert cmd[1].endswith("experiments/train_neuralgpu.py")
  assert cmd[2].endswith("experiments/configs/ngpu.py:seed=200") and cmd[3] == "--workdir=/tmp/w"
  assert mjs.command(0, "/tmp/w", "seeds=4")[2].endswith("ngpu.py:seeds=4,seed=0")


def test_existing_workdir_is_refused(tmp_path):
  (tmp_path / "seed_5").mkdir()
  (tmp_path / "seed_5" / "keep.txt").write_text("x")
  with pytest.raises(ValueError, match="seed_5 exists"):
    mjs.run_one(5, str(tmp_path), ["2001:32"])
  assert (tmp_path / "seed_5" / "keep.txt").read_text() == "x"


def test_table():
  rec = {
      "pool_seed": 100,
      "stop_reason": "one_solved",
      "step": 9000,
      "best_seed": 101,
      "wall_s": 480.0,
      "eval": [
          {"length": 41, "examples": 512, "seq_wrong": 0, "digit_error": 0.0},
          {"length": 201, "examples": 512, "seq_wrong": 0, "digit_error": 0.0},
          {"length": 401, "examples": 128, "seq_wrong": 0, "digit_error": 0.0},
      ],
      "long_eval": [{"length": 2001, "examples": 32, "seq_wrong": 3, "digit_error": 0.0005}],
  }
  text = mjs.table([rec, {**rec, "pool_seed": 7, "stop_reason": "max_train_minutes"}])
  assert "| 7 | False |" in text
  assert (
      "| 100 | True | 9000 | 101 | 8.00 | 0/512 wrong | 0/512 wrong | 0/128 wrong | "
      "0.050% / 3/32 wrong |"
  ) in text
