"""``model.state_trace``: the stacked per-step states of the evaluation forward, whose
last state gives ``apply``'s logits, for every input layer, height and set count."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from neuralgpu import model
from tests.neuralgpu._models import tiny_cfg


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"num_sets": 2, "cgrus_per_step": 2},
        {
            "height": 1,
            "kernel_height": 1,
            "cgrus_per_step": 1,
            "gate_type": "hard",
            "diagonal_gates": True,
            "input_layer": "hard_tanh",
            "saturation_cost": 0.01,
            "candidate_dropout": 0.5,
            "num_sets": 1,
            "steps_per_length": 2.0,
        },
    ],
)
def test_state_trace_matches_apply(kw):
  cfg = tiny_cfg(**kw)
  params = model.init_params(jax.random.key(3), cfg)
  inputs = jnp.array([[2, 3, 17, 2, 2, 0, 0], [3, 17, 2, 0, 0, 0, 0]], jnp.int32)
  sets = min(2, int(cfg.num_sets))
  logits, _ = model.apply(params, inputs, cfg, active_sets=sets)
  states, trace_logits = model.state_trace(params, inputs, cfg, active_sets=sets)
  steps = model.num_steps_for(cfg, inputs.shape[1])
  assert states.shape == (steps + 1, 2, 7, int(cfg.height), int(cfg.num_maps))
  np.testing.assert_allclose(np.asarray(trace_logits), np.asarray(logits), rtol=1e-6, atol=1e-6)
  final = states[-1][:, :, 0, :] @ params["out_w"] + params["out_b"]
  np.testing.assert_allclose(np.asarray(final), np.asarray(logits), rtol=1e-6, atol=1e-6)
  # Padding positions hold no state at any step.
  pad = np.asarray(inputs == 0)
  assert np.all(np.asarray(states)[:, pad] == 0)


def test_state_trace_first_states_are_the_recurrence():
  cfg = tiny_cfg()
  params = model.init_params(jax.random.key(0), cfg)
  inputs = jnp.array([[2, 2, 17, 3, 0]], jnp.int32)
  states, _ = model.state_trace(params, inputs, cfg, active_sets=3)
  # One step of the recurrence from the traced initial state gives the next state.
  step = model._make_step_fn(
      cfg, (inputs > 0).astype(jnp.float32)[:, :, None, None], 5, jnp.int32(3), None, False
  )
  stack = {k: params[k] for k in model.CGRU_KEYS}
  for t in range(3):
    nxt, _ = step(stack, states[t], jnp.int32(t))
    np.testing.assert_allclose(np.asarray(nxt), np.asarray(states[t + 1]), rtol=1e-6, atol=1e-6)
