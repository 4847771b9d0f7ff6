"""Records shared by every algorithm."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import struct


class Transition(NamedTuple):
    """A batch of environment transitions (leaves `[N, ...]`).

    obs: [N, O] float; action: [N] int (discrete) or [N, A] float; reward: [N];
    next_obs: [N, O] (the true next observation, not the auto-reset one); done: [N] bool,
    True on termination (not on truncation).
    """

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    next_obs: jax.Array
    done: jax.Array

    @classmethod
    def example(cls, obs_dim: int, action_dim: int) -> "Transition":
        """One zero float transition (obs `[obs_dim]`, continuous action `[action_dim]`): the
        leaf shapes a replay buffer is built from."""
        zeros_o = jnp.zeros((obs_dim,), jnp.float32)
        return cls(obs=zeros_o, action=jnp.zeros((action_dim,), jnp.float32),
                   reward=jnp.float32(0), next_obs=zeros_o, done=jnp.bool_(False))


@struct.dataclass
class EmptyHParams:
    """The hyperparameters of an algorithm with none to sweep (as optax's `EmptyState`): an
    empty pytree whose `validate` accepts it."""

    def validate(self) -> "EmptyHParams":
        return self


__all__ = ["EmptyHParams", "Transition"]
