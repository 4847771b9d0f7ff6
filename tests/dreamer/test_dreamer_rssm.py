"""RSSM: resets at is_first, time alignment of actions and latents, imagination shapes, heads
that start at exactly zero, straight-through latents with unimix."""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from mbrl_jax.dreamer import DreamerConfig, make_agent, make_rssm
from mbrl_jax.dreamer.math import twohot_mean
from mbrl_jax.dreamer.rssm import feat, sample_stoch, unimix_logits

CONFIG = DreamerConfig(deter_size=16, stoch_groups=4, stoch_classes=4, hidden_size=16,
                       num_layers=1, num_bins=15, horizon=5)
RSSM = make_rssm(CONFIG, (3,), 2)
T = 6
OBSERVE = jax.jit(RSSM.observe)


@functools.cache
def _params():
    """Built on first use, not at import (every xdist worker imports every test module)."""
    return RSSM.init(jax.random.key(0))


def _observe(obs, actions, is_first):
    return OBSERVE(_params(), RSSM.initial(()), obs, actions, is_first, jax.random.key(1))


def _sequence(seed):
    k1, k2 = jax.random.split(jax.random.key(seed))
    obs = jax.random.normal(k1, (T, 3))
    actions = jax.nn.one_hot(jax.random.randint(k2, (T,), 0, 2), 2)
    return obs, actions


def test_observe_resets_at_is_first():
    obs, actions = _sequence(0)
    other_obs, other_actions = _sequence(1)
    # Same steps from t = 3 on, different history before; an episode starts at t = 3.
    obs2 = other_obs.at[3:].set(obs[3:])
    actions2 = other_actions.at[3:].set(actions[3:])
    first = jnp.zeros(T, bool).at[3].set(True)
    _, s1, post1, _ = _observe(obs, actions, first)
    _, s2, post2, _ = _observe(obs2, actions2, first)
    np.testing.assert_array_equal(s1.deter[3:], s2.deter[3:])
    np.testing.assert_array_equal(s1.stoch[3:], s2.stoch[3:])
    assert not np.allclose(post1[:3], post2[:3])
    # Without the reset the history leaks through.
    _, s3, _, _ = _observe(obs2, actions2, jnp.zeros(T, bool))
    assert not np.allclose(s1.deter[3:], s3.deter[3:])
    # The reset state equals a fresh start with a zero previous action.
    _, s4, _, _ = _observe(obs, actions.at[3].set(0.0), first.at[0].set(True))
    np.testing.assert_array_equal(s4.deter[3], s1.deter[3])


def test_action_at_t_minus_1_produces_the_latent_read_at_t():
    # Step t holds (o_t, a_{t-1}). Changing a_{t-1} (prev_actions[t]) changes h_t, and so the
    # reward and continue read at t, but no earlier state.
    obs, actions = _sequence(0)
    first = jnp.zeros(T, bool).at[0].set(True)
    t = 4
    changed = actions.at[t].set(1.0 - actions[t])
    _, s1, _, _ = _observe(obs, actions, first)
    _, s2, _, _ = _observe(obs, changed, first)
    np.testing.assert_array_equal(s1.deter[:t], s2.deter[:t])
    assert not np.allclose(s1.deter[t], s2.deter[t])
    # The observation o_t enters the posterior at t, not h_t.
    _, _, post1, _ = _observe(obs, actions, first)
    _, s3, post3, _ = _observe(obs.at[t].add(1.0), actions, first)
    np.testing.assert_array_equal(s1.deter[: t + 1], s3.deter[: t + 1])
    np.testing.assert_array_equal(post1[:t], post3[:t])
    assert not np.allclose(post1[t], post3[t])


def test_imagine_shapes_and_alignment():
    start = RSSM.initial((7,))

    def policy(state, key):
        return jax.nn.one_hot(jax.random.randint(key, state.deter.shape[:-1], 0, 2), 2)

    states, actions = jax.jit(RSSM.imagine, static_argnums=(2, 3))(_params(), start, policy, 5,
                                                                   jax.random.key(0))
    assert states.deter.shape == (6, 7, 16) and states.stoch.shape == (6, 7, 16)
    assert actions.shape == (5, 7, 2)
    np.testing.assert_array_equal(states.deter[0], start.deter)
    # states[t + 1] is the GRU step of (states[t], actions[t])
    nxt, _ = RSSM.img_step(_params(), jax.tree.map(lambda x: x[2], states), actions[2],
                           jax.random.key(9))
    np.testing.assert_allclose(nxt.deter, states.deter[3], rtol=1e-5, atol=1e-6)
    one_hot_sum = states.stoch[1:].reshape(5, 7, 4, 4).sum(-1)
    np.testing.assert_allclose(one_hot_sum, 1.0, rtol=1e-6)


def test_reward_and_value_heads_start_at_exactly_zero():
    agent = make_agent(CONFIG, (3,), 2, True)
    state = agent.init(jax.random.key(3))
    f = jax.random.normal(jax.random.key(4), (10, CONFIG.feat_size))
    assert not np.any(np.asarray(twohot_mean(RSSM.reward_logits(state.wm_params, f), agent.bins)))
    assert not np.any(np.asarray(twohot_mean(agent.critic_apply(state.critic_params, f),
                                             agent.bins)))


def test_unimix_and_straight_through():
    logits = jnp.array([[20.0, 0.0, 0.0, 0.0]])
    probs = jnp.exp(unimix_logits(logits, 0.01))
    # (1 - 0.01) * softmax + 0.01 / 4: the smallest probability is at least 0.0025
    assert float(probs.min()) >= 0.0025 - 1e-7
    np.testing.assert_allclose(probs.sum(), 1.0, rtol=1e-6)
    grad = jax.grad(lambda lg: jnp.sum(sample_stoch(lg, jax.random.key(0)) * jnp.arange(4.0)))(
        logits)
    assert np.any(np.asarray(grad))                    # gradients pass through the sample
    sample = sample_stoch(logits, jax.random.key(0))
    assert set(np.unique(np.asarray(sample)).tolist()) <= {0.0, 1.0}


def test_feat_concatenates():
    s = RSSM.initial((2,))
    assert feat(s).shape == (2, CONFIG.feat_size)


def test_grid_observations_use_the_conv_encoder_and_flat_decoder():
    from mbrl_jax.dreamer import Sequences
    from mbrl_jax.dreamer.losses import world_model_loss

    rssm = make_rssm(CONFIG, (10, 10, 4), 3)
    params = rssm.init(jax.random.key(0))
    assert "encoder" in params["params"] and "Conv_0" in params["params"]["encoder"]
    obs = jax.random.bernoulli(jax.random.key(1), 0.1, (2, 4, 10, 10, 4))
    batch = Sequences(obs=obs.astype(jnp.float32), prev_action=jnp.zeros((2, 4, 3)),
                      reward=jnp.zeros((2, 4)), is_first=jnp.zeros((2, 4), bool).at[:, 0].set(True),
                      is_terminal=jnp.zeros((2, 4), bool))
    bins = jnp.linspace(-1.0, 1.0, CONFIG.num_bins)
    loss, (states, metrics) = jax.jit(world_model_loss, static_argnums=(1, 2))(
        params, rssm, CONFIG, bins, batch, jax.random.key(2))
    assert states.deter.shape == (2, 4, 16) and np.isfinite(float(loss))
    assert float(metrics["rec_loss"]) > 0
