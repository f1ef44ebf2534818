"""Model tests: hand-worked CGRU values, a loop-based numpy oracle, conv forms,
remat policies, relaxation set selection and finite-difference gradients."""

import itertools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from absl.testing import parameterized
from jax.test_util import check_grads

from neuralgpu import model
from tests.neuralgpu._models import tiny_cfg


# ---------------------------------------------------------------------------
# An independent numpy oracle written with explicit loops.
# ---------------------------------------------------------------------------
def np_conv(x, w, kn, kh):
  """SAME conv by loops. x [B,n,H,C], w [kn*kh*C, O] rows (i, j, c)."""
  b, n, h, c = x.shape
  o = w.shape[1]
  wk = w.reshape(kn, kh, c, o)
  out = np.zeros((b, n, h, o))
  for bi, p, q in itertools.product(range(b), range(n), range(h)):
    acc = np.zeros(o)
    for i, j in itertools.product(range(kn), range(kh)):
      pp, qq = p + i - kn // 2, q + j - kh // 2
      if 0 <= pp < n and 0 <= qq < h:
        acc += x[bi, pp, qq] @ wk[i, j]
    out[bi, p, q] = acc
  return out


def np_hs(x, cutoff=1.2):
  return np.clip(cutoff / (1 + np.exp(-x)) - (cutoff - 1) / 2, 0, 1)


def np_cgru(s, w, kn, kh):
  m = s.shape[-1]
  g = np_conv(s, w["gate_w"], kn, kh) + w["gate_b"]
  u, r = np_hs(g[..., :m]), np_hs(g[..., m:])
  c = np.tanh(np_conv(r * s, w["cand_w"], kn, kh) + w["cand_b"])
  return u * s + (1 - u) * c


def np_model(params, inputs, cfg, active_sets):
  p = jax.tree.map(np.asarray, params)
  b, n = inputs.shape
  mask = (inputs > 0).astype(float)[:, :, None, None]
  x = np.tanh(p["embed"][inputs]) @ p["in_w"] + p["in_b"]
  s = np.zeros((b, n, cfg.height, cfg.num_maps))
  s[:, :, 0, :] = x * mask[:, :, 0, :]
  for t in range(n):
    k = t % active_sets
    for j in range(cfg.cgrus_per_step):
      w = {name: p[name][k, j] for name in model.CGRU_KEYS}
      s = np_cgru(s, w, cfg.kernel_width, cfg.kernel_height) * mask
  return s[:, :, 0, :] @ p["out_w"] + p["out_b"]


class CGRUTest(parameterized.TestCase):

  def test_cutoff_sigmoid_hand_values(self):
    # 1.2 * sigmoid(0) - 0.1 = 0.5; saturates to exactly 0 and 1.
    x = jnp.array([0.0, 1.0, -10.0, 10.0])
    want = [0.5, 1.2 / (1 + np.exp(-1.0)) - 0.1, 0.0, 1.0]
    np.testing.assert_allclose(model.cutoff_sigmoid(x), want, rtol=1e-6)

  def test_cgru_hand_worked_zero_kernels(self):
    # All conv weights zero: u = hs(b_u), c = tanh(b_c), s' = u s + (1 - u) c.
    cfg = tiny_cfg(num_maps=1, height=1, kernel_height=1)
    w = {
        "gate_w": jnp.zeros((3, 2)),
        "gate_b": jnp.array([1.0, 1.0]),
        "cand_w": jnp.zeros((3, 1)),
        "cand_b": jnp.array([0.5]),
    }
    s = jnp.array([2.0, -1.0]).reshape(1, 2, 1, 1)
    out, _ = model.cgru(w, s, cfg)
    u = 1.2 / (1 + np.exp(-1.0)) - 0.1  # 0.777270
    c = np.tanh(0.5)  # 0.462117
    want = np.array([u * 2.0 + (1 - u) * c, u * -1.0 + (1 - u) * c])
    np.testing.assert_allclose(np.asarray(out).ravel(), want, rtol=1e-6)
    np.testing.assert_allclose(want, [1.657468, -0.674343], atol=1e-5)

  def test_cgru_matches_numpy_loops(self):
    cfg = tiny_cfg()
    params = model.init_params(jax.random.key(0), cfg)
    w = {k: params[k][1, 0] for k in model.CGRU_KEYS}
    s = jax.random.normal(jax.random.key(1), (2, 4, 2, 3))
    got, _ = model.cgru(w, s, cfg)
    want = np_cgru(np.asarray(s), jax.tree.map(np.asarray, w), 3, 3)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


class ConvTest(parameterized.TestCase):

  @parameterized.parameters((3, 3, 4, 5), (3, 1, 1, 6), (5, 3, 4, 2), (1, 1, 2, 3))
  def test_shifted_equals_xla(self, kn, kh, h, c):
    x = jax.random.normal(jax.random.key(0), (2, 7, h, c))
    w = jax.random.normal(jax.random.key(1), (kn * kh * c, 4))
    np.testing.assert_allclose(
        model.conv_shifted(x, w, kn, kh), model.conv_xla(x, w, kn, kh), rtol=1e-5, atol=1e-5
    )

  @parameterized.parameters((3, 3, 4, 5), (3, 1, 1, 6), (5, 3, 4, 2), (1, 1, 2, 3), (3, 3, 1, 2))
  def test_folded_equals_numpy(self, kn, kh, h, c):
    x = jax.random.normal(jax.random.key(4), (2, 6, h, c))
    w = jax.random.normal(jax.random.key(5), (kn * kh * c, 3))
    np.testing.assert_allclose(
        model.conv_folded(x, w, kn, kh),
        np_conv(np.asarray(x), np.asarray(w), kn, kh),
        rtol=1e-5,
        atol=1e-5,
    )

  @parameterized.parameters(
      (3, 3, 4, 5),
      (3, 1, 1, 6),
      (5, 3, 4, 2),
      (1, 1, 2, 3),
      (3, 3, 1, 2),
      (3, 3, 5, 2),
      (3, 5, 6, 2),
  )
  def test_grouped_equals_numpy(self, kn, kh, h, c):
    x = jax.random.normal(jax.random.key(6), (2, 6, h, c))
    w = jax.random.normal(jax.random.key(7), (kn * kh * c, 3))
    want = np_conv(np.asarray(x), np.asarray(w), kn, kh)
    np.testing.assert_allclose(model.conv_grouped(x, w, kn, kh), want, rtol=1e-5, atol=1e-5)
    ws = model.grouped_kernels(w, kn, kh, h)
    np.testing.assert_allclose(
        model.conv_grouped(x, ws, kn, kh, prefolded=True), want, rtol=1e-5, atol=1e-5
    )

  def test_grouped_row_groups_read_only_the_kernel_rows(self):
    # Height 4, kernel 3: rows (0, 1) read rows 0-2, rows (2, 3) read rows 1-3, so the
    # two matmuls do exactly the conv's 3 taps x 4 rows (no folded h / kh excess).
    groups = model._row_groups(4, 3)
    self.assertEqual(
        [(list(i), list(o)) for i, o in groups], [([0, 1, 2], [0, 1]), ([1, 2, 3], [2, 3])]
    )
    w = jnp.ones((3 * 3 * 2, 5))
    self.assertEqual([k.shape for k in model.grouped_kernels(w, 3, 3, 4)], [(18, 10), (18, 10)])

  def test_shifted_equals_numpy(self):
    x = jax.random.normal(jax.random.key(2), (1, 5, 3, 2))
    w = jax.random.normal(jax.random.key(3), (18, 3))
    np.testing.assert_allclose(
        model.conv_shifted(x, w, 3, 3),
        np_conv(np.asarray(x), np.asarray(w), 3, 3),
        rtol=1e-5,
        atol=1e-5,
    )

  def test_diagonal_shift(self):
    s = jnp.arange(1.0, 1.0 + 4 * 6).reshape(1, 4, 1, 6)
    out = np.asarray(model.diagonal_shift(s))[0, :, 0]
    src = np.asarray(s)[0, :, 0]
    np.testing.assert_array_equal(out[:3, :2], src[1:, :2])  # moved left
    np.testing.assert_array_equal(out[3, :2], [0, 0])
    np.testing.assert_array_equal(out[1:, 2:4], src[:3, 2:4])  # moved right
    np.testing.assert_array_equal(out[0, 2:4], [0, 0])
    np.testing.assert_array_equal(out[:, 4:], src[:, 4:])  # unchanged


class ModelTest(chex.TestCase, parameterized.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(1, 2, 3)
  def test_model_matches_numpy(self, active_sets):
    cfg = tiny_cfg()
    params = model.init_params(jax.random.key(0), cfg)
    inputs = jnp.array([[2, 3, 17, 1, 0], [1, 17, 2, 0, 0]], jnp.int32)
    fn = self.variant(lambda p, x: model.apply(p, x, cfg, active_sets=active_sets)[0])
    got = fn(params, inputs)
    want = np_model(params, np.asarray(inputs), cfg, active_sets)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)

  def test_padding_does_not_leak(self):
    # Changing nothing but the padding length must not change real positions.
    cfg = tiny_cfg(steps_per_length=1.0)
    params = model.init_params(jax.random.key(0), cfg)
    x = jnp.array([[2, 3, 17, 1, 2, 0, 0]], jnp.int32)
    a, _ = model.apply(params, x, cfg, active_sets=1)
    # With one active set the recurrence is the same map at every step; the
    # padded positions stay zero-state, so real positions see zero borders.
    state_pad = a[0, 5:]
    np.testing.assert_allclose(
        state_pad, jnp.broadcast_to(params["out_b"], state_pad.shape), atol=1e-6
    )

  # Each conv form once, each remat policy once, in the default suite; the other two
  # combinations in test_conv_forms_in_the_model_other_combinations (slow).
  @parameterized.parameters(("folded", "none"), ("grouped", "save_dots"))
  def test_conv_forms_in_the_model_same_values_and_grads(self, conv_impl, remat):
    _check_conv_form_in_the_model(conv_impl, remat)

  @pytest.mark.slow
  def test_conv_forms_in_the_model_other_combinations(self):
    for conv_impl, remat in (("grouped", "none"), ("folded", "save_dots")):
      _check_conv_form_in_the_model(conv_impl, remat)

  @parameterized.parameters("every_step", "save_dots", "every_k", "sqrt")
  def test_remat_same_values_and_grads(self, remat):
    base = tiny_cfg(dropout=0.1)
    other = tiny_cfg(dropout=0.1, remat=remat, remat_k=2)
    params = model.init_params(jax.random.key(0), base)
    x = jnp.array([[2, 3, 17, 1, 2, 0, 0]], jnp.int32)

    def loss(p, c):
      out, _ = model.apply(p, x, c, active_sets=2, rng=jax.random.key(5), train=True)
      return jnp.sum(out**2)

    la, ga = jax.jit(jax.value_and_grad(lambda p: loss(p, base)))(params)
    lb, gb = jax.jit(jax.value_and_grad(lambda p: loss(p, other)))(params)
    np.testing.assert_allclose(la, lb, rtol=1e-5)
    chex.assert_trees_all_close(ga, gb, rtol=1e-4, atol=1e-5)

  def test_active_sets_selects_weights(self):
    # With active_sets=1 the other sets must not matter at all.
    cfg = tiny_cfg()
    params = model.init_params(jax.random.key(0), cfg)
    x = jnp.array([[2, 3, 17, 1, 2]], jnp.int32)
    a, _ = model.apply(params, x, cfg, active_sets=1)
    p2 = dict(params)
    p2["gate_w"] = params["gate_w"].at[1:].set(7.0)
    b, _ = model.apply(p2, x, cfg, active_sets=1)
    c, _ = model.apply(p2, x, cfg, active_sets=2)
    np.testing.assert_allclose(a, b)
    assert not np.allclose(a, c)

  def test_gradients_match_finite_differences(self):
    cfg = tiny_cfg(num_maps=2, height=2, num_sets=2)
    params = model.init_params(jax.random.key(1), cfg)
    x = jnp.array([[2, 3, 17, 1]], jnp.int32)
    y = jnp.array([[1, 2, 3, 4]], jnp.int32)

    @jax.jit
    def loss(p):
      logits, _ = model.apply(p, x, cfg, active_sets=2)
      return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[..., None], -1))

    with jax.enable_x64(True):
      p64 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), params)
      check_grads(loss, (p64,), order=1, modes=("rev",), eps=1e-4, atol=1e-4, rtol=1e-4)

  @parameterized.parameters(True, False)
  def test_hard_variant_and_saturation(self, diagonal):
    cfg = tiny_cfg(
        gate_type="hard",
        saturation_cost=1.0,
        diagonal_gates=diagonal,
        candidate_dropout=0.2,
        height=1,
        kernel_height=1,
        num_maps=6,
    )
    params = model.init_params(jax.random.key(0), cfg)
    x = jnp.array([[2, 3, 17, 1, 2]], jnp.int32)
    out, sat = model.apply(params, x, cfg, active_sets=3, rng=jax.random.key(1), train=True)
    chex.assert_shape(out, (1, 5, 19))
    chex.assert_tree_all_finite((out, sat))
    assert float(sat) >= 0.0

  def test_ragged_depth_equals_each_example_at_its_own_width(self):
    """step_counts: examples padded to one width, each frozen after its own number
    of steps, give the logits they give alone at their own width."""
    cfg = tiny_cfg(
        gate_type="hard",
        diagonal_gates=True,
        height=1,
        kernel_height=1,
        num_maps=6,
        num_sets=1,
        cgrus_per_step=1,
    )
    params = model.init_params(jax.random.key(3), cfg)
    params["gate_b"] = params["gate_b"] * 0.0  # keep the state moving
    a = jnp.array([[2, 3, 17, 1, 0]], jnp.int32)  # width 5, length 4
    b = jnp.array([[3, 2, 2, 17, 1, 2, 0, 0]], jnp.int32)  # width 8, length 6
    want_a, _ = model.apply(params, a, cfg, active_sets=1)
    want_b, _ = model.apply(params, b, cfg, active_sets=1)
    both = jnp.concatenate([jnp.pad(a, ((0, 0), (0, 3))), b])
    got, _ = model.apply(params, both, cfg, active_sets=1, step_counts=jnp.array([5, 8], jnp.int32))
    np.testing.assert_allclose(got[0, :4], want_a[0, :4], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1, :6], want_b[0, :6], rtol=1e-5, atol=1e-6)
    # Without the freeze, the short example runs 8 steps and differs.
    free, _ = model.apply(params, both, cfg, active_sets=1)
    assert np.max(np.abs(np.asarray(free[0, :4] - want_a[0, :4]))) > 1e-3

  def test_hard_tanh_input_layer_hand_values(self):
    """DNGPU input layer: state = clip(E[x] + b, -1, 1) on the input positions; with
    the update gate held open (u = 1) the state passes through unchanged."""
    cfg = tiny_cfg(
        gate_type="hard",
        height=1,
        kernel_height=1,
        num_maps=2,
        num_sets=1,
        cgrus_per_step=1,
        input_layer="hard_tanh",
    )
    params = model.init_params(jax.random.key(0), cfg)
    params["embed"] = (
        jnp.zeros((19, 2)).at[2].set(jnp.array([0.5, 3.0])).at[3].set(jnp.array([-2.0, 0.25]))
    )
    params["in_b"] = jnp.array([0.1, -0.5])
    params["gate_w"] = jnp.zeros_like(params["gate_w"])
    params["gate_b"] = params["gate_b"].at[..., :2].set(10.0)  # u = 1
    params["out_w"] = jnp.eye(2, 19)
    params["out_b"] = jnp.zeros((19,))
    x = jnp.array([[2, 3, 0]], jnp.int32)
    logits, _ = model.apply(params, x, cfg, active_sets=1)
    want = np.array([[0.6, 1.0], [-1.0, -0.25], [0.0, 0.0]])
    np.testing.assert_allclose(logits[0, :, :2], want, rtol=1e-6, atol=1e-6)

  def test_saturation_cost_hand_values(self):
    x = jnp.array([0.0, 0.95, -1.5, 0.5])
    np.testing.assert_allclose(model.saturation_cost(x), (0.05 + 0.6) / 4, rtol=1e-6)

  def test_pull_loss(self):
    cfg = tiny_cfg()
    params = model.init_params(jax.random.key(0), cfg)
    same = {
        k: (jnp.broadcast_to(v[:1], v.shape) if k in model.CGRU_KEYS else v)
        for k, v in params.items()
    }
    assert float(model.relaxation_pull_loss(same, 3)) == pytest.approx(0.0, abs=1e-6)
    w = params["gate_w"]
    want = 0.0
    for k in model.CGRU_KEYS:
      a = np.asarray(params[k])[:2]
      want += np.sum((a - a.mean(0)) ** 2)
    np.testing.assert_allclose(model.relaxation_pull_loss(params, 2), want, rtol=1e-5)
    assert w.shape[0] == 3


def _check_conv_form_in_the_model(conv_impl, remat):
  # apply() builds the folded / grouped matrices of every weight set once (outside the
  # scan); values and gradients (back through that build to the weights) must be those
  # of the shifted form at height 4 with several sets.
  base = tiny_cfg(height=4, num_sets=3)
  other = tiny_cfg(height=4, num_sets=3, conv_impl=conv_impl, remat=remat)
  params = model.init_params(jax.random.key(3), base)
  x = jnp.array([[2, 3, 17, 1, 2, 0], [1, 1, 2, 3, 0, 0]], jnp.int32)

  def loss(p, c):
    out, _ = model.apply(p, x, c, active_sets=3)
    return jnp.sum(out**2)

  la, ga = jax.jit(jax.value_and_grad(lambda p: loss(p, base)))(params)
  lb, gb = jax.jit(jax.value_and_grad(lambda p: loss(p, other)))(params)
  np.testing.assert_allclose(la, lb, rtol=1e-5)
  chex.assert_trees_all_close(ga, gb, rtol=1e-4, atol=1e-5)
