"""Records shared by every algorithm."""

from typing import NamedTuple

import jax
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


@struct.dataclass
class EmptyHParams:
    """The hyperparameters of an algorithm with none to sweep (as optax's `EmptyState`): an
    empty pytree whose `validate` accepts it."""

    def validate(self) -> "EmptyHParams":
        return self


__all__ = ["EmptyHParams", "Transition"]
