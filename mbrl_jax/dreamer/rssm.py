"""The recurrent state-space model (RSSM) of DreamerV3 as pure functions over a params pytree.

    rssm = make_rssm(config, obs_shape=(4,), action_dim=2)
    params = rssm.init(key)
    carry = rssm.initial(())                                  # RSSMState, h [D], z [G*C]
    last, post, post_logits, prior_logits = rssm.observe(params, carry, obs, prev_actions,
                                                         is_first, key)  # obs [T, ...]
    states, actions = rssm.imagine(params, start, policy, horizon, key)  # [H+1, ...], [H, A]

Time alignment: step t of a sequence holds the observation o_t, the action a_{t-1} that led to
it (zeros at an episode start), the reward r_t received on arriving at o_t and whether o_t is
terminal. The model computes h_t = GRU(h_{t-1}, z_{t-1}, a_{t-1}), the prior p(z_t | h_t) and the
posterior q(z_t | h_t, o_t); the heads read s_t = (h_t, z_t), so the reward and continue
predicted at t belong to the latent that a_{t-1} produced. Where `is_first[t]`, the carry and
a_{t-1} are reset to zero before the step (DreamerV3 resets to a learned initial state; ours is
zeros). Latents are G groups of C classes mixed with `unimix` uniform probability and sampled
with straight-through gradients.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from mbrl_jax.dreamer.config import DreamerConfig
from mbrl_jax.dreamer.networks import WorldModel


class RSSMState(NamedTuple):
    """deter: h `[..., D]`; stoch: z `[..., G*C]` (flat one-hot sample, straight-through)."""

    deter: jax.Array
    stoch: jax.Array


def feat(state: RSSMState) -> jax.Array:
    """`[..., D + G*C]`, what every head reads."""
    return jnp.concatenate([state.deter, state.stoch], -1)


def unimix_logits(logits: jax.Array, unimix: float) -> jax.Array:
    """Log of `(1 - unimix) softmax(logits) + unimix / C` over the last axis."""
    probs = jax.nn.softmax(logits, -1)
    probs = (1 - unimix) * probs + unimix / logits.shape[-1]
    return jnp.log(probs)


def sample_stoch(logits: jax.Array, key: jax.Array) -> jax.Array:
    """One-hot sample of each group of `logits [..., G, C]`, flattened to `[..., G*C]`, with
    straight-through gradients (the value is the sample, the gradient that of the probs)."""
    probs = jax.nn.softmax(logits, -1)
    onehot = jax.nn.one_hot(jax.random.categorical(key, logits), logits.shape[-1])
    sample = onehot + probs - jax.lax.stop_gradient(probs)
    return sample.reshape((*sample.shape[:-2], -1))


class RSSM(NamedTuple):
    init: Callable[[jax.Array], Any]
    initial: Callable[[tuple], RSSMState]
    encode: Callable[..., jax.Array]
    obs_step: Callable[..., Any]
    img_step: Callable[..., Any]
    observe: Callable[..., Any]
    imagine: Callable[..., Any]
    decode: Callable[..., jax.Array]
    reward_logits: Callable[..., jax.Array]
    cont_logit: Callable[..., jax.Array]


def make_rssm(config: DreamerConfig, obs_shape: tuple, action_dim: int) -> RSSM:
    """Build the RSSM's functions (no tracing). `action_dim`: one-hot size or continuous size."""
    module = WorldModel(config=config, obs_shape=tuple(obs_shape))
    c = config

    def init(key):
        return module.init(key, jnp.zeros(obs_shape, jnp.float32),
                           jnp.zeros((action_dim,), jnp.float32))

    def call(method):
        return lambda params, *args: module.apply(params, *args, method=method)

    def initial(batch_shape=()) -> RSSMState:
        return RSSMState(deter=jnp.zeros((*batch_shape, c.deter_size), jnp.float32),
                         stoch=jnp.zeros((*batch_shape, c.stoch_size), jnp.float32))

    def obs_step(params, state, prev_action, embed, is_first, key):
        """One posterior step: `(state [...], a_{t-1} [..., A], embed_t [..., E], is_first [...])`
        -> `(state_t, post_logits [..., G, C], prior_logits [..., G, C])`."""
        keep = (~is_first)[..., None].astype(jnp.float32)
        state = RSSMState(state.deter * keep, state.stoch * keep)
        prev_action = prev_action * keep
        deter = call(WorldModel.deter_step)(params, state.deter, state.stoch, prev_action)
        prior = unimix_logits(call(WorldModel.prior_logits)(params, deter), c.unimix)
        post = unimix_logits(call(WorldModel.post_logits)(params, deter, embed), c.unimix)
        return RSSMState(deter, sample_stoch(post, key)), post, prior

    def img_step(params, state, action, key):
        """One prior step: `(state, a [..., A]) -> (next state, prior_logits [..., G, C])`."""
        deter = call(WorldModel.deter_step)(params, state.deter, state.stoch, action)
        prior = unimix_logits(call(WorldModel.prior_logits)(params, deter), c.unimix)
        return RSSMState(deter, sample_stoch(prior, key)), prior

    def observe(params, carry, obs, prev_actions, is_first, key):
        """Posterior states over a sequence: `obs [T, ...]`, `prev_actions [T, A]` (a_{t-1}),
        `is_first [T]` -> `(last state, states [T, ...], post_logits [T, G, C],
        prior_logits [T, G, C])`."""
        embeds = call(WorldModel.encode)(params, obs)

        def step(state, xs):
            action, embed, first, step_key = xs
            state, post, prior = obs_step(params, state, action, embed, first, step_key)
            return state, (state, post, prior)

        keys = jax.random.split(key, obs.shape[0])
        last, (states, post, prior) = jax.lax.scan(step, carry,
                                                   (prev_actions, embeds, is_first, keys))
        return last, states, post, prior

    def imagine(params, start, policy, horizon, key):
        """Roll the prior forward from `start` for `horizon` steps, acting with
        `policy(state, key) -> action [..., A]`. Returns `(states [H+1, ...], actions [H, ...])`
        with `states[0] = start` and `states[t+1]` the result of `actions[t]`."""

        def step(state, step_key):
            act_key, img_key = jax.random.split(step_key)
            action = policy(state, act_key)
            nxt, _ = img_step(params, state, action, img_key)
            return nxt, (nxt, action)

        _, (states, actions) = jax.lax.scan(step, start, jax.random.split(key, horizon))
        states = jax.tree.map(lambda s0, s: jnp.concatenate([s0[None], s]), start, states)
        return states, actions

    return RSSM(init=init, initial=initial, encode=call(WorldModel.encode), obs_step=obs_step,
                img_step=img_step, observe=observe, imagine=imagine,
                decode=call(WorldModel.decode), reward_logits=call(WorldModel.reward_logits),
                cont_logit=call(WorldModel.cont_logit))


__all__ = ["RSSM", "RSSMState", "feat", "make_rssm", "sample_stoch", "unimix_logits"]
