"""The plot command and library: a directory that is not a workdir is refused, naming
it, with nothing written; real smoke workdirs (a Neural GPU run, a Q-learning pool, an RL-NTM
pool, a Neural GPU pool's recorded files) give their PNGs; the workdir read is left exactly as
it was."""

import json
import os
import shutil

import jax
import numpy as np
import pytest

from plotkit import curves
from tests import _cli
from plotkit import render
from plotkit import workdir as workdir_lib

ROOT = _cli.ROOT
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def snapshot(directory):
  """{path: (size, mtime_ns)} of every file and folder below ``directory``."""
  out = {}
  for dirpath, _, files in os.walk(directory):
    out[dirpath] = ("dir", os.stat(dirpath).st_mtime_ns)
    for name in files:
      p = os.path.join(dirpath, name)
      st = os.stat(p)
      out[p] = (st.st_size, st.st_mtime_ns)
  return out


def assert_pngs(paths, names):
  got = {os.path.basename(p) for p in paths if p.endswith(".png")}
  assert set(names) <= got, got
  for p in paths:
    if p.endswith(".png"):
      with open(p, "rb") as f:
        assert f.read(8) == PNG_MAGIC, p
      assert os.path.getsize(p) > 2000, p


def run_cli(*args):
  return _cli.run_module("experiments.plot_workdir", *args, timeout=300)


@pytest.fixture(scope="module")
def ngpu_workdir(smoke_workdir):
  return smoke_workdir("ngpu")  # one seed, one length bin (tests/conftest.py)


@pytest.fixture(scope="module")
def qlearning_workdir(smoke_workdir):
  return smoke_workdir("qlearning")  # a 2-seed pool, feed-forward controller


@pytest.fixture(scope="module")
def rlntm_workdir(smoke_workdir):
  return smoke_workdir("rlntm")  # a 2-seed pool, tiny controller


# ---------------------------------------------------------------- refusals
def test_refuses_what_is_not_a_workdir(tmp_path):
  empty = tmp_path / "empty"
  empty.mkdir()
  a_file = tmp_path / "notes.txt"
  a_file.write_text("hello")
  foreign = tmp_path / "foreign"
  foreign.mkdir()
  (foreign / "config.json").write_text(json.dumps({"colour": "red"}))
  broken = tmp_path / "broken"
  broken.mkdir()
  (broken / "config.json").write_text("{not json")
  for path, why in (
      (tmp_path / "missing", "does not exist"),
      (a_file, "is not a directory"),
      (empty, "no config.json"),
      (foreign, "is not one of"),
      (broken, "unreadable config.json"),
  ):
    before = snapshot(str(tmp_path))
    with pytest.raises(workdir_lib.NotAWorkdirError, match=why) as e:
      render.render_workdir(str(path))
    assert repr(str(path)) in str(e.value)
    assert snapshot(str(tmp_path)) == before  # no <dir>_plots, nothing inside


def test_cli_refuses_a_non_workdir_naming_it(tmp_path):
  empty = tmp_path / "not_a_run"
  empty.mkdir()
  r = run_cli(f"--workdir={empty}")
  assert r.returncode != 0
  lines = [line for line in r.stderr.strip().splitlines() if line.strip()]
  assert len(lines) == 1, r.stderr
  assert str(empty) in lines[0] and "not a training workdir" in lines[0], lines
  assert sorted(os.listdir(tmp_path)) == ["not_a_run"]


def test_out_dir_that_is_a_file_is_refused(ngpu_workdir, tmp_path):
  target = tmp_path / "plots.png"
  target.write_text("")
  with pytest.raises(ValueError, match="is a file"):
    render.render_workdir(ngpu_workdir, str(target), model_pictures=False)


# ---------------------------------------------------------------- real workdirs
def test_ngpu_smoke_workdir_pictures_and_nothing_written_into_it(ngpu_workdir):
  before = snapshot(ngpu_workdir)
  out = workdir_lib.default_out_dir(ngpu_workdir)
  written = render.render_workdir(ngpu_workdir)
  assert snapshot(ngpu_workdir) == before
  assert all(os.path.dirname(p) == out for p in written)
  assert not workdir_lib.is_inside(out, ngpu_workdir)
  assert_pngs(written, ["learning_curves.png", "error_vs_length.png", "state.png"])


def test_cli_on_a_smoke_workdir(ngpu_workdir, tmp_path):
  before = snapshot(ngpu_workdir)
  out = tmp_path / "pictures"
  r = run_cli(f"--workdir={ngpu_workdir}", f"--out_dir={out}", "--model_pictures=false")
  assert r.returncode == 0, r.stderr
  assert snapshot(ngpu_workdir) == before
  written = r.stdout.split()
  assert_pngs(written, ["learning_curves.png", "error_vs_length.png"])
  assert sorted(os.listdir(out)) == sorted(os.path.basename(p) for p in written)


def test_qlearning_smoke_workdir(qlearning_workdir, tmp_path):
  before = snapshot(qlearning_workdir)
  written = render.render_workdir(qlearning_workdir, str(tmp_path / "out"))
  assert snapshot(qlearning_workdir) == before
  assert_pngs(written, ["learning_curves.png", "solved_fraction.png", "q_episode.png"])
  trace = open(str(tmp_path / "out" / "q_episode.txt")).read()
  assert "Input Tape" in trace and "Output Tape" in trace


def test_rlntm_smoke_workdir(rlntm_workdir, tmp_path):
  from plotkit import rl
  from rltape.reinforce import train as rtrain

  before = snapshot(rlntm_workdir)
  written = render.render_workdir(rlntm_workdir, str(tmp_path / "out"), episode_length=3)
  assert snapshot(rlntm_workdir) == before
  assert_pngs(written, ["learning_curves.png", "solved_fraction.png", "policy_episode.png"])
  text = open(str(tmp_path / "out" / "policy_episode.txt")).read()
  assert "Input Tape" in text and "Output Tape" in text
  # The picture's episode is the one the trainer's own trace renders (same key).
  m = rl.load_rlntm(rlntm_workdir, seed=1)
  ep = rl.rlntm_episode(m["config"], m["params"], 3)
  trace, solved = rtrain.render_trace(m["config"], m["params"], jax.random.key(0), 3)
  assert ep["solved"] == solved and trace.startswith(ep["trace"])
  assert np.all((ep["p_chosen"] > 0) & (ep["p_chosen"] <= 1))
  assert ep["p_chosen"].shape == (len(ep["write"]), len(ep["head_names"]))
  with pytest.raises(ValueError, match="length"):
    rl.rlntm_episode(m["config"], m["params"], 10_000)


def test_q_episode_follows_the_greedy_policy(qlearning_workdir):
  from plotkit import rl

  m = rl.load_qlearning(qlearning_workdir, seed=1)
  ep = rl.q_episode(m["config"], m["params"])  # the program the render test compiled
  assert ep["q"].shape == (len(ep["action"]), len(ep["action_names"]))
  np.testing.assert_array_equal(ep["action"], np.argmax(ep["q"], axis=1))
  with pytest.raises(ValueError, match="complexity"):
    rl.q_episode(m["config"], m["params"], complexity=10_000)
  with pytest.raises(ValueError, match="seed 5"):
    rl.load_qlearning(qlearning_workdir, seed=5)


def test_pool_pictures_from_recorded_files(tmp_path):
  """A Neural GPU pool workdir made of the main job's recorded metrics and summary
  (results/neuralgpu/), with no checkpoint: the record pictures, and no model pictures."""
  from experiments.configs import ngpu

  wd = tmp_path / "main_job"
  wd.mkdir()
  (wd / "config.json").write_text(ngpu.get_config().to_json())
  shutil.copy(
      os.path.join(ROOT, "results", "neuralgpu", "main_job_4seeds_metrics.jsonl"),
      wd / "metrics.jsonl",
  )
  shutil.copy(
      os.path.join(ROOT, "results", "neuralgpu", "main_job_4seeds_summary.json"),
      wd / "pool_summary.json",
  )
  loaded = workdir_lib.load(str(wd))
  assert loaded.kind == "ngpu_pool" and not loaded.has_checkpoint
  before = snapshot(str(wd))
  logged = []
  written = render.render_workdir(str(wd), str(tmp_path / "out"), log=logged.append)
  assert snapshot(str(wd)) == before
  assert_pngs(written, ["learning_curves.png", "solved_fraction.png", "error_vs_length.png"])
  assert any("no checkpoint" in line for line in logged)


def test_pool_solved_fraction_counts_restarts():
  summary = {
      "num_seeds": 2,
      "step": 100,
      "seeds": [{"seed": 0, "solved_at": 40}, {"seed": 3, "solved_at": None}],
      "restarts": [
          {"step": 20, "slot": 1, "old_seed": 1, "new_seed": 2},
          {"step": 60, "slot": 1, "old_seed": 2, "new_seed": 3},
      ],
  }
  steps, frac = curves.pool_solved_steps(summary)
  assert steps.tolist() == [0, 20, 40, 60, 100]
  np.testing.assert_allclose(frac, [0, 0, 1 / 3, 1 / 4, 1 / 4])


def test_rlntm_records_and_kinds(tmp_path):
  # The record lines of train_rlntm.py (per-seed lists, keyed by "updates").
  wd = tmp_path / "rlntm"
  wd.mkdir()
  (wd / "config.json").write_text(
      json.dumps(
          {"task": "Copy", "agent": {}, "promote_threshold": 0.9, "num_seeds": 2, "test_length": 6}
      )
  )
  rows = [
      {
          "chunk": i,
          "updates": 2 * i,
          "seeds_solved": int(i > 2),
          "ret": [0.1 * i, -0.2],
          "length": [1.0 + i, 1.0],
          "test_accuracy": [0.3 * i, 0.0],
          "entropy": [2.8, 2.7],
      }
      for i in range(1, 5)
  ]
  (wd / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + '\n{"chunk": 5, ')
  loaded = workdir_lib.load(str(wd))
  assert loaded.kind == "rlntm" and len(loaded.metrics) == 4  # the partial line is skipped
  written = render.render_workdir(str(wd), str(tmp_path / "out"))
  assert_pngs(written, ["learning_curves.png", "solved_fraction.png"])


def test_state_picture_of_a_long_row():
  """The state picture's wide form (no characters past 100 positions), from an
  untrained model."""
  from experiments.configs import ngpu
  from neuralgpu import model as model_lib
  from neuralgpu import tasks as tasks_lib
  from neuralgpu import resolve as resolve_lib
  from plotkit import ngpu as ngpu_plots

  c = ngpu.get_config("variant=smoke")
  mcfg = resolve_lib.resolve_model_config(c)
  params = model_lib.init_params(jax.random.key(0), mcfg)
  task = tasks_lib.get_task("badd")
  a, b = ngpu_plots.carry_question(task, 121)
  assert a + b == 2**60
  trace = ngpu_plots.trace_example(params, 1, mcfg, task, a, b, 121)
  assert trace["norm"].shape == (122, 121) and trace["change"].shape == (121, 121)
  fig = ngpu_plots.plot_state(trace, "untrained")
  assert fig.axes
  with pytest.raises(ValueError, match="length 2"):
    ngpu_plots.carry_question(task, 2)


def test_state_picture_of_a_sequence_task():
  from experiments.configs import ngpu
  from neuralgpu import model as model_lib
  from neuralgpu import tasks as tasks_lib
  from neuralgpu import resolve as resolve_lib
  from plotkit import ngpu as ngpu_plots

  mcfg = resolve_lib.resolve_model_config(ngpu.get_config("variant=smoke"))
  params = model_lib.init_params(jax.random.key(1), mcfg)
  task = tasks_lib.get_task("reverse")
  inputs, targets = tasks_lib.make_batch(jax.random.key(0), task, jax.numpy.array([7]), 9)
  trace = ngpu_plots.trace_inputs(params, 1, mcfg, task, inputs[0], targets[0])
  assert trace["norm"].shape == (10, 9)
  assert np.all(trace["norm"][:, 7:] == 0)  # the padding holds no state
  assert "reverse, 7 symbols" in ngpu_plots.plot_state(trace)._suptitle.get_text()
