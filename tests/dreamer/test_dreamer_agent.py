"""The agent's optimisers: DreamerV3's 2023 Adam settings (epsilon 1e-8 for the world model,
1e-5 for actor and critic), checked on the first Adam step by hand; imagined lambda-returns,
loss weights, values and the critic loss against numpy loops."""

import jax.numpy as jnp
import numpy as np
import pytest

from mbrl_jax.dreamer import DreamerConfig, make_agent

CONFIG = DreamerConfig(deter_size=8, stoch_groups=2, stoch_classes=4, hidden_size=8,
                       num_layers=1, num_bins=15, horizon=3, model_lr=1.0, actor_lr=1.0,
                       critic_lr=1.0)


def _first_step(opt, g):
    params = {"w": jnp.zeros((2,), jnp.float32)}
    updates, _ = opt.update({"w": g}, opt.init(params), params)
    return np.asarray(updates["w"])


def test_first_adam_step_uses_each_parts_epsilon():
    # Adam's first step is -lr * g / (|g| + eps) (bias-corrected m = g, sqrt(v) = |g|).
    # g = 1e-6 (far below every clip): eps 1e-5 gives -1e-6 / 1.1e-5 = -0.0909...,
    # eps 1e-8 gives -1e-6 / 1.01e-6 = -0.990...; g = 1 is unaffected by either (-1).
    agent = make_agent(CONFIG, (3,), 2, True)
    g = jnp.array([1e-6, 1.0], jnp.float32)
    damped = [-1e-6 / 1.1e-5, -1.0 / (1.0 + 1e-5)]
    np.testing.assert_allclose(_first_step(agent.actor_opt, g), damped, rtol=1e-4)
    np.testing.assert_allclose(_first_step(agent.critic_opt, g), damped, rtol=1e-4)
    np.testing.assert_allclose(_first_step(agent.model_opt, g), [-1e-6 / 1.01e-6, -1.0],
                               rtol=1e-4)


def _imagine_setup():
    import jax

    from mbrl_jax.dreamer import losses, math
    config = DreamerConfig(deter_size=8, stoch_groups=2, stoch_classes=4, hidden_size=8,
                           num_layers=1, num_bins=15, bin_range=5.0, horizon=4, gamma=0.9,
                           lambda_=0.8)
    agent = make_agent(config, (3,), 2, True)
    state = agent.init(jax.random.key(0))
    # Non-zero reward and value heads, so returns and values are not all exactly zero.
    bump = lambda p: jax.tree.map(  # noqa: E731
        lambda x: x + 0.3 * jax.random.normal(jax.random.key(x.size), x.shape), p)
    wm, critic = bump(state.wm_params), bump(state.critic_params)
    starts = jax.tree.map(lambda x: jax.random.normal(jax.random.key(3), (5, x.shape[-1])),
                          agent.rssm.initial(()))
    start_cont = jnp.array([1.0, 1.0, 0.0, 1.0, 1.0])
    out = jax.jit(lambda a: losses.actor_loss(
        a, wm, critic, state.return_norm, starts, start_cont, jax.random.key(4),
        rssm=agent.rssm, actor_apply=agent.actor_apply, critic_apply=agent.critic_apply,
        config=config, bins=agent.bins, discrete=True, action_dim=2))(state.actor_params)
    return config, agent, wm, critic, state, start_cont, out, math, losses


@pytest.mark.slow  # about 15 s alone (compiling the imagination), 55 s on the loaded 2 cores
def test_imagined_returns_weights_and_critic_loss_against_numpy():
    import jax
    config, agent, wm, critic, state, start_cont, out, math, losses = _imagine_setup()
    _, (imagined, _, _) = out
    f = np.asarray(imagined.feats)                                       # [H+1, N, F]
    h = config.horizon
    # Oracle pieces: heads read the state that the previous action produced (f[1:]).
    reward = np.asarray(math.twohot_mean(agent.rssm.reward_logits(wm, f[1:]), agent.bins))
    cont = np.asarray(jax.nn.sigmoid(agent.rssm.cont_logit(wm, f[1:])))
    value = np.asarray(math.twohot_mean(agent.critic_apply(critic, f), agent.bins))
    returns, g = np.zeros((h, 5)), value[-1]
    for t in reversed(range(h)):
        g = reward[t] + config.gamma * cont[t] * ((1 - config.lambda_) * value[t + 1]
                                                  + config.lambda_ * g)
        returns[t] = g
    weight = np.ones((h + 1, 5))
    weight[0] = start_cont
    for t in range(1, h + 1):
        weight[t] = weight[t - 1] * config.gamma * cont[t - 1]
    np.testing.assert_allclose(imagined.values, value, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(imagined.returns, returns, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(imagined.weight, weight, rtol=1e-5, atol=1e-7)
    assert np.all(np.asarray(imagined.weight[:, 2]) == 0)    # a terminal start weighs nothing

    # Critic: weighted two-hot cross-entropy against the returns plus the slow critic's mean.
    slow = jax.tree.map(lambda x: 0.5 * x, critic)
    loss, _ = losses.critic_loss(critic, slow, imagined, critic_apply=agent.critic_apply,
                                 config=config, bins=agent.bins)
    logp = np.asarray(jax.nn.log_softmax(agent.critic_apply(critic, f[:-1])))
    slow_v = np.asarray(math.twohot_mean(agent.critic_apply(slow, f[:-1]), agent.bins))
    enc = lambda x: np.asarray(math.twohot_encode(jnp.asarray(x), agent.bins))  # noqa: E731
    per_step = -(enc(returns) * logp).sum(-1) - (enc(slow_v) * logp).sum(-1)
    np.testing.assert_allclose(loss, (weight[:-1] * per_step).mean(), rtol=1e-4)
