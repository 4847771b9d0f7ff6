"""SAC's networks: a Gaussian actor head and twin Q critics as one stacked-parameter MLP.

    nets = make_networks(config, obs_dim=3, action_dim=1)
    actor_params = nets.actor.init(key, obs)              # obs [..., O]
    mean, log_std = nets.actor.apply(actor_params, obs)   # [..., A] each, log_std clipped
    critic_params = nets.critic.init(key, obs, action)    # leaves [2, ...] (twin critics)
    q = nets.critic.apply(critic_params, obs, action)     # [2, ...]

Critics see actions in the squashed space (-1, 1)^A, whatever the env's bounds.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from mbrl_jax.core.networks import Network, make_mlp
from mbrl_jax.sac.config import SACConfig

NUM_CRITICS = 2


class SACNetworks(NamedTuple):
    actor: Network   # init(key, obs) ; apply(params, obs [..., O]) -> (mean, log_std) [..., A]
    critic: Network  # init(key, obs, act) ; apply(params, obs, act [..., A]) -> q [2, ...]


def make_networks(config: SACConfig, obs_dim: int, action_dim: int) -> SACNetworks:
    """Actor and twin critics for `obs_dim`-dimensional observations and `action_dim` actions."""
    del obs_dim  # flax infers input widths at init
    actor_mlp = make_mlp(config.hidden_sizes, 2 * action_dim, config.activation)
    q_mlp = make_mlp(config.hidden_sizes, 1, config.activation)

    def actor_apply(params, obs):
        out = actor_mlp.apply(params, obs)                            # [..., 2A]
        mean, log_std = jnp.split(out, 2, axis=-1)
        return mean, jnp.clip(log_std, config.log_std_min, config.log_std_max)

    def critic_init(key, obs, action):
        keys = jax.random.split(key, NUM_CRITICS)
        x = jnp.concatenate([obs, action], axis=-1)
        return jax.vmap(q_mlp.init, in_axes=(0, None))(keys, x)      # leaves [2, ...]

    def critic_apply(params, obs, action):
        x = jnp.concatenate([obs, action], axis=-1)                  # [..., O + A]
        q = jax.vmap(q_mlp.apply, in_axes=(0, None))(params, x)      # [2, ..., 1]
        return q[..., 0]

    return SACNetworks(actor=Network(actor_mlp.init, actor_apply),
                       critic=Network(critic_init, critic_apply))
