"""DreamerV3's formulas pinned to numpy oracles: each world-model loss term, free bits per sample,
the straight-through gradient, the actor loss (discrete and continuous: entropy sign, return
normaliser, gradients), imagined returns and loss weights, the slow-critic EMA, and gamma = 0."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mbrl_jax.dreamer import DreamerConfig, losses, make_agent, math
from mbrl_jax.dreamer.rssm import feat, sample_stoch

CONFIG = DreamerConfig(deter_size=8, stoch_groups=2, stoch_classes=4, hidden_size=8,
                       num_layers=1, num_bins=15, bin_range=5.0, horizon=4, gamma=0.9,
                       lambda_=0.8, entropy_scale=0.1, return_norm_rate=1.0,
                       rec_scale=0.7, reward_scale=1.3, cont_scale=0.9, dyn_scale=0.6,
                       rep_scale=0.2)


def _bump(params, seed, std=0.3):
    """Params plus Gaussian noise: the heads start at exactly zero, which would make every
    reward, value and continue alike."""
    rng = np.random.default_rng(seed)
    return jax.tree.map(lambda x: x + rng.normal(0.0, std, x.shape).astype(np.float32), params)


def _np_log_softmax(x):
    x = np.asarray(x, np.float64)
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def _np_twohot(x, bins):
    bins = np.asarray(bins, np.float64)
    x = np.clip(np.asarray(x, np.float64), bins[0], bins[-1])
    out = np.zeros((*x.shape, len(bins)))
    for idx in np.ndindex(x.shape):
        k = min(np.searchsorted(bins, x[idx], side="right"), len(bins) - 1)
        lo, hi = bins[k - 1], bins[k]
        w = (x[idx] - lo) / (hi - lo)
        out[idx + (k - 1,)], out[idx + (k,)] = 1 - w, w
    return out


def _np_kl(post, prior):
    lp, lq = _np_log_softmax(post), _np_log_softmax(prior)
    return (np.exp(lp) * (lp - lq)).sum((-2, -1))


# ---- math pieces ------------------------------------------------------------------------------

def test_free_bits_clip_each_sample_not_the_batch_mean():
    rng = np.random.default_rng(0)
    post = jnp.asarray(rng.normal(0, 2.0, (6, 2, 4)), jnp.float32)
    prior = jnp.asarray(rng.normal(0, 2.0, (6, 2, 4)), jnp.float32)
    kl = _np_kl(post, prior)
    free = float(np.median(kl))                       # half the samples fall below
    dyn, rep = math.kl_losses(post, prior, free)
    np.testing.assert_allclose(dyn, np.maximum(kl, free), rtol=1e-5)
    np.testing.assert_allclose(rep, np.maximum(kl, free), rtol=1e-5)
    assert np.mean(np.maximum(kl, free)) > max(free, kl.mean()) + 1e-3  # the two rules differ


def test_straight_through_sample_has_the_probabilities_gradient():
    # value: the one-hot sample; gradient of sum(w * sample) w.r.t. the logits of group g:
    # p_g * (w_g - <p_g, w_g>), the gradient of sum(w * softmax(logits)).
    rng = np.random.default_rng(1)
    logits = jnp.asarray(rng.normal(size=(3, 2, 4)), jnp.float32)
    w = rng.normal(size=(3, 8))
    sample = sample_stoch(logits, jax.random.key(0))
    assert set(np.unique(np.asarray(sample))) <= {0.0, 1.0}
    np.testing.assert_array_equal(np.asarray(sample).reshape(3, 2, 4).sum(-1), 1.0)
    grad = jax.grad(lambda lg: jnp.sum(w * sample_stoch(lg, jax.random.key(0))))(logits)
    p = np.exp(_np_log_softmax(logits))
    wg = w.reshape(3, 2, 4)
    want = p * (wg - (p * wg).sum(-1, keepdims=True))
    np.testing.assert_allclose(grad, want, rtol=1e-5, atol=1e-6)


# ---- the world model loss ---------------------------------------------------------------------

def test_world_model_loss_terms_against_numpy():
    b, t = 3, 5
    agent = make_agent(CONFIG, (3,), 2, True)
    rssm, bins = agent.rssm, agent.bins
    params = _bump(jax.jit(rssm.init)(jax.random.key(0)), 0)
    rng = np.random.default_rng(2)
    is_first = np.zeros((b, t), bool)
    is_first[:, 0] = True
    is_first[1, 3] = True
    is_terminal = np.zeros((b, t), bool)
    is_terminal[1, 2] = is_terminal[2, 4] = True
    batch = losses.Sequences(
        obs=jnp.asarray(rng.normal(0, 3.0, (b, t, 3)), jnp.float32),
        prev_action=jnp.asarray(np.eye(2)[rng.integers(0, 2, (b, t))] * ~is_first[..., None],
                                jnp.float32),
        reward=jnp.asarray(rng.normal(0, 4.0, (b, t)), jnp.float32),
        is_first=jnp.asarray(is_first), is_terminal=jnp.asarray(is_terminal))

    @jax.jit
    def run(config_free_bits):
        config = dataclasses.replace(CONFIG, free_bits=config_free_bits)
        loss, (states, metrics) = losses.world_model_loss(params, rssm, config, bins, batch,
                                                          jax.random.key(5))
        # oracle inputs: re-run each posterior step from the returned previous state (the
        # logits do not depend on the sampling key)
        prev = jax.tree.map(lambda x: jnp.concatenate([jnp.zeros_like(x[:, :1]), x[:, :-1]], 1),
                            states)
        embed = rssm.encode(params, batch.obs)
        step = jax.vmap(jax.vmap(rssm.obs_step, in_axes=(None, 0, 0, 0, 0, None)),
                        in_axes=(None, 0, 0, 0, 0, None))
        again, post, prior = step(params, prev, batch.prev_action, embed, batch.is_first,
                                  jax.random.key(0))
        f = feat(states)
        heads = (rssm.decode(params, f), rssm.reward_logits(params, f),
                 rssm.cont_logit(params, f))
        return loss, metrics, again.deter - states.deter, post, prior, heads

    free_bits = 1.0
    _, _, _, post, prior, _ = run(free_bits)
    kl = _np_kl(post, prior)
    free_bits = float(np.median(kl))  # some samples above, some below
    loss, metrics, deter_gap, post, prior, (dec, rew_logits, cont_logit) = run(free_bits)
    assert np.abs(np.asarray(deter_gap)).max() < 1e-6   # the oracle steps the same states
    kl = _np_kl(post, prior)
    assert (kl < free_bits).any() and (kl > free_bits).any()

    obs = np.asarray(batch.obs, np.float64)
    rec = ((np.asarray(dec) - np.sign(obs) * np.log1p(np.abs(obs))) ** 2).sum(-1)
    rew = -(_np_twohot(batch.reward, bins) * _np_log_softmax(rew_logits)).sum(-1)
    y = 1.0 - is_terminal                                  # the continue target
    s = 1 / (1 + np.exp(-np.asarray(cont_logit, np.float64)))
    cont = -(y * np.log(s) + (1 - y) * np.log(1 - s))
    clipped = np.maximum(kl, free_bits)
    c = CONFIG
    want = (c.rec_scale * rec + c.reward_scale * rew + c.cont_scale * cont
            + c.dyn_scale * clipped + c.rep_scale * clipped).mean()
    np.testing.assert_allclose(metrics["rec_loss"], rec.mean(), rtol=1e-5)
    np.testing.assert_allclose(metrics["reward_loss"], rew.mean(), rtol=1e-5)
    np.testing.assert_allclose(metrics["cont_loss"], cont.mean(), rtol=1e-5)
    np.testing.assert_allclose(metrics["kl"], kl.mean(), rtol=1e-5)
    np.testing.assert_allclose(loss, want, rtol=1e-5)


# ---- imagination and the actor ----------------------------------------------------------------

def _actor_setup(discrete: bool, **overrides):
    config = dataclasses.replace(CONFIG, **overrides)
    action_dim = 2
    agent = make_agent(config, (3,), action_dim, discrete)
    state = jax.jit(agent.init)(jax.random.key(0))
    wm = _bump(state.wm_params, 1, 0.5)
    critic = _bump(state.critic_params, 2)
    actor = _bump(state.actor_params, 3)
    rng = np.random.default_rng(4)
    starts = jax.tree.map(lambda x: jnp.asarray(rng.normal(size=(6, x.shape[-1])), jnp.float32),
                          agent.rssm.initial(()))
    start_cont = jnp.array([1.0, 1.0, 0.0, 1.0, 1.0, 1.0])

    def loss(actor_params):
        return losses.actor_loss(
            actor_params, wm, critic, state.return_norm, starts, start_cont, jax.random.key(5),
            rssm=agent.rssm, actor_apply=agent.actor_apply, critic_apply=agent.critic_apply,
            config=config, bins=agent.bins, discrete=discrete, action_dim=action_dim)

    (value, aux), grads = jax.jit(jax.value_and_grad(loss, has_aux=True))(actor)
    return config, agent, wm, critic, actor, start_cont, value, aux, grads


def _oracle_returns_and_weights(config, agent, wm, critic, imagined, start_cont):
    f = np.asarray(imagined.feats)                                      # [H+1, N, F]
    h = config.horizon

    @jax.jit
    def heads(f):  # the reward and continue of step t: read from the state action t produced
        return (math.twohot_mean(agent.rssm.reward_logits(wm, f[1:]), agent.bins),
                agent.rssm.cont_logit(wm, f[1:]),
                math.twohot_mean(agent.critic_apply(critic, f), agent.bins))

    reward, cont_logit, value = (np.asarray(x, np.float64) for x in heads(f))
    cont = 1 / (1 + np.exp(-cont_logit))
    returns, g = np.zeros((h, f.shape[1])), value[-1]
    for t in reversed(range(h)):
        g = reward[t] + config.gamma * cont[t] * ((1 - config.lambda_) * value[t + 1]
                                                  + config.lambda_ * g)
        returns[t] = g
    weight = np.zeros((h + 1, f.shape[1]))
    weight[0] = start_cont
    for t in range(1, h + 1):
        weight[t] = weight[t - 1] * config.gamma * cont[t - 1]
    return returns, weight, value


def _np_scale(returns, rate, low=0.0, high=0.0):
    low = (1 - rate) * low + rate * np.percentile(returns, 5)
    high = (1 - rate) * high + rate * np.percentile(returns, 95)
    return max(1.0, high - low)


def test_discrete_actor_loss_returns_weights_and_gradient_against_numpy():
    config, agent, wm, critic, actor, start_cont, loss, aux, grads = _actor_setup(True)
    imagined, _, metrics = aux
    returns, weight, value = _oracle_returns_and_weights(config, agent, wm, critic, imagined,
                                                         start_cont)
    np.testing.assert_allclose(imagined.values, value, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(imagined.returns, returns, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(imagined.weight, weight, rtol=1e-5, atol=1e-7)
    assert np.all(np.asarray(imagined.weight[:, 2]) == 0)    # a terminal start weighs nothing
    scale = _np_scale(returns, config.return_norm_rate)
    assert scale > 1.5                                        # the normaliser is exercised
    np.testing.assert_allclose(metrics["return_scale"], scale, rtol=1e-5)

    # REINFORCE: -mean(w (log pi(a|s) sg((G - v) / S) + eta H[pi])), pi with unimix mixing
    feats, acts = imagined.feats[:-1], imagined.actions
    adv = (returns - value[:-1]) / scale
    w = weight[:-1]

    def oracle(actor_params):
        logits = agent.actor_apply(actor_params, feats)
        probs = (1 - config.unimix) * jax.nn.softmax(logits) + config.unimix / 2
        logp = jnp.sum(acts * jnp.log(probs), -1)
        entropy = -jnp.sum(probs * jnp.log(probs), -1)
        return -jnp.mean(w * (logp * adv + config.entropy_scale * entropy))

    want, want_grads = jax.jit(jax.value_and_grad(oracle))(actor)
    np.testing.assert_allclose(loss, want, rtol=1e-5)
    for got, ref in zip(jax.tree.leaves(grads), jax.tree.leaves(want_grads), strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-7)
    assert np.all(np.asarray(acts).sum(-1) == 1)              # one-hot actions

    # Critic: weighted two-hot cross-entropy against the returns plus the slow critic's mean.
    slow = _bump(critic, 7)

    @jax.jit
    def critic_parts(slow):
        loss, _ = losses.critic_loss(critic, slow, imagined, critic_apply=agent.critic_apply,
                                     config=config, bins=agent.bins)
        return (loss, jax.nn.log_softmax(agent.critic_apply(critic, imagined.feats[:-1])),
                math.twohot_mean(agent.critic_apply(slow, imagined.feats[:-1]), agent.bins))

    critic_value, logp, slow_v = critic_parts(slow)
    per_step = (-(_np_twohot(returns, agent.bins) * logp).sum(-1)
                - config.slow_critic_scale * (_np_twohot(slow_v, agent.bins) * logp).sum(-1))
    np.testing.assert_allclose(critic_value, (w * per_step).mean(), rtol=1e-4)


@pytest.mark.parametrize("mode", ["dynamics", "reinforce"])
def test_continuous_actor_loss_against_numpy(mode):
    config, agent, wm, critic, actor, start_cont, loss, aux, grads = _actor_setup(
        False, actor_grad_continuous=mode)
    imagined, _, metrics = aux
    returns, weight, value = _oracle_returns_and_weights(config, agent, wm, critic, imagined,
                                                         start_cont)
    np.testing.assert_allclose(imagined.returns, returns, rtol=1e-4, atol=1e-5)
    scale = _np_scale(returns, config.return_norm_rate)
    mean, std = (np.asarray(x, np.float64)
                 for x in jax.jit(agent.actor_apply)(actor, imagined.feats[:-1]))
    entropy = (0.5 * np.log(2 * np.pi * np.e * std ** 2)).sum(-1)
    np.testing.assert_allclose(metrics["entropy"], entropy.mean(), rtol=1e-5)
    w = weight[:-1]
    if mode == "dynamics":  # -mean(w (G / S + eta H)), differentiated through the model
        want = -np.mean(w * (returns / scale + config.entropy_scale * entropy))
    else:
        a = np.asarray(imagined.actions, np.float64)
        logp = (-0.5 * ((a - mean) / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi)).sum(-1)
        want = -np.mean(w * (logp * (returns - value[:-1]) / scale
                             + config.entropy_scale * entropy))
    np.testing.assert_allclose(loss, want, rtol=1e-4)
    assert np.abs(np.asarray(imagined.actions)).max() > 1.0   # raw samples, not clipped

    # the objective's own gradient (the whole minus the entropy bonus's), through the dynamics
    # or the score function, must reach the actor
    feats = imagined.feats[:-1]

    @jax.jit
    def entropy_grads(actor_params):
        def bonus(p):
            _, std_ = agent.actor_apply(p, feats)
            ent = jnp.sum(0.5 * jnp.log(2 * jnp.pi * jnp.e * std_ ** 2), -1)
            return -jnp.mean(w * config.entropy_scale * ent)
        return jax.grad(bonus)(actor_params)

    objective = jax.tree.map(lambda a, b: a - b, grads, entropy_grads(actor))
    assert max(np.abs(g).max() for g in jax.tree.leaves(objective)) > 1e-4


def test_gamma_zero_gives_finite_weights():
    config, agent, wm, critic, actor, start_cont, loss, aux, _ = _actor_setup(True, gamma=0.0)
    imagined = aux[0]
    np.testing.assert_array_equal(imagined.weight[0], start_cont)
    np.testing.assert_array_equal(imagined.weight[1:], 0.0)
    assert np.isfinite(float(loss))


# ---- one agent update: the slow critic and the bookkeeping -------------------------------------

def test_update_moves_the_slow_critic_by_its_ema_rate():
    config = dataclasses.replace(CONFIG, slow_critic_rate=0.25)
    agent = make_agent(config, (3,), 2, True)
    state = jax.jit(agent.init)(jax.random.key(0))
    state = state.replace(wm_params=_bump(state.wm_params, 1),
                          critic_params=_bump(state.critic_params, 2),
                          slow_critic_params=_bump(state.critic_params, 3))  # slow != critic
    rng = np.random.default_rng(0)
    b, t = 2, 4
    batch = losses.Sequences(
        obs=jnp.asarray(rng.normal(size=(b, t, 3)), jnp.float32),
        prev_action=jnp.asarray(np.eye(2)[rng.integers(0, 2, (b, t))], jnp.float32),
        reward=jnp.asarray(rng.normal(size=(b, t)), jnp.float32),
        is_first=jnp.asarray(np.eye(t, dtype=bool)[[0, 0]]),
        is_terminal=jnp.zeros((b, t), bool))
    new, _ = jax.jit(agent.update)(state, batch, jax.random.key(1))
    assert int(new.updates) == 1
    for slow, critic, old in zip(jax.tree.leaves(new.slow_critic_params),
                                 jax.tree.leaves(new.critic_params),
                                 jax.tree.leaves(state.slow_critic_params), strict=True):
        np.testing.assert_allclose(slow, 0.25 * np.asarray(critic) + 0.75 * np.asarray(old),
                                   rtol=1e-5, atol=1e-7)
    moved = [np.abs(np.asarray(a) - np.asarray(b)).max() for a, b in
             zip(jax.tree.leaves(new.critic_params), jax.tree.leaves(state.critic_params),
                 strict=True)]
    assert max(moved) > 0                                    # the critic itself was updated
    assert float(new.return_norm.high) != 0.0                # the normaliser moved
