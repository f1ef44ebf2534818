"""Default Neural GPU configuration and its validation.

``default_config()`` is the faithful model of Kaiser & Sutskever (2015, "Neural GPUs
Learn Algorithms") with the training of their public code; the named configs of
``neuralgpu.presets`` start from it and override. ``validate(config)`` checks every
value before anything is compiled and raises ``ValueError`` naming the bad value and
what is allowed.
"""

from __future__ import annotations

import ml_collections

from neuralgpu import curriculum as curriculum_lib
from neuralgpu import model as model_lib
from neuralgpu import tasks as tasks_lib

OPTIMIZERS = ("adam", "adamax", "clipped_adamax")
# Top-level settings that do not change what a train step computes: they may differ
# between a run and its resumption, and do not key the compiled-step cache.
RESUMABLE_KEYS = (
    "num_train_steps",
    "max_train_minutes",
    "log_every",
    "checkpoint_every",
    "keep_checkpoints",
    "progress_bar",
    "eval",
)
BUCKET_MODES = ("cap", "cycle", "all")
ALL_BINS_FORMS = ("auto", "separate", "ragged")
B2_SCHEDULES = ("none", "dngpu")
SATURATION_ADAPT = ("fixed", "dngpu")
LR_DECAYS = ("plateau", "dngpu")
LR_DECAY_ON = ("loss", "ce")
GRAD_NOISE_FORMS = ("kaiser", "dngpu")
# Keys added after workdirs were made with this config: a workdir without one of them
# resumes under a config holding its default (runkit.workdir.check_workdir_config).
ADDED_DEFAULTS = {
    "model.saturation_form": "mean",
    "model.output_classes": 0,
    "model.targets": "zero_extended",
    "optim.saturation_adapt": "fixed",
    "optim.saturation_adapt_every": 200,
    "optim.saturation_max": 1e-3,
    "optim.saturation_min": 1e-20,
    "optim.lr_decay": "plateau",
    "optim.lr_decay_on": "loss",
    "optim.grad_noise_form": "kaiser",
    "curriculum.fill_form": "top",
    "curriculum.train_set_size": 0,
    "curriculum.failure_share": 0.0,
    "curriculum.adversarial_set": "",
    "curriculum.adversarial_share": 0.0,
    "eval.confirm_every": 0,
    "eval.check_examples": (),
    "eval.final_from_check": False,
}
CONV_IMPLS = ("auto",) + model_lib.CONV_IMPLS
REMAT_POLICIES = ("auto",) + model_lib.REMAT_POLICIES


def default_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  # Task: one name, or a comma-separated base curriculum such as "bmul,qmul,mul".
  c.task = "badd"
  c.operand_mode = "uniform"
  c.seed = 0
  c.batch_size = 32
  c.num_train_steps = 200_000
  c.max_train_minutes = 0.0  # 0 = no wall-clock limit.

  m = c.model = ml_collections.ConfigDict()
  m.vocab_size = tasks_lib.VOCAB_SIZE
  m.output_classes = 0  # 0 = the shared vocabulary; k = symbols 0..k-1 only (DNGPU:
  # pad + base digits, 3 for binary)
  m.targets = "zero_extended"  # or "stripped" (DNGPU: high zeros are padding, every
  # position scored; see model.TARGET_FORMS)
  m.num_maps = 24
  m.height = 4
  m.kernel_width = 3  # along the sequence axis n
  m.kernel_height = 3  # along the height axis
  m.cgrus_per_step = 2
  m.steps_per_length = 1.0  # steps = round(steps_per_length * n)
  m.cutoff = 1.2
  m.gate_type = "cutoff_sigmoid"  # or "hard" (DNGPU hard sigmoid / hard tanh)
  m.diagonal_gates = False
  m.saturation_cost = 0.0  # weight of DNGPU's saturation cost (needs gate_type=hard);
  # with optim.saturation_adapt="dngpu", its starting value
  m.saturation_form = "mean"  # mean | dngpu (normalisation, see model.SATURATION_FORMS)
  m.candidate_dropout = 0.0  # DNGPU: dropout on the candidate
  m.dropout = 0.15  # state dropout rate = dropout * 8 / n
  m.num_sets = 6  # weight sets per CGRU position (6 x 2 CGRUs = 12)
  m.conv_impl = "auto"  # auto: "folded" on CPU ("grouped" from 128 maps), "xla" elsewhere
  m.remat = "auto"  # auto | none | every_step | save_dots | every_k | sqrt (auto on
  # CPU: save_dots while what it keeps fits in 2 GiB, else every_step; none elsewhere)
  m.remat_k = 8
  m.init_scale = 1.0
  m.embed_init = 1.7
  m.input_layer = "embed_tanh_conv"  # or "hard_tanh" (DNGPU)
  m.update_gate_bias = 1.0  # initial bias of u (DNGPU: 0.7)
  m.reset_gate_bias = 1.0  # initial bias of r (DNGPU: 0.5)

  r = c.relax = ml_collections.ConfigDict()
  r.end_sets = 1  # sets left after annealing (x 2 CGRUs = 2)
  r.pull_start = 0.0005
  r.pull_growth = 1.2  # pull *= growth at each curriculum advance
  r.pull_threshold = 0.1  # once pull >= this, an advance hard-averages the sets

  o = c.optim = ml_collections.ConfigDict()
  o.optimizer = "adam"
  o.lr = 1e-3
  o.eps = 1e-4
  o.b1 = 0.9
  o.b2 = 0.999
  o.b2_schedule = "none"  # or "dngpu": b2 = 1 - max(5e-4, 0.01 * 0.5^(step/2000))
  o.min_lr_scale = 0.0  # floor of the plateau lr scale (DNGPU: 1/60)
  o.grad_clip = 1.0
  o.plateau_factor = 0.98  # lr *= factor when the loss stops improving
  o.plateau_patience = 5  # in units of plateau_window steps
  o.plateau_window = 200
  o.grad_noise = 0.0  # 0 = off; std = grad_noise * sqrt(step^-0.55 * max(0, seq_err - 0.02))
  o.grad_noise_form = "kaiser"  # or "dngpu": truncated normal x lr x grad_noise (DNGPU: 1e-4)
  # Saturation-cost weight: fixed (model.saturation_cost) or DNGPU's adaptive rule (every
  # saturation_adapt_every steps, weight = clip(lr * mean CE / mean raw cost, min, max)).
  o.saturation_adapt = "fixed"
  o.saturation_adapt_every = 200
  o.saturation_max = 1e-3
  o.saturation_min = 1e-20
  # Learning-rate decay: optax reduce_on_plateau ("plateau") or DNGPU's rule ("dngpu":
  # every plateau_window steps, x plateau_factor when the window before the last two was
  # better than both), on the total loss or on the task loss (CE) only.
  o.lr_decay = "plateau"
  o.lr_decay_on = "loss"
  o.ema_decay = 0.0  # 0 = off; else checks and evaluations use an exponential
  # moving average of the parameters with this decay per step

  cu = c.curriculum = ml_collections.ConfigDict()
  cu.min_length = 3
  cu.start_length = 5  # first curriculum length (odd for arithmetic)
  cu.max_length = 41  # the training length: 20-digit operands
  cu.length_step = 2  # one more digit per operand
  cu.advance_every = 200
  cu.advance_threshold = 0.15  # advance when training sequence error < this
  cu.p_current = 0.6  # share of examples at the current length (rest uniform below)
  cu.long_every = 10  # every long_every-th step samples up to max_length (0 = never)
  cu.buckets = (5, 9, 13, 17, 21, 25, 31, 41)
  cu.bucket_mode = "cap"  # cap | cycle | all (see curriculum.sample_lengths)
  cu.fill_bins = False  # cycle: examples fill their bin as in "all" (DNGPU)
  cu.short_share = 0.05  # all / fill_bins: share of examples shorter than their bin
  cu.fill_form = "top"  # all / fill_bins: "top" (the bin's top length, short_share
  # shorter) or "dngpu" (DNGPU's mix of every odd length)
  cu.train_set_size = 0  # 0 = fresh examples every step; N = a fixed training set of
  # N examples per length (DNGPU: 10,000)
  # Training against failure (Price et al. 2016, section 4): a share of every batch
  # replaced by structured examples (tasks.HARD_FAMILIES: carry chains, runs of one digit,
  # zero-padded small and all-maximum operands), and a share drawn from a saved failure
  # set (failures.save_cases, e.g. found by failures.search) of cases that fit the bin.
  cu.failure_share = 0.0
  cu.adversarial_set = ""
  cu.adversarial_share = 0.0
  cu.late_bins = 0  # cycle: the last late_bins buckets join the cycle only
  cu.late_from_step = 0  # from this step on (short bins first, then longer ones)
  cu.all_bins_form = "auto"  # all: separate forwards per bin | ragged (one padded batch)
  cu.other_task_prob = 0.2  # base curriculum: train a random unsolved task
  cu.drop_back_threshold = 0.3  # a solved task whose error rises above this drops back one length

  e = c.eval = ml_collections.ConfigDict()
  e.lengths = (41, 201, 401)
  e.examples = (512, 512, 128)
  e.chunk_size = 64  # examples per compiled forward (memory cap)
  e.max_chunk_elements = 2_000_000  # cap on chunk*n*height*maps floats per forward
  e.every = 2000  # steps between long evaluations (once at max length)
  # Steps between the confirming checks of a seed that passed its last check (0 = at
  # ``every`` as the others): with ``pool.confirm_checks`` > 1 a seed that has just passed
  # is confirmed sooner, on fresh examples as every check.
  e.confirm_every = 0
  e.stop_when_solved = True  # stop once every eval length has 0 sequence errors
  e.solve_lengths = (201, 401)
  # A single run's solve check screens this many before the full count (its
  # pool.screen_examples; a pool config sets its own).
  e.screen_examples = 64
  e.check_examples = ()  # pools: examples per solve length in a check (empty = the
  # eval.examples of those lengths, as the final table)
  # A pool stopped at its first solved seed: the final table's rows at the solve lengths
  # are that seed's solving check (its last, on fresh examples at the stop step) rather
  # than a second evaluation of the same parameters; the other lengths are evaluated.
  e.final_from_check = False

  c.log_every = 100
  c.checkpoint_every = 1000
  c.keep_checkpoints = 3
  c.progress_bar = True
  return c


def _require(cond, msg):
  if not cond:
    raise ValueError(msg)


def task_names(config) -> tuple[str, ...]:
  names = tuple(t.strip() for t in str(config.task).split(",") if t.strip())
  _require(names, f"task={config.task!r} is empty; e.g. 'badd' or 'bmul,qmul,mul'")
  return names


def validate(config) -> None:
  """Raises ValueError for any bad value, naming it and what is allowed."""
  for name in task_names(config):
    tasks_lib.get_task(name)  # raises with the allowed names
  _require(
      config.operand_mode in tasks_lib.MODES,
      f"operand_mode={config.operand_mode!r}; allowed: {tasks_lib.MODES}",
  )
  _require(int(config.batch_size) >= 1, f"batch_size={config.batch_size} must be >= 1")
  _require(
      int(config.num_train_steps) >= 0, f"num_train_steps={config.num_train_steps} must be >= 0"
  )
  m = config.model
  _require(
      m.vocab_size == tasks_lib.VOCAB_SIZE,
      f"model.vocab_size={m.vocab_size} must equal tasks.VOCAB_SIZE={tasks_lib.VOCAB_SIZE}",
  )
  for k in (
      "num_maps",
      "height",
      "kernel_width",
      "kernel_height",
      "cgrus_per_step",
      "num_sets",
      "remat_k",
  ):
    _require(int(m[k]) >= 1, f"model.{k}={m[k]} must be >= 1")
  _require(
      int(m.kernel_width) % 2 == 1 and int(m.kernel_height) % 2 == 1,
      f"model kernel {m.kernel_width}x{m.kernel_height} must have odd sides (SAME padding)",
  )
  _require(
      m.gate_type in model_lib.GATE_TYPES,
      f"model.gate_type={m.gate_type!r}; allowed: {model_lib.GATE_TYPES}",
  )
  _require(
      m.input_layer in model_lib.INPUT_LAYERS,
      f"model.input_layer={m.input_layer!r}; allowed: {model_lib.INPUT_LAYERS}",
  )
  _require(m.conv_impl in CONV_IMPLS, f"model.conv_impl={m.conv_impl!r}; allowed: {CONV_IMPLS}")
  _require(m.remat in REMAT_POLICIES, f"model.remat={m.remat!r}; allowed: {REMAT_POLICIES}")
  _require(float(m.cutoff) >= 1.0, f"model.cutoff={m.cutoff} must be >= 1.0")
  _require(0.0 <= float(m.dropout) < 1.0, f"model.dropout={m.dropout} must be in [0, 1)")
  _require(
      0.0 <= float(m.candidate_dropout) < 1.0,
      f"model.candidate_dropout={m.candidate_dropout} must be in [0, 1)",
  )
  _require(
      m.get("targets", "zero_extended") in model_lib.TARGET_FORMS,
      f"model.targets={m.get('targets')!r}; allowed: {model_lib.TARGET_FORMS}",
  )
  tasks = [tasks_lib.get_task(n) for n in task_names(config)]
  if m.get("targets", "zero_extended") == "stripped":
    _require(
        all(t.is_arithmetic for t in tasks),
        f"model.targets='stripped' needs arithmetic tasks, got task={config.task!r}",
    )
  n_out = m.get("output_classes", 0)
  need = max(t.base for t in tasks) + 1
  _require(
      isinstance(n_out, int) and (n_out == 0 or need <= n_out <= tasks_lib.VOCAB_SIZE),
      f"model.output_classes={n_out!r} must be 0 (the shared vocabulary of "
      f"{tasks_lib.VOCAB_SIZE}) or in [{need}, {tasks_lib.VOCAB_SIZE}] (padding + the "
      f"digits of base {need - 1}) for task={config.task!r}",
  )
  _require(
      m.get("saturation_form", "mean") in model_lib.SATURATION_FORMS,
      f"model.saturation_form={m.get('saturation_form')!r}; allowed: "
      f"{model_lib.SATURATION_FORMS}",
  )
  _require(
      float(m.saturation_cost) >= 0.0, f"model.saturation_cost={m.saturation_cost} must be >= 0"
  )
  _require(
      float(m.saturation_cost) == 0.0 or m.gate_type == "hard",
      "model.saturation_cost > 0 needs model.gate_type='hard'",
  )
  _require(
      float(m.steps_per_length) > 0, f"model.steps_per_length={m.steps_per_length} must be > 0"
  )
  r = config.relax
  _require(
      1 <= int(r.end_sets) <= int(m.num_sets),
      f"relax.end_sets={r.end_sets} must be in [1, model.num_sets={m.num_sets}]",
  )
  _require(
      float(r.pull_start) >= 0 and float(r.pull_growth) >= 1.0,
      f"relax.pull_start={r.pull_start} must be >= 0 and pull_growth={r.pull_growth} >= 1",
  )
  o = config.optim
  _require(o.optimizer in OPTIMIZERS, f"optim.optimizer={o.optimizer!r}; allowed: {OPTIMIZERS}")
  _require(float(o.lr) > 0, f"optim.lr={o.lr} must be > 0")
  _require(
      o.b2_schedule in B2_SCHEDULES, f"optim.b2_schedule={o.b2_schedule!r}; allowed: {B2_SCHEDULES}"
  )
  _require(
      0.0 <= float(o.min_lr_scale) <= 1.0, f"optim.min_lr_scale={o.min_lr_scale} must be in [0, 1]"
  )
  _require(float(o.grad_clip) > 0, f"optim.grad_clip={o.grad_clip} must be > 0")
  _require(
      0 < float(o.plateau_factor) <= 1.0,
      f"optim.plateau_factor={o.plateau_factor} must be in (0, 1]",
  )
  _require(float(o.grad_noise) >= 0, f"optim.grad_noise={o.grad_noise} must be >= 0")
  _require(
      o.get("grad_noise_form", "kaiser") in GRAD_NOISE_FORMS,
      f"optim.grad_noise_form={o.get('grad_noise_form')!r}; allowed: {GRAD_NOISE_FORMS}",
  )
  _require(
      o.get("saturation_adapt", "fixed") in SATURATION_ADAPT,
      f"optim.saturation_adapt={o.get('saturation_adapt')!r}; allowed: {SATURATION_ADAPT}",
  )
  if o.get("saturation_adapt", "fixed") != "fixed":
    _require(
        int(o.saturation_adapt_every) >= 1,
        f"optim.saturation_adapt_every={o.saturation_adapt_every} must be >= 1",
    )
    _require(
        0.0 < float(o.saturation_min) <= float(o.saturation_max),
        f"need 0 < optim.saturation_min={o.saturation_min} <= optim.saturation_max="
        f"{o.saturation_max}",
    )
    _require(
        float(m.saturation_cost) > 0,
        f"optim.saturation_adapt={o.saturation_adapt!r} needs model.saturation_cost > 0 "
        f"(the starting weight), got {m.saturation_cost}",
    )
  _require(
      o.get("lr_decay", "plateau") in LR_DECAYS,
      f"optim.lr_decay={o.get('lr_decay')!r}; allowed: {LR_DECAYS}",
  )
  _require(
      o.get("lr_decay_on", "loss") in LR_DECAY_ON,
      f"optim.lr_decay_on={o.get('lr_decay_on')!r}; allowed: {LR_DECAY_ON}",
  )
  _require(int(o.plateau_window) >= 1, f"optim.plateau_window={o.plateau_window} must be >= 1")
  _require(
      0.0 <= float(o.get("ema_decay", 0.0)) < 1.0,
      f"optim.ema_decay={o.get('ema_decay')} must be in [0, 1) (0 = off)",
  )
  cu = config.curriculum
  for k in ("min_length", "start_length", "max_length"):
    _require(int(cu[k]) >= 3, f"curriculum.{k}={cu[k]} must be >= 3 (one-digit operands)")
  _require(
      int(cu.min_length) <= int(cu.start_length) <= int(cu.max_length),
      f"need curriculum.min_length={cu.min_length} <= start_length={cu.start_length} "
      f"<= max_length={cu.max_length}",
  )
  _require(int(cu.length_step) >= 1, f"curriculum.length_step={cu.length_step} must be >= 1")
  _require(int(cu.advance_every) >= 1, f"curriculum.advance_every={cu.advance_every} must be >= 1")
  _require(0.0 <= float(cu.p_current) <= 1.0, f"curriculum.p_current={cu.p_current} not in [0, 1]")
  buckets = tuple(int(b) for b in cu.buckets)
  _require(
      buckets == tuple(sorted(set(buckets))) and buckets and buckets[-1] >= int(cu.max_length),
      f"curriculum.buckets={cu.buckets} must be increasing and end >= max_length={cu.max_length}",
  )
  late = int(cu.get("late_bins", 0))
  _require(
      0 <= late < len(buckets),
      f"curriculum.late_bins={late} must be in [0, {len(buckets)}) "
      f"(the number of buckets={cu.buckets} held back until late_from_step)",
  )
  _require(
      int(cu.get("late_from_step", 0)) >= 0,
      f"curriculum.late_from_step={cu.get('late_from_step', 0)} must be >= 0",
  )
  _require(
      late == 0 or cu.bucket_mode == "cycle",
      f"curriculum.late_bins={late} needs bucket_mode='cycle', got {cu.bucket_mode!r}",
  )
  _require(
      cu.bucket_mode in BUCKET_MODES,
      f"curriculum.bucket_mode={cu.bucket_mode!r}; allowed: {BUCKET_MODES}",
  )
  _require(
      cu.all_bins_form in ALL_BINS_FORMS,
      f"curriculum.all_bins_form={cu.all_bins_form!r}; allowed: {ALL_BINS_FORMS}",
  )
  _require(
      0.0 <= float(cu.short_share) <= 1.0,
      f"curriculum.short_share={cu.short_share} must be in [0, 1]",
  )
  _require(
      cu.get("fill_form", "top") in curriculum_lib.FILL_FORMS,
      f"curriculum.fill_form={cu.get('fill_form')!r}; allowed: {curriculum_lib.FILL_FORMS}",
  )
  n_set = cu.get("train_set_size", 0)
  _require(
      isinstance(n_set, int) and n_set >= 0,
      f"curriculum.train_set_size={n_set!r} must be an int >= 0 (0 = fresh examples)",
  )
  _require(
      n_set == 0 or len(task_names(config)) == 1,
      f"curriculum.train_set_size={n_set} needs a single task, got task={config.task!r}",
  )
  _validate_failure_training(config)
  e = config.eval
  _require(
      len(e.lengths) == len(e.examples),
      f"eval.lengths={e.lengths} and eval.examples={e.examples} must have the same length",
  )
  _require(all(int(n) >= 3 for n in e.lengths), f"eval.lengths={e.lengths} must all be >= 3")
  _require(all(int(k) >= 1 for k in e.examples), f"eval.examples={e.examples} must all be >= 1")
  _require(
      set(int(n) for n in e.solve_lengths) <= set(int(n) for n in e.lengths),
      f"eval.solve_lengths={e.solve_lengths} must be a subset of eval.lengths={e.lengths}",
  )
  ce = tuple(e.get("check_examples", ()) or ())
  _require(
      not ce or (len(ce) == len(e.solve_lengths) and all(int(k) >= 1 for k in ce)),
      f"eval.check_examples={ce} must be empty or one count >= 1 per solve length "
      f"{tuple(e.solve_lengths)}",
  )
  _require(int(e.screen_examples) >= 1, f"eval.screen_examples={e.screen_examples} must be >= 1")
  _require(int(e.chunk_size) >= 1, f"eval.chunk_size={e.chunk_size} must be >= 1")
  ffc = e.get("final_from_check", False)
  _require(isinstance(ffc, bool), f"eval.final_from_check={ffc!r} must be True or False")
  ce_every = int(e.get("confirm_every", 0))
  _require(
      ce_every == 0 or 1 <= ce_every <= int(e.every),
      f"eval.confirm_every={e.get('confirm_every')} must be 0 (off) or in [1, "
      f"eval.every={e.every}]",
  )
  for k in ("log_every", "checkpoint_every", "keep_checkpoints"):
    _require(int(config[k]) >= 1, f"{k}={config[k]} must be >= 1")


def _validate_failure_training(config) -> None:
  cu = config.curriculum
  share = float(cu.get("failure_share", 0.0))
  adv_share = float(cu.get("adversarial_share", 0.0))
  adv_set = str(cu.get("adversarial_set", "") or "")
  _require(0.0 <= share < 1.0, f"curriculum.failure_share={share} must be in [0, 1)")
  _require(0.0 <= adv_share < 1.0, f"curriculum.adversarial_share={adv_share} must be in [0, 1)")
  _require(
      share + adv_share < 1.0,
      f"curriculum.failure_share + adversarial_share = {share + adv_share} must be < 1",
  )
  if not (share or adv_share or adv_set):
    return
  names = task_names(config)
  _require(
      len(names) == 1 and tasks_lib.get_task(names[0]).is_arithmetic,
      f"curriculum.failure_share / adversarial_share need one arithmetic task, got "
      f"task={config.task!r}",
  )
  _require(
      int(cu.get("train_set_size", 0)) == 0,
      "curriculum.failure_share / adversarial_share need fresh examples "
      f"(curriculum.train_set_size=0), got {cu.get('train_set_size')}",
  )
  _require(
      bool(adv_set) == bool(adv_share),
      f"curriculum.adversarial_set={adv_set!r} and adversarial_share={adv_share} go "
      "together: give both or neither",
  )
  if adv_set:
    from neuralgpu import failures  # reads and checks the file (no compile)

    failures.load_cases(adv_set, names[0])
