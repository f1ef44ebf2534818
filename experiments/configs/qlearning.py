"""Config file of the Q-learning binaries on the "Learning Simple Algorithms" tasks
(Zaremba et al. 2016). One cell of the talk's RL table, 10 seeds, test length 100:

  nice -n 15 python experiments/train_qlearning.py \
      --config=experiments/configs/qlearning.py:task=copy,controller=gru,col=8 \
      --workdir=/tmp/rltape/copy_gru_col8

The switches (task, controller, col, smoke and the budget knobs) are those of
``rltape.qlearning.config.get_config``, where each is documented.
"""

from rltape.qlearning.config import get_config  # noqa: F401  (read by config_flags)
