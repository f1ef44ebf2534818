"""The Neural GPU as a pure function over a parameter pytree.

Kaiser & Sutskever (2015), "Neural GPUs Learn Algorithms", with the options of
Price, Zaremba & Sutskever (2016) and, off by default, the improvements of the
Diagonal Neural GPU (Freivalds & Liepins 2017).

State: ``s`` of shape ``[batch, n, height, maps]``. Every step applies
``cgrus_per_step`` convolutional GRUs (faithful: 2, so 2n CGRUs for n steps)::

    u  = hs(conv_u(s) + b_u)          # update gate
    r  = hs(conv_r(s) + b_r)          # reset gate
    c  = tanh(conv_c(r * s) + b_c)    # candidate
    s' = u * s + (1 - u) * c

with the cutoff hard sigmoid ``hs(x) = clip(cutoff * sigmoid(x) - (cutoff - 1) / 2,
0, 1)`` (cutoff 1.2), kernel 3x3 over ``(n, height)``, SAME padding, and the state
masked to zero on padding positions after each CGRU.

Parameter-sharing relaxation: the CGRU weights are stacked over ``num_sets`` sets;
step ``t`` uses set ``t mod active_sets`` where ``active_sets`` is *data* (an int32
scalar), so annealing the number of sets never recompiles.

The 3x3 convolution has four interchangeable forms (``conv_impl``): ``"xla"``
(``lax.conv_general_dilated``), ``"shifted"`` (the kh*kw shifted copies of the state
concatenated on the feature axis and multiplied by one matrix), ``"folded"`` (the
height folded into the features: kn shifted copies and one block-banded matrix) and
``"grouped"`` (the output rows in pairs, each pair one matmul of the rows it reads).
All use the same parameter layout ``[kn * kh * maps, out]`` (row order: n-offset,
height-offset, input map), so any form can load another's checkpoints; ``apply`` builds
the folded and grouped matrices of every weight set once per call while they fit in
``PREFOLD_BUDGET_BYTES``.
"""

from __future__ import annotations

import math

from typing import Any, Mapping, Optional

import jax
import jax.numpy as jnp
from jax import lax

Params = Mapping[str, Any]

CONV_IMPLS = ("shifted", "folded", "grouped", "xla")
REMAT_POLICIES = ("none", "every_step", "save_dots", "every_k", "sqrt")
GATE_TYPES = ("cutoff_sigmoid", "hard")
# How the saturation cost is normalised (``model.saturation_form``):
# "mean": the mean of relu(|x| - 0.9) over the elements of each gate's pre-activations,
#   averaged over steps and CGRUs, plus the input layer's mean (this project's first form).
# "dngpu": Freivalds & Liepins (2017): per example, the sum over the maps of every gate
#   (reset, update, candidate) and the input layer, averaged over the positions of the
#   example's length bin and over its steps (their code divides each bin's sum by
#   length^2 x batch), then averaged over examples.
SATURATION_FORMS = ("mean", "dngpu")
# "embed_tanh_conv": Kaiser & Sutskever (embedding, tanh, 1x1 conv).
# "hard_tanh": DNGPU (one-hot, 1x1 conv = an embedding row plus bias, hard tanh with
# saturation cost, dropout at the candidate-dropout rate).
INPUT_LAYERS = ("embed_tanh_conv", "hard_tanh")
# The targets the output layer predicts (``model.targets``): "zero_extended" (every
# result digit over the example's positions, high zeros included; scored on them) or
# "stripped" (DNGPU: the result's high zeros are padding, class 0, and every position
# of the row is scored, padding included).
TARGET_FORMS = ("zero_extended", "stripped")


def stripped(cfg) -> bool:
  return cfg.get("targets", "zero_extended") == "stripped"


def score_mask(inputs: jax.Array, targets: jax.Array, cfg) -> jax.Array:
  """bool ``[B, n]``: the positions an evaluation scores. Zero-extended targets: the
  target's digits. Stripped targets: every position of the example (padding classes
  included), so a prediction is right only if it also ends where the result ends."""
  if stripped(cfg):
    return (inputs > 0) | (targets > 0)
  return targets > 0


# ----------------------------------------------------------------------------
# Nonlinearities.
# ----------------------------------------------------------------------------
def cutoff_sigmoid(x: jax.Array, cutoff: float = 1.2) -> jax.Array:
  """Kaiser & Sutskever's saturating sigmoid: clip(c*sigmoid(x) - (c-1)/2, 0, 1)."""
  return jnp.clip(cutoff * jax.nn.sigmoid(x) - 0.5 * (cutoff - 1.0), 0.0, 1.0)


def hard_sigmoid(x: jax.Array) -> jax.Array:
  """DNGPU's hard sigmoid clip(0.5 x + 0.5, 0, 1); saturates at |x| >= 1."""
  return jnp.clip(0.5 * x + 0.5, 0.0, 1.0)


def hard_tanh(x: jax.Array) -> jax.Array:
  return jnp.clip(x, -1.0, 1.0)


def saturation_cost(x: jax.Array, limit: float = 0.9) -> jax.Array:
  """DNGPU's saturation cost relu(|x| - limit), averaged over elements."""
  return jnp.mean(jax.nn.relu(jnp.abs(x) - limit))


# ----------------------------------------------------------------------------
# Convolution over the (n, height) plane.
# ----------------------------------------------------------------------------
def _kernel_dims(cfg) -> tuple[int, int]:
  return int(cfg.kernel_width), int(cfg.kernel_height)


def conv_shifted(x: jax.Array, w: jax.Array, kn: int, kh: int) -> jax.Array:
  """SAME conv as shifted slices + one matmul.

  Args:
    x: ``[B, n, H, C]``.
    w: ``[kn * kh * C, O]`` with row order (n-offset, height-offset, channel).
  Returns:
    ``[B, n, H, O]``.
  """
  _, n, h, _ = x.shape
  pn, ph = kn // 2, kh // 2
  xp = jnp.pad(x, ((0, 0), (pn, kn - 1 - pn), (ph, kh - 1 - ph), (0, 0)))
  cols = [xp[:, i : i + n, j : j + h, :] for i in range(kn) for j in range(kh)]
  patches = cols[0] if len(cols) == 1 else jnp.concatenate(cols, axis=-1)
  return jnp.einsum("bnhk,ko->bnho", patches, w)


def _banded_kernel(w: jax.Array, kn: int, kh: int, rows_in, rows_out) -> jax.Array:
  """``w`` (``[kn * kh * C, O]``, rows (n-offset, height-offset, channel)) as the matrix
  from the n-shifted copies of the height rows ``rows_in`` to the outputs of the rows
  ``rows_out``: ``[kn * len(rows_in) * C, len(rows_out) * O]``, block (n-offset i, input
  row a, output row b) = the tap of height offset a - b (zero outside the kernel: SAME
  padding along the height)."""
  o = w.shape[-1]
  c = w.shape[0] // (kn * kh)
  w4 = w.reshape(kn, kh, c, o)
  ph = kh // 2
  zero = jnp.zeros((c, o), w.dtype)
  taps = []
  for i in range(kn):
    rows = [
        jnp.concatenate(
            [w4[i, a - b + ph] if 0 <= a - b + ph < kh else zero for b in rows_out], axis=1
        )
        for a in rows_in
    ]
    taps.append(jnp.concatenate(rows, axis=0))
  return jnp.concatenate(taps, axis=0)


def folded_kernel(w: jax.Array, kn: int, kh: int, h: int) -> jax.Array:
  """``w`` as the kernel of a conv along n alone over states whose height is folded
  into the channels: ``[kn * h * C, h * O]`` (``_banded_kernel`` over every row)."""
  return _banded_kernel(w, kn, kh, range(h), range(h))


def conv_folded(x: jax.Array, w: jax.Array, kn: int, kh: int, prefolded: bool = False) -> jax.Array:
  """The same SAME conv with the height folded into the channels: shifted slices along
  n and one matmul against ``folded_kernel`` (h / kh times the FLOPs, in one matmul h
  times wider; faster on XLA:CPU for small widths, see ``benchmarks/``). With
  ``prefolded``, ``w`` is already ``folded_kernel(w, kn, kh, h)`` (``apply`` folds every
  weight set once per call instead of once per step)."""
  h = x.shape[2]
  wf = w if prefolded else folded_kernel(w, kn, kh, h)
  return _conv_row_groups(x, (wf,), [(range(h), range(h))], kn)


def _row_groups(h: int, kh: int, g: int = 2) -> list[tuple[range, range]]:
  """(input rows, output rows) of each group of ``g`` output rows of the height axis:
  the rows a SAME conv of height ``kh`` reads for them."""
  ph = kh // 2
  out = []
  for r0 in range(0, h, g):
    rows_out = range(r0, min(r0 + g, h))
    out.append((range(max(0, r0 - ph), min(h, rows_out[-1] + kh - ph)), rows_out))
  return out


def grouped_kernels(w: jax.Array, kn: int, kh: int, h: int) -> tuple[jax.Array, ...]:
  """``w`` as one matrix per group of output rows (``_row_groups``, ``_banded_kernel``):
  ``[kn * len(rows_in) * C, len(rows_out) * O]`` each."""
  return tuple(_banded_kernel(w, kn, kh, ri, ro) for ri, ro in _row_groups(h, kh))


def conv_grouped(x: jax.Array, w, kn: int, kh: int, prefolded: bool = False) -> jax.Array:
  """The same SAME conv with the output rows in groups of two, each group one matmul of
  the n-shifted copies of the rows it reads (``grouped_kernels``): at height 4 two
  matmuls of kn * 3 * C inputs and 2 * O outputs, no more FLOPs than the conv counts
  (``folded`` does h / kh times more) and 3 / 4 of ``shifted``'s copies. ``prefolded``:
  ``w`` is already ``grouped_kernels(w, kn, kh, h)``."""
  h = x.shape[2]
  ws = w if prefolded else grouped_kernels(w, kn, kh, h)
  return _conv_row_groups(x, ws, _row_groups(h, kh), kn)


def _conv_row_groups(x: jax.Array, kernels, groups, kn: int) -> jax.Array:
  """Per (input rows, output rows) group, the kn n-shifted copies of its input rows
  (height folded into the features) times its ``_banded_kernel``; the groups' outputs
  joined along the height."""
  b, n, _, _ = x.shape
  pn = kn // 2
  xp = jnp.pad(x, ((0, 0), (pn, kn - 1 - pn), (0, 0), (0, 0)))
  ys = []
  for (rows_in, rows_out), wk in zip(groups, kernels):
    lo, hi = rows_in[0], rows_in[-1] + 1
    cols = [xp[:, i : i + n, lo:hi].reshape(b, n, -1) for i in range(kn)]
    patches = cols[0] if len(cols) == 1 else jnp.concatenate(cols, axis=-1)
    ys.append(jnp.einsum("bnk,ko->bno", patches, wk).reshape(b, n, len(rows_out), -1))
  return ys[0] if len(ys) == 1 else jnp.concatenate(ys, axis=2)


def conv_xla(x: jax.Array, w: jax.Array, kn: int, kh: int) -> jax.Array:
  """The same SAME conv via ``lax.conv_general_dilated`` (NHWC / HWIO)."""
  c = x.shape[-1]
  kernel = w.reshape(kn, kh, c, w.shape[-1])
  return lax.conv_general_dilated(
      x, kernel, window_strides=(1, 1), padding="SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
  )


def conv(x, w, cfg, prefolded: bool = False):
  kn, kh = _kernel_dims(cfg)
  if cfg.conv_impl == "shifted":
    return conv_shifted(x, w, kn, kh)
  if cfg.conv_impl == "folded":
    return conv_folded(x, w, kn, kh, prefolded)
  if cfg.conv_impl == "grouped":
    return conv_grouped(x, w, kn, kh, prefolded)
  if cfg.conv_impl == "xla":
    return conv_xla(x, w, kn, kh)
  raise ValueError(f"conv_impl={cfg.conv_impl!r}; allowed: {CONV_IMPLS}")


def diagonal_shift(s: jax.Array) -> jax.Array:
  """DNGPU diagonal gates: a third of the maps shifted left on n, a third right."""
  m = s.shape[-1]
  k = m // 3
  left = jnp.pad(s[:, 1:, :, :k], ((0, 0), (0, 1), (0, 0), (0, 0)))
  right = jnp.pad(s[:, :-1, :, k : 2 * k], ((0, 0), (1, 0), (0, 0), (0, 0)))
  return jnp.concatenate([left, right, s[..., 2 * k :]], axis=-1)


# ----------------------------------------------------------------------------
# Parameters.
# ----------------------------------------------------------------------------
def init_params(key: jax.Array, cfg) -> dict:
  """Initial parameters for ``cfg`` (the ``model`` sub-config).

  Layout (S = ``num_sets``, J = ``cgrus_per_step``, K = kn*kh*maps)::

    embed        [vocab, maps]       U(-embed_init, embed_init), row 0 unused
    in_w, in_b   [maps, maps], [maps]  1x1 conv after tanh(embedding)
    gate_w       [S, J, K, 2*maps]   gate_b [S, J, 2*maps] (update, reset biases)
    cand_w       [S, J, K, maps]     cand_b [S, J, maps]
    out_w, out_b [maps, V], [V]       V = output_classes (0: vocab; DNGPU: base + 1)
  """
  m, v = int(cfg.num_maps), int(cfg.vocab_size)
  v_out = int(cfg.get("output_classes", 0)) or v
  s, j = int(cfg.num_sets), int(cfg.cgrus_per_step)
  kn, kh = _kernel_dims(cfg)
  k = kn * kh * m
  keys = jax.random.split(key, 5)
  scale = float(cfg.init_scale)

  def uniform(key, shape, fan_in):
    lim = scale * jnp.sqrt(3.0 / fan_in)
    return jax.random.uniform(key, shape, jnp.float32, -lim, lim)

  ei = float(cfg.embed_init)
  return {
      "embed": jax.random.uniform(keys[0], (v, m), jnp.float32, -ei, ei),
      "in_w": uniform(keys[1], (m, m), m),
      "in_b": jnp.zeros((m,), jnp.float32),
      "gate_w": uniform(keys[2], (s, j, k, 2 * m), k),
      "gate_b": jnp.concatenate(
          [
              jnp.full((s, j, m), float(cfg.update_gate_bias), jnp.float32),
              jnp.full((s, j, m), float(cfg.reset_gate_bias), jnp.float32),
          ],
          axis=-1,
      ),
      "cand_w": uniform(keys[3], (s, j, k, m), k),
      "cand_b": jnp.zeros((s, j, m), jnp.float32),
      "out_w": uniform(keys[4], (m, v_out), m),
      "out_b": jnp.zeros((v_out,), jnp.float32),
  }


CGRU_KEYS = ("gate_w", "gate_b", "cand_w", "cand_b")
# The most bytes the folded (or grouped) matrices of every weight set may take for
# ``apply`` to build them once per call; above it (e.g. 512 maps at height 4: 1.8 GB, and
# as much again for their gradients) each step folds the set it uses.
PREFOLD_BUDGET_BYTES = 256 * 2**20


# ----------------------------------------------------------------------------
# One CGRU and one step.
# ----------------------------------------------------------------------------
def cgru(
    w: Mapping[str, jax.Array],
    s: jax.Array,
    cfg,
    *,
    dropout_key: Optional[jax.Array] = None,
    candidate_dropout: float = 0.0,
    sat_mask: Optional[jax.Array] = None,
    prefolded: bool = False,
) -> tuple[jax.Array, jax.Array]:
  """One convolutional GRU. Returns (new state, saturation cost).

  The saturation cost is a scalar (the mean over every element, ``saturation_form=
  "mean"``) unless ``sat_mask`` (float ``[B, n, 1, 1]``, 1 on the positions an example
  owns) is given: then it is a per-example ``[B]`` sum over those positions (and the
  height) of the mean over channels ("mean") or of the sum over channels ("dngpu").
  """
  m = s.shape[-1]
  g = conv(s, w["gate_w"], cfg, prefolded) + w["gate_b"]
  sat = jnp.zeros((), s.dtype) if sat_mask is None else jnp.zeros((s.shape[0],), s.dtype)

  def cost(x):
    if sat_mask is None:
      return saturation_cost(x)
    return per_example_saturation(x, sat_mask, cfg.saturation_form)

  if cfg.gate_type == "hard":
    u, r = hard_sigmoid(g[..., :m]), hard_sigmoid(g[..., m:])
    if cfg.saturation_cost > 0:
      sat = sat + cost(g)
  else:
    u = cutoff_sigmoid(g[..., :m], cfg.cutoff)
    r = cutoff_sigmoid(g[..., m:], cfg.cutoff)
  pre_c = conv(r * s, w["cand_w"], cfg, prefolded) + w["cand_b"]
  if cfg.gate_type == "hard":
    c = hard_tanh(pre_c)
    if cfg.saturation_cost > 0:
      sat = sat + cost(pre_c)
  else:
    c = jnp.tanh(pre_c)
  if candidate_dropout > 0 and dropout_key is not None:
    keep = jax.random.bernoulli(dropout_key, 1.0 - candidate_dropout, c.shape)
    c = jnp.where(keep, c / (1.0 - candidate_dropout), 0.0)
  carried = diagonal_shift(s) if cfg.diagonal_gates else s
  return u * carried + (1.0 - u) * c, sat


def per_example_saturation(
    x: jax.Array, sat_mask: jax.Array, form: str, limit: float = 0.9
) -> jax.Array:
  """``[B]``: relu(|x| - limit) summed over each example's own positions (``sat_mask``,
  ``[B, n, 1, 1]`` or ``[B, n, 1]``) and over the height, of the mean over channels
  (``form="mean"``) or of the sum over channels (``"dngpu"``: Freivalds & Liepins 2017
  sum the cost over every map)."""
  v = jax.nn.relu(jnp.abs(x) - limit)
  v = jnp.sum(v, axis=-1) if form == "dngpu" else jnp.mean(v, axis=-1)
  return jnp.sum(v * sat_mask[..., 0], axis=tuple(range(1, v.ndim)))


def _select_set(stacked: Mapping[str, jax.Array], t, active_sets):
  idx = jnp.mod(t, active_sets)
  pick = lambda a: lax.dynamic_index_in_dim(a, idx, 0, keepdims=False)  # noqa: E731
  return {k: jax.tree.map(pick, stacked[k]) for k in CGRU_KEYS}


def _make_step_fn(
    cfg,
    mask,
    n_static,
    active_sets,
    rng,
    train,
    step_counts=None,
    sat_mask=None,
    prefolded=False,
):
  """The scan body: applies cgrus_per_step CGRUs to the state at step t.

  With ``step_counts`` (int32 ``[B]``), example b keeps its state after its own
  ``step_counts[b]`` steps (ragged depth: examples of several lengths padded to one
  width run exactly as many steps as they would alone at their own width). With
  ``sat_mask`` the saturation cost is per example (``[B]``) and counts only the steps
  each example runs.
  """
  j_count = int(cfg.cgrus_per_step)
  state_drop = float(cfg.dropout) * 8.0 / n_static if train else 0.0
  state_drop = min(state_drop, 0.5)
  cand_drop = float(cfg.candidate_dropout) if train else 0.0

  def step(params_stack, s, t):
    s_in = s
    w_t = _select_set(params_stack, t, active_sets)
    sat_total = jnp.zeros((), s.dtype) if sat_mask is None else jnp.zeros((s.shape[0],), s.dtype)
    for j in range(j_count):
      w = {k: jax.tree.map(lambda a, j=j: a[j], v) for k, v in w_t.items()}
      dkey = None
      if rng is not None and (state_drop > 0 or cand_drop > 0):
        dkey = jax.random.fold_in(jax.random.fold_in(rng, t), j)
      s, sat = cgru(
          w,
          s,
          cfg,
          dropout_key=dkey,
          candidate_dropout=cand_drop,
          sat_mask=sat_mask,
          prefolded=prefolded,
      )
      s = s * mask
      sat_total = sat_total + sat
    if state_drop > 0 and rng is not None:
      keep = jax.random.bernoulli(
          jax.random.fold_in(jax.random.fold_in(rng, t), 1000), 1.0 - state_drop, s.shape
      )
      s = jnp.where(keep, s / (1.0 - state_drop), 0.0)
    if step_counts is not None:
      live = t < step_counts
      s = jnp.where(live[:, None, None, None], s, s_in)
      if sat_mask is not None:  # the cost as if each example stopped at its own depth
        sat_total = sat_total * live.astype(s.dtype)
    return s, sat_total

  return step


def run_steps(
    params_stack, s0, num_steps: int, step, remat: str, remat_k: int, sat_shape: tuple = ()
):
  """Applies ``step`` num_steps times with ``lax.scan`` and the remat policy.

  ``every_step`` checkpoints each step (memory O(num_steps) states, one extra
  forward); ``save_dots`` checkpoints each step but keeps the outputs of its matmuls
  (``jax.checkpoint_policies.dots_with_no_batch_dims_saveable``: the conv outputs, 3
  states per CGRU), so the backward pass recomputes only the elementwise ops and the
  shifted copies, no matmul; ``every_k`` keeps only every k-th state and recomputes the k steps
  inside a block (nested scan), trading compute for O(num_steps / k + k) memory;
  ``sqrt`` nests two levels: blocks of k = ceil(sqrt(num_steps)) steps, each step of a
  block checkpointed too, so the backward pass holds num_steps / k + k states and one
  step's intermediates (two extra forwards; Chen et al. 2016, "Training deep nets with
  sublinear memory cost", section 4).
  """

  def body(carry, t):
    s, sat = carry
    s, sat_t = step(params_stack, s, t)
    return (s, sat + sat_t), None

  init = (s0, jnp.zeros(sat_shape, s0.dtype))
  if remat == "none":
    carry, _ = lax.scan(body, init, jnp.arange(num_steps))
    return carry
  if remat == "every_step":
    carry, _ = lax.scan(jax.checkpoint(body), init, jnp.arange(num_steps))
    return carry
  if remat == "save_dots":
    policy = jax.checkpoint_policies.dots_with_no_batch_dims_saveable
    carry, _ = lax.scan(jax.checkpoint(body, policy=policy), init, jnp.arange(num_steps))
    return carry
  if remat in ("every_k", "sqrt"):
    k = max(1, int(remat_k)) if remat == "every_k" else max(1, math.isqrt(num_steps - 1) + 1)
    blocks, rest = divmod(num_steps, k)
    inner = body if remat == "every_k" else jax.checkpoint(body)

    @jax.checkpoint
    def block(carry, b):
      carry, _ = lax.scan(inner, carry, b * k + jnp.arange(k))
      return carry, None

    carry = init
    if blocks:
      carry, _ = lax.scan(block, carry, jnp.arange(blocks))
    if rest:
      carry, _ = lax.scan(body, carry, blocks * k + jnp.arange(rest))
    return carry
  raise ValueError(f"remat={remat!r}; allowed: {REMAT_POLICIES}")


def num_steps_for(cfg, n: int) -> int:
  return max(1, int(round(float(cfg.steps_per_length) * n)))


def apply(
    params: Params,
    inputs: jax.Array,
    cfg,
    *,
    active_sets: jax.Array | int = 1,
    rng: Optional[jax.Array] = None,
    train: bool = False,
    positions: Optional[jax.Array] = None,
    step_counts: Optional[jax.Array] = None,
    widths: Optional[jax.Array] = None,
) -> tuple[jax.Array, jax.Array]:
  """Runs the Neural GPU.

  Args:
    params: from ``init_params``.
    inputs: int32 ``[B, n]`` symbols, 0 = padding.
    cfg: the model config.
    active_sets: number of CGRU weight sets in use (relaxation); int32 scalar.
    rng: dropout key (train only).
    train: enables dropout.
    positions: bool ``[B, n]``, the positions the state lives on (default
      ``inputs > 0``); pass ``(inputs > 0) | (targets > 0)`` for tasks whose
      output is longer than their input (``dup``).
    step_counts: int32 ``[B]``, optional: example b runs ``step_counts[b]`` steps
      (at most the width's step count) and then keeps its state; used to train
      several length bins in one padded batch.
    widths: int32 ``[B]``, optional: the width each example owns (its length bin
      when several bins are padded into one batch; default ``n``). The saturation
      cost counts only those positions and, with ``step_counts``, only those steps,
      so a padded batch costs what each example would cost alone at its own width.

  Returns:
    (logits ``[B, n, vocab]``, saturation cost: a scalar, the mean over examples).
  """
  b, n = inputs.shape
  m, h = int(cfg.num_maps), int(cfg.height)
  if positions is None:
    positions = inputs > 0
  dtype = params["embed"].dtype
  mask = positions.astype(dtype)[:, :, None, None]
  form = cfg.get("saturation_form", "mean")
  use_sat = cfg.gate_type == "hard" and float(cfg.saturation_cost) > 0
  per_example = use_sat and (form != "mean" or step_counts is not None or widths is not None)
  own_width = (
      jnp.full((b,), n, jnp.int32)
      if widths is None
      else jnp.minimum(jnp.asarray(widths, jnp.int32), n)
  )
  sat_mask = None
  if per_example:
    sat_mask = (jnp.arange(n)[None, :] < own_width[:, None]).astype(dtype)[:, :, None, None]
  pre, x = _input_layer(params, inputs, cfg)
  in_sat = jnp.zeros((), dtype)
  if pre is not None:  # DNGPU's input layer: saturation cost and dropout
    if use_sat:
      in_sat = (
          saturation_cost(pre)
          if sat_mask is None
          else per_example_saturation(pre, sat_mask[:, :, 0], form)
      )
    p = float(cfg.candidate_dropout)
    if train and rng is not None and p > 0:
      keep = jax.random.bernoulli(jax.random.fold_in(rng, 0x7FFFFFFF), 1.0 - p, x.shape)
      x = jnp.where(keep, x / (1.0 - p), 0.0)
  x = x * mask[:, :, 0, :]
  s0 = jnp.zeros((b, n, h, m), dtype).at[:, :, 0, :].set(x)
  stack = {k: params[k] for k in CGRU_KEYS}
  prefolded = cfg.conv_impl in ("folded", "grouped") and h > 1
  if prefolded:  # fold every weight set once, not once per step, while that is small
    kn, kh = _kernel_dims(cfg)
    fold_one = folded_kernel if cfg.conv_impl == "folded" else grouped_kernels
    fold = jax.vmap(jax.vmap(lambda w: fold_one(w, kn, kh, h)))
    folded = {k: jax.eval_shape(fold, stack[k]) for k in ("gate_w", "cand_w")}
    size = sum(a.size * a.dtype.itemsize for a in jax.tree.leaves(folded))
    prefolded = size <= PREFOLD_BUDGET_BYTES
    if prefolded:
      stack = {**stack, "gate_w": fold(stack["gate_w"]), "cand_w": fold(stack["cand_w"])}
  steps = num_steps_for(cfg, n)
  if step_counts is not None:
    step_counts = jnp.minimum(jnp.asarray(step_counts, jnp.int32), steps)
  step = _make_step_fn(
      cfg,
      mask,
      n,
      jnp.asarray(active_sets, jnp.int32),
      rng if train else None,
      train,
      step_counts,
      sat_mask,
      prefolded,
  )
  s, sat = run_steps(
      stack, s0, steps, step, cfg.remat, cfg.remat_k, sat_shape=(b,) if per_example else ()
  )
  logits = s[:, :, 0, :] @ params["out_w"] + params["out_b"]
  if not per_example:
    return logits, sat / (steps * int(cfg.cgrus_per_step)) + in_sat
  # Per example: the gates' sum over its own steps and cells, divided by steps x cells
  # (x CGRUs per step in the "mean" form, which averages over units); the input layer's
  # sum over its own positions divided by them. Then the mean over examples.
  own_steps = jnp.full((b,), steps, jnp.int32) if step_counts is None else step_counts
  cells = (own_width * h).astype(dtype)
  units = int(cfg.cgrus_per_step) if form == "mean" else 1
  gate_part = sat / (jnp.maximum(own_steps, 1).astype(dtype) * cells * units)
  in_part = in_sat / own_width.astype(dtype)
  return logits, jnp.mean(gate_part + in_part)


def _input_layer(params: Params, inputs: jax.Array, cfg):
  """(pre-activation, activation) of the input layer at every position: DNGPU's hard
  tanh of the embedding plus a bias (the pre-activation feeds its saturation cost), or
  Kaiser & Sutskever's tanh embedding and 1x1 conv (pre-activation None)."""
  emb = jnp.take(params["embed"], inputs, axis=0)
  if cfg.input_layer == "hard_tanh":
    pre = emb + params["in_b"]
    return pre, hard_tanh(pre)
  return None, jnp.tanh(emb) @ params["in_w"] + params["in_b"]


def state_trace(
    params: Params,
    inputs: jax.Array,
    cfg,
    *,
    active_sets: jax.Array | int = 1,
    positions: Optional[jax.Array] = None,
) -> tuple[jax.Array, jax.Array]:
  """The state after every step of the evaluation forward, for pictures of where the
  information is and where a carry travels (the state pictures of Kaiser & Sutskever
  2015, section 4).

  Runs what ``apply(params, inputs, cfg, active_sets=..., positions=...)`` runs at
  evaluation (no dropout, no remat: nothing is differentiated), but keeps the state
  of every step of the ``lax.scan`` as its output. ``apply`` itself is unchanged.

  Args:
    params, inputs, cfg, active_sets, positions: as for ``apply``.

  Returns:
    (states ``[steps + 1, B, n, height, maps]``, the initial state first;
    logits ``[B, n, V]``, equal to ``apply``'s).
  """
  b, n = inputs.shape
  m, h = int(cfg.num_maps), int(cfg.height)
  if positions is None:
    positions = inputs > 0
  dtype = params["embed"].dtype
  mask = positions.astype(dtype)[:, :, None, None]
  _, x = _input_layer(params, inputs, cfg)
  x = x * mask[:, :, 0, :]
  s0 = jnp.zeros((b, n, h, m), dtype).at[:, :, 0, :].set(x)
  stack = {k: params[k] for k in CGRU_KEYS}
  step = _make_step_fn(cfg, mask, n, jnp.asarray(active_sets, jnp.int32), None, False)

  def body(s, t):
    s, _ = step(stack, s, t)
    return s, s

  s, states = lax.scan(body, s0, jnp.arange(num_steps_for(cfg, n)))
  logits = s[:, :, 0, :] @ params["out_w"] + params["out_b"]
  return jnp.concatenate([s0[None], states], axis=0), logits


def relaxation_pull_loss(params: Params, active_sets: jax.Array) -> jax.Array:
  """sum_i ||w_i - mean_active(w)||^2 over the active CGRU weight sets."""
  total = jnp.zeros((), params["gate_w"].dtype)
  for k in CGRU_KEYS:
    w = params[k]
    sets = w.shape[0]
    sel = (jnp.arange(sets) < active_sets).astype(w.dtype)
    sel = sel.reshape((sets,) + (1,) * (w.ndim - 1))
    mean = jnp.sum(w * sel, axis=0) / jnp.maximum(jnp.sum(sel), 1.0)
    total = total + jnp.sum(sel * (w - mean) ** 2)
  return total
