"""Tabular view of a gymnax env: how many table rows, and which row an observation indexes."""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from gymnax.environments import spaces

from mbrl_jax.core.errors import MbrlJaxError

# Largest table we agree to build (rows x actions); beyond this a table method is the wrong tool.
MAX_TABLE_ENTRIES = 50_000_000


class NotTabularError(MbrlJaxError, ValueError):
    """The env's observations (or actions) cannot index a finite table."""


class TabularSpec(NamedTuple):
    num_states: int
    num_actions: int
    obs_to_row: Callable[[jax.Array], jax.Array]  # observation -> int32 scalar row


def tabular_spec(env, env_params) -> TabularSpec:
    """Map a gymnax env with enumerable observations onto table rows.

    Accepts a `Discrete` observation space (row = observation) or a bounded `Box` whose bounds are
    finite whole numbers, whatever its dtype (gymnax grid worlds such as FourRooms-misc type
    integer coordinates as float32): row = the flat index of the (rounded) observation vector
    within its bounds. A short random-action probe (64 steps, jitted) must see only whole numbers
    within the bounds: bandits whose observations hold a reward or a time fraction within
    whole-number bounds are continuous. Actions must be `Discrete`.

    Raises:
      NotTabularError: unbounded or non-integral bounds (continuous observations), too many
        states, or a non-discrete action space.
    """
    obs_space = env.observation_space(env_params)
    act_space = env.action_space(env_params)
    name = getattr(env, "name", type(env).__name__)
    if not isinstance(act_space, spaces.Discrete):
        raise NotTabularError(
            f"{name} has a {type(act_space).__name__} action space; tabular methods need "
            "Discrete actions"
        )
    if isinstance(obs_space, spaces.Discrete):
        def obs_to_row(obs):
            return jnp.asarray(obs, jnp.int32)
        return TabularSpec(int(obs_space.n), int(act_space.n), obs_to_row)

    if isinstance(obs_space, spaces.Box) and _integral_bounds(obs_space):
        low = np.broadcast_to(np.asarray(obs_space.low), obs_space.shape).astype(np.int64)
        high = np.broadcast_to(np.asarray(obs_space.high), obs_space.shape).astype(np.int64)
        sizes = (high - low + 1).reshape(-1)
        num_states = int(np.prod(sizes, dtype=object))
        if num_states * int(act_space.n) > MAX_TABLE_ENTRIES:
            raise NotTabularError(
                f"{name} has {num_states} observation values; too many for a table"
            )
        if not _observations_integral(env, env_params, obs_space):
            raise NotTabularError(
                f"{name} observes non-integral values, or values outside its bounds, in a Box "
                f"with whole-number bounds ({obs_space!r}): they cannot index a table")
        # row-major: the last dim varies fastest, stride of dim i = prod(sizes[i + 1:])
        strides = np.cumprod(np.concatenate([[1], sizes[1:][::-1]]))[::-1].astype(np.int32)
        low_flat, strides = jnp.asarray(low.reshape(-1), jnp.int32), jnp.asarray(strides)

        def obs_to_row(obs):
            flat = jnp.round(jnp.asarray(obs)).astype(jnp.int32).reshape(-1) - low_flat
            return jnp.sum(flat * strides).astype(jnp.int32)
        return TabularSpec(num_states, int(act_space.n), obs_to_row)

    raise NotTabularError(
        f"observations of {name} ({obs_space!r}) cannot index a table: tabular methods need a "
        "Discrete observation space or a Box with finite whole-number bounds (try FrozenLake-misc, "
        "FourRooms-misc or a maze)"
    )


_PROBE_STEPS = 64


_PROBED: dict = {}


def _observations_integral(env, env_params, box: spaces.Box) -> bool:
    """Whether a random-action run of `_PROBE_STEPS` steps (auto-resets included) observes only
    whole numbers within the bounds (some gymnax envs declare bounds their observations leave).
    Remembered per env class, constructor state and params: `mbrl-jax envs` and the trainers ask
    again for the same env, and each probe costs a compilation."""
    memo = (type(env), repr(sorted(vars(env).items())), repr(env_params), repr(box))
    if memo not in _PROBED:
        _PROBED[memo] = _probe(env, env_params, box)
    return _PROBED[memo]


def _probe(env, env_params, box: spaces.Box) -> bool:
    num_actions = int(env.action_space(env_params).n)

    @jax.jit
    def probe(key):
        obs, state = env.reset(key, env_params)

        def step(carry, k):
            obs, state = carry
            act_key, step_key = jax.random.split(k)
            action = jax.random.randint(act_key, (), 0, num_actions)
            obs, state, *_ = env.step(step_key, state, action, env_params)
            return (obs, state), obs

        _, seen = jax.lax.scan(step, (obs, state), jax.random.split(key, _PROBE_STEPS))
        seen = jnp.concatenate([obs[None], seen])
        return jnp.all((seen % 1 == 0) & (seen >= box.low) & (seen <= box.high))

    return bool(probe(jax.random.key(0)))


def _integral_bounds(box: spaces.Box) -> bool:
    """Finite bounds that are whole numbers (the Box enumerates a grid), whatever the dtype."""
    bounds = np.concatenate([np.ravel(np.asarray(box.low, np.float64)),
                             np.ravel(np.asarray(box.high, np.float64))])
    return bool(np.all(np.isfinite(bounds)) and np.all(bounds == np.round(bounds))
                and np.all(np.abs(bounds) < 2**31))
