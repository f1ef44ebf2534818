"""Evaluation tests: error counting against numpy, chunked evaluation against
an independent recount, memory cap, and the question parser of the ask binary."""

import subprocess
import sys

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from experiments.configs import ngpu
from neuralgpu import evaluate, model, tasks
from neuralgpu import resolve as resolve_lib
from tests import _cli


def test_error_counts_match_numpy():
  rng = np.random.default_rng(0)
  targets = rng.integers(0, 4, size=(6, 7))
  logits = rng.normal(size=(6, 7, 5))
  got = jax.device_get(evaluate.error_counts(jnp.asarray(logits), jnp.asarray(targets)))
  pred = logits.argmax(-1)
  mask = targets > 0
  wrong = (pred != targets) & mask
  assert got["digit_wrong"] == wrong.sum()
  assert got["digit_total"] == mask.sum()
  assert got["seq_wrong"] == (wrong.any(-1) & mask.any(-1)).sum()
  assert got["seq_total"] == mask.any(-1).sum()


def test_chunk_cap():
  e = ml_collections.ConfigDict(dict(chunk_size=64, max_chunk_elements=2_000_000))
  m = ml_collections.ConfigDict(dict(height=4, num_maps=128))
  assert evaluate.chunk_size_for(2001, m, e) == 1
  assert evaluate.chunk_size_for(41, m, e) == 64
  assert evaluate.chunk_size_for(201, m, e) == 2_000_000 // (201 * 512)


def test_evaluate_length_constant_model_recount():
  """A model that always answers digit 0: errors = targets that are not 0."""
  cfg = ngpu.get_config("variant=smoke")
  mcfg = resolve_lib.resolve_model_config(cfg)
  params = model.init_params(jax.random.key(0), mcfg)
  params["out_w"] = jnp.zeros_like(params["out_w"])
  params["out_b"] = jnp.zeros_like(params["out_b"]).at[1].set(10.0)  # symbol 1 = digit 0
  task = tasks.get_task("badd")
  e = cfg.eval.copy_and_resolve_references()
  e.chunk_size = 3
  key = jax.random.key(3)
  row = evaluate.evaluate_length(key, params, 1, mcfg, e, task, 9, 7)
  wrong = total = seqs = 0
  for i in range(3):  # chunks of 3, 3 and 1 example
    x, y = tasks.make_batch(jax.random.fold_in(key, i), task, jnp.full((3,), 9, jnp.int32), 9)
    y = np.asarray(y)[: min(3, 7 - 3 * i)]
    w = (y != 1) & (y > 0)
    wrong, total, seqs = wrong + w.sum(), total + (y > 0).sum(), seqs + w.any(-1).sum()
  assert row["digit_error"] == pytest.approx(wrong / total)
  assert row["seq_wrong"] == seqs and row["examples"] == 7


def test_answer_reports_truth():
  cfg = ngpu.get_config("variant=smoke")
  mcfg = resolve_lib.resolve_model_config(cfg)
  params = model.init_params(jax.random.key(0), mcfg)
  r = evaluate.answer(params, 1, mcfg, tasks.get_task("badd"), 5, 3, length=9)
  assert r["truth"] == 8 and r["length"] == 9 and len(r["answer_digits"]) == 9
  assert r["correct"] == (r["answer"] == 8)


def test_ask_parse():
  assert evaluate.parse_question("101+11", 2) == (5, "add", 3, 3)
  assert evaluate.parse_question(" 2 * 1 ", 10) == (2, "mul", 1, 1)
  with pytest.raises(ValueError, match="base 2"):
    evaluate.parse_question("102+1", 2)
  with pytest.raises(ValueError, match="not"):
    evaluate.parse_question("1-1", 10)
  qs = evaluate.failure_questions(tasks.get_task("add"), digits=5)
  assert qs[0] == (2, 1, 5) and qs[1] == (9999, 1, 5) and qs[2] == (1111, 1111, 5)


def test_final_table_examples_are_held_out_from_solve_checks():
  """The final table's key differs from every seed's check key (a run that stops at a
  passed check is reported on other examples)."""
  import jax
  from neuralgpu import evaluate as ev

  data = lambda k: tuple(np.asarray(jax.random.key_data(k)).ravel())
  checks = {data(ev.check_key(s)) for s in range(8)}
  finals = {data(ev.final_key(s)) for s in range(8)}
  assert len(checks) == 8 and len(finals) == 8 and not checks & finals


_SPLIT_SCRIPT = r"""
import os
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
import jax, jax.numpy as jnp, numpy as np
from experiments.configs import ngpu
from neuralgpu import evaluate, model, tasks
from neuralgpu import resolve as resolve_lib
assert len(jax.local_devices()) == 2
cfg = ngpu.get_config("variant=smoke")
mcfg = resolve_lib.resolve_model_config(cfg)
params = model.init_params(jax.random.key(1), mcfg)
x, y = tasks.make_batch(jax.random.key(2), tasks.get_task("badd"), jnp.full((6,), 9, jnp.int32), 9)
pos = (x > 0) | (y > 0)
got = evaluate.predict_logits(params, x, mcfg, 1, pos)
assert len(got.sharding.device_set) == 2, got.sharding
want, _ = jax.jit(lambda p, x, q: model.apply(p, x, mcfg, active_sets=1, positions=q))(params, x, pos)
np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-5)
odd = evaluate.predict_logits(params, x[:5], mcfg, 1, pos[:5])  # 5 rows: not split
assert len(odd.sharding.device_set) == 1
np.testing.assert_allclose(np.asarray(odd), np.asarray(want)[:5], rtol=1e-5, atol=1e-5)
print("split-ok")
"""


def test_predict_splits_batch_over_cpu_devices():
  """With two CPU devices (the training binaries force one per core) the forward runs
  with its batch split over both and gives the logits of one unsplit forward."""
  out = subprocess.run(
      [sys.executable, "-c", _SPLIT_SCRIPT],
      cwd=_cli.ROOT,
      capture_output=True,
      text=True,
      timeout=300,
  )
  assert out.returncode == 0 and "split-ok" in out.stdout, out.stderr[-3000:]
