"""Failure suites, the on-device structured generator, the adversarial search and saved
sets, against Python-integer oracles."""

import json
import os

import jax
import numpy as np
import pytest

from neuralgpu import failures
from neuralgpu import tasks as tasks_lib

BASES = range(2, 17)


def _check_rows(task, case):
  """The encoded row decodes to the case's operands and Python's answer."""
  x, y = case.encode()
  a, b, c = tasks_lib.decode_example(task, x, y)
  assert (a, b) == (case.a, case.b)
  assert c == (a + b if task.kind == "add" else a * b) == case.truth


@pytest.mark.parametrize("kind", ["add", "mul"])
def test_every_structured_case_encodes_python_answer_every_base(kind):
  for base in BASES:
    task = tasks_lib.get_task(f"{kind}{base}")
    suites = failures.structured_suites(task, length=21, per_chain=2, seed=base)
    assert set(suites) == set(failures.FAMILIES)
    for fam, cases in suites.items():
      assert cases, (fam, base)
      for case in cases:
        assert case.family == fam
        _check_rows(task, case)


def _longest_run_from_zero(positions):
  run = 0
  while run in positions:
    run += 1
  return run


@pytest.mark.parametrize("base", [2, 3, 10, 16])
def test_carry_suite_chains_have_exact_length(base):
  task = tasks_lib.get_task(f"add{base}")
  cases = failures.carry_suite(task, 41, per_chain=4, seed=1)
  k = 20
  assert {c.param for c in cases} == set(range(1, k + 1))
  for c in cases:
    carries = failures.carry_positions(base, c.a, c.b)
    if c.note == "near miss":
      low = base**c.param
      assert c.a % low + c.b % low == low - 1
      assert _longest_run_from_zero(carries) == 0
      assert all(p >= c.param for p in carries)
    else:
      assert _longest_run_from_zero(carries) == c.param, (c, carries)
      low = base**c.param
      assert c.a % low + c.b % low == low  # the low c digits sum to base**c


def test_carry_positions_hand_worked():
  # 0111 + 0001 = 1000 in binary: positions 0, 1, 2 carry.
  assert failures.carry_positions(2, 0b0111, 0b0001) == [0, 1, 2]
  # 95 + 5 = 100: positions 0 and 1 carry.
  assert failures.carry_positions(10, 95, 5) == [0, 1]
  assert failures.carry_positions(10, 12, 34) == []


def test_run_suite_has_the_runs():
  task = tasks_lib.get_task("add10")
  for c in failures.run_suite(task, 41, runs=[7], per_run=2, seed=3):
    digit = int(c.note.split()[1])
    where = c.note.split()[-1]
    for name, v in (("a", c.a), ("b", c.b)):
      s = "".join(str(d) for d in tasks_lib.int_to_digits(v, 10, width=20))
      if where in (name, "both"):
        assert str(digit) * 7 in s, (c, s)


def test_padded_and_talk_cases():
  task = tasks_lib.get_task("bmul")
  pads = failures.padded_suite(task, [5, 41, 201])
  both = [c for c in pads if c.note == "both small"]
  assert {(c.a, c.b) for c in both} >= {(2, 1), (2, 2), (1, 1)}
  assert {c.length for c in pads} == {5, 41, 201}
  talk = {c.note: c for c in failures.talk_suite("mul10")}
  q = talk["the 80-digit question"]
  assert q.truth == failures.TALK_A * failures.TALK_B
  assert len(str(failures.TALK_A)) == len(str(failures.TALK_B)) == 80
  assert talk["000..002 op 000..001"].length == 161 and talk["2 op 1"].truth == 2
  with pytest.raises(ValueError, match="do not fit"):
    failures.padded_suite(task, [5], values=[(100, 1)])
  with pytest.raises(ValueError, match="carry chain c=30"):
    failures.carry_suite("badd", 41, chains=[30])
  with pytest.raises(ValueError, match="not arithmetic"):
    failures.structured_suites("copy", 21)


@pytest.mark.parametrize("kind", ["add", "mul"])
def test_device_hard_batch_is_exact_and_structured(kind):
  lengths = np.array([3, 5, 9, 21, 41, 41, 41, 41] * 16)
  for base in BASES:
    task = tasks_lib.get_task(f"{kind}{base}")
    x, y = jax.device_get(tasks_lib.make_hard_batch(jax.random.key(base), task, lengths, 41))
    leading_zero_heavy = 0
    for i in range(len(x)):
      a, b, c = tasks_lib.decode_example(task, x[i], y[i])
      assert c == (a + b if kind == "add" else a * b), (base, i)
      k = (lengths[i] - 1) // 2
      assert np.count_nonzero(x[i]) == 2 * k + 1
      if k == 20 and min(a, b) < base**10:
        leading_zero_heavy += 1
    # Uniform operands would have 10 leading zeros with probability base^-10; the carry
    # and padded families give many such examples.
    assert leading_zero_heavy >= 8, (base, leading_zero_heavy)


def test_device_hard_batch_makes_long_carry_chains():
  task = tasks_lib.get_task("badd")
  x, y = jax.device_get(tasks_lib.make_hard_batch(jax.random.key(0), task, np.full((256,), 41), 41))
  longest = []
  for i in range(len(x)):
    a, b, _ = tasks_lib.decode_example(task, x[i], y[i])
    longest.append(_longest_run_from_zero(failures.carry_positions(2, a, b)))
  # Uniform binary operands carry from position 0 for >= 10 positions with p ~ 2^-10.
  assert sum(l >= 10 for l in longest) >= 10


def test_hard_batch_refuses_sequence_task():
  with pytest.raises(ValueError, match="not arithmetic"):
    tasks_lib.make_hard_batch(jax.random.key(0), "copy", np.array([5]), 9)


class PlantedAdder:
  """An exact binary adder (one-hot logits of Python's answer) whose confidence falls
  with the longest carry chain and which answers wrong at the chain's top once the chain
  is ``limit`` long or more: the planted failure the search must find."""

  stripped = False
  cells = 1

  def __init__(self, limit):
    self.limit = limit
    self.task = tasks_lib.get_task("badd")

  def __call__(self, inputs, targets=None):
    inputs = np.asarray(inputs)
    logits = np.zeros(inputs.shape + (tasks_lib.VOCAB_SIZE,), np.float32)
    for i, row in enumerate(inputs):
      if not row.any():
        continue
      a, b, _ = tasks_lib.decode_example(self.task, row)
      n = int(np.count_nonzero(row))
      _, y = tasks_lib.encode_example(self.task, a, b, len(row))
      chain = longest_chain(failures.carry_positions(2, a, b))
      y = y.copy()
      if chain >= self.limit:
        top = chain_top(failures.carry_positions(2, a, b))
        y[top] = 3 - y[top] if y[top] in (1, 2) else y[top]
      logits[i, np.arange(len(row)), y] = 10.0 - 0.4 * chain
      logits[i, n:, 0] = 10.0
    return logits


def longest_chain(pos):
  best = run = 0
  prev = None
  for p in pos:
    run = run + 1 if prev is not None and p == prev + 1 else 1
    best, prev = max(best, run), p
  return best


def chain_top(pos):
  best = (0, 0)
  run, prev = 0, None
  for p in pos:
    run = run + 1 if prev is not None and p == prev + 1 else 1
    best, prev = max(best, (run, p + 1)), p
  return best[1]


def test_search_finds_planted_failure_and_set_reloads(tmp_path):
  model = PlantedAdder(limit=12)
  # Uniform 20-digit binary sums rarely hold a 12-long chain.
  found = failures.search(model, "badd", 41, seconds=20.0, population=16, seed=0, max_failures=5)
  assert found["failures"], found
  for c in found["failures"]:
    assert longest_chain(failures.carry_positions(2, c.a, c.b)) >= 12
  path = os.path.join(tmp_path, "set.json")
  failures.save_cases(path, found["failures"], {"why": "planted"})
  back = failures.load_cases(path, "badd")
  assert back == found["failures"]
  res = failures.evaluate_cases(model, back)
  assert all(not r["correct"] and r["first_wrong"] is not None for r in res)
  # The same model is right (and reports no first error) off the planted region.
  ok = failures.evaluate_cases(model, [failures.Case("badd", 5, 3, 41)])[0]
  assert ok["correct"] and ok["first_wrong"] is None and ok["answer"] == 8


def test_evaluate_cases_marks_first_wrong_digit():
  model = PlantedAdder(limit=3)
  # 0111 + 0001: chain of 3 at positions 0-2, the planted error at position 3.
  r = failures.evaluate_cases(model, [failures.Case("badd", 7, 1, 9)])[0]
  assert not r["correct"] and r["first_wrong"] == 3 and r["truth"] == 8
  assert r["answer"] == 0


def test_load_cases_refuses_bad_sets(tmp_path):
  p = os.path.join(tmp_path, "x.json")
  with pytest.raises(ValueError, match="does not exist"):
    failures.load_cases(p)
  with open(p, "w") as f:
    f.write("{not json")
  with pytest.raises(ValueError, match="not JSON"):
    failures.load_cases(p)
  failures.save_cases(p, [failures.Case("badd", 5, 3, 9)])
  with pytest.raises(ValueError, match="not 'bmul'"):
    failures.load_cases(p, "bmul")
  with open(p) as f:
    data = json.load(f)
  data["cases"][0]["truth"] = "9"
  with open(p, "w") as f:
    json.dump(data, f)
  with pytest.raises(ValueError, match="stored truth 9"):
    failures.load_cases(p)
  with open(p, "w") as f:
    json.dump({"cases": []}, f)
  with pytest.raises(ValueError, match="is not a failure set"):
    failures.load_cases(p)


def test_training_rows_pad_to_bin():
  cases = [failures.Case("badd", 5, 3, 9), failures.Case("badd", 2**20 - 1, 1, 41)]
  x, y = failures.training_rows(cases, 25)
  assert x.shape == y.shape == (1, 25)
  a, b, c = tasks_lib.decode_example("badd", x[0], y[0])
  assert (a, b, c) == (5, 3, 8)
  assert failures.training_rows(cases[1:], 25)[0].shape == (0, 25)
