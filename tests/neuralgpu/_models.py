"""Small model configs shared by the model tests."""

import ml_collections


def tiny_cfg(**kw):
  c = ml_collections.ConfigDict(
      dict(
          vocab_size=19,
          num_maps=3,
          height=2,
          kernel_width=3,
          kernel_height=3,
          cgrus_per_step=2,
          cutoff=1.2,
          gate_type="cutoff_sigmoid",
          diagonal_gates=False,
          saturation_cost=0.0,
          candidate_dropout=0.0,
          dropout=0.0,
          num_sets=3,
          conv_impl="shifted",
          remat="none",
          remat_k=2,
          steps_per_length=1.0,
          init_scale=1.0,
          embed_init=1.7,
          update_gate_bias=1.0,
          reset_gate_bias=1.0,
          input_layer="embed_tanh_conv",
      )
  )
  c.update(kw)
  return c
