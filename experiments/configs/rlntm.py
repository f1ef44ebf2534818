"""Config file of the RL-NTM binaries (REINFORCE + memory tape). 10 seeds, at most 2 hours:

  nice -n 15 python experiments/train_rlntm.py \\
      --config=experiments/configs/rlntm.py:task=Copy,seeds=10,wall=7200 \\
      --workdir=/tmp/rlntm/copy

The switches (task, train, seeds, symbol, memwrite, core, restart, smoke, ...) are those
of ``rltape.reinforce.config.get_config``, where each is documented.
"""

from rltape.reinforce.config import TASKS  # noqa: F401  (re-exported for scripts)
from rltape.reinforce.config import get_config  # noqa: F401  (read by config_flags)
