"""The RL table's configurations: all build, bad ones are rejected, and they run
at smoke scale on the real rltape.envs tasks (one in the default suite, all of
them under -m slow)."""

import json
import os
import tempfile

from absl.testing import absltest
from absl.testing import parameterized
import pytest

from rltape.qlearning import config as config_lib
from rltape.qlearning import experiment

from experiments.configs import qlearning as cfg_file
from rltape.qlearning import table as q_table

_SUPPORTED = list(q_table.ROWS)


class TableConfigTest(parameterized.TestCase):

  def test_every_cell_config_validates(self):
    for row in _SUPPORTED:
      for col in range(1, 11):
        c = q_table.cell_config(
            row, col, seeds=10, updates=1000, chunk=100, max_len=30, wall=0.0, smoke=False
        )
        test_length, units, gamma, watkins, penalty = config_lib.TABLE_COLUMNS[col - 1]
        self.assertEqual(
            (c.test_length, c.units, c.watkins, c.penalty), (test_length, units, watkins, penalty)
        )
        self.assertEqual(c.dynamic_discount, gamma is None)
        self.assertEqual(c.controller, "ff" if row.endswith("_ff") else "gru")
    self.assertLen(q_table.TALK, len(q_table.ROWS))
    for r in q_table.TALK.values():
      self.assertLen(r, 10)

  def test_config_file_variants(self):
    c = cfg_file.get_config("task=walk,controller=ff,col=4,seeds=12")
    self.assertEqual(
        (c.task, c.controller, c.gamma, c.dynamic_discount, c.num_seeds),
        ("walk", "ff", 0.99, False, 12),
    )
    s = cfg_file.get_config("task=add2,smoke")
    self.assertLess(s.units, 200)

  @parameterized.parameters(
      ("task=sort", "unknown task 'sort'"),
      ("controller=rnn", "unknown controller 'rnn'"),
      ("col=11", "table column 11 out of range"),
      ("col=x", "col=.x. must be an integer"),
      ("seeds=many", "seeds=.many. must be an integer"),
      ("colour=8", "unknown config options ['colour']"),
  )
  def test_bad_config_args(self, arg, msg):
    with self.assertRaisesRegex(
        ValueError, msg.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")
    ):
      cfg_file.get_config(arg)

  def test_unknown_row(self):
    with self.assertRaisesRegex(ValueError, "unknown table row 'sort'"):
      q_table.cell_config(
          "sort", 8, seeds=10, updates=10, chunk=10, max_len=10, wall=0.0, smoke=True
      )

  def test_overrides(self):
    c = q_table.cell_config(
        "add2",
        8,
        seeds=10,
        updates=10,
        chunk=10,
        max_len=10,
        wall=0.0,
        smoke=False,
        overrides=["optimizer=adam", "learning_rate=0.001", "head_layer=false", "units=64"],
    )
    self.assertEqual(
        (c.optimizer, c.learning_rate, c.head_layer, c.units), ("adam", 0.001, False, 64)
    )
    for bad, msg in (
        (["optimizer=rmsprop"], "optimizer must be one of"),
        (["learnin_rate=1"], "must be key=value with a config key"),
        (["units=many"], "units=.many. must be an integer"),
        (["head_layer=yes"], "expected a bool"),
    ):
      with self.assertRaisesRegex(ValueError, msg):
        q_table.cell_config(
            "add2",
            8,
            seeds=10,
            updates=10,
            chunk=10,
            max_len=10,
            wall=0.0,
            smoke=False,
            overrides=bad,
        )

  def test_extra_curriculum_row(self):
    c = q_table.cell_config(
        "add3_extra", 8, seeds=10, updates=10, chunk=10, max_len=10, wall=0.0, smoke=True
    )
    self.assertTrue(c.no_carry_curriculum)
    self.assertEqual(c.task, "add3")
    plain = q_table.cell_config(
        "add3", 8, seeds=10, updates=10, chunk=10, max_len=10, wall=0.0, smoke=True
    )
    self.assertFalse(plain.no_carry_curriculum)
    c.task = "add2"
    with self.assertRaisesRegex(ValueError, "no_carry_curriculum=True needs task 'add3'"):
      config_lib.validate(c)


def _summary(rate, **kw):
  d = dict(
      success_rate=rate,
      num_seeds=10,
      updates_run=100,
      step_budget=200,
      wall_s_this_process=12.0,
      wall_budget_s=60.0,
      train_max_length=14,
      test_length=100,
      solved_at=[5] * 10,
      final_length=[14] * 10,
  )
  d.update(kw)
  return d


def test_merge_renders_earlier_runs_later_files_winning(tmp_path):
  a, b = tmp_path / "a.json", tmp_path / "b.json"
  a.write_text(json.dumps({"copy:8": _summary(0.9), "add2:8": _summary(0.5)}))
  b.write_text(json.dumps({"add2:8": _summary(1.0, overrides=["optimizer=adam"])}))
  got = q_table.merge_results([str(a), str(b)])
  assert got["copy:8"]["success_rate"] == 0.9
  assert got["add2:8"]["success_rate"] == 1.0
  md = q_table.markdown(got, ["copy", "add2"], [8])
  assert "| Copying | **90%** of 10 (talk 100%) |" in md
  assert "| 2-row Addition | **100%** of 10 (talk 100%) |" in md
  assert md.rstrip().endswith("| optimizer=adam |")
  with pytest.raises(ValueError, match="does not exist"):
    q_table.merge_results([str(tmp_path / "none.json")])
  bad = tmp_path / "bad.json"
  bad.write_text(json.dumps({"sort:8": _summary(1.0)}))
  with pytest.raises(ValueError, match="entry 'sort:8' is not a 'row:col' cell"):
    q_table.merge_results([str(bad)])
  bad.write_text("{")
  with pytest.raises(ValueError, match="is not JSON"):
    q_table.merge_results([str(bad)])


def _run_smoke(row, col):
  c = q_table.cell_config(
      row, col, seeds=10, updates=10, chunk=10, max_len=10, wall=0.0, smoke=True
  )
  workdir = tempfile.mkdtemp()
  s = experiment.train_and_evaluate(c, workdir, progress=False)
  assert s["updates_run"] == c.num_updates
  assert len(s["solved_at"]) == c.num_seeds
  lines = open(os.path.join(workdir, "metrics.jsonl")).read().splitlines()
  assert len(lines) == c.num_updates // c.chunk_updates
  assert all(json.loads(l)["loss"] == json.loads(l)["loss"] for l in lines)
  assert os.listdir(os.path.join(workdir, "checkpoints"))


class SmokeTest(absltest.TestCase):

  # ~19 s of CPU: slow, like every other cell's smoke run (test_every_cell_smoke);
  # the default suite runs reverse_ff below and unit-tests the no-carry episodes
  # (test_q_train.test_add3_extra_curriculum_episode_params).
  @pytest.mark.slow
  def test_add3_extra_curriculum_smoke(self):
    _run_smoke("add3_extra", 8)

  def test_reverse_ff_fixed_discount_smoke(self):
    # Column 4: fixed discount 0.99, one-step Q-learning, on the real env.
    _run_smoke("reverse_ff", 4)


@pytest.mark.slow
@pytest.mark.parametrize("row", _SUPPORTED)
@pytest.mark.parametrize("col", list(range(1, 11)))
def test_every_cell_smoke(row, col):
  _run_smoke(row, col)


if __name__ == "__main__":
  absltest.main()


def test_the_table_binary_runs_a_cell_and_renders_it_again(tmp_path):
  # The documented binary end to end at smoke size: one cell trained, its table written;
  # then --merge renders the same table from the JSON without training.
  from tests import _cli

  out = tmp_path / "t.md"

  def run(*args):
    return _cli.run_module("experiments.tables.rl_table", *args)

  r = run("--smoke", "--rows=copy", "--cols=8", f"--workroot={tmp_path}/runs", f"--out={out}")
  assert r.returncode == 0, r.stderr[-2000:]
  text = out.read_text()
  assert "| Copying |" in text and "(talk 100%)" in text
  saved = json.loads((tmp_path / "t.json").read_text())
  assert set(saved) == {"copy:8"} and saved["copy:8"]["num_seeds"] == 2
  again = tmp_path / "again.md"
  r = run(f"--merge={tmp_path / 't.json'}", "--rows=copy", "--cols=8", f"--out={again}")
  assert r.returncode == 0, r.stderr[-2000:]
  assert again.read_text() == text
  r = run("--rows=nope", f"--out={tmp_path / 'x.md'}")
  assert r.returncode != 0 and "unknown row 'nope'" in r.stderr
