r"""Config file of the seed pools behind the talk's Neural GPU tables:

    python experiments/train_neuralgpu.py \
        --config=experiments/configs/ngpu_tables.py:cell=known/mul2/24,seeds=8,minutes=120 \
        --workdir=/tmp/pools/known/mul2/24

The cells, keys, verdict thresholds and cost model are ``neuralgpu.talk_tables``'s,
where each is documented.
"""

from neuralgpu.talk_tables import CELLS  # noqa: F401  (re-exported for scripts)
from neuralgpu.talk_tables import COST  # noqa: F401
from neuralgpu.talk_tables import CURRICULUM_LABELS  # noqa: F401
from neuralgpu.talk_tables import TALK  # noqa: F401
from neuralgpu.talk_tables import TRANSFER  # noqa: F401
from neuralgpu.talk_tables import TRANSFER_ROLES  # noqa: F401
from neuralgpu.talk_tables import TRANSFER_WIDTHS  # noqa: F401
from neuralgpu.talk_tables import cell_task_width  # noqa: F401
from neuralgpu.talk_tables import get_config  # noqa: F401
from neuralgpu.talk_tables import train_flops_per_step  # noqa: F401
