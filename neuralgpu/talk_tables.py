r"""Seed-pool configs for every cell of the talk's Neural GPU tables, and the
transfer experiments.

``get_config("cell=<cell>,key=value,...")``. Cells (``CELLS``; the talk's word
in ``TALK``):

  known/<add|mul><2|10>/<24|128>     Known Results (addition, multiplication;
                                     base 2 and 10; 24 and 128 filters)
  bigger/mul<2|10>/<24|128|256|512>  Bigger models
  curriculum/<10|2-10|2-5-10|2-4-10>/<128|256|512>
                                     Bigger models and curriculum (decimal
                                     multiplication; 2-10 = bmul,mul;
                                     2-5-10 = bmul,mul5,mul; 2-4-10 = bmul,qmul,mul)
  transfer/<add-mul|b2-b10>/<source|transfer|scratch>/<width>
                                     The talk's transfer claims. ``source``
                                     trains addition (add-mul: badd) or binary
                                     multiplication (b2-b10: bmul); ``transfer``
                                     starts the target (bmul / mul) from the
                                     source pool's parameters (``init_from=``
                                     its workdir); ``scratch`` trains the target
                                     from scratch with the same step budget.

Other keys: variant (faithful | fast | smoke; default faithful, the published
model the talk used), seeds (pool size), steps, minutes (wall-clock budget),
seed (first seed), init_from (transfer source workdir).

Verdict thresholds (``pool.works_fraction`` / ``pool.struggles_fraction``):
a pool "Works" when at least half of its seeds are solved, "Struggles" when at
least one but fewer than half are, "Fails" when none is. A seed is solved when
it has 0 sequence errors at ``eval.solve_lengths`` (201 and 401 at full scale)
within the step and time budget; a seed not solved within the budget counts as
not solved.

Cost: ``COST`` gives, per cell width, the model FLOPs per 1000 train steps of
one seed at the full training length 41 (an upper bound: early curriculum
steps are shorter), 3 x forward, and the H100 seconds that implies at an
assumed sustained 100 TFLOP/s in float32/TF32, floored by the latency of the
sequential CGRU kernels (an estimate, not a measurement):

  filters  TFLOP / 1000 steps / seed   est. H100 s / 1000 steps / seed
  24           40                          7 (latency-bound)
  128        1142                         11
  256        4569                         46
  512       18275                        183

A pool of S seeds costs S times that (vmapped seeds fill the GPU better at
small widths, so less than S times at 24 filters). ``smoke`` shrinks every cell (8 maps, lengths <= 9, 2 seeds, a
few steps) keeping its tasks, curriculum and model structure, for tests.

Launch:
  python experiments/train_neuralgpu.py \
      --config=experiments/configs/ngpu_tables.py:cell=known/mul2/24,seeds=8,minutes=120 \
      --workdir=/tmp/pools/known/mul2/24
"""

from __future__ import annotations

import ml_collections

from neuralgpu import config as config_lib
from neuralgpu import pool as pool_lib
from neuralgpu import presets as ngpu_configs
from runkit import config_args

KEYS = ("cell", "variant", "seeds", "steps", "minutes", "seed", "init_from")
VARIANTS = ("faithful", "fast", "smoke")
CURRICULA = {"10": "mul", "2-10": "bmul,mul", "2-5-10": "bmul,mul5,mul", "2-4-10": "bmul,qmul,mul"}
CURRICULUM_LABELS = {"10": "10", "2-10": "2 → 10", "2-5-10": "2 → 5 → 10", "2-4-10": "2 → 4 → 10"}
TRANSFER = {  # name: (source task, target task, the talk's words)
    "add-mul": ("badd", "bmul", "Transfer from addition to multiplication doesn't work"),
    "b2-b10": ("bmul", "mul", "Transfer from small base to large seems to work"),
}
TRANSFER_ROLES = ("source", "transfer", "scratch")
TRANSFER_WIDTHS = (24, 128)

# The talk's tables, cell -> (task, filters, the talk's word).
TALK: dict[str, tuple[str, int, str]] = {}
for _op, _t2, _t10 in (("add", "badd", "add"), ("mul", "bmul", "mul")):
  for _base, _task in ((2, _t2), (10, _t10)):
    for _w in (24, 128):
      _word = {
          ("add", 2, 24): "Struggles",
          ("add", 2, 128): "Works",
          ("add", 10, 24): "Fails",
          ("add", 10, 128): "Works",
          ("mul", 2, 24): "Struggles",
          ("mul", 2, 128): "Works",
          ("mul", 10, 24): "Fails",
          ("mul", 10, 128): "Fails",
      }[(_op, _base, _w)]
      TALK[f"known/{_op}{_base}/{_w}"] = (_task, _w, _word)
for _w, _w2, _w10 in (
    (24, "Struggles", "Fails"),
    (128, "Works", "Fails"),
    (256, "Works", "Fails"),
    (512, "Works", "Struggles?"),
):
  TALK[f"bigger/mul2/{_w}"] = ("bmul", _w, _w2)
  TALK[f"bigger/mul10/{_w}"] = ("mul", _w, _w10)
for _c, _words in (
    ("10", ("Fails", "Fails", "Struggles?")),
    ("2-10", ("Fails", "Struggles", "Struggles?")),
    ("2-5-10", ("Struggles", "Works", "Works?")),
    ("2-4-10", ("Works", "Works", "Works?")),
):
  for _w, _word in zip((128, 256, 512), _words):
    TALK[f"curriculum/{_c}/{_w}"] = (CURRICULA[_c], _w, _word)


def transfer_cells() -> list[str]:
  return [
      f"transfer/{n}/{r}/{w}" for n in TRANSFER for r in TRANSFER_ROLES for w in TRANSFER_WIDTHS
  ]


CELLS = tuple(TALK) + tuple(transfer_cells())


def train_flops_per_step(
    width: int,
    length: int = 41,
    height: int = 4,
    batch: int = 32,
    cgrus_per_step: int = 2,
    kernel: int = 9,
) -> float:
  """Model FLOPs of one faithful train step (forward + backward ~ 3 x forward).

  One CGRU on one example: the gate conv (kernel*m -> 2m) and the candidate conv
  (kernel*m -> m) at every one of n*height positions, 2 FLOPs per MAC:
  ``2 * n * h * kernel * m * 3m``; n steps of ``cgrus_per_step`` CGRUs.
  """
  per_cgru = 2.0 * length * height * kernel * width * 3 * width
  return 3.0 * batch * length * cgrus_per_step * per_cgru


ASSUMED_H100_FLOPS = 100e12
# Small widths are latency-bound: n steps x 2 CGRUs x (forward + 2 backward) x
# ~6 kernels each, at an assumed ~5 us per kernel, run one after another.
LATENCY_FLOOR_S_PER_STEP = 41 * 2 * 3 * 6 * 5e-6
COST = {
    w: {
        "tflop_per_1000_steps_per_seed": train_flops_per_step(w) * 1000 / 1e12,
        "est_h100_seconds_per_1000_steps_per_seed": 1000
        * max(train_flops_per_step(w) / ASSUMED_H100_FLOPS, LATENCY_FLOOR_S_PER_STEP),
    }
    for w in (24, 128, 256, 512)
}


def parse_arg(arg: str | None) -> dict:
  return config_args.parse_arg(arg, KEYS, flags=())


def cell_task_width(cell: str) -> tuple[str, int]:
  """The task and width a cell trains."""
  if cell in TALK:
    return TALK[cell][0], TALK[cell][1]
  parts = cell.split("/")
  if (
      len(parts) == 4
      and parts[0] == "transfer"
      and parts[1] in TRANSFER
      and parts[2] in TRANSFER_ROLES
      and parts[3].isdigit()
  ):
    src, dst, _ = TRANSFER[parts[1]]
    return (src if parts[2] == "source" else dst), int(parts[3])
  raise ValueError(f"cell={cell!r} is not a table cell; allowed: {', '.join(CELLS)}")


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  a = parse_arg(arg)
  if "cell" not in a:
    raise ValueError(f"cell= is required; allowed: {', '.join(CELLS)}")
  cell = a["cell"]
  task, width = cell_task_width(cell)
  variant = a.get("variant", "faithful")
  if variant not in VARIANTS:
    raise ValueError(f"variant={variant!r}; allowed: {VARIANTS}")
  if variant == "smoke":
    c = ngpu_configs.get_config("variant=faithful")
    shrink_faithful(c)
  else:
    c = ngpu_configs.get_config(f"variant={variant}")
    c.model.num_maps = width
    # A pool keeps every seed's activations: without remat, 8 seeds x 24 maps
    # at length 41 hold ~8 GB of conv patches on CPU (a pool was OOM-killed at
    # 10.5 GB RSS). Keeping every 8th state costs about one extra forward.
    c.model.remat = "every_k"
  c.task = task
  pool_lib.with_pool(c)
  c.cell = cell
  c.talk_word = TALK[cell][2] if cell in TALK else TRANSFER[cell.split("/")[1]][2]
  if variant != "smoke":
    c.pool.num_seeds = 8
  if "seeds" in a:
    c.pool.num_seeds = config_args.as_int("seeds", a["seeds"], 1)
  if "steps" in a:
    c.num_train_steps = config_args.as_int("steps", a["steps"], 0)
  if "minutes" in a:
    c.max_train_minutes = config_args.as_float("minutes", a["minutes"])
  if "seed" in a:
    c.seed = config_args.as_int("seed", a["seed"], 0)
  if "init_from" in a:
    c.pool.init_from = a["init_from"]
  if cell.startswith("transfer/") and cell.split("/")[2] == "transfer" and not c.pool.init_from:
    raise ValueError(f"cell={cell!r} needs init_from=<the source pool's workdir>")
  config_lib.validate(c)
  return c


def shrink_faithful(c: ml_collections.ConfigDict) -> None:
  """Tiny faithful model and run (the structure of the cell, not its scale)."""
  c.model.num_maps = 8
  c.model.num_sets = 2
  c.batch_size = 4
  c.num_train_steps = 4
  cu = c.curriculum
  cu.start_length = 5
  cu.max_length = 9
  cu.buckets = (5, 9)
  cu.advance_every = 2
  cu.long_every = 3
  c.log_every = 2
  c.checkpoint_every = 2
  c.eval.lengths = (9, 15)
  c.eval.examples = (8, 4)
  c.eval.solve_lengths = (15,)
  c.eval.every = 2
  c.progress_bar = False
  pool_lib.with_pool(c)
  c.pool.num_seeds = 2
  c.pool.screen_examples = 2
