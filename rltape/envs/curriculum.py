"""Curricula as pure `init`/`update` pairs that turn episode statistics into EnvParams.

    cur = curriculum.make_curriculum(env)
    cstate = cur.init()
    params = cur.params(cstate, env.default_params)
    ... run a batch of episodes with `params` ...
    cstate = cur.update(cstate, curriculum.episode_stats(final_states))
    params = cur.params(cstate, params)

`update` consumes a batch of finished episodes in order (a `lax.scan`), so feeding the
episodes one by one or all at once gives the same result, and everything is jittable.

Gym family (gym 0.19.0 `AlgorithmicEnv._check_levelup`): the shortfall of an episode is
its return minus the number of targets. The last `window` shortfalls are kept (10; 50
for Reverse, RepeatCopy and ForwardReverse); when the window is full, its minimum is at
least the threshold (-1.0; -0.1 for those three) and min_length < 30, min_length grows
by 1 and the window is emptied. Episodes then have length min_length + U{0, 1, 2}
(`EnvParams.length` = min_length, `length_jitter` = 2). min_length starts at 2 (1 for
Reverse and ForwardReverse) and is also capped at the env's max_length.

LSA family (Zaremba et al. 2016, "Learning Simple Algorithms from Examples"): complexity
starts at 6 and grows by 4 when whole-sequence accuracy (the fraction of episodes with
every target right) over the last `window` = 200 episodes is at least 0.995 (the paper
does not give its window; 200 is the smallest that can measure 0.995, allowing one
failure); the window is then emptied. As in the paper's code, an episode's length is
drawn from [complexity - 4, complexity] (at least 2): `length` = max(complexity - 4, 2) and
`length_jitter` = complexity - length. Complexity is capped at max_length. With
`extra=True` (the default for lsa/add3, the talk's "extra curriculum") the params'
`no_carry_frac` is 1 while complexity <= 12, 0.5 while <= 16 and 0 after, the
thresholds of the paper's code for its no-carry samples.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from rltape.envs.core import AlgorithmicEnv, EnvParams, EnvState, episode_solved

GYM_MAX_MIN_LENGTH = 30
LSA_START = 6
LSA_STEP = 4
LSA_ACCURACY = 0.995
LSA_WINDOW = 200


class EpisodeStats(NamedTuple):
  """Per-episode statistics, each of shape [N] (episodes in the order they ended).

  Attributes:
    episode_return: float32: sum of rewards.
    num_targets: int32: number of targets of the episode.
    solved: bool: every target written correctly.
    mask: bool: which entries are real finished episodes.
  """

  episode_return: jax.Array
  num_targets: jax.Array
  solved: jax.Array
  mask: jax.Array


def episode_stats(final_states: EnvState, mask: jax.Array | None = None) -> EpisodeStats:
  """Stats of a batch of final states (leading batch axis, or a single state)."""
  if jnp.ndim(final_states.time) == 0:
    final_states = jax.tree_util.tree_map(lambda x: x[None], final_states)
  if mask is None:
    mask = final_states.terminated | final_states.truncated
  return EpisodeStats(
      final_states.episode_return.astype(jnp.float32),
      final_states.num_targets.astype(jnp.int32),
      jax.vmap(episode_solved)(final_states),
      jnp.atleast_1d(jnp.asarray(mask)).astype(bool),
  )


class CurriculumState(NamedTuple):
  """Curriculum state.

  Attributes:
    level: int32 []: gym min_length or LSA complexity.
    window: float32 [W]: recent per-episode scores (gym shortfall, LSA solved 0/1);
      +inf marks empty slots.
    count: int32 []: number of filled slots (since the last promotion).
    pos: int32 []: next slot to write.
    promotions: int32 []: number of promotions so far.
  """

  level: jax.Array
  window: jax.Array
  count: jax.Array
  pos: jax.Array
  promotions: jax.Array


class Curriculum(NamedTuple):
  """A curriculum: `init() -> state`, `update(state, stats) -> state`,
  `params(state, params) -> params`."""

  init: Callable[[], CurriculumState]
  update: Callable[[CurriculumState, EpisodeStats], CurriculumState]
  params: Callable[[CurriculumState, EnvParams], EnvParams]


def _windowed(
    start: int,
    size: int,
    max_level: int,
    step: int,
    score: Callable[[EpisodeStats], jax.Array],
    ready: Callable[[jax.Array], jax.Array],
):
  """Shared ring-buffer promotion rule; returns (init, update)."""

  def init():
    return CurriculumState(
        jnp.asarray(start, jnp.int32),
        jnp.full((size,), jnp.inf, jnp.float32),
        jnp.zeros((), jnp.int32),
        jnp.zeros((), jnp.int32),
        jnp.zeros((), jnp.int32),
    )

  def one(state, x):
    s, valid = x
    window = jnp.where(valid, state.window.at[state.pos].set(s), state.window)
    count = jnp.minimum(state.count + valid.astype(jnp.int32), size)
    pos = (state.pos + valid.astype(jnp.int32)) % size
    promote = valid & (count >= size) & ready(window) & (state.level < max_level)
    new = CurriculumState(
        level=jnp.where(promote, jnp.minimum(state.level + step, max_level), state.level),
        window=jnp.where(promote, jnp.inf, window),
        count=jnp.where(promote, 0, count),
        pos=jnp.where(promote, 0, pos),
        promotions=state.promotions + promote.astype(jnp.int32),
    )
    return new, None

  def update(state, stats: EpisodeStats):
    scores = score(stats).astype(jnp.float32)
    state, _ = jax.lax.scan(one, state, (scores, stats.mask.astype(bool)))
    return state

  return init, update


def gym_curriculum(env: AlgorithmicEnv) -> Curriculum:
  """Gym 0.19.0's min_length curriculum for a gym-family env."""
  if env.family != "gym":
    raise ValueError(f"gym_curriculum needs a gym-family env, got {env.name!r}")
  start = min(env.starting_min_length, env.max_length)
  max_level = max(start, min(GYM_MAX_MIN_LENGTH, env.max_length))
  threshold = env.promotion_threshold
  init, update = _windowed(
      start,
      env.promotion_window,
      max_level,
      1,
      score=lambda st: st.episode_return - st.num_targets.astype(jnp.float32),
      ready=lambda w: w.min() >= threshold,
  )

  def params(state, p: EnvParams) -> EnvParams:
    return p.replace(length=state.level, length_jitter=jnp.asarray(2, jnp.int32))

  return Curriculum(init, update, params)


def no_carry_fraction(complexity: jax.Array) -> jax.Array:
  """float32: share of no-carry episodes in the 3-row extra curriculum."""
  return jnp.where(complexity <= 12, 1.0, jnp.where(complexity <= 16, 0.5, 0.0)).astype(jnp.float32)


def lsa_curriculum(
    env: AlgorithmicEnv, extra: bool | None = None, window: int = LSA_WINDOW, start: int = LSA_START
) -> Curriculum:
  """The paper's complexity curriculum for an LSA-family env.

  Args:
    env: an LSA env.
    extra: use the no-carry extra curriculum; defaults to True for lsa/add3 only.
    window: number of recent episodes that measure accuracy (at least 1).
    start: starting complexity.
  """
  if env.family != "lsa":
    raise ValueError(f"lsa_curriculum needs an lsa-family env, got {env.name!r}")
  if not isinstance(window, int) or window < 1:
    raise ValueError(f"lsa_curriculum: window must be an int >= 1, got {window!r}")
  if not isinstance(start, int) or not 1 <= start <= env.max_length:
    raise ValueError(
        f"lsa_curriculum: start must be an int in [1, max_length="
        f"{env.max_length}], got {start!r}"
    )
  extra = env.name == "lsa/add3" if extra is None else bool(extra)
  init, update = _windowed(
      start,
      window,
      env.max_length,
      LSA_STEP,
      score=lambda st: st.solved.astype(jnp.float32),
      # Empty slots hold +inf; a full window holds none.
      ready=lambda w: w.mean() >= LSA_ACCURACY,
  )

  def params(state, p: EnvParams) -> EnvParams:
    c = state.level
    length = jnp.maximum(c - LSA_STEP, jnp.minimum(2, c)).astype(jnp.int32)
    p = p.replace(length=length, length_jitter=(c - length).astype(jnp.int32))
    if extra:
      p = p.replace(no_carry_frac=no_carry_fraction(c))
    return p

  return Curriculum(init, update, params)


def make_curriculum(env: AlgorithmicEnv, **kwargs) -> Curriculum:
  """The curriculum matching the env's family (kwargs go to `lsa_curriculum`)."""
  if env.family == "gym":
    if kwargs:
      raise ValueError(f"gym_curriculum takes no options, got {sorted(kwargs)}")
    return gym_curriculum(env)
  return lsa_curriculum(env, **kwargs)
