r"""Config file of the Neural GPU binaries:

    python experiments/train_neuralgpu.py --config=experiments/configs/ngpu.py:key=value,... \
        --workdir=/tmp/ngpu_badd

plus ``--config.x=y`` for any single config key. The keys (variant, task, width, steps,
seed, seeds, restart) and the variants (faithful, fast, dngpu, dngpu_cycle,
dngpu_short, dngpu_short_sat = the main job, dngpu_exact, smoke) are those of
``neuralgpu.presets``, where each is documented; a notebook imports them from there.
"""

from neuralgpu.presets import DEFAULT_VARIANT  # noqa: F401  (re-exported for scripts)
from neuralgpu.presets import DNGPU_BINS  # noqa: F401
from neuralgpu.presets import VARIANTS  # noqa: F401
from neuralgpu.presets import adaptive_saturation  # noqa: F401
from neuralgpu.presets import get_config  # noqa: F401
from neuralgpu.presets import strip_targets  # noqa: F401
from neuralgpu.presets import train_on_bins  # noqa: F401
