r"""The Neural GPU train step in plain PyTorch (eager), for speed comparisons.

The baseline a PyTorch user would write without tuning: ``nn.Conv2d`` / ``nn.Conv1d``
layers, a Python loop over the steps, ``torch.optim`` and ``clip_grad_norm_``. Same
model and same FLOPs as ``neuralgpu.model`` with one weight set (``num_sets=1``):

* ``"faithful"`` (Kaiser & Sutskever 2015, "Neural GPUs Learn Algorithms"): state
  ``[B, m, 4, n]``; input layer embedding -> tanh -> 1x1 conv into height row 0; n
  steps of 2 CGRUs (3x3 kernels, cutoff sigmoid 1.2, tanh candidate), the state masked
  to the live positions after every CGRU, state dropout ``0.15 * 8 / n`` (at most 0.5)
  after every step in training; Adam (lr 1e-3, eps 1e-4) after global-norm clipping
  at 1.0.
* ``"dngpu"`` (Freivalds & Liepins 2017, "Improving the Neural GPU Architecture for
  Algorithm Learning"; our ``dngpu_short_sat`` model): state ``[B, m, n]``
  (``nn.Conv1d``, kernel 3 along n); input layer embedding + bias -> hard tanh with
  dropout 0.5; n steps of one CGRU with hard-sigmoid gates, hard-tanh candidate,
  candidate dropout 0.5 and diagonal gates; saturation cost in the per-example
  "dngpu" form, weight 1e-3; AdaMax (lr 0.01).

Deviations from our JAX train step (none of them changes the FLOPs): AdaMax is
``torch.optim.Adamax`` (bias-corrected first moment, fixed beta2 0.99, no per-element
clipping inside the optimizer; the global-norm clip at 1e9 is kept, as in our
config); the saturation weight is fixed at its starting value (ours adapts it every
200 steps); no learning-rate plateau decay, no metrics besides the loss, no
relaxation pull (it is zero with one weight set).

    python -m benchmarks.torch_ngpu    # both checks, then both timings

    from benchmarks.torch_ngpu import train_step_time, forward_matches_jax
    train_step_time("faithful", 24, 32, 41)
    forward_matches_jax("dngpu")       # max |logits_torch - logits_jax|, ~1e-6

``train_step_time(..., compile=True)`` wraps the module in ``torch.compile``; the
step loop is unrolled, so the first step compiles n (x2) CGRUs and takes long.

``forward_matches_jax`` is the equivalence check: it copies the parameters of
``neuralgpu.model.init_params`` (perturbed, so that zero-initialised biases count too)
into the torch module and compares the logits of both forwards on inputs with padding.
"""

from __future__ import annotations

import time
from typing import Optional

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from benchmarks import common

KINDS = ("faithful", "dngpu")
# Per kind: (height, kernel along n, kernel along height, CGRUs per step).
_GEOMETRY = {"faithful": (4, 3, 3, 2), "dngpu": (1, 3, 1, 1)}
_VARIANT = {"faithful": "faithful", "dngpu": "dngpu_short_sat"}
CUTOFF = 1.2
SATURATION_LIMIT = 0.9
SATURATION_WEIGHT = 1e-3  # dngpu_short_sat's starting (and largest) weight
STATE_DROPOUT = 0.15  # faithful: rate dropout * 8 / n, at most 0.5
CANDIDATE_DROPOUT = 0.5  # dngpu: candidate and input-layer dropout


def _check_kind(kind: str) -> None:
  if kind not in KINDS:
    raise ValueError(f"kind={kind!r}; allowed: {KINDS}")


def cutoff_sigmoid(x: torch.Tensor, cutoff: float = CUTOFF) -> torch.Tensor:
  return torch.clamp(cutoff * torch.sigmoid(x) - 0.5 * (cutoff - 1.0), 0.0, 1.0)


def hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
  return torch.clamp(0.5 * x + 0.5, 0.0, 1.0)


def hard_tanh(x: torch.Tensor) -> torch.Tensor:
  return torch.clamp(x, -1.0, 1.0)


def diagonal_shift(s: torch.Tensor) -> torch.Tensor:
  """Diagonal gates on a ``[B, m, ..., n]`` state: the first third of the maps is
  shifted left along n (position i takes position i + 1), the second third right."""
  k = s.shape[1] // 3
  left = F.pad(s[:, :k, ..., 1:], (0, 1))
  right = F.pad(s[:, k : 2 * k, ..., :-1], (1, 0))
  return torch.cat([left, right, s[:, 2 * k :]], dim=1)


def _saturation(x: torch.Tensor) -> torch.Tensor:
  """``[B]``: relu(|x| - 0.9) summed over maps and positions."""
  return F.relu(x.abs() - SATURATION_LIMIT).flatten(1).sum(1)


class CGRU(nn.Module):
  """One convolutional GRU: u, r = gates(conv(s)); c = act(conv(r * s));
  s' = u * s + (1 - u) * c (DNGPU: s diagonally shifted, hard gates, dropout on c)."""

  def __init__(self, kind: str, maps: int):
    super().__init__()
    self.kind = kind
    if kind == "faithful":
      self.gate = nn.Conv2d(maps, 2 * maps, 3, padding=1)
      self.cand = nn.Conv2d(maps, maps, 3, padding=1)
    else:
      self.gate = nn.Conv1d(maps, 2 * maps, 3, padding=1)
      self.cand = nn.Conv1d(maps, maps, 3, padding=1)

  def forward(self, s: torch.Tensor):
    m = s.shape[1]
    g = self.gate(s)
    if self.kind == "faithful":
      u, r = cutoff_sigmoid(g[:, :m]), cutoff_sigmoid(g[:, m:])
      c = torch.tanh(self.cand(r * s))
      return u * s + (1.0 - u) * c, None
    u, r = hard_sigmoid(g[:, :m]), hard_sigmoid(g[:, m:])
    pre_c = self.cand(r * s)
    c = F.dropout(hard_tanh(pre_c), CANDIDATE_DROPOUT, self.training)
    sat = _saturation(g) + _saturation(pre_c)
    return u * diagonal_shift(s) + (1.0 - u) * c, sat


class NeuralGPU(nn.Module):
  """``forward(inputs [B, n] int64, positions [B, n] bool or None)`` ->
  (logits ``[B, n, out_classes]``, saturation cost: a scalar, 0 for "faithful")."""

  def __init__(self, kind: str, maps: int, vocab: int = 5, out_classes: int = 5):
    super().__init__()
    _check_kind(kind)
    self.kind = kind
    self.maps = maps
    self.height, _, _, per_step = _GEOMETRY[kind]
    self.embed = nn.Embedding(vocab, maps)
    if kind == "faithful":
      self.input = nn.Linear(maps, maps)
    else:
      self.in_bias = nn.Parameter(torch.zeros(maps))
    self.cgrus = nn.ModuleList([CGRU(kind, maps) for _ in range(per_step)])
    self.output = nn.Linear(maps, out_classes)

  def forward(self, inputs: torch.Tensor, positions: Optional[torch.Tensor] = None):
    b, n = inputs.shape
    if positions is None:
      positions = inputs > 0
    live = positions.to(self.embed.weight.dtype)  # [B, n]
    emb = self.embed(inputs)  # [B, n, m]
    in_sat = None
    if self.kind == "faithful":
      x = self.input(torch.tanh(emb))
    else:
      pre = emb + self.in_bias
      in_sat = _saturation(pre)
      x = F.dropout(hard_tanh(pre), CANDIDATE_DROPOUT, self.training)
    x = (x * live[..., None]).transpose(1, 2)  # [B, m, n]
    if self.kind == "faithful":
      mask = live[:, None, None, :]  # [B, 1, 1, n]
      s = torch.cat([x[:, :, None, :], x.new_zeros(b, self.maps, self.height - 1, n)], 2)
    else:
      mask = live[:, None, :]  # [B, 1, n]
      s = x
    state_drop = min(STATE_DROPOUT * 8.0 / n, 0.5) if self.kind == "faithful" else 0.0
    sat = None
    for _ in range(n):
      for cgru in self.cgrus:
        s, sat_t = cgru(s)
        s = s * mask
        if sat_t is not None:
          sat = sat_t if sat is None else sat + sat_t
      if state_drop > 0:
        s = F.dropout(s, state_drop, self.training)
    top = s[:, :, 0, :] if self.kind == "faithful" else s  # [B, m, n]
    logits = self.output(top.transpose(1, 2))
    if sat is None:
      return logits, logits.new_zeros(())
    # Per example: the gates' cost over the n steps and n cells divided by n * n, the
    # input layer's over the n positions divided by n; then the mean over examples.
    return logits, torch.mean(sat / (n * n * self.height) + in_sat / n)


def build(kind: str, maps: int, vocab: int = 5, out_classes: int = 5) -> NeuralGPU:
  return NeuralGPU(kind, maps, vocab, out_classes)


def make_optimizer(kind: str, model: nn.Module) -> torch.optim.Optimizer:
  if kind == "faithful":
    return torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-4)
  return torch.optim.Adamax(model.parameters(), lr=0.01, betas=(0.9, 0.99), eps=1e-8)


GRAD_CLIP = {"faithful": 1.0, "dngpu": 1e9}


def loss_fn(kind: str, logits: torch.Tensor, sat: torch.Tensor, targets: torch.Tensor):
  """Cross-entropy over the target positions (targets > 0), plus the weighted
  saturation cost (dngpu)."""
  ce = F.cross_entropy(
      logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none"
  ).reshape(targets.shape)
  mask = (targets > 0).to(ce.dtype)
  loss = torch.sum(ce * mask) / torch.clamp(mask.sum(), min=1.0)
  if kind == "dngpu":
    loss = loss + SATURATION_WEIGHT * sat
  return loss


def train_step(kind, model, opt, inputs, targets) -> torch.Tensor:
  """Forward, loss, backward, global-norm clip, optimizer step; returns the loss."""
  opt.zero_grad(set_to_none=True)
  logits, sat = model(inputs, (inputs > 0) | (targets > 0))
  loss = loss_fn(kind, logits, sat, targets)
  loss.backward()
  torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP[kind])
  opt.step()
  return loss.detach()


def train_step_time(
    kind: str,
    maps: int,
    batch: int,
    length: int,
    reps: int = 3,
    compile: bool = False,
    threads: Optional[int] = None,
    vocab: int = 5,
    out_classes: int = 5,
    seed: int = 0,
    device: str = "cpu",
) -> dict:
  """Seconds per train step (the mean of ``reps`` steps after one warm-up step)."""
  _check_kind(kind)
  if threads is not None:
    torch.set_num_threads(int(threads))
  out = {
      "kind": kind,
      "maps": maps,
      "batch": batch,
      "length": length,
      "torch_version": torch.__version__,
      "threads": torch.get_num_threads(),
      "compile": bool(compile),
      "device": device,
  }
  try:
    torch.manual_seed(seed)
    dev = torch.device(device)
    model = build(kind, maps, vocab, out_classes).to(dev).train()
    opt = make_optimizer(kind, model)
    fwd = torch.compile(model) if compile else model
    inputs = torch.randint(1, vocab, (batch, length), device=dev)
    targets = torch.randint(1, out_classes, (batch, length), device=dev)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

    t0 = time.perf_counter()
    loss = train_step(kind, fwd, opt, inputs, targets)
    float(loss)
    sync()
    out["first_step_s"] = time.perf_counter() - t0
    times = []
    for _ in range(reps):
      t0 = time.perf_counter()
      loss = train_step(kind, fwd, opt, inputs, targets)
      float(loss)
      sync()
      times.append(time.perf_counter() - t0)
  except Exception as e:  # noqa: BLE001 -- a failed compile is a result, not a crash
    if not compile:
      raise
    out["error"] = f"{type(e).__name__}: {e}"
    return out
  out["step_s"] = float(np.mean(times))
  out["step_s_min"] = float(np.min(times))
  out["loss"] = float(loss)
  out["flops"] = flops_train_step(kind, maps, batch, length)
  return out


def make_step(
    kind: str,
    maps: int,
    batch: int,
    length: int,
    compile: bool = False,
    vocab: int = 5,
    out_classes: int = 5,
    seed: int = 0,
):
  """A callable ``timed(reps) -> seconds per train step`` over one model, optimizer and
  batch kept between calls (for rounds interleaved with other sides)."""
  _check_kind(kind)
  torch.manual_seed(seed)
  model = build(kind, maps, vocab, out_classes).train()
  opt = make_optimizer(kind, model)
  fwd = torch.compile(model) if compile else model
  inputs = torch.randint(1, vocab, (batch, length))
  targets = torch.randint(1, out_classes, (batch, length))

  def timed(reps: int) -> float:
    t0 = time.perf_counter()
    for _ in range(reps):
      float(train_step(kind, fwd, opt, inputs, targets))
    return (time.perf_counter() - t0) / reps

  return timed


def flops_train_step(kind: str, maps: int, batch: int, length: int) -> float:
  """Model FLOPs of one train step: 2 x the multiply-adds of every conv (gates m -> 2m
  and candidate m -> m, kernel kn x kh) of every CGRU of the n steps, x3 for the
  forward and the backward pass. The input and output layers (O(B n m V)) are left out.
  Faithful: 216 B n m^2 per CGRU forward, 2 per step; dngpu: 18 B n m^2, 1 per step."""
  _check_kind(kind)
  height, kn, kh, per_step = _GEOMETRY[kind]
  return common.cgru_train_step_flops(batch, length, height, kn, kh, maps, per_step, length)


# ----------------------------------------------------------------------------
# Equivalence with neuralgpu.model.
# ----------------------------------------------------------------------------
def jax_config(kind: str, maps: int):
  """The model config of our JAX model that ``build(kind, maps)`` reproduces."""
  _check_kind(kind)
  from neuralgpu import presets as ngpu

  c = ngpu.get_config(f"variant={_VARIANT[kind]},task=badd")
  m = c.model
  m.num_maps = int(maps)
  m.num_sets = 1
  m.dropout = 0.0
  m.candidate_dropout = 0.0
  m.conv_impl = "shifted"
  m.remat = "none"
  if kind == "dngpu":
    m.saturation_cost = SATURATION_WEIGHT
  return m


def _conv_weight(w: np.ndarray, kn: int, kh: int, maps: int, conv1d: bool) -> torch.Tensor:
  """Our ``[kn * kh * C, O]`` (rows: n-offset, height-offset, channel) as a torch
  weight ``[O, C, kh, kn]`` (input ``[B, C, height, n]``) or ``[O, C, kn]``."""
  k = w.reshape(kn, kh, maps, w.shape[-1]).transpose(3, 2, 1, 0)  # [O, C, kh, kn]
  if conv1d:
    k = k[:, :, 0, :]
  return torch.from_numpy(np.ascontiguousarray(k))


def load_jax_params(model: NeuralGPU, params) -> None:
  """Copies ``neuralgpu.model`` parameters (one weight set) into ``model``."""
  p = {k: np.asarray(v, np.float32) for k, v in params.items()}
  _, kn, kh, per_step = _GEOMETRY[model.kind]
  m = model.maps
  t = torch.from_numpy
  with torch.no_grad():
    model.embed.weight.copy_(t(p["embed"]))
    if model.kind == "faithful":
      model.input.weight.copy_(t(p["in_w"].T.copy()))
      model.input.bias.copy_(t(p["in_b"]))
    else:
      model.in_bias.copy_(t(p["in_b"]))
    for j, cgru in enumerate(model.cgrus):
      conv1d = model.kind == "dngpu"
      cgru.gate.weight.copy_(_conv_weight(p["gate_w"][0, j], kn, kh, m, conv1d))
      cgru.gate.bias.copy_(t(p["gate_b"][0, j]))
      cgru.cand.weight.copy_(_conv_weight(p["cand_w"][0, j], kn, kh, m, conv1d))
      cgru.cand.bias.copy_(t(p["cand_b"][0, j]))
    model.output.weight.copy_(t(p["out_w"].T.copy()))
    model.output.bias.copy_(t(p["out_b"]))


def compare_with_jax(
    kind: str, maps: int = 6, batch: int = 2, length: int = 7, seed: int = 0
) -> dict:
  """Both forwards (eval mode) on the same parameters and inputs (example b padded on
  its last b positions): ``{"logits": max abs diff, "saturation": abs diff,
  "logits_scale": max abs logit}``."""
  import jax
  import jax.numpy as jnp
  from neuralgpu import model as model_lib

  cfg = jax_config(kind, maps)
  vocab = int(cfg.vocab_size)
  out_classes = int(cfg.get("output_classes", 0)) or vocab
  rng = np.random.default_rng(seed)
  with jax.default_device(jax.devices("cpu")[0]):
    params = model_lib.init_params(jax.random.key(seed), cfg)
    # Perturbed, so that the zero-initialised biases and equal gate biases are tested.
    params = {
        k: np.asarray(v) + 0.3 * rng.standard_normal(v.shape).astype(np.float32)
        for k, v in params.items()
    }
    inputs = rng.integers(1, vocab, (batch, length)).astype(np.int32)
    for b in range(batch):
      inputs[b, length - min(b, length - 1) :] = 0
    logits_j, sat_j = model_lib.apply(
        {k: jnp.asarray(v) for k, v in params.items()}, jnp.asarray(inputs), cfg, train=False
    )
    logits_j, sat_j = np.asarray(logits_j), float(sat_j)
  model = build(kind, maps, vocab, out_classes).eval()
  load_jax_params(model, params)
  with torch.no_grad():
    logits_t, sat_t = model(torch.from_numpy(inputs.astype(np.int64)))
  return {
      "logits": float(np.max(np.abs(logits_t.numpy() - logits_j))),
      "saturation": abs(float(sat_t) - sat_j),
      "logits_scale": float(np.max(np.abs(logits_j))),
      "saturation_jax": sat_j,
  }


def forward_matches_jax(
    kind: str, maps: int = 6, batch: int = 2, length: int = 7, seed: int = 0
) -> float:
  """Max abs difference between the torch and the JAX logits (see compare_with_jax)."""
  return compare_with_jax(kind, maps, batch, length, seed)["logits"]


if __name__ == "__main__":
  import json

  for kind in KINDS:
    print(kind, json.dumps(compare_with_jax(kind)))
  print(json.dumps(train_step_time("faithful", 24, 32, 41, reps=2)))
  print(json.dumps(train_step_time("dngpu", 48, 16, 25, reps=5)))
