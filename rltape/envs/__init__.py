"""Functional tape and grid environments for algorithm learning (gymnax-1.0 style).

    import rltape.envs as envs
    env = envs.make("Copy", max_length=32)
    obs, state = env.reset(jax.random.key(0), env.default_params)
    obs, state, reward, terminated, truncated, info = env.step(key, state, action, params)
    # batched: obs, state = envs.auto_reset(env, key, obs, state, terminated | truncated, params)

Families:
  * OpenAI Gym algorithmic tasks (gym 0.19.0 rules; `rltape.envs.gym_tasks`): "Copy",
    "DuplicatedInput", "RepeatCopy", "Reverse", "ReversedAddition",
    "ReversedAddition3", and RL-NTM's "ForwardReverse".
  * "Learning Simple Algorithms from Examples" (`rltape.envs.lsa_tasks`): "lsa/copy",
    "lsa/reverse", "lsa/walk", "lsa/add2", "lsa/add3", "lsa/mul1".

Static constructor kwargs of `make` (anything that changes a shape): `max_length`
(all), `base` (all but lsa/walk), `moves` (tape tasks: (-1, 1) gym's left/right,
(-1, 0, 1) RL-NTM's left/stay/right, (0, 1) forward only), `time_limit_rule`
("gym" or "per_row"; ReversedAddition*). Curricula live in `rltape.envs.curriculum`,
scripted optimal policies in `rltape.envs.oracle_policies`, the input/output interfaces
as pure functions in `rltape.envs.interfaces`, the plain-Python reference
of the gym rules in `rltape.envs.reference`, and the RL-NTM memory tape in
`rltape.envs.memory`. The step rules and the behaviour on invalid input are documented
in `rltape.envs.core` (the base class), the counter-hash random numbers in
`rltape.envs.hashing`, the batched `auto_reset` in `rltape.envs.wrappers` and the
addition tasks' shared digit arithmetic in `rltape.envs.digits`.
"""

from __future__ import annotations

import functools
from typing import Callable

from rltape.envs.core import AlgorithmicEnv, EnvParams, EnvState, episode_solved, make_params
from rltape.envs.gym_tasks import (
    Copy,
    DuplicatedInput,
    ForwardReverse,
    RepeatCopy,
    ReversedAddition,
    Reverse,
)
from rltape.envs.hashing import batch_seeds
from rltape.envs.lsa_tasks import LsaAddition, LsaCopy, LsaMul1, LsaReverse, LsaWalk
from rltape.envs.wrappers import auto_reset

_REGISTRY: dict[str, Callable[..., AlgorithmicEnv]] = {
    "Copy": Copy,
    "DuplicatedInput": DuplicatedInput,
    "RepeatCopy": RepeatCopy,
    "Reverse": Reverse,
    "ReversedAddition": functools.partial(ReversedAddition, rows=2),
    "ReversedAddition3": functools.partial(ReversedAddition, rows=3),
    "ForwardReverse": ForwardReverse,
    "lsa/copy": LsaCopy,
    "lsa/reverse": LsaReverse,
    "lsa/walk": LsaWalk,
    "lsa/add2": functools.partial(LsaAddition, rows=2),
    "lsa/add3": functools.partial(LsaAddition, rows=3),
    "lsa/mul1": LsaMul1,
}

_ALLOWED_KWARGS = {
    "Copy": ("max_length", "base", "moves"),
    "DuplicatedInput": ("max_length", "base", "moves"),
    "RepeatCopy": ("max_length", "base", "moves"),
    "Reverse": ("max_length", "base", "moves"),
    "ForwardReverse": ("max_length", "base", "moves"),
    "ReversedAddition": ("max_length", "base", "time_limit_rule"),
    "ReversedAddition3": ("max_length", "base", "time_limit_rule"),
    "lsa/copy": ("max_length", "base", "moves"),
    "lsa/reverse": ("max_length", "base", "moves"),
    "lsa/walk": ("max_length",),
    "lsa/add2": ("max_length", "base"),
    "lsa/add3": ("max_length", "base"),
    "lsa/mul1": ("max_length", "base"),
}


def registered_names() -> tuple[str, ...]:
  """Names accepted by `make`, gym family first."""
  return tuple(_REGISTRY)


def make(name: str, **static_kwargs) -> AlgorithmicEnv:
  """Builds a registered environment.

  Args:
    name: one of `registered_names()`.
    **static_kwargs: shape-changing options (see the module docstring).

  Returns:
    The environment (immutable configuration; state lives in EnvState).

  Raises:
    ValueError: unknown name, unknown kwarg or invalid value.
  """
  if name not in _REGISTRY:
    raise ValueError(
        f"unknown environment {name!r}; registered: " f"{', '.join(registered_names())}"
    )
  unknown = sorted(set(static_kwargs) - set(_ALLOWED_KWARGS[name]))
  if unknown:
    raise ValueError(
        f"{name}: unknown option(s) {unknown}; allowed: " f"{', '.join(_ALLOWED_KWARGS[name])}"
    )
  return _REGISTRY[name](**static_kwargs)


__all__ = [
    "AlgorithmicEnv",
    "EnvParams",
    "EnvState",
    "auto_reset",
    "batch_seeds",
    "episode_solved",
    "make",
    "make_params",
    "registered_names",
]
