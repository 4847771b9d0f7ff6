"""DreamerV3's pure pieces against hand-worked examples and numpy loops."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mbrl_jax.dreamer import math


def test_symlog_symexp_values_and_inverse():
    # symlog(e - 1) = log(1 + e - 1) = 1; symlog(-(e - 1)) = -1
    np.testing.assert_allclose(math.symlog(jnp.array([np.e - 1, -(np.e - 1), 0.0])), [1, -1, 0],
                               rtol=1e-6)
    x = jnp.array([-1e4, -3.5, -1e-3, 0.0, 2e-3, 7.0, 1e5])
    np.testing.assert_allclose(math.symexp(math.symlog(x)), x, rtol=1e-5)


def test_bins_symmetric_with_exact_zero():
    bins = math.make_bins(5, 2.0)
    # half = symexp([0, 1, 2]) = [0, e - 1, e^2 - 1]
    expected = [-(np.e ** 2 - 1), -(np.e - 1), 0.0, np.e - 1, np.e ** 2 - 1]
    np.testing.assert_allclose(bins, expected, rtol=1e-6)
    bins = math.make_bins(255, 20.0)
    assert bins.shape == (255,) and bins[127] == 0.0
    assert np.array_equal(np.asarray(bins), -np.asarray(bins)[::-1])


def test_twohot_hand_example():
    bins = math.make_bins(5, 2.0)
    # x = 1 lies between bins 0 and e - 1: weight on the upper bin 1 / (e - 1) = 0.58198
    enc = math.twohot_encode(jnp.float32(1.0), bins)
    w = 1 / (np.e - 1)
    np.testing.assert_allclose(enc, [0, 0, 1 - w, w, 0], rtol=1e-5)
    # beyond the range: all weight on the last bin
    np.testing.assert_allclose(math.twohot_encode(jnp.float32(1e3), bins), [0, 0, 0, 0, 1])
    np.testing.assert_allclose(math.twohot_encode(jnp.float32(-1e3), bins), [1, 0, 0, 0, 0])


def test_twohot_round_trip():
    bins = math.make_bins(255, 20.0)
    x = jnp.array([-12345.0, -3.0, -0.5, 0.0, 0.01, 1.0, 7.3, 480.0, 1e6])
    decoded = math.twohot_mean(jnp.log(math.twohot_encode(x, bins)), bins)
    np.testing.assert_allclose(decoded, x, rtol=1e-4, atol=1e-5)


def test_zero_logits_decode_to_exactly_zero():
    bins = math.make_bins(255, 20.0)
    assert math.twohot_mean(jnp.zeros((3, 255)), bins).tolist() == [0.0, 0.0, 0.0]


def test_twohot_loss_is_cross_entropy():
    bins = math.make_bins(5, 2.0)
    logits = jnp.array([0.1, -0.3, 0.7, 0.2, -1.0])
    w = 1 / (np.e - 1)
    logp = np.asarray(jax.nn.log_softmax(logits))
    expected = -((1 - w) * logp[2] + w * logp[3])
    np.testing.assert_allclose(math.twohot_loss(logits, jnp.float32(1.0), bins), expected,
                               rtol=1e-5)


def test_lambda_returns_hand_example():
    # lambda = 0.5; bootstrap v_t[-1] = 30
    # G_2 = 3 + 0.9 * (0.5 * 30 + 0.5 * 30) = 30
    # G_1 = 2 + 0.0 * (...) = 2                       (continue 0: the episode ends)
    # G_0 = 1 + 0.9 * (0.5 * 10 + 0.5 * G_1) = 1 + 0.9 * 6 = 6.4
    g = math.lambda_returns(jnp.array([1.0, 2.0, 3.0]), jnp.array([0.9, 0.0, 0.9]),
                            jnp.array([10.0, 20.0, 30.0]), 0.5)
    np.testing.assert_allclose(g, [6.4, 2.0, 30.0], rtol=1e-6)


def test_lambda_returns_numpy_loop():
    rng = np.random.default_rng(0)
    r, d, v = rng.normal(size=15), rng.uniform(0.5, 1.0, 15), rng.normal(size=15)
    lam = 0.95
    expected, g = np.zeros(15), v[-1]
    for t in reversed(range(15)):
        g = r[t] + d[t] * ((1 - lam) * v[t] + lam * g)
        expected[t] = g
    np.testing.assert_allclose(math.lambda_returns(r, d, v, lam), expected, rtol=1e-5)


def test_kl_free_bits_and_stop_gradients():
    post = jnp.log(jnp.array([[0.5, 0.5]]))       # [G=1, C=2]
    prior = jnp.log(jnp.array([[0.9, 0.1]]))
    # KL(post || prior) = 0.5 ln(0.5/0.9) + 0.5 ln(0.5/0.1) = 0.5 (-0.587787 + 1.609438) = 0.510826
    np.testing.assert_allclose(math.categorical_kl(post, prior), 0.510826, rtol=1e-5)
    dyn, rep = math.kl_losses(post, prior, 0.1)
    np.testing.assert_allclose([dyn, rep], [0.510826, 0.510826], rtol=1e-5)
    dyn, rep = math.kl_losses(post, prior, 1.0)   # below the free bits: clipped, no gradient
    assert float(dyn) == 1.0 and float(rep) == 1.0
    g = jax.grad(lambda p, q: math.kl_losses(p, q, 1.0)[0], argnums=(0, 1))(post, prior)
    assert not np.any(np.asarray(g[0])) and not np.any(np.asarray(g[1]))
    # Above the free bits: dyn trains only the prior, rep only the posterior.
    g_dyn = jax.grad(lambda p, q: math.kl_losses(p, q, 0.1)[0], argnums=(0, 1))(post, prior)
    g_rep = jax.grad(lambda p, q: math.kl_losses(p, q, 0.1)[1], argnums=(0, 1))(post, prior)
    assert not np.any(np.asarray(g_dyn[0])) and np.any(np.asarray(g_dyn[1]))
    assert np.any(np.asarray(g_rep[0])) and not np.any(np.asarray(g_rep[1]))


def test_return_norm_never_scales_up_small_returns():
    state = math.ReturnNormState.create()
    small = jnp.linspace(0.0, 0.5, 101)
    for _ in range(50):
        state, scale = math.update_return_norm(state, small, 0.5)
    assert float(scale) == 1.0


def test_return_norm_ema_of_percentile_range():
    # linspace(0, 100, 101): 5th percentile 5, 95th 95. With rate 0.5 from 0:
    # step 1: low 2.5, high 47.5 -> scale 45; step 2: low 3.75, high 71.25 -> scale 67.5
    returns = jnp.linspace(0.0, 100.0, 101)
    state, scale = math.update_return_norm(math.ReturnNormState.create(), returns, 0.5)
    assert float(scale) == pytest.approx(45.0)
    state, scale = math.update_return_norm(state, returns, 0.5)
    assert float(scale) == pytest.approx(67.5)
    assert float(state.low) == pytest.approx(3.75)


def test_reinforce_advantage_hand_example():
    # (G - v) / S with S = 2: [[4 - 1, 2 - 2], [6 - 1, 0 - 0]] / 2 = [[1.5, 0], [2.5, 0]].
    # Centred with weights [[1, 1], [1, 0]]: weighted mean (1.5 + 0 + 2.5) / 3 = 4 / 3.
    returns = jnp.array([[4.0, 2.0], [6.0, 0.0]])
    values = jnp.array([[1.0, 2.0], [1.0, 0.0]])
    weight = jnp.array([[1.0, 1.0], [1.0, 0.0]])
    raw = math.reinforce_advantage(returns, values, weight, jnp.float32(2.0), False)
    np.testing.assert_allclose(raw, [[1.5, 0.0], [2.5, 0.0]])
    centred = math.reinforce_advantage(returns, values, weight, jnp.float32(2.0), True)
    np.testing.assert_allclose(centred, [[1.5 - 4 / 3, -4 / 3], [2.5 - 4 / 3, -4 / 3]],
                               rtol=1e-6)
