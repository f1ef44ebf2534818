"""The PyTorch baseline of the Neural GPU train step (benchmarks/torch_ngpu.py): its
forward equals our JAX model's on the same parameters, the check catches a wrong
diagonal shift, the timed step runs, and the FLOP count is the architecture's."""

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from benchmarks import torch_ngpu  # noqa: E402  (after the importorskip)


@pytest.mark.parametrize("kind", ["faithful", "dngpu"])
def test_forward_matches_jax(kind):
  diff = torch_ngpu.compare_with_jax(kind)
  assert diff["logits"] < 1e-4
  assert diff["logits_scale"] > 0.1  # the logits are not trivially zero
  assert diff["saturation"] < 1e-4
  if kind == "dngpu":
    assert diff["saturation_jax"] > 0.1


def _flipped_shift(s):
  k = s.shape[1] // 3
  return torch.cat(
      [F.pad(s[:, :k, ..., :-1], (1, 0)), F.pad(s[:, k : 2 * k, ..., 1:], (0, 1)), s[:, 2 * k :]],
      dim=1,
  )


def test_wrong_shift_direction_is_detected(monkeypatch):
  monkeypatch.setattr(torch_ngpu, "diagonal_shift", _flipped_shift)
  assert torch_ngpu.forward_matches_jax("dngpu") > 1e-3


@pytest.mark.parametrize("kind", ["faithful", "dngpu"])
def test_train_step_time(kind):
  r = torch_ngpu.train_step_time(kind, 6, 2, 7, reps=1)
  assert r["step_s"] > 0 and r["first_step_s"] > 0
  assert r["kind"] == kind and (r["maps"], r["batch"], r["length"]) == (6, 2, 7)
  assert r["compile"] is False and r["threads"] >= 1 and r["torch_version"]


def test_flops():
  b, n, m = 32, 41, 24
  assert torch_ngpu.flops_train_step("faithful", m, b, n) == 3 * 2 * n * 216 * b * n * m * m
  assert torch_ngpu.flops_train_step("dngpu", m, b, n) == 3 * n * 18 * b * n * m * m
