"""Exact gradient check of the RL-NTM REINFORCE estimator, printed as reports.

Tiny setting: Copy of the tape [1, 0] (base 2), 3 steps, a 3-unit LSTM with a
2-dimensional memory, input head {stay, right}: 12 joint actions per step,
1728 enumerated sequences. Checks the project's estimator with and without the
learned baseline, and two deliberately broken estimators.

  python -m experiments.studies.gradcheck_rlntm [--steps=3]
"""

import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

import rltape.envs as envs
from rltape import gradcheck
from rltape.reinforce import agent

_STEPS = flags.DEFINE_integer("steps", 3, "Horizon T of the tiny setting.")


def _missing_memory_logprob(traj, cfg):
  return agent.episode_loss(
      traj._replace(log_prob=traj.log_prob_heads[:, 0] + traj.log_prob_heads[:, 2]), cfg
  )


def _unstopped_return(traj, cfg):
  alive = traj.alive.astype(traj.log_prob.dtype)
  r_t = agent.rewards(traj, cfg)
  adv = agent.reward_to_go(r_t, cfg.gamma) - jax.lax.stop_gradient(traj.baseline)
  return -jnp.sum(alive * traj.log_prob * adv) - jnp.sum(r_t), {}


def main(argv):
  del argv
  env = envs.make("Copy", max_length=2, base=2, moves=(0, 1))
  acts = gradcheck.enumerate_action_sequences(_STEPS.value, (env.num_moves, 3, 2))
  cases = [
      ("project estimator, learned baseline", True, None),
      ("project estimator, no baseline", False, None),
      ("BROKEN: memory-move log-prob missing", True, _missing_memory_logprob),
      ("BROKEN: return differentiated inside the score term", True, _unstopped_return),
  ]
  for name, use_baseline, loss_fn in cases:
    cfg = agent.AgentConfig(hidden=3, mem_dim=2, use_baseline=use_baseline, entropy_coef=0.0)
    policy, baseline = agent.split_params(agent.init_params(jax.random.key(1), cfg, env))
    baseline = jax.tree_util.tree_map(lambda x: x + 0.7, baseline)
    lpr, est = agent.make_gradcheck_fns(
        cfg, env, env.default_params, np.array([1, 0]), baseline, _STEPS.value, loss_fn=loss_fn
    )
    t = time.time()
    result = gradcheck.check_reinforce_gradient(lpr, est, policy, acts)
    print(f"## {name}  ({time.time() - t:.1f} s wall, compile included)\n")
    print(result.report() + "\n")


if __name__ == "__main__":
  app.run(main)
