r"""Length generalisation of binary addition per seed, for variants of the fast model.

For each variant, trains a pool of seeds (one program, `neuralgpu.pool`) and, at
each checkpoint step, evaluates every seed at lengths 201 and 401 (digit and
sequence error). Prints one JSON line per checkpoint and writes all of them to
``--out``. Meant for an accelerator (a pool of 8 costs about one seed's step there);
on CPU use small ``--checks``.

  python -m experiments.studies.sweep_badd_pools --variants=fast+d0.5,fast+2c+d0.3 \
      --checks=1000,2000,3000,5000 --seeds=8 --budget_s=105 --out=/tmp/sweep.json

A variant is ``fast`` or ``dngpu`` (configs of ``experiments/configs/ngpu.py``)
followed by ``+``-joined modifiers, applied in order. Any modifier may be a dotted
``key=value`` override in the language of ``--config.key=value``
(``runkit.config_args.apply_overrides``), e.g.
``default+satadapt+curriculum.failure_share=0.2``; the named ones below are shorthands
for fixed sets of such overrides (``NAMED``, ``NUMBERED``): ``d<p>`` candidate dropout p, ``2c`` two gated
units per step, ``m<n>`` n maps, ``lr<x>`` learning rate, ``b<n>`` batch size,
``long`` training lengths up to 81 (buckets 9..81), ``cap`` cap-mode buckets,
``max<n>`` only the bins up to length n, ``bins<a>-<b>-...`` these bins, ``sat<x>``
saturation cost weight x, ``late<s>x<k>`` the last k bins join the cycle only from
step s on, ``ema<x>`` a moving average of the parameters with decay x, ``hard<p>`` a share p of
every batch made of the structured failure cases (``curriculum.failure_share``)
(evaluated beside the raw ones), ``cyc`` one bin per step with examples filling it,
``all`` every DNGPU bin every step, ``adamax`` optax AdaMax + global-norm clip, ``emb``
Kaiser's input layer, ``to41`` all of DNGPU's bins (8..41), ``set<N>`` a fixed training
set of N examples per length; DNGPU's training settings one at a time: ``satadapt``
(adaptive saturation weight with DNGPU's normalisation), ``satform`` (the normalisation
only), ``mix`` (DNGPU's lengths within a bin), ``ceplateau`` (lr decay on the task loss),
``lrdngpu`` (DNGPU's lr decay rule on the task loss), ``gnoise`` (DNGPU's gradient noise),
``noema`` (no parameter average), ``strip`` (DNGPU's stripped targets). Bases: ``fast``, ``dngpu``, ``dngpu_cycle``,
``dngpu_short`` (= ``default``, the main job's recipe) and ``dngpu_exact``.
"""

import json
import re
import time

from absl import app
from absl import flags

from neuralgpu import config as config_lib
from runkit import config_args

FLAGS = flags.FLAGS


def define_flags():
  """Defined only when run as a binary, so tests can import the helpers."""
  flags.DEFINE_list("variants", ["fast"], "Variants to train (see the module docstring).")
  flags.DEFINE_list("checks", ["1000", "2000"], "Steps at which every seed is evaluated.")
  flags.DEFINE_integer("seeds", 8, "Seeds per variant (one pool).")
  flags.DEFINE_integer("first_seed", 0, "The pool's seeds are first_seed, first_seed + 1, ...")
  flags.DEFINE_float(
      "budget_s",
      120.0,
      "No new checkpoint segment starts after this many "
      "seconds of a variant (compile included).",
  )
  flags.DEFINE_list("test", ["201:64", "401:32"], "length:examples evaluated per seed.")
  flags.DEFINE_string("out", "", "JSON file for the results (rewritten after each check).")


BASES = ("fast", "dngpu", "dngpu_cycle", "dngpu_short", "dngpu_exact", "default")


# Named modifiers: the config overrides each stands for (dotted keys, as --config.x=y).
# One of DNGPU's training settings each (Freivalds & Liepins 2017) ...
DNGPU_OPTIONS = {
    # adaptive saturation weight with DNGPU's normalisation, from DNGPU's starting weight
    "satadapt": {
        "model.saturation_form": "dngpu",
        "model.saturation_cost": 1e-3,
        "optim.saturation_adapt": "dngpu",
    },
    "satform": {"model.saturation_form": "dngpu"},  # the normalisation, fixed weight
    "mix": {"curriculum.fill_form": "dngpu"},  # DNGPU's lengths within a bin
    "ceplateau": {"optim.lr_decay_on": "ce"},  # lr decay sees the task loss only
    "lrdngpu": {  # DNGPU's lr decay rule, on the task loss
        "optim.lr_decay": "dngpu",
        "optim.lr_decay_on": "ce",
        "optim.plateau_window": 200,
        "optim.plateau_factor": 0.7,
    },
    "gnoise": {"optim.grad_noise_form": "dngpu", "optim.grad_noise": 1e-4},
    "noema": {"optim.ema_decay": 0.0},  # checks on the raw parameters
}
# ... and the others.
NAMED = {
    **DNGPU_OPTIONS,
    # one bin per step, cycling, examples filling their bin
    "cyc": {"curriculum.bucket_mode": "cycle", "curriculum.fill_bins": True},
    "cap": {"curriculum.bucket_mode": "cap"},
    "2c": {"model.cgrus_per_step": 2},  # two gated units per step
    # optax AdaMax with global-norm clipping (the fast default)
    "adamax": {
        "optim.optimizer": "adamax",
        "optim.lr": 0.005,
        "optim.b2_schedule": "none",
        "optim.grad_clip": 1.0,
    },
    # Kaiser's input layer (embedding, tanh, 1x1 conv)
    "emb": {"model.input_layer": "embed_tanh_conv", "model.embed_init": 1.7},
}
_NUMBER = r"([0-9]*\.?[0-9]+(?:e-?[0-9]+)?)"
# Modifiers with a number: (pattern, the key it sets, its type); anchored, so that the
# order does not matter.
NUMBERED = (
    (rf"d{_NUMBER}", "model.candidate_dropout", float),
    (r"m([0-9]+)", "model.num_maps", int),
    (rf"lr{_NUMBER}", "optim.lr", float),
    (r"b([0-9]+)", "batch_size", int),
    (rf"sat{_NUMBER}", "model.saturation_cost", float),
    (rf"ema{_NUMBER}", "optim.ema_decay", float),
    (rf"hard{_NUMBER}", "curriculum.failure_share", float),  # structured failure cases
    (r"set([0-9]+)", "curriculum.train_set_size", int),  # a fixed training set
)
MODIFIER_HELP = (
    "a dotted key=value (the --config.x=y language), d<p>, m<n>, lr<x>, b<n>, sat<x>, "
    "ema<x>, hard<p>, set<N>, max<n>, bins<a>-<b>-..., late<step>x<k>, long, to41, strip, "
    + ", ".join(NAMED)
)


def _bins_modifier(part: str, c, ngpu):
  """The modifiers that choose training bins (``ngpu.train_on_bins``), else None."""
  if part == "to41":  # all of DNGPU's bins, up to length 41
    return ngpu.DNGPU_BINS
  if part == "long":
    return (9, 17, 25, 33, 41, 61, 81)
  m = re.fullmatch(r"bins([0-9]+(?:-[0-9]+)*)", part)  # explicit bins, bins8-12-25-41
  if part.startswith("bins") and not m:
    raise ValueError(f"modifier {part!r}: bins are '-'-joined lengths, e.g. bins8-12-25-41")
  if m:
    return tuple(int(x) for x in m.group(1).split("-"))
  m = re.fullmatch(r"max([0-9]+)", part)  # DNGPU's bins up to this length only
  if m:
    top = int(m.group(1))
    bins = tuple(b for b in c.curriculum.buckets if b <= top)
    if not bins or bins[-1] != top:
      raise ValueError(
          f"modifier {part!r}: the length must be one of the bins " f"{tuple(c.curriculum.buckets)}"
      )
    return bins
  return None


def apply_modifier(c, part: str, ngpu) -> None:
  """One ``+``-joined modifier of a variant name, applied to ``c`` in place."""
  if "=" in part:
    config_args.apply_overrides(c, [part])
    return
  if part in NAMED:
    for key, value in NAMED[part].items():
      config_args.set_dotted(c, key, value)
    return
  if part == "strip":  # DNGPU's targets (high zeros as padding, base + 1 classes)
    ngpu.strip_targets(c)
    return
  if part == "all":  # every DNGPU bin every step, examples filling their bin
    config_args.set_dotted(c, "curriculum.bucket_mode", "all")
    config_args.set_dotted(c, "curriculum.buckets", ngpu.DNGPU_BINS)
    return
  bins = _bins_modifier(part, c, ngpu)
  if bins is not None:
    ngpu.train_on_bins(c, bins)
    return
  m = re.fullmatch(r"late([0-9]+)x([0-9]+)", part)  # the last k bins join from step on
  if part.startswith("late") and not m:
    raise ValueError(f"modifier {part!r}: expected late<step>x<k>, e.g. late5000x1")
  if m:
    c.curriculum.late_from_step, c.curriculum.late_bins = int(m.group(1)), int(m.group(2))
    return
  for pattern, key, kind in NUMBERED:
    m = re.fullmatch(pattern, part)
    if m:
      config_args.set_dotted(c, key, kind(m.group(1)))
      return
  raise ValueError(f"unknown modifier {part!r}; allowed: {MODIFIER_HELP}")


def variant_config(name: str, task: str = "badd"):
  """A single-seed config of ``task``: a base variant of ``experiments/configs/ngpu.py``
  (``default`` = the main job's ``dngpu_short``) with ``name``'s ``+``-joined modifiers
  applied in order; ValueError naming an unknown one."""
  from experiments.configs import ngpu

  parts = name.split("+")
  if parts[0] not in BASES:
    raise ValueError(f"variant {name!r} must start with one of {BASES}")
  base = "dngpu_short" if parts[0] == "default" else parts[0]
  c = ngpu.get_config(f"variant={base},task={task},seeds=1")
  for part in parts[1:]:
    try:
      apply_modifier(c, part, ngpu)
    except ValueError as e:
      raise ValueError(f"variant {name!r}: {e}") from None
  config_lib.validate(c)
  return c


def parse_checks(checks) -> list[int]:
  out = [int(x) for x in checks]
  if not out or out != sorted(set(out)) or out[0] < 1:
    raise ValueError(f"checks must be increasing positive steps, got {list(checks)}")
  return out


def parse_tests(tests) -> list[tuple[int, int]]:
  out = []
  for t in tests:
    n, _, k = t.partition(":")
    if not (n.isdigit() and k.isdigit() and int(n) > 0 and int(k) > 0):
      raise ValueError(f"test entries must be length:examples, got {t!r}")
    out.append((int(n), int(k)))
  return out


def run(
    variants, checks, seeds: int, budget_s: float, tests, out: str = "", first_seed: int = 0
) -> dict:
  """Trains one pool per variant; returns {variant: [row per checkpoint]}."""
  checks, tests = parse_checks(checks), parse_tests(tests)
  configs = {v: variant_config(v) for v in variants}  # fail before compiling

  import jax
  from neuralgpu import evaluate, pool, tasks, train
  from neuralgpu import resolve as resolve_lib

  task = tasks.get_task("badd")
  res = {}
  for name, c in configs.items():
    mcfg = resolve_lib.resolve_model_config(c)
    ps = pool.init_pool(list(range(first_seed, first_seed + seeds)), c, 1)
    steps = pool.PoolStepCache(c, (task,), mcfg, seed_loop="auto")
    t0, step, rows = time.time(), 0, []
    for target in checks:
      if time.time() - t0 >= budget_s:
        break
      ps, _ = pool.run_pool_steps(ps, c, steps, step, target - step)
      step = target
      host = jax.device_get(ps)
      met = pool.per_seed_metrics(host.train.metrics)
      ps = pool.zero_pool_metrics(ps)
      tt = time.time() - t0
      row = {
          "step": step,
          "t": round(tt, 1),
          "train_seq": [round(m["train_seq_error"], 3) for m in met],
      }
      which = [("", lambda ts: ts.params)]
      if train.ema_decay(c) > 0:
        which.append(("ema_", train.eval_params))
      states = [pool.seed_state(host, i) for i in range(seeds)]
      for n, k in tests:
        for prefix, params_of in which:
          ev = [
              evaluate.evaluate_length(
                  jax.random.key(5), params_of(ts), ts.relax.active_sets, mcfg, c.eval, task, n, k
              )
              for ts in states
          ]
          row[f"{prefix}seq{n}"] = [round(float(r["seq_error"]), 3) for r in ev]
          row[f"{prefix}dig{n}"] = [round(float(r["digit_error"]), 4) for r in ev]
      row["eval_t"] = round(time.time() - t0 - tt, 1)
      rows.append(row)
      print(name, json.dumps(row), flush=True)
      res[name] = rows
      if out:
        with open(out, "w") as f:
          json.dump(res, f)
  return res


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  try:
    run(
        FLAGS.variants,
        FLAGS.checks,
        FLAGS.seeds,
        FLAGS.budget_s,
        FLAGS.test,
        FLAGS.out,
        FLAGS.first_seed,
    )
  except ValueError as e:
    raise app.UsageError(str(e)) from None


if __name__ == "__main__":
  define_flags()
  app.run(main)
