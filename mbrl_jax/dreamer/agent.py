"""The DreamerV3 agent as pure functions: `init`, `act` (one recurrent policy step on real
observations) and `update` (one gradient step of world model, actor and critic).

    agent = make_agent(config, obs_shape=(4,), action_dim=2, discrete=True)
    state = agent.init(key)                       # DreamerState: params, optimiser states, ...
    carry = agent.initial_carry(())               # ActCarry: RSSM state, previous action
    carry, action = agent.act(state, carry, obs, is_first, key, greedy=False)
    state, metrics = agent.update(state, batch, key, hparams)  # batch: Sequences [B, T, ...]

Actions are in model space: a one-hot `[A]` for discrete actions (`act` returns the index), the
policy's unclipped sample for continuous ones (the env gets it clipped to [-1, 1] and rescaled).
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import struct

from mbrl_jax.dreamer import losses, math
from mbrl_jax.dreamer.config import DreamerConfig, DreamerHParams
from mbrl_jax.dreamer.networks import Actor, Critic
from mbrl_jax.dreamer.rssm import RSSM, RSSMState, feat, make_rssm


@struct.dataclass
class DreamerState:
    """Everything the agent learns: params and optimiser states of the world model, actor and
    critic; the slow critic; the return normaliser; the number of updates done (int32)."""

    wm_params: Any
    actor_params: Any
    critic_params: Any
    slow_critic_params: Any
    wm_opt: Any
    actor_opt: Any
    critic_opt: Any
    return_norm: math.ReturnNormState
    updates: jax.Array


class ActCarry(NamedTuple):
    """The policy's recurrent state on real observations: RSSM state and the previous model
    action `[..., A]`."""

    rssm: RSSMState
    prev_action: jax.Array


class Dreamer(NamedTuple):
    """The agent's pure functions, its RSSM, the actor and critic `apply`, the two-hot `bins [K]`
    and the three optax optimisers (world model, actor, critic) at a unit learning rate: `update`
    multiplies their steps by the `DreamerHParams` learning rates (the same numbers as
    `optax.adam(lr)`, and a sweep can vmap over them)."""

    init: Callable[[jax.Array], DreamerState]
    initial_carry: Callable[[tuple], ActCarry]
    act: Callable[..., tuple[ActCarry, jax.Array]]
    update: Callable[..., tuple[DreamerState, dict]]
    rssm: RSSM
    actor_apply: Callable
    critic_apply: Callable
    bins: jax.Array
    model_opt: optax.GradientTransformation
    actor_opt: optax.GradientTransformation
    critic_opt: optax.GradientTransformation


def _optimizer(eps, clip):
    return optax.chain(optax.clip_by_global_norm(clip), optax.adam(1.0, eps=eps))


def _step(opt, grads, opt_state, params, lr):
    """One optimiser step at learning rate `lr` (an array, so it can be swept)."""
    updates, opt_state = opt.update(grads, opt_state, params)
    return optax.apply_updates(params, jax.tree.map(lambda u: lr * u, updates)), opt_state


def make_agent(config: DreamerConfig, obs_shape: tuple, action_dim: int,
               discrete: bool) -> Dreamer:
    """Build the agent's functions; validates `config` first."""
    config.validate()
    c = config
    rssm = make_rssm(config, obs_shape, action_dim)
    actor = Actor(config=config, action_dim=action_dim, discrete=discrete)
    critic = Critic(config=config)
    wm_opt = _optimizer(c.model_eps, c.model_clip)
    actor_opt = _optimizer(c.actor_eps, c.actor_clip)
    critic_opt = _optimizer(c.critic_eps, c.critic_clip)
    bins = math.make_bins(c.num_bins, c.bin_range)

    def init(key):
        wm_key, actor_key, critic_key = jax.random.split(key, 3)
        dummy = jnp.zeros((c.feat_size,), jnp.float32)
        wm_params = rssm.init(wm_key)
        actor_params = actor.init(actor_key, dummy)
        critic_params = critic.init(critic_key, dummy)
        return DreamerState(
            wm_params=wm_params, actor_params=actor_params, critic_params=critic_params,
            slow_critic_params=critic_params, wm_opt=wm_opt.init(wm_params),
            actor_opt=actor_opt.init(actor_params), critic_opt=critic_opt.init(critic_params),
            return_norm=math.ReturnNormState.create(), updates=jnp.int32(0))

    def initial_carry(batch_shape=()):
        return ActCarry(rssm.initial(batch_shape),
                        jnp.zeros((*batch_shape, action_dim), jnp.float32))

    def act(state: DreamerState, carry: ActCarry, obs, is_first, key, greedy=False):
        """Posterior step on `obs [..., *obs_shape]` (resetting where `is_first [...]`), then an
        action: sampled, or the mode (`greedy`, static). Returns `(carry, action)` with the
        index for discrete actions; for continuous ones the policy's raw sample (a normal draw,
        so it can leave [-1, 1]): the replay stores it as the model saw it in imagination, and
        only the env gets it clipped (`train.to_env`). `carry` holds the model action."""
        obs_key, act_key = jax.random.split(key)
        embed = rssm.encode(state.wm_params, obs)
        rs, _, _ = rssm.obs_step(state.wm_params, carry.rssm, carry.prev_action, embed,
                                 is_first, obs_key)
        out = actor.apply(state.actor_params, feat(rs))
        if discrete:
            index = (jnp.argmax(out, -1) if greedy
                     else losses.policy_dist(out, True, c.unimix).sample(seed=act_key))
            return ActCarry(rs, jax.nn.one_hot(index, action_dim)), index
        mean, std = out
        action = mean if greedy else mean + std * jax.random.normal(act_key, mean.shape)
        return ActCarry(rs, action), action

    def update(state: DreamerState, batch: losses.Sequences, key,
               hparams: DreamerHParams | None = None):
        """One update of all three parts on `batch` (leaves `[B, T, ...]`); `hparams` default
        to the config's."""
        hp = c.hparams() if hparams is None else hparams
        wm_key, actor_key = jax.random.split(key)
        (_, (post, wm_metrics)), wm_grads = jax.value_and_grad(
            losses.world_model_loss, has_aux=True)(state.wm_params, rssm, c, bins, batch, wm_key)
        wm_params, wm_opt_state = _step(wm_opt, wm_grads, state.wm_opt, state.wm_params,
                                        hp.model_lr)

        # Behaviour from every posterior state, with the world model as it was for its loss.
        starts = jax.tree.map(lambda x: jax.lax.stop_gradient(x.reshape((-1, x.shape[-1]))),
                              post)
        start_cont = 1.0 - batch.is_terminal.reshape(-1).astype(jnp.float32)
        (_, (imagined, norm_state, actor_metrics)), actor_grads = jax.value_and_grad(
            losses.actor_loss, has_aux=True)(
            state.actor_params, state.wm_params, state.critic_params, state.return_norm,
            starts, start_cont, actor_key, rssm=rssm, actor_apply=actor.apply,
            critic_apply=critic.apply, config=c, bins=bins, discrete=discrete,
            action_dim=action_dim, hparams=hp)
        actor_params, actor_opt_state = _step(actor_opt, actor_grads, state.actor_opt,
                                              state.actor_params, hp.actor_lr)
        (_, critic_metrics), critic_grads = jax.value_and_grad(losses.critic_loss, has_aux=True)(
            state.critic_params, state.slow_critic_params, imagined, critic_apply=critic.apply,
            config=c, bins=bins)
        critic_params, critic_opt_state = _step(critic_opt, critic_grads, state.critic_opt,
                                                state.critic_params, hp.critic_lr)
        slow = optax.incremental_update(critic_params, state.slow_critic_params,
                                        c.slow_critic_rate)
        new_state = DreamerState(
            wm_params=wm_params, actor_params=actor_params, critic_params=critic_params,
            slow_critic_params=slow, wm_opt=wm_opt_state,
            actor_opt=actor_opt_state, critic_opt=critic_opt_state, return_norm=norm_state,
            updates=state.updates + 1)
        return new_state, {**wm_metrics, **actor_metrics, **critic_metrics}

    return Dreamer(init=init, initial_carry=initial_carry, act=act, update=update, rssm=rssm,
                   actor_apply=actor.apply, critic_apply=critic.apply, bins=bins,
                   model_opt=wm_opt, actor_opt=actor_opt, critic_opt=critic_opt)


__all__ = ["ActCarry", "Dreamer", "DreamerState", "make_agent"]
