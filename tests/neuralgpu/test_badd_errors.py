"""The error analysis (neuralgpu.error_analysis, experiments/studies/badd_errors.py) against
Python integers."""

import random

import numpy as np
import pytest

from experiments.studies import badd_errors
from neuralgpu import error_analysis
from neuralgpu import tasks


def test_carries_in_rebuild_the_sum():
  rng = random.Random(0)
  for _ in range(200):
    w = rng.randint(1, 80)
    a, b = rng.getrandbits(w), rng.getrandbits(w)
    cin = error_analysis.carries_in(a, b, w + 1)
    bits = [((a >> i) & 1) ^ ((b >> i) & 1) ^ cin[i] for i in range(w + 1)]
    assert sum(bit << i for i, bit in enumerate(bits)) == a + b


def test_analyse_names_the_dropped_carry():
  # 7 + 3 = 10: bits of the sum 0,1,0,1; carries into bits 0..3 are 0,1,1,1.
  inputs, targets = tasks.encode_example("badd", 7, 3, length=9)
  preds = targets.copy()
  preds[2] = targets[2] % 2 + 1  # flip bit 2 (true 0, carry in 1)
  rows = np.stack([inputs, inputs]), np.stack([targets, targets]), np.stack([preds, targets])
  rep = error_analysis.analyse(tasks.get_task("badd"), *rows)
  assert (rep["examples"], rep["seq_wrong"], rep["digits_wrong"]) == (2, 1, 1)
  assert rep["wrong_by_carry_in"] == {"1": 1} and rep["wrong_by_true_digit"] == {"0": 1}
  ex = rep["first_wrong_examples"][0]
  assert (ex["row"], ex["wrong_positions"], ex["true"], ex["pred"]) == (0, [2], [0], [1])
  assert ex["carry_in"] == [1]


@pytest.mark.parametrize("bad", [["201"], ["2:5"], ["x:3"], ["201:0"]])
def test_bad_lengths(bad):
  with pytest.raises(ValueError, match="length:examples"):
    badd_errors.parse_lengths(bad)


def test_analyse_workdir_on_a_trained_model(smoke_workdir):
  # The smoke run's binary-addition model, at two lengths and two step factors: every
  # wrong digit is counted once in each breakdown, and the rows follow the arguments.
  lines = []
  rows = error_analysis.analyse_workdir(
      smoke_workdir("ngpu"), None, [(9, 8), (15, 4)], [1.0, 2.0], echo=lines.append
  )
  assert [(r["length"], r["steps_factor"]) for r in rows] == [(9, 1), (9, 2), (15, 1), (15, 2)]
  assert len(lines) == 4
  for r in rows:
    assert r["examples"] == (8 if r["length"] == 9 else 4)
    assert 0 <= r["seq_wrong"] <= r["examples"] and r["seq_wrong"] <= r["digits_wrong"]
    for key in ("wrong_by_carry_in", "wrong_by_true_digit", "wrong_by_position_decile"):
      assert sum(r[key].values()) == r["digits_wrong"], key
    assert set(r["wrong_by_carry_in"]) <= {"0", "1"} and set(r["wrong_by_true_digit"]) <= {"0", "1"}
