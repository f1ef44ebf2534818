r"""Asks a trained Neural GPU arithmetic questions in plain numbers.

  python experiments/ask_neuralgpu.py --workdir=/tmp/ngpu_badd --question="101+11"
  python experiments/ask_neuralgpu.py --workdir=... --question="2*1" --pad_to=61
  python experiments/ask_neuralgpu.py --workdir=... --failure_cases

Numbers are written in the task's base, most significant digit first, as a
person writes them ("101+11" in binary is 5 + 3). --pad_to zero-pads both
operands to that many digits (the talk's 000..002 x 000..001). --failure_cases
asks the talk's adversarial questions: long carry chains, long runs of one
digit, and zero-padded small operands.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # no XLA start-up lines around answers

from absl import app
from absl import flags
from absl import logging

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Training workdir with checkpoints.")
flags.DEFINE_integer(
    "seed_index",
    None,
    "Pool workdirs: which seed (default: the pool's " "best, the one it stopped on).",
)
flags.DEFINE_multi_string("question", [], "e.g. '101+11' or '2*1' (digits in the task's base).")
flags.DEFINE_string("task", None, "Task (default: the run's last task); must match the operator.")
flags.DEFINE_integer("pad_to", 0, "Zero-pad operands to this many digits (0 = natural).")
flags.DEFINE_bool("failure_cases", False, "Ask the talk's failure-case questions.")
flags.DEFINE_bool("show_carries", True, "Addition: mark the digits that receive a carry.")
flags.mark_flag_as_required("workdir")


def ask(cfg, mcfg, state, task, a, b, digits):
  from neuralgpu import evaluate, failures, train as train_lib

  length = 2 * digits + 1
  r = evaluate.answer(
      train_lib.eval_params(state), state.relax.active_sets, mcfg, task, a, b, length
  )
  print("\n".join(failures.answer_lines(r, task, digits, FLAGS.show_carries)))
  return r


def fail(msg: str):
  """One line on stderr, exit status 2."""
  print(f"ask_neuralgpu: {msg}", file=sys.stderr)
  sys.exit(2)


def main(argv):
  if len(argv) > 1:
    fail(f"unexpected arguments: {argv[1:]}")
  if not FLAGS.question and not FLAGS.failure_cases:
    fail("give --question=... (repeatable) or --failure_cases")
  if FLAGS.pad_to < 0:
    fail(f"--pad_to={FLAGS.pad_to} must be >= 0")
  logging.set_verbosity(logging.ERROR)
  from neuralgpu import evaluate, restore

  try:
    cfg = restore.load_config(FLAGS.workdir)
    default = restore.task_for(cfg, FLAGS.task)
  except ValueError as e:
    fail(str(e))
  if not default.is_arithmetic:
    fail(f"the run's task {default.name!r} is not arithmetic; questions need add or mul")
  parsed = []
  for q in FLAGS.question:  # every question checked before the model loads
    try:
      a, kind, b, digits = evaluate.parse_question(q, default.base)
    except ValueError as e:
      fail(str(e))
    if kind != default.kind:
      fail(
          f"question {q!r} asks {'+' if kind == 'add' else '*'}, but the model was trained "
          f"on {default.name!r} ({'+' if default.kind == 'add' else '*'})"
      )
    parsed.append((a, b, max(digits, FLAGS.pad_to)))
  cfg, mcfg, state, step = restore.load(FLAGS.workdir, FLAGS.seed_index)
  for a, b, digits in parsed:
    ask(cfg, mcfg, state, default, a, b, digits)
  if FLAGS.failure_cases:
    for a, b, digits in evaluate.failure_questions(default, max(FLAGS.pad_to, 30)):
      ask(cfg, mcfg, state, default, a, b, digits)


if __name__ == "__main__":
  app.run(main)
