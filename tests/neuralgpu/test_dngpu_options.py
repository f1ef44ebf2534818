"""DNGPU's training settings as options (Freivalds & Liepins 2017, their code): the
adaptive saturation weight, its normalisation and the ragged all-bins form, the lr decay
rule, lengths within a bin, the fixed training set, gradient noise; each worked by hand
or against an independent form."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.configs import ngpu
from neuralgpu import config as config_lib
from neuralgpu import curriculum
from neuralgpu import model as model_lib
from neuralgpu import optim
from neuralgpu import tasks as tasks_lib
from neuralgpu import train
from neuralgpu import batches as batches_lib
from neuralgpu import resolve as resolve_lib
from neuralgpu import saturation as saturation_lib

BADD = tasks_lib.get_task("badd")


# ---------------------------------------------------------------------------
# Adaptive saturation weight.
# ---------------------------------------------------------------------------
def _adapt_cfg(every=2, lr=0.01, smin=1e-20, smax=1.0, start=1e-3):
  c = ngpu.get_config("variant=smoke")
  c.model.saturation_cost = start
  c.model.saturation_form = "dngpu"
  c.optim.saturation_adapt = "dngpu"
  c.optim.saturation_adapt_every = every
  c.optim.saturation_min = smin
  c.optim.saturation_max = smax
  c.optim.lr = lr
  return c


def test_saturation_update_two_windows_by_hand():
  """w' = clip(lr * mean CE * w / (w * mean raw + 1e-20)) at the end of each window."""
  c = _adapt_cfg(every=2, lr=0.01, smax=2e-3)
  st = saturation_lib.saturation_init(c)
  assert float(st.weight) == pytest.approx(1e-3)
  # Window 1: CE 0.5, 0.3 (mean 0.4); raw 2, 4 (mean 3): 0.01 * 0.4 / 3 = 1.3333e-3.
  st = saturation_lib.saturation_update(st, 0.5, 2.0, 0.01, c)
  assert float(st.weight) == pytest.approx(1e-3) and int(st.count) == 1
  st = saturation_lib.saturation_update(st, 0.3, 4.0, 0.01, c)
  assert float(st.weight) == pytest.approx(0.004 / 3, rel=1e-6)
  assert int(st.count) == 0 and float(st.ce_sum) == 0.0 and float(st.raw_sum) == 0.0
  # Window 2, at lr 0.005: CE 0.2, 0.2; raw 0.25, 0.25: 0.005 * 0.2 / 0.25 = 4e-3 -> cap 2e-3.
  st = saturation_lib.saturation_update(st, 0.2, 0.25, 0.005, c)
  st = saturation_lib.saturation_update(st, 0.2, 0.25, 0.005, c)
  assert float(st.weight) == pytest.approx(2e-3)
  # The floor: a zero CE gives the minimum weight.
  c.optim.saturation_min = 1e-6
  st = saturation_lib.saturation_update(
      saturation_lib.saturation_update(st, 0.0, 1.0, 0.01, c), 0.0, 1.0, 0.01, c
  )
  assert float(st.weight) == pytest.approx(1e-6)


def test_adaptive_weight_in_the_train_step():
  """After `every` steps the weight equals DNGPU's rule applied to those steps' CE and
  raw cost (read back from the logged loss = CE + w * raw)."""
  c = _adapt_cfg(every=2, lr=0.01)
  c.model.num_maps = 6
  c.model.init_scale = 4.0  # saturating pre-activations, so the cost is not 0
  st0 = train.init_state(jax.random.key(0), c, 1)
  step = jax.jit(train.make_train_step(c, (BADD,), 9))
  st1 = step(st0)
  assert float(st1.saturation.weight) == pytest.approx(1e-3)
  st2 = step(st1)
  ce, loss = float(st2.metrics["ce"]), float(st2.metrics["loss"])
  raw_sum = (loss - ce) / 1e-3  # two steps, both at w = 1e-3 (the pull is 0: one set)
  assert raw_sum > 1e-3  # the cost is not vacuous
  want = 0.01 * (ce / 2) / (raw_sum / 2)
  assert float(st2.saturation.weight) == pytest.approx(want, rel=1e-4)
  # Off: no saturation state, and the checkpointed state is unchanged.
  assert train.init_state(jax.random.key(0), ngpu.get_config("variant=smoke"), 1).saturation is None


# ---------------------------------------------------------------------------
# Saturation cost: DNGPU's normalisation, and ragged == separate.
# ---------------------------------------------------------------------------
def _sat_model_cfg(form):
  c = ngpu.get_config("variant=dngpu")
  m = c.model
  m.num_maps, m.candidate_dropout, m.saturation_cost = 6, 0.0, 0.01
  m.saturation_form, m.init_scale, m.conv_impl, m.remat = form, 4.0, "shifted", "none"
  return m


def _raw_dngpu_cost(params, inputs, mcfg):
  """DNGPU's raw cost for one bin, written out: the sum of relu(|x| - 0.9) over every
  element of the input layer (x L) and of every gate's pre-activations at every step,
  / (L^2 B) (their createLoss and createGraph)."""
  b, n = inputs.shape
  relu = lambda x: jnp.sum(jax.nn.relu(jnp.abs(x) - 0.9))
  emb = jnp.take(params["embed"], inputs, axis=0)
  pre = emb + params["in_b"]
  total = relu(pre) * n
  mask = (inputs > 0).astype(jnp.float32)[:, :, None, None]
  s = jnp.zeros((b, n, 1, mcfg.num_maps)).at[:, :, 0, :].set(model_lib.hard_tanh(pre)) * mask
  w = {k: params[k][0, 0] for k in model_lib.CGRU_KEYS}
  m = mcfg.num_maps
  for _ in range(n):
    g = model_lib.conv_shifted(s, w["gate_w"], 3, 1) + w["gate_b"]
    r = model_lib.hard_sigmoid(g[..., m:])
    c = model_lib.conv_shifted(r * s, w["cand_w"], 3, 1) + w["cand_b"]
    total += relu(g) + relu(c)
    u = model_lib.hard_sigmoid(g[..., :m])
    s = (u * model_lib.diagonal_shift(s) + (1 - u) * model_lib.hard_tanh(c)) * mask
  return total / (n * n * b)


def test_dngpu_saturation_form_matches_their_formula():
  mcfg = _sat_model_cfg("dngpu")
  params = model_lib.init_params(jax.random.key(1), mcfg)
  inputs, _ = tasks_lib.make_batch(jax.random.key(2), BADD, jnp.array([7, 7, 7]), 7)
  _, sat = model_lib.apply(params, inputs, mcfg)
  want = _raw_dngpu_cost(params, inputs, mcfg)
  assert float(want) > 0.1
  np.testing.assert_allclose(float(sat), float(want), rtol=1e-5)


@pytest.mark.parametrize("form", ["mean", "dngpu"])
def test_ragged_saturation_cost_equals_per_bin_form(form):
  """Examples of bins 5, 8 and 11 padded to 11 with their own step counts and widths
  have the per-bin cost of each bin run alone at its own width (mean over bins)."""
  mcfg = _sat_model_cfg(form)
  params = model_lib.init_params(jax.random.key(1), mcfg)
  bins = (5, 8, 11)
  per_bin, xs = [], []
  for i, b in enumerate(bins):
    x, y = tasks_lib.make_batch(jax.random.key(10 + i), BADD, jnp.full((2,), b - (b % 2 == 0)), b)
    pos = (x > 0) | (y > 0)
    per_bin.append(float(model_lib.apply(params, x, mcfg, positions=pos)[1]))
    xs.append((jnp.pad(x, ((0, 0), (0, 11 - b))), jnp.pad(pos, ((0, 0), (0, 11 - b))), b))
  inputs = jnp.concatenate([x for x, _, _ in xs])
  pos = jnp.concatenate([p for _, p, _ in xs])
  own = jnp.concatenate([jnp.full((2,), b, jnp.int32) for *_, b in xs])
  _, sat = model_lib.apply(params, inputs, mcfg, positions=pos, step_counts=own, widths=own)
  assert min(per_bin) > 1e-3
  np.testing.assert_allclose(float(sat), np.mean(per_bin), rtol=1e-5)


# The main job's form (dngpu) in the default suite; the mean form is slow (~19 s).
@pytest.mark.parametrize("form", [pytest.param("mean", marks=pytest.mark.slow), "dngpu"])
def test_all_bins_ragged_loss_equals_separate_with_saturation(form):
  """The train step's loss (CE + saturation) and update agree between the forms."""
  out = []
  for all_form in ("separate", "ragged"):
    c = ngpu.get_config("variant=dngpu")
    c.model.num_maps, c.model.candidate_dropout, c.model.init_scale = 6, 0.0, 4.0
    c.model.saturation_cost, c.model.saturation_form = 0.05, form
    c.batch_size = 3
    c.curriculum.buckets = (5, 8, 11)
    c.curriculum.max_length = c.curriculum.start_length = 11
    c.curriculum.all_bins_form = all_form
    st = train.init_state(jax.random.key(0), c, 1)
    out.append(jax.jit(train.make_train_step(c, (BADD,), 11))(st))
  a, b = out
  assert float(a.metrics["loss"]) - float(a.metrics["ce"]) > 1e-4  # saturation term present
  np.testing.assert_allclose(a.metrics["loss"], b.metrics["loss"], rtol=1e-5)
  np.testing.assert_allclose(a.metrics["ce"], b.metrics["ce"], rtol=1e-5)
  chex.assert_trees_all_close(a.params, b.params, rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------------------
# Learning-rate decay: DNGPU's rule, on the task loss.
# ---------------------------------------------------------------------------
def test_dngpu_lr_decay_rule_by_hand():
  """Decay when the window before the last two beats both (min(h[-2:]) > min(h[-3:]))."""
  tx = optim.dngpu_lr_decay(every=1, factor=0.7, min_scale=0.4)
  g = {"w": jnp.ones(())}
  st = tx.init(g)
  seen = []
  for v in (5.0, 4.0, 4.5, 4.2, 4.1, 4.3, 4.3, 4.6, 4.6):
    u, st = tx.update(g, st, value=v)
    seen.append((float(u["w"]), float(st.scale)))
  scales = [s for _, s in seen]
  # history after each value: [.., 5], [.., 5, 4], [5, 4, 4.5], [4, 4.5, 4.2] -> decay,
  # [4.5, 4.2, 4.1], [4.2, 4.1, 4.3], [4.1, 4.3, 4.3] -> decay, [4.3, 4.3, 4.6] (4.3 = min),
  # [4.3, 4.6, 4.6] -> decay, floored at 0.4.
  assert scales == pytest.approx([1, 1, 1, 0.7, 0.7, 0.7, 0.49, 0.49, 0.4])
  # An update uses the scale from before its own window's decision.
  assert [u for u, _ in seen] == pytest.approx([1, 1, 1, 1, 0.7, 0.7, 0.7, 0.49, 0.49])


def test_dngpu_lr_decay_windows_and_ce_only():
  tx = optim.dngpu_lr_decay(every=2, factor=0.5, min_scale=0.0)
  st = tx.init({"w": jnp.ones(())})
  for v in (1.0, 1.0, 3.0, 3.0, 2.0, 2.0):  # window means 1, 3, 2 -> decay at the third
    _, st = tx.update({"w": jnp.ones(())}, st, value=v)
  assert float(st.scale) == 0.5
  np.testing.assert_allclose(st.hist, [1.0, 3.0, 2.0])
  # In the train step the rule sees the CE when lr_decay_on="ce" (the loss otherwise).
  c = ngpu.get_config("variant=smoke")
  c.optim.lr_decay, c.optim.lr_decay_on, c.optim.plateau_window = "dngpu", "ce", 1
  st = jax.jit(train.make_train_step(c, (BADD,), 9))(train.init_state(jax.random.key(0), c, 1))
  dec = [
      x
      for x in jax.tree.leaves(st.opt_state, is_leaf=lambda x: hasattr(x, "hist"))
      if hasattr(x, "hist")
  ][0]
  np.testing.assert_allclose(dec.hist[-1], st.metrics["ce"], rtol=1e-6)
  assert abs(float(st.metrics["loss"]) - float(st.metrics["ce"])) > 1e-6


# ---------------------------------------------------------------------------
# Lengths within a bin, fixed training set, gradient noise.
# ---------------------------------------------------------------------------
def test_dngpu_length_probs_by_hand():
  bins = (8, 12, 16, 20, 25)
  p8 = curriculum.dngpu_length_probs(bins, 8, 3, 2, 10_000)
  np.testing.assert_allclose(p8[[3, 5, 7]], np.array([4, 16, 64]) / 84)
  p25 = curriculum.dngpu_length_probs(bins, 25, 3, 2, 10_000)
  # Own lengths 21, 23, 25 (10,000 examples each): 20/21 x 1/3 each; 1/21 from the bins
  # below (uniform over the 4), e.g. length 19 = bin 20's (19 only, prev bin 16) share.
  np.testing.assert_allclose(p25[[21, 23, 25]], 20 / 63)
  p20 = curriculum.dngpu_length_probs(bins, 20, 3, 2, 10_000)
  # Length 19 only from bin 20 (own lengths 17 and 19, half each): 1/21 x 1/4 x 1/2.
  np.testing.assert_allclose(p25[19], 1 / 168)
  assert p25.sum() == pytest.approx(1.0) and p20.sum() == pytest.approx(1.0)
  assert np.all(p25[::2] == 0)  # even lengths never occur
  # A fixed set of 16 per length flattens the short lengths' weights.
  p8s = curriculum.dngpu_length_probs(bins, 8, 3, 2, 16)
  np.testing.assert_allclose(p8s[[3, 5, 7]], np.array([4, 16, 16]) / 36)
  with pytest.raises(ValueError, match="bucket=9"):
    curriculum.dngpu_length_probs(bins, 9, 3, 2, 10)


def test_fill_lengths_dngpu_samples_the_mixture():
  c = ngpu.get_config("variant=dngpu_short,seeds=1")
  c.curriculum.fill_form = "dngpu"
  lengths = np.asarray(curriculum.fill_lengths(jax.random.key(0), 20_000, jnp.int32(25), c, 25))
  want = curriculum.dngpu_length_probs(c.curriculum.buckets, 25, 3, 2, 10_000)
  freq = np.bincount(lengths, minlength=26) / lengths.size
  np.testing.assert_allclose(freq, want, atol=0.01)
  # The curriculum cap: nothing longer than cur.
  capped = np.asarray(curriculum.fill_lengths(jax.random.key(1), 500, jnp.int32(21), c, 25))
  assert capped.max() <= 21 and set(np.unique(capped)) <= set(range(3, 22, 2))


def test_fixed_training_set_recurs():
  """With a set of N examples per length the same examples recur; index i of length l is
  one fixed example."""
  lengths = jnp.full((64,), 9, jnp.int32)
  set_key = jax.random.key(7)
  x1, y1 = batches_lib.make_batch_for(
      jax.random.key(1), (BADD,), 0, lengths, 9, "uniform", set_key, 3
  )
  x2, _ = batches_lib.make_batch_for(
      jax.random.key(2), (BADD,), 0, lengths, 9, "uniform", set_key, 3
  )
  rows = {tuple(r) for r in np.asarray(x1)} | {tuple(r) for r in np.asarray(x2)}
  assert len(rows) <= 3  # 128 draws from a set of 3
  fresh, _ = batches_lib.make_batch_for(jax.random.key(1), (BADD,), 0, lengths, 9, "uniform")
  assert len({tuple(r) for r in np.asarray(fresh)}) > 30
  for row, target in zip(np.asarray(x1), np.asarray(y1)):  # targets still right
    a, b, c = tasks_lib.decode_example(BADD, row, target)
    assert c == a + b
  # In the train step: a set of 1 per length gives the same batch at every step.
  c = ngpu.get_config("variant=smoke")
  c.curriculum.train_set_size = 1
  st = train.init_state(jax.random.key(0), c, 1)
  step = jax.jit(train.make_train_step(c, (BADD,), 9))
  assert int(step(st).step) == 1


def test_dngpu_gradient_noise_scale():
  g = {"a": jnp.zeros((200, 50)), "b": jnp.zeros((1000,))}
  noisy = optim.add_grad_noise(
      g, jax.random.key(0), "dngpu", 1e-4, 0.01, jnp.int32(0), jnp.float32(1.0)
  )
  z = np.concatenate([np.ravel(noisy["a"]), np.ravel(noisy["b"])]) / (1e-4 * 0.01)
  assert np.abs(z).max() <= 2.0 + 1e-4
  assert np.std(z) == pytest.approx(0.8796, rel=0.03)  # std of N(0,1) truncated at 2
  k = optim.add_grad_noise(
      g, jax.random.key(0), "kaiser", 0.5, 0.01, jnp.int32(0), jnp.float32(0.02)
  )
  assert float(jnp.max(jnp.abs(k["a"]))) == 0.0  # Kaiser's noise fades at 2% error


# ---------------------------------------------------------------------------
# Configs.
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path,value,match",
    [
        ("model.saturation_form", "sum", "'sum'"),
        ("optim.saturation_adapt", "auto", "'auto'"),
        ("optim.lr_decay", "cosine", "'cosine'"),
        ("optim.lr_decay_on", "sat", "'sat'"),
        ("optim.grad_noise_form", "uniform", "'uniform'"),
        ("curriculum.fill_form", "middle", "'middle'"),
        ("curriculum.train_set_size", -3, "-3"),
        ("optim.plateau_window", 0, "plateau_window=0"),
    ],
)
def test_bad_dngpu_option_values_are_named(path, value, match):
  c = ngpu.get_config("variant=dngpu_short,seeds=1")
  section, key = path.split(".")
  c[section][key] = value
  with pytest.raises(ValueError, match=match):
    config_lib.validate(c)


def test_adaptive_weight_needs_a_start_and_bounds():
  c = _adapt_cfg()
  c.model.saturation_cost = 0.0
  with pytest.raises(ValueError, match="saturation_cost > 0"):
    config_lib.validate(c)
  c = _adapt_cfg(smin=1e-2, smax=1e-3)
  with pytest.raises(ValueError, match="saturation_min"):
    config_lib.validate(c)
  c = ngpu.get_config("variant=smoke,task=bmul+qmul")
  c.curriculum.train_set_size = 10
  with pytest.raises(ValueError, match="single task"):
    config_lib.validate(c)


def test_dngpu_exact_config():
  c = ngpu.get_config("variant=dngpu_exact")
  assert c.model.num_maps == 48 and c.batch_size == 32 and c.num_train_steps == 20_000
  assert c.curriculum.bucket_mode == "all" and c.curriculum.buckets == ngpu.DNGPU_BINS
  assert resolve_lib.examples_per_step(c) == 288
  assert c.model.candidate_dropout == 0.5 and c.optim.lr == pytest.approx(0.01)
  assert (
      c.model.saturation_form,
      c.optim.saturation_adapt,
      c.curriculum.fill_form,
      c.curriculum.train_set_size,
      c.optim.lr_decay,
      c.optim.lr_decay_on,
      c.optim.grad_noise_form,
  ) == ("dngpu", "dngpu", "dngpu", 10_000, "dngpu", "ce", "dngpu")
  m = ngpu.get_config("variant=dngpu_exact,task=bmul")
  assert m.model.num_maps == 96 and m.model.candidate_dropout == pytest.approx(0.1)
  assert m.optim.lr == pytest.approx(0.005)
  config_lib.validate(ngpu.get_config("variant=dngpu_exact,steps=10"))


def test_old_workdir_configs_resume_under_added_defaults(tmp_path):
  """A workdir made before the DNGPU options existed matches today's default config."""
  import json
  from runkit import workdir as workdir_lib

  c = ngpu.get_config("variant=smoke")
  old = json.loads(c.to_json())
  for k in config_lib.ADDED_DEFAULTS:
    section, key = k.split(".")
    old[section].pop(key)
  (tmp_path / "config.json").write_text(json.dumps(old))
  workdir_lib.check_workdir_config(
      str(tmp_path), c, config_lib.RESUMABLE_KEYS, added_defaults=config_lib.ADDED_DEFAULTS
  )
  c.optim.lr_decay_on = "ce"
  with pytest.raises(ValueError, match="lr_decay_on"):
    workdir_lib.check_workdir_config(
        str(tmp_path), c, config_lib.RESUMABLE_KEYS, added_defaults=config_lib.ADDED_DEFAULTS
    )


# ---------------------------------------------------------------------------
# Stripped targets with a small output vocabulary.
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("base", list(range(2, 17)))
def test_stripped_targets_decode_to_the_integers(base):
  """Every base: the stripped row holds the result's digits (no high zeros, the number 0
  as one digit) followed by padding, and decodes to the Python-integer answer."""
  rng = np.random.default_rng(base)
  for kind in ("add", "mul"):
    task = tasks_lib.get_task(f"{kind}{base}")
    cases = [(0, 0), (1, 0), (base - 1, 1), (base**3 - 1, base**3 - 1)]
    cases += [(int(rng.integers(0, base**4)), int(rng.integers(0, base**4))) for _ in range(20)]
    rows = [tasks_lib.encode_example(task, a, b, length=11) for a, b in cases]
    targets = jnp.asarray(np.stack([t for _, t in rows]))
    stripped = np.asarray(tasks_lib.strip_high_zeros(targets))
    for (a, b), row in zip(cases, stripped):
      want = a + b if kind == "add" else a * b
      assert tasks_lib.decode_stripped(task, row) == want
      n_digits = max(1, len(tasks_lib.int_to_digits(want, base)))
      assert np.all(row[:n_digits] > 0) and np.all(row[n_digits:] == 0)


def test_stripped_targets_train_and_score_every_position():
  c = ngpu.get_config("variant=smoke")
  ngpu.strip_targets(c)
  assert c.model.output_classes == 3
  config_lib.validate(c)
  st = train.init_state(jax.random.key(0), c, 1)
  assert st.params["out_w"].shape[-1] == 3
  st = jax.jit(train.make_train_step(c, (BADD,), 9))(st)
  # Training metrics score every example position (9 per example in bin 9, 4 examples).
  assert float(st.metrics["digit_total"]) == 4 * 9
  # Evaluation: a prediction is right only if it ends where the result ends.
  mcfg = resolve_lib.resolve_model_config(c)
  inputs = jnp.asarray([tasks_lib.encode_example(BADD, 1, 0, length=5)[0]])
  targets = tasks_lib.strip_high_zeros(
      jnp.asarray([tasks_lib.encode_example(BADD, 1, 0, length=5)[1]])
  )
  np.testing.assert_array_equal(targets, [[2, 0, 0, 0, 0]])
  good = jax.nn.one_hot(jnp.asarray([[2, 0, 0, 0, 0]]), 3)
  zero_ext = jax.nn.one_hot(jnp.asarray([[2, 1, 1, 1, 1]]), 3)  # right digits, no end
  mask = model_lib.score_mask(inputs, targets, mcfg)
  from neuralgpu import evaluate

  assert float(evaluate.error_counts(good, targets, mask)["seq_wrong"]) == 0
  assert float(evaluate.error_counts(zero_ext, targets, mask)["digit_wrong"]) == 4


def test_stripped_target_options_are_checked():
  c = ngpu.get_config("variant=smoke")
  c.model.targets = "stripped"
  c.model.output_classes = 2
  with pytest.raises(ValueError, match="output_classes=2"):
    config_lib.validate(c)
  c.model.output_classes = 0
  c.model.targets = "trimmed"
  with pytest.raises(ValueError, match="'trimmed'"):
    config_lib.validate(c)
  c = ngpu.get_config("variant=smoke,task=copy")
  c.model.targets = "stripped"
  with pytest.raises(ValueError, match="arithmetic"):
    config_lib.validate(c)
