"""MuZero's training targets and unrolled loss.

A training example is a *window* of W = K + n + 1 consecutive self-play steps from one env,
starting at the sampled position t (index 0 = time t). `make_targets` turns one window into the
targets of the K + 1 unroll steps; `unroll_loss` unrolls the dynamics K steps from h(o_t) with the
actions actually taken and scores the predictions against them (Schrittwieser et al. 2020, eq. 1
and Appendix G): categorical cross-entropies for value and reward on the transformed support,
cross-entropy to the search policy, the gradient into each dynamics step scaled by 0.5, and the
losses of steps 1..K scaled by 1/K.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from mbrl_jax.muzero.networks import MuZeroNetworks, logits_to_scalar, scalar_to_probs


class Step(NamedTuple):
    """One self-play step of one env, as stored in the replay.

    obs: [*obs_shape] the observation acted on; action: int32; reward: float32 reward of the
    transition; terminated, truncated: bool, the transition ended the episode; search_value:
    float32 root value of the search at obs; policy: [A] the search's policy target;
    final_value: float32 predicted value of the true next observation (used when truncated).
    """

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    search_value: jax.Array
    policy: jax.Array
    final_value: jax.Array


class Targets(NamedTuple):
    """Targets of one window, for unroll steps k = 0..K.

    actions: [K] int32 a_{t+k}; value: [K+1] n-step returns z_{t+k}; reward: [K+1] u_{t+k}
    (index 0 unused); policy: [K+1, A]; value_mask, reward_mask, policy_mask: [K+1] float32.
    """

    actions: jax.Array
    value: jax.Array
    reward: jax.Array
    policy: jax.Array
    value_mask: jax.Array
    reward_mask: jax.Array
    policy_mask: jax.Array


def make_targets(window: Step, discount: jax.Array, unroll_steps: int, td_steps: int) -> Targets:
    """Targets from one window (leaves [W, ...], W >= K + n + 1).

    z_{t+k} = sum_{i<n} discount^i r_{t+k+i} + discount^n v_{t+k+n}, with v the search value,
    stopped at a termination (bootstrap 0) and at a time-limit truncation (bootstrap with the
    predicted value of the true final observation). Past the end of the episode the unroll sees
    absorbing states after a termination (value and reward targets 0, no policy loss), and no
    targets at all after a truncation.
    """
    k_steps = unroll_steps + 1
    r = window.reward.astype(jnp.float32)
    term, trunc = window.terminated, window.truncated
    # G^(m)[s] = r[s] + discount * next, next = 0 | final value | G^(m-1)[s+1]; G^(0) = v.
    g = window.search_value.astype(jnp.float32)
    for _ in range(td_steps):
        nxt = jnp.concatenate([g[1:], g[-1:]])
        nxt = jnp.where(term, 0.0, jnp.where(trunc, window.final_value, nxt))
        g = r + discount * nxt
    done = term | trunc
    # The first end in the window decides what follows it: absorbing states after a
    # termination, no targets after a truncation (whatever the next episode does later on).
    first_end = done & (jnp.cumsum(done) == 1)
    before = jnp.zeros((1,), bool)
    ended = jnp.concatenate([before, jnp.cumsum(done[:k_steps - 1]) > 0])
    ended_term = jnp.concatenate([before, jnp.cumsum((first_end & term)[:k_steps - 1]) > 0])
    value_mask = ~(ended & ~ended_term)
    value = jnp.where(ended, 0.0, g[:k_steps])
    reward = jnp.concatenate([jnp.zeros((1,)), jnp.where(ended[:-1], 0.0, r[:k_steps - 1])])
    reward_mask = jnp.concatenate([jnp.zeros((1,), bool), value_mask[:-1]])
    return Targets(
        actions=window.action[:unroll_steps].astype(jnp.int32), value=value, reward=reward,
        policy=window.policy[:k_steps], value_mask=value_mask.astype(jnp.float32),
        reward_mask=reward_mask.astype(jnp.float32),
        policy_mask=(~ended).astype(jnp.float32))


def network_values(params, nets: MuZeroNetworks, obs: jax.Array, unroll_steps: int,
                   td_steps: int, support_size: int) -> jax.Array:
    """Values to bootstrap the n-step targets from, recomputed by the current networks.

    obs: [B, W, *obs_shape] windows. Returns [B, W]: f(h(obs)) at the positions n..n+K (the
    only ones the K + 1 targets of `make_targets` bootstrap from), zeros elsewhere; no gradient.
    """
    n, k1 = td_steps, unroll_steps + 1
    part = obs[:, n:n + k1]
    _, value_logits = nets.predict(params, nets.represent(params, part.reshape(
        (-1, *part.shape[2:]))))
    values = logits_to_scalar(value_logits, support_size).reshape(part.shape[:2])
    return jnp.zeros(obs.shape[:2], values.dtype).at[:, n:n + k1].set(
        jax.lax.stop_gradient(values))


def _scale_gradient(x: jax.Array, scale: float) -> jax.Array:
    return x * scale + jax.lax.stop_gradient(x) * (1 - scale)


def unroll_loss(params, nets: MuZeroNetworks, obs: jax.Array, targets: Targets,
                support_size: int, value_loss_weight: jax.Array):
    """Mean loss over a batch: obs [B, *obs_shape], targets with a leading [B] axis.

    Returns (loss, {"value_loss", "reward_loss", "policy_loss"}).
    """
    unroll_steps = targets.actions.shape[1]
    hidden = nets.represent(params, obs)
    totals = {"value_loss": 0.0, "reward_loss": 0.0, "policy_loss": 0.0}
    for k in range(unroll_steps + 1):
        scale = 1.0 if k == 0 else 1.0 / unroll_steps
        policy_logits, value_logits = nets.predict(params, hidden)
        value_ce = optax.softmax_cross_entropy(
            value_logits, scalar_to_probs(targets.value[:, k], support_size))
        policy_ce = optax.softmax_cross_entropy(policy_logits, targets.policy[:, k])
        totals["value_loss"] += scale * jnp.mean(value_ce * targets.value_mask[:, k])
        totals["policy_loss"] += scale * jnp.mean(policy_ce * targets.policy_mask[:, k])
        if k < unroll_steps:
            hidden, reward_logits = nets.dynamics(params, hidden, targets.actions[:, k])
            hidden = _scale_gradient(hidden, 0.5)
            reward_ce = optax.softmax_cross_entropy(
                reward_logits, scalar_to_probs(targets.reward[:, k + 1], support_size))
            totals["reward_loss"] += (jnp.mean(reward_ce * targets.reward_mask[:, k + 1])
                                      / unroll_steps)
    loss = (value_loss_weight * totals["value_loss"] + totals["reward_loss"]
            + totals["policy_loss"])
    return loss, totals
