"""Tabular view of a gymnax env: how many table rows, and which row an observation indexes."""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from gymnax.environments import spaces

# Largest table we agree to build (rows x actions); beyond this a table method is the wrong tool.
MAX_TABLE_ENTRIES = 50_000_000


class NotTabularError(ValueError):
    """The env's observations (or actions) cannot index a finite table."""


class TabularSpec(NamedTuple):
    num_states: int
    num_actions: int
    obs_to_row: Callable[[jax.Array], jax.Array]  # observation -> int32 scalar row


def tabular_spec(env, env_params) -> TabularSpec:
    """Map a gymnax env with enumerable observations onto table rows.

    Accepts a `Discrete` observation space (row = observation) or a bounded integer `Box`
    (row = the flat index of the observation vector within its bounds). Actions must be `Discrete`.

    Raises:
      NotTabularError: continuous or unbounded observations, or a non-discrete action space.
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

    if isinstance(obs_space, spaces.Box) and jnp.issubdtype(obs_space.dtype, jnp.integer):
        low = np.broadcast_to(np.asarray(obs_space.low), obs_space.shape).astype(np.int64)
        high = np.broadcast_to(np.asarray(obs_space.high), obs_space.shape).astype(np.int64)
        sizes = (high - low + 1).reshape(-1)
        num_states = int(np.prod(sizes, dtype=object))
        if num_states * int(act_space.n) > MAX_TABLE_ENTRIES:
            raise NotTabularError(
                f"{name} has {num_states} observation values; too many for a table"
            )
        strides = np.cumprod(np.concatenate([sizes[1:][::-1], [1]]))[::-1].astype(np.int32)
        low_flat, strides = jnp.asarray(low.reshape(-1), jnp.int32), jnp.asarray(strides)

        def obs_to_row(obs):
            flat = jnp.asarray(obs, jnp.int32).reshape(-1) - low_flat
            return jnp.sum(flat * strides).astype(jnp.int32)
        return TabularSpec(num_states, int(act_space.n), obs_to_row)

    raise NotTabularError(
        f"observations of {name} ({obs_space!r}) cannot index a table: tabular methods need a "
        "Discrete or bounded integer Box observation space (try FrozenLake-misc or a maze)"
    )
