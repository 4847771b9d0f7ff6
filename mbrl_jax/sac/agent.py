"""The SAC agent as pure functions (`SACAgent(init, act, update)`), usable on its own:

    agent = make_agent(SACConfig(), obs_dim=3, action_low=-2 * ones(1), action_high=2 * ones(1))
    state = agent.init(key)                                   # SACState (arrays only)
    action = agent.act(state, obs, key)                       # obs [..., O] -> [..., A] in bounds
    state, metrics = agent.update(state, batch, key, hparams) # one gradient step; jit/vmap/scan

`update` takes a `Transition` batch with env-scale actions `[B, A]` and `done` = terminated only.
It makes one Adam step on the twin critics, then one on the actor (against the updated critics),
then one on log-temperature, then the Polyak update of the target critics. The optimisers live in
the closures; their states in `SACState`, so learning rates come from the traced `SACHParams`
(Adam's direction scaled by `-lr`, which is exactly `optax.adam(lr)`).
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from mbrl_jax.core.distributions import squashed_gaussian
from mbrl_jax.core.types import Transition
from mbrl_jax.sac import losses
from mbrl_jax.sac.config import SACConfig, SACHParams
from mbrl_jax.sac.networks import SACNetworks, make_networks


@struct.dataclass
class SACState:
    """Everything SAC learns. critic and target params have a leading [2] axis (twin critics)."""

    actor_params: Any
    critic_params: Any
    target_critic_params: Any
    actor_opt_state: Any
    critic_opt_state: Any
    alpha_opt_state: Any
    log_alpha: jax.Array   # float32 scalar
    num_updates: jax.Array  # int32 scalar, gradient steps taken


class SACAgent(NamedTuple):
    """init(key) -> SACState; act(state, obs [..., O], key, deterministic=False) -> [..., A];
    update(state, batch, key, hparams) -> (state, metrics of float32 scalars)."""

    init: Callable[[jax.Array], SACState]
    act: Callable[..., jax.Array]
    update: Callable[[SACState, Transition, jax.Array, SACHParams], tuple[SACState, dict]]
    networks: SACNetworks
    target_entropy: float


def _adam_step(tx, grads, opt_state, params, lr):
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, jax.tree.map(lambda u: -lr * u, updates)), opt_state


def make_agent(config: SACConfig, obs_dim: int, action_low, action_high) -> SACAgent:
    """Build SAC's pure functions for observations `[obs_dim]` and actions bounded by
    `action_low`, `action_high` (`[A]`, finite). Validates the config first (ConfigError)."""
    config.validate()
    low = np.asarray(action_low, np.float32).reshape(-1)
    high = np.asarray(action_high, np.float32).reshape(-1)
    if low.shape != high.shape or not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))
                                       and np.all(low < high)):
        raise ValueError(f"action bounds must be finite with low < high, got {low}, {high}")
    action_dim = low.shape[0]
    target_entropy = (-float(action_dim) if config.target_entropy is None
                      else float(config.target_entropy))
    nets = make_networks(config, obs_dim, action_dim)
    tx = optax.scale_by_adam()
    scale, centre = (high - low) / 2.0, (high + low) / 2.0

    def to_env(u):    # (-1, 1)^A -> env bounds
        return centre + scale * u

    def to_unit(a):   # env bounds -> (-1, 1)^A
        return (a - centre) / scale

    def init(key: jax.Array) -> SACState:
        actor_key, critic_key = jax.random.split(key)
        obs = jnp.zeros((obs_dim,), jnp.float32)
        act = jnp.zeros((action_dim,), jnp.float32)
        actor_params = nets.actor.init(actor_key, obs)
        critic_params = nets.critic.init(critic_key, obs, act)
        log_alpha = jnp.asarray(np.log(config.init_alpha), jnp.float32)
        return SACState(
            actor_params=actor_params, critic_params=critic_params,
            target_critic_params=critic_params,
            actor_opt_state=tx.init(actor_params), critic_opt_state=tx.init(critic_params),
            alpha_opt_state=tx.init(log_alpha), log_alpha=log_alpha,
            num_updates=jnp.zeros((), jnp.int32))

    def act(state: SACState, obs: jax.Array, key: jax.Array, deterministic: bool = False):
        mean, log_std = nets.actor.apply(state.actor_params, obs)
        if deterministic:
            return to_env(jnp.tanh(mean))
        return to_env(squashed_gaussian(mean, log_std).sample(seed=key))

    def update(state: SACState, batch: Transition, key: jax.Array, hparams: SACHParams):
        critic_key, actor_key = jax.random.split(key)
        alpha = jnp.exp(state.log_alpha)
        (c_loss, q), c_grads = jax.value_and_grad(losses.critic_loss, has_aux=True)(
            state.critic_params, state.target_critic_params, state.actor_params, nets,
            batch.obs, to_unit(batch.action), batch.reward.astype(jnp.float32), batch.next_obs,
            batch.done, critic_key, alpha, hparams.gamma)
        critic_params, critic_opt = _adam_step(tx, c_grads, state.critic_opt_state,
                                               state.critic_params, hparams.critic_lr)
        (a_loss, logp), a_grads = jax.value_and_grad(losses.actor_loss, has_aux=True)(
            state.actor_params, critic_params, nets, batch.obs, actor_key, alpha)
        actor_params, actor_opt = _adam_step(tx, a_grads, state.actor_opt_state,
                                             state.actor_params, hparams.actor_lr)
        t_loss, t_grad = jax.value_and_grad(losses.temperature_loss)(
            state.log_alpha, logp, target_entropy)
        log_alpha, alpha_opt = _adam_step(tx, t_grad, state.alpha_opt_state, state.log_alpha,
                                          hparams.alpha_lr)
        target = optax.incremental_update(critic_params, state.target_critic_params,
                                          hparams.tau)
        new = SACState(actor_params=actor_params, critic_params=critic_params,
                       target_critic_params=target, actor_opt_state=actor_opt,
                       critic_opt_state=critic_opt, alpha_opt_state=alpha_opt,
                       log_alpha=log_alpha, num_updates=state.num_updates + 1)
        metrics = {"critic_loss": c_loss, "actor_loss": a_loss, "alpha_loss": t_loss,
                   "alpha": alpha, "entropy": -jnp.mean(logp), "q": jnp.mean(q)}
        return new, metrics

    return SACAgent(init=init, act=act, update=update, networks=nets,
                    target_entropy=target_entropy)
