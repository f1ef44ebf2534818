r"""Renders a training workdir's pictures as PNGs.

  python -m experiments.plot_workdir --workdir=/tmp/ngpu_badd
  python -m experiments.plot_workdir --workdir=/tmp/rl/copy --out_dir=docs/pictures/qlearning

Workdirs of experiments/train_neuralgpu.py (single runs and seed pools),
train_qlearning.py and train_rlntm.py. Writes learning curves with the
curriculum length, error against test length, a pool's solved fraction against steps,
the Neural GPU state over its steps, and Q-values / the policy over a greedy episode
(``plotkit.render``). The workdir is only read: the PNGs go to --out_dir, by default
``<workdir>_plots`` beside it (a folder inside the workdir only when --out_dir names
one). A directory that is not a workdir is refused, naming it, before anything is
written.
"""

import sys

from absl import app
from absl import flags

FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_string("workdir", None, "The training workdir to read.")
  flags.DEFINE_string("out_dir", None, "Folder for the PNGs (default: <workdir>_plots).")
  flags.DEFINE_bool(
      "model_pictures",
      True,
      "Also draw the pictures that run the trained "
      "model (state over steps, Q-values over an episode).",
  )
  flags.DEFINE_integer(
      "state_length",
      None,
      "Neural GPU: length of the carry-chain "
      "question of the state picture (default: the training length).",
  )
  flags.DEFINE_integer(
      "episode_length",
      None,
      "RL: complexity (Q-learning) or input "
      "length (RL-NTM) of the episode shown (default: the test length, "
      "at most 20 / 12).",
  )
  flags.DEFINE_integer(
      "seed", None, "Which seed of a pool to draw (default: the first " "solved, else the best)."
  )
  flags.mark_flag_as_required("workdir")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  from plotkit import render
  from plotkit import workdir as workdir_lib

  try:
    written = render.render_workdir(
        FLAGS.workdir,
        FLAGS.out_dir,
        model_pictures=FLAGS.model_pictures,
        state_length=FLAGS.state_length,
        episode_length=FLAGS.episode_length,
        seed=FLAGS.seed,
    )
  except (workdir_lib.NotAWorkdirError, ValueError) as e:
    # One line naming the directory (or value) at fault; nothing was written.
    sys.exit(f"plot_workdir: {e}")
  for p in written:
    print(p)


if __name__ == "__main__":
  define_flags()
  app.run(main)
