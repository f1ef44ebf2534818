r"""Digit and sequence error per test length of a trained Neural GPU.

  python experiments/evaluate_neuralgpu.py --workdir=/tmp/ngpu_badd \
      --lengths=41,201,401,2001 --examples=512,512,128,32

Long lengths run in memory-capped chunks (--max_chunk_elements). Writes
eval_<step>.json and prints a markdown table.
"""

import json
import os

from absl import app
from absl import flags
import jax

from neuralgpu import evaluate
from neuralgpu import restore
from neuralgpu import tasks as tasks_lib
from neuralgpu import train as train_lib

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Training workdir with checkpoints.")
flags.DEFINE_integer(
    "seed_index",
    None,
    "Pool workdirs: which seed (default: the pool's " "best, the one it stopped on).",
)
flags.DEFINE_list("lengths", ["41", "201", "401", "2001"], "Test lengths.")
flags.DEFINE_list("examples", ["512", "512", "128", "32"], "Examples per length.")
flags.DEFINE_string("task", None, "Task to test (default: the run's last task).")
flags.DEFINE_enum("mode", None, tasks_lib.MODES, "Operand mode (default: the run's).")
flags.DEFINE_integer("max_chunk_elements", None, "Cap on chunk*n*height*maps floats.")
flags.DEFINE_integer("seed", 1, "Seed of the test examples.")
flags.mark_flag_as_required("workdir")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  try:
    lengths = [int(x) for x in FLAGS.lengths]
    examples = [int(x) for x in FLAGS.examples]
  except ValueError as e:
    raise app.UsageError(f"--lengths/--examples must be integers: {e}")
  if len(lengths) != len(examples):
    raise app.UsageError(f"--lengths has {len(lengths)} items, --examples {len(examples)}")
  if any(n < 3 for n in lengths) or any(k < 1 for k in examples):
    raise app.UsageError(f"lengths must be >= 3 and examples >= 1: {lengths}, {examples}")
  cfg, mcfg, state, step = restore.load(FLAGS.workdir, FLAGS.seed_index)
  task = restore.task_for(cfg, FLAGS.task)
  eval_cfg = cfg.eval
  if FLAGS.max_chunk_elements:
    eval_cfg = eval_cfg.copy_and_resolve_references()
    eval_cfg.max_chunk_elements = FLAGS.max_chunk_elements
  rows = evaluate.evaluate_table(
      jax.random.key(FLAGS.seed),
      train_lib.eval_params(state),
      state.relax.active_sets,
      mcfg,
      eval_cfg,
      task,
      lengths,
      examples,
      FLAGS.mode or cfg.operand_mode,
  )
  print(evaluate.format_table(rows, f"{task.name}, step {step}, {FLAGS.workdir}"))
  out = os.path.join(FLAGS.workdir, f"eval_{step}.json")
  with open(out, "w") as f:
    json.dump({"step": step, "task": task.name, "rows": rows}, f, indent=2)
  print(f"wrote {out}")


if __name__ == "__main__":
  app.run(main)
