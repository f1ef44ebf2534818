"""Training against failure, the failure report and the ask binary, end to end on a
smoke-sized run."""

import os
import subprocess
import sys

import pytest

from experiments.configs import ngpu
from neuralgpu import evaluate, failures, tasks as tasks_lib
from neuralgpu import loop

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
  """A smoke run trained with a quarter of every batch structured (failure_share)."""
  wd = str(tmp_path_factory.mktemp("fail") / "run")
  c = ngpu.get_config("variant=smoke,steps=4")
  c.curriculum.failure_share = 0.25
  out = loop.train_and_evaluate(c, wd)
  assert out["step"] == 4 and out["eval"], out  # trained its 4 steps, final table written
  return wd


def _run(args, **kw):
  env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=ROOT)
  return subprocess.run(
      [sys.executable] + args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, **kw
  )


def _snapshot(d):
  out = {}
  for root, _, files in os.walk(d):
    for f in files:
      p = os.path.join(root, f)
      out[p] = os.stat(p).st_mtime_ns
  return out


def test_failure_report_writes_report_and_leaves_workdir_alone(workdir, tmp_path):
  before = _snapshot(workdir)
  out = str(tmp_path / "report")
  r = _run(
      [
          "experiments/studies/failure_report.py",
          f"--workdir={workdir}",
          f"--out_dir={out}",
          "--length=9",
          "--random_lengths=9",
          "--random_examples=4",
          "--per_chain=1",
          "--search_seconds=2",
          "--search_population=4",
          "--suites=carry,run,padded,max,symmetric",
      ]
  )
  assert r.returncode == 0, r.stderr[-3000:]
  md = open(os.path.join(out, "report.md")).read()
  for heading in ("## Random inputs", "## carry", "## run", "## padded", "## Adversarial search"):
    assert heading in md
  for png in (
      "seq_error_vs_carry.png",
      "seq_error_vs_run.png",
      "seq_error_vs_padding.png",
      "first_error_position.png",
  ):
    assert os.path.getsize(os.path.join(out, png)) > 1000
  assert os.path.exists(os.path.join(out, "failures_run.json"))
  assert _snapshot(workdir) == before
  # The report re-renders from its JSON alone, to the same page.
  os.remove(os.path.join(out, "report.md"))
  r = _run(["experiments/studies/failure_report.py", f"--out_dir={out}", "--render_only"])
  assert r.returncode == 0, r.stderr[-3000:]
  assert open(os.path.join(out, "report.md")).read() == md


def test_failure_report_refuses_non_workdir_and_out_dir_inside(workdir, tmp_path):
  (tmp_path / "empty").mkdir()
  r = _run(
      [
          "experiments/studies/failure_report.py",
          f"--workdir={tmp_path / 'empty'}",
          f"--out_dir={tmp_path / 'o'}",
      ]
  )
  assert r.returncode != 0 and "is not a training workdir" in r.stderr
  assert str(tmp_path / "empty") in r.stderr and not (tmp_path / "o").exists()
  r = _run(
      [
          "experiments/studies/failure_report.py",
          f"--workdir={workdir}",
          f"--out_dir={os.path.join(workdir, 'rep')}",
      ]
  )
  assert r.returncode != 0 and "lies inside workdir" in r.stderr
  assert not os.path.exists(os.path.join(workdir, "rep"))


def test_ask_answers_without_log_lines_and_refuses_bad_questions(workdir):
  r = _run(["experiments/ask_neuralgpu.py", f"--workdir={workdir}", "--question=101+11"])
  assert r.returncode == 0, r.stderr[-3000:]
  lines = r.stdout.splitlines()
  assert lines[0] == "101 + 011"
  assert lines[1].startswith("  model: ") and lines[2].startswith("  truth: ")
  assert lines[2].split()[1].lstrip("0") == "1000"  # 5 + 3 in binary
  assert all(not l.startswith(("I", "W", "E")) or l[1:5].isdigit() is False for l in lines)
  assert r.stderr.strip() == ""
  for q, msg in (
      ("10*1", "asks *, but the model was trained on 'badd'"),
      ("102+1", "outside base 2"),
      ("101+", "empty operand"),
      ("1-1", "operator '-' is not + or *"),
  ):
    r = _run(["experiments/ask_neuralgpu.py", f"--workdir={workdir}", f"--question={q}"])
    assert r.returncode == 2, (q, r.stderr)
    assert r.stdout == "" and len(r.stderr.strip().splitlines()) == 1, (q, r.stderr)
    assert msg in r.stderr, (q, r.stderr)


def test_answer_lines_mark_first_wrong_digit_and_carries():
  task = tasks_lib.get_task("badd")
  # 0111 + 0001 = 1000; the model wrote 0000 + a wrong digit at position 3.
  r = {
      "a": 7,
      "b": 1,
      "truth": 8,
      "answer": 0,
      "answer_digits": [0, 0, 0, 0, 0, 0, 0, 0, 0],
      "correct": False,
  }
  lines = failures.answer_lines(r, task, 4)
  assert lines[1] == "  model: 0000" and lines[2].startswith("  truth: 1000")
  col = len("  truth: ")
  assert lines[3][col : col + 4] == "^   " and "position 3" in lines[3]
  assert lines[4][col : col + 4] == "ccc " and "carries: 3" in lines[4]


def test_parse_question_names_the_problem():
  with pytest.raises(ValueError, match="empty operand"):
    evaluate.parse_question("11+", 2)
  with pytest.raises(ValueError, match="exactly one operator"):
    evaluate.parse_question("1+1+1", 2)
  with pytest.raises(ValueError, match="'g'"):
    evaluate.parse_question("1g+1", 16)
  assert evaluate.parse_question("ff*1", 16) == (255, "mul", 1, 2)
