"""SAC's three losses as pure functions of parameters (Haarnoja et al. 2018, "Soft Actor-Critic
Algorithms and Applications", eqs. 5, 7 and 18), batched over transitions.

Actions are in the squashed space (-1, 1)^A throughout; log-probabilities are those of the
tanh-squashed Gaussian in that space.
"""

import jax
import jax.numpy as jnp

from mbrl_jax.core.distributions import squashed_gaussian
from mbrl_jax.sac.networks import SACNetworks


def sample_action(nets: SACNetworks, actor_params, obs: jax.Array, key: jax.Array):
    """Reparameterised action and its log-probability: `([B, A], [B])` for obs `[B, O]`."""
    mean, log_std = nets.actor.apply(actor_params, obs)
    return squashed_gaussian(mean, log_std).sample_and_log_prob(seed=key)


def critic_loss(critic_params, target_critic_params, actor_params, nets: SACNetworks,
                obs_tm1: jax.Array, a_tm1: jax.Array, r_t: jax.Array, obs_t: jax.Array,
                terminated_t: jax.Array, key: jax.Array, alpha: jax.Array, gamma: jax.Array):
    """Soft Bellman error of both critics against the clipped double-Q soft target.

    y = r_t + gamma * (1 - terminated_t) * (min_j Q'_j(obs_t, a_t) - alpha * log pi(a_t | obs_t)),
    a_t ~ pi(. | obs_t);  loss = 0.5 * sum_j mean_b (Q_j(obs_tm1, a_tm1) - y)^2.

    obs_tm1, obs_t: [B, O]; a_tm1: [B, A] in (-1, 1); r_t, terminated_t: [B] (terminated only:
    a time-limit truncation still bootstraps). Returns `(loss, q [2, B])`; y carries no gradient.
    """
    a_t, logp_t = sample_action(nets, actor_params, obs_t, key)            # [B, A], [B]
    q_next = nets.critic.apply(target_critic_params, obs_t, a_t).min(axis=0)  # [B]
    discount_t = gamma * (1.0 - terminated_t.astype(jnp.float32))
    y = jax.lax.stop_gradient(r_t + discount_t * (q_next - alpha * logp_t))  # [B]
    q = nets.critic.apply(critic_params, obs_tm1, a_tm1)                   # [2, B]
    loss = 0.5 * jnp.sum(jnp.mean(jnp.square(q - y), axis=1))
    return loss, q


def actor_loss(actor_params, critic_params, nets: SACNetworks, obs: jax.Array, key: jax.Array,
               alpha: jax.Array):
    """mean_b [alpha * log pi(a_b | obs_b) - min_j Q_j(obs_b, a_b)], a_b ~ pi reparameterised.

    obs: [B, O]. Returns `(loss, log_prob [B])`; gradients flow into the actor only through the
    action (the critic parameters are arguments not differentiated by the caller).
    """
    action, logp = sample_action(nets, actor_params, obs, key)            # [B, A], [B]
    q = nets.critic.apply(critic_params, obs, action).min(axis=0)         # [B]
    return jnp.mean(alpha * logp - q), logp


def temperature_loss(log_alpha: jax.Array, log_prob: jax.Array, target_entropy: float):
    """-mean_b log_alpha * (log pi(a_b) + target_entropy), log_prob [B] held fixed.

    Its gradient in log_alpha is `-(mean log pi + target_entropy) = entropy - target_entropy`:
    descent raises the temperature when the policy's entropy is below the target.
    """
    log_prob = jax.lax.stop_gradient(log_prob)
    return -jnp.mean(log_alpha * (log_prob + target_entropy))
