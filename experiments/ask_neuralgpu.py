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
from absl import app
from absl import flags
import numpy as np

from neuralgpu import evaluate
from neuralgpu import restore
from neuralgpu import tasks as tasks_lib
from neuralgpu import train as train_lib

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Training workdir with checkpoints.")
flags.DEFINE_integer("seed_index", None, "Pool workdirs: which seed (default: the pool's "
                     "best, the one it stopped on).")
flags.DEFINE_multi_string("question", [], "e.g. '101+11' or '2*1' (digits in the task's base).")
flags.DEFINE_string("task", None, "Task (default: the run's last task); must match the operator.")
flags.DEFINE_integer("pad_to", 0, "Zero-pad operands to this many digits (0 = natural).")
flags.DEFINE_bool("failure_cases", False, "Ask the talk's failure-case questions.")
flags.mark_flag_as_required("workdir")


def to_str(x, base):
  if x is None:
    return "(not a number)"
  return np.base_repr(x, base) if base <= 36 else str(x)


def ask(cfg, mcfg, state, task, a, b, digits):
  length = 2 * digits + 1
  r = evaluate.answer(train_lib.eval_params(state), state.relax.active_sets, mcfg, task, a, b,
                      length)
  sym = "+" if task.kind == "add" else "*"
  mark = "right" if r["correct"] else "WRONG"
  print(f"{to_str(a, task.base).zfill(digits)} {sym} {to_str(b, task.base).zfill(digits)}"
        f"\n  model: {to_str(r['answer'], task.base)}\n  truth: {to_str(r['truth'], task.base)}"
        f"   [{mark}]")
  return r


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if not FLAGS.question and not FLAGS.failure_cases:
    raise app.UsageError("give --question=... (repeatable) or --failure_cases")
  cfg, mcfg, state, step = restore.load(FLAGS.workdir, FLAGS.seed_index)
  default = restore.task_for(cfg, FLAGS.task)
  for q in FLAGS.question:
    try:
      a, kind, b, digits = evaluate.parse_question(q, default.base)
    except ValueError as e:
      raise app.UsageError(str(e))
    task = tasks_lib.get_task(f"{kind}{default.base}")
    ask(cfg, mcfg, state, task, a, b, max(digits, FLAGS.pad_to))
  if FLAGS.failure_cases:
    for a, b, digits in evaluate.failure_questions(default, max(FLAGS.pad_to, 30)):
      ask(cfg, mcfg, state, default, a, b, digits)


if __name__ == "__main__":
  app.run(main)
