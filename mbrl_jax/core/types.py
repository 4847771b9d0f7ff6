"""Records shared by every algorithm."""

from typing import NamedTuple

import jax


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


__all__ = ["Transition"]
