"""DreamerV3's losses: the world model on replayed sequences, and the actor and critic on
trajectories imagined from every posterior state.

Batches: `Sequences` with leaves `[B, T, ...]`. Imagination starts from all B*T posterior states
(gradients stopped) and runs `horizon` steps; imagined step t+1's reward and continue are read
from the state that action t produced.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from mbrl_jax.core import distributions
from mbrl_jax.dreamer import math
from mbrl_jax.dreamer.config import DreamerConfig
from mbrl_jax.dreamer.rssm import RSSM, RSSMState, feat, unimix_logits


class Sequences(NamedTuple):
    """Replayed steps, leaves `[B, T, ...]` (or `[T, ...]` for one sequence): obs o_t;
    prev_action a_{t-1} (one-hot for discrete actions, zeros at an episode start); reward r_t on
    arriving at o_t; is_first; is_terminal (termination only, never a time limit)."""

    obs: jax.Array
    prev_action: jax.Array
    reward: jax.Array
    is_first: jax.Array
    is_terminal: jax.Array


def world_model_loss(params, rssm: RSSM, config: DreamerConfig, bins, batch: Sequences, key):
    """Mean over `[B, T]` of rec + reward + continue + dyn * KL_dyn + rep * KL_rep (scaled).

    Returns `(loss, (posterior states [B, T, ...], metrics))`. Reconstruction is the squared error
    summed over observation entries, against symlog(o) for vectors and o for grids.
    """
    c = config
    b = batch.obs.shape[0]
    keys = jax.random.split(key, b)
    observe = jax.vmap(rssm.observe, in_axes=(None, 0, 0, 0, 0, 0))
    _, states, post, prior = observe(params, rssm.initial((b,)), batch.obs, batch.prev_action,
                                     batch.is_first, keys)
    f = feat(states)                                                     # [B, T, F]
    target = batch.obs.reshape((*batch.obs.shape[:2], -1)).astype(jnp.float32)
    if batch.obs.ndim == 3:                                              # vectors: symlog space
        target = math.symlog(target)
    rec = jnp.sum((rssm.decode(params, f) - target) ** 2, -1)           # [B, T]
    rew = math.twohot_loss(rssm.reward_logits(params, f), batch.reward, bins)
    cont = optax.sigmoid_binary_cross_entropy(
        rssm.cont_logit(params, f), 1.0 - batch.is_terminal.astype(jnp.float32))
    dyn, rep = math.kl_losses(post, prior, c.free_bits)
    loss = (c.rec_scale * rec + c.reward_scale * rew + c.cont_scale * cont + c.dyn_scale * dyn
            + c.rep_scale * rep).mean()
    metrics = {"model_loss": loss, "rec_loss": rec.mean(), "reward_loss": rew.mean(),
               "cont_loss": cont.mean(), "kl": math.categorical_kl(post, prior).mean()}
    return loss, (states, metrics)


def policy_dist(actor_out, discrete: bool, unimix: float):
    """Distribution of the actor's output: a categorical with `unimix` uniform mixing, or
    independent normals."""
    if discrete:
        return distributions.categorical(unimix_logits(actor_out, unimix))
    return distributions.normal(*actor_out)


class Imagined(NamedTuple):
    """feats `[H+1, N, F]` (gradients stopped); returns `[H, N]`; weight `[H+1, N]`
    (`gamma^t` times the product of the continues up to t, DreamerV3's loss weights); values
    `[H+1, N]`; actions `[H, N, A]` (model actions: one-hot or the raw sample), action t taken at
    state t and producing state t+1."""

    feats: jax.Array
    returns: jax.Array
    weight: jax.Array
    values: jax.Array
    actions: jax.Array


def actor_loss(actor_params, wm_params, critic_params, norm_state, starts: RSSMState,
               start_cont, key, *, rssm: RSSM, actor_apply, critic_apply, config: DreamerConfig,
               bins, discrete: bool, action_dim: int, hparams=None):
    """Imagine from `starts` (leaves `[N, ...]`), compute lambda-returns and the actor loss.

    Discrete actions: REINFORCE, `-logpi(a_t) sg((G_t - v_t) / S)` with S = max(1, EMA range)
    (minus the batch's weighted mean advantage with `center_advantages`).
    Continuous with `actor_grad_continuous="dynamics"`: `-G_t / S`, differentiated through the
    world model's dynamics and heads (only the actor's params get this gradient).
    Both minus `entropy_scale * H[pi(.|s_t)]`, weighted by the cumulative continue.
    `hparams` (`DreamerHParams`, default the config's) give gamma, lambda_ and entropy_scale.
    Returns `(loss, (Imagined, new return-norm state, metrics))`.
    """
    c = config
    hp = c.hparams() if hparams is None else hparams
    backprop = (not discrete) and c.actor_grad_continuous == "dynamics"
    sg = jax.lax.stop_gradient

    def policy(state, k):
        dist = policy_dist(actor_apply(actor_params, sg(feat(state))), discrete, c.unimix)
        if discrete:
            return jax.nn.one_hot(dist.sample(seed=k), action_dim)
        action = dist.sample(seed=k)
        return action if backprop else sg(action)

    imag_key, _ = jax.random.split(key)
    wm = wm_params if backprop else sg(wm_params)
    states, actions = rssm.imagine(wm, starts, policy, c.horizon, imag_key)
    f = feat(states)                                                     # [H+1, N, F]
    reward = math.twohot_mean(rssm.reward_logits(wm, f[1:]), bins)       # [H, N]
    cont = jax.nn.sigmoid(rssm.cont_logit(wm, f[1:]))                    # [H, N]
    values = math.twohot_mean(critic_apply(critic_params, f), bins)      # [H+1, N]
    discount = hp.gamma * cont
    returns = jax.vmap(math.lambda_returns, in_axes=(1, 1, 1, None), out_axes=1)(
        reward, discount, values[1:], hp.lambda_)                         # [H, N]
    conts = jnp.concatenate([start_cont[None], cont], 0)                 # [H+1, N]
    # gamma^t * prod_{i<=t} c_i (t = 0..H), without dividing by gamma (gamma = 0 is allowed)
    weight = sg(hp.gamma ** jnp.arange(c.horizon + 1)[:, None] * jnp.cumprod(conts, 0))
    norm_state, scale = math.update_return_norm(norm_state, sg(returns), c.return_norm_rate)
    dist = policy_dist(actor_apply(actor_params, sg(f[:-1])), discrete, c.unimix)
    entropy = dist.entropy()
    if not discrete:
        entropy = entropy.sum(-1)
    if backprop:
        objective = returns / scale
    else:
        act = jnp.argmax(actions, -1) if discrete else actions
        logp = dist.log_prob(act)
        if not discrete:
            logp = logp.sum(-1)
        objective = logp * sg(math.reinforce_advantage(returns, values[:-1], weight[:-1], scale,
                                                       c.center_advantages))
    loss = -jnp.mean(weight[:-1] * (objective + hp.entropy_scale * entropy))
    imagined = Imagined(feats=sg(f), returns=sg(returns), weight=weight, values=sg(values),
                        actions=sg(actions))
    metrics = {"actor_loss": loss, "entropy": entropy.mean(), "return_scale": scale,
               "imag_return": returns.mean(), "advantage": (returns - values[:-1]).mean()}
    return loss, (imagined, norm_state, metrics)


def critic_loss(critic_params, slow_params, imagined: Imagined, *, critic_apply,
                config: DreamerConfig, bins):
    """Two-hot cross-entropy of v(s_t) against the lambda-return G_t, plus `slow_critic_scale`
    times that against the slow (EMA) critic's value, weighted; mean over `[H, N]`."""
    f = imagined.feats[:-1]
    logits = critic_apply(critic_params, f)
    slow = jax.lax.stop_gradient(math.twohot_mean(critic_apply(slow_params, f), bins))
    per_step = (math.twohot_loss(logits, imagined.returns, bins)
                + config.slow_critic_scale * math.twohot_loss(logits, slow, bins))
    loss = jnp.mean(imagined.weight[:-1] * per_step)
    return loss, {"critic_loss": loss, "value": imagined.values.mean()}


__all__ = ["Imagined", "Sequences", "actor_loss", "critic_loss", "policy_dist",
           "world_model_loss"]
