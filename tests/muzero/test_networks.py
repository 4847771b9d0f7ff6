"""Value transform, categorical supports, targets and replay windows against hand-worked numbers."""

import jax
import jax.numpy as jnp
import numpy as np

from mbrl_jax.core.sequence_buffer import SequenceBufferState
from mbrl_jax.muzero import losses, networks
from mbrl_jax.muzero.train import sample_windows


def test_value_transform_and_inverse():
    # h(3) = sqrt(4) - 1 + 0.001 * 3 = 1.003; h(-3) = -1.003; h(0) = 0.
    np.testing.assert_allclose(networks.value_transform(jnp.array([3.0, -3.0, 0.0])),
                               [1.003, -1.003, 0.0], rtol=1e-6)
    x = jnp.linspace(-300.0, 300.0, 101)
    np.testing.assert_allclose(networks.inverse_value_transform(networks.value_transform(x)), x,
                               rtol=1e-4, atol=1e-3)


def test_inverse_value_transform_keeps_float32_precision():
    """Against the written formula in float64: h^-1 of a float32 input is within a few float32
    rounding steps of the exact value (the textbook form, evaluated in float32, is off by up to
    2e-3 relative near |y| = 0.3, since it divides a cancelled difference by 2 eps)."""
    y = np.linspace(-20.0, 20.0, 4001, dtype=np.float32)
    y64, eps = y.astype(np.float64), networks.EPS
    exact = np.sign(y64) * (((np.sqrt(1 + 4 * eps * (np.abs(y64) + 1 + eps)) - 1)
                             / (2 * eps)) ** 2 - 1)
    np.testing.assert_allclose(networks.inverse_value_transform(jnp.asarray(y)), exact,
                               rtol=2e-5, atol=1e-6)


def test_categorical_two_hot_and_round_trip():
    # h(x) = 1.5 -> half the mass on bin +1, half on bin +2 (indices S + 1, S + 2).
    x = networks.inverse_value_transform(jnp.float32(1.5))
    probs = networks.scalar_to_probs(x, 3)
    np.testing.assert_allclose(probs, [0, 0, 0, 0, 0.5, 0.5, 0], atol=1e-4)
    xs = jnp.array([-20.0, -1.3, 0.0, 0.7, 4.0, 14.9])
    back = networks.probs_to_scalar(networks.scalar_to_probs(xs, 5), 5)
    np.testing.assert_allclose(back, xs, rtol=1e-4, atol=1e-4)
    # outside the support: clipped to its end, h^-1(5) = 35.0 (about; eps x term included)
    assert float(networks.probs_to_scalar(networks.scalar_to_probs(jnp.float32(1e3), 5), 5)) < 36


def test_hidden_state_scaled_to_unit_interval():
    h = networks.scale_hidden(jnp.array([[2.0, 4.0, 3.0]]))
    np.testing.assert_allclose(h, [[0.0, 1.0, 0.5]])


def _window(term_at=None, trunc_at=None, final_value=0.0):
    n = 5
    term = np.zeros(n, bool)
    trunc = np.zeros(n, bool)
    if term_at is not None:
        term[term_at] = True
    if trunc_at is not None:
        trunc[trunc_at] = True
    return losses.Step(
        obs=jnp.zeros((n, 1)), action=jnp.arange(10, 10 + n), reward=jnp.arange(1.0, 6.0),
        terminated=jnp.array(term), truncated=jnp.array(trunc),
        search_value=jnp.array([10.0, 20.0, 30.0, 40.0, 50.0]),
        policy=jnp.eye(n)[:, :3], final_value=jnp.full((n,), final_value))


def test_targets_align_with_time_indices():
    # K = 2, n = 2, discount 0.5: z_k = r_k + 0.5 r_{k+1} + 0.25 v_{k+2}
    #   z_0 = 1 + 1 + 7.5 = 9.5; z_1 = 2 + 1.5 + 10 = 13.5; z_2 = 3 + 2 + 12.5 = 17.5.
    # Reward target of step k is the reward after action a_{t+k-1}: [-, r_0, r_1] = [-, 1, 2].
    t = losses.make_targets(_window(), 0.5, unroll_steps=2, td_steps=2)
    np.testing.assert_array_equal(t.actions, [10, 11])
    np.testing.assert_allclose(t.value, [9.5, 13.5, 17.5])
    np.testing.assert_allclose(t.reward[1:], [1.0, 2.0])
    np.testing.assert_allclose(t.reward_mask, [0, 1, 1])
    np.testing.assert_allclose(t.policy, np.eye(5)[:3, :3])
    np.testing.assert_allclose(t.policy_mask, [1, 1, 1])


def test_targets_stop_at_termination_and_bootstrap_at_truncation():
    # Transition 1 terminates: z_0 = 1 + 0.5 * 2 = 2, z_1 = 2; step 2 is past the end:
    # absorbing (value 0, reward 0 with loss) and no policy loss.
    t = losses.make_targets(_window(term_at=1), 0.5, unroll_steps=2, td_steps=2)
    np.testing.assert_allclose(t.value, [2.0, 2.0, 0.0])
    np.testing.assert_allclose(t.value_mask, [1, 1, 1])
    np.testing.assert_allclose(t.policy_mask, [1, 1, 0])
    np.testing.assert_allclose(t.reward[1:], [1.0, 2.0])
    # Truncated instead, final value 8: z_0 = 1 + 0.5 (2 + 0.5 * 8) = 4, z_1 = 2 + 4 = 6; step 2
    # has no targets at all (but the reward of transition 1 still counts).
    t = losses.make_targets(_window(trunc_at=1, final_value=8.0), 0.5, unroll_steps=2,
                            td_steps=2)
    np.testing.assert_allclose(t.value[:2], [4.0, 6.0])
    np.testing.assert_allclose(t.value_mask, [1, 1, 0])
    np.testing.assert_allclose(t.reward_mask, [0, 1, 1])
    np.testing.assert_allclose(t.policy_mask, [1, 1, 0])


def test_replay_windows_are_consecutive_steps_of_one_env():
    # 3 envs, ring of 8 columns, 11 steps written: columns hold times 3..10 (oldest at col 3).
    e, c = 3, 8
    times = np.arange(11)
    data = np.zeros((e, c))
    for t in times:
        data[:, t % c] = 100 * np.arange(e) + t
    step = losses.Step(*(jnp.asarray(data) for _ in range(8)))
    replay = SequenceBufferState(step, position=jnp.full((e,), 11 % c, jnp.int32),
                                 size=jnp.full((e,), c, jnp.int32))
    windows, valid = sample_windows(replay, jax.random.key(0), 256, 4)
    w = np.asarray(windows.reward)
    assert bool(valid)
    env, start = w[:, 0] // 100, w[:, 0] % 100
    np.testing.assert_array_equal(w - w[:, :1], np.tile(np.arange(4), (256, 1)))  # consecutive
    assert set(start) == set(range(3, 8))  # starts whose 4-step window is written: 3..7
    assert set(env) == {0, 1, 2}


def test_replay_windows_before_the_ring_is_full():
    # 2 envs, ring of 8 columns, 5 steps written (times 0..4 in columns 0..4), position 5:
    # 3-step windows may start at times 0, 1, 2 only, never in the unwritten columns 5..7.
    data = np.zeros((2, 8))
    data[:, :5] = 100 * np.arange(2)[:, None] + np.arange(1, 6)  # time t stored as t + 1
    step = losses.Step(*(jnp.asarray(data) for _ in range(8)))
    replay = SequenceBufferState(step, position=jnp.full((2,), 5, jnp.int32),
                                 size=jnp.full((2,), 5, jnp.int32))
    windows, valid = sample_windows(replay, jax.random.key(1), 128, 3)
    w = np.asarray(windows.reward) % 100
    assert bool(valid)
    assert set(w[:, 0]) == {1, 2, 3}
    np.testing.assert_array_equal(w - w[:, :1], np.tile(np.arange(3), (128, 1)))


def test_scale_gradient_is_identity_forward_and_halves_backward():
    x = jnp.array([1.5, -2.0])
    np.testing.assert_array_equal(losses._scale_gradient(x, 0.5), x)
    grad = jax.grad(lambda v: jnp.sum(3.0 * losses._scale_gradient(v, 0.5)))(x)
    np.testing.assert_allclose(grad, [1.5, 1.5])  # 3 * 0.5


def _random_params(nets, seed=0):
    """Gaussian params of the nets' shapes, drawn in numpy (the real init zeroes the heads, so
    their outputs would be constant, and compiling it costs seconds)."""
    rng = np.random.default_rng(seed)
    shapes = jax.eval_shape(nets.init, jax.random.key(0))
    return jax.tree.map(lambda s: rng.normal(0.0, 0.5, s.shape).astype(np.float32), shapes)


def test_unroll_loss_halves_the_gradient_at_each_dynamics_step():
    # K = 2 and only the value loss at step 2: loss = (1/K) CE(f(g(g(h(o), a0), a1)), z2).
    # The oracle is that CE without any gradient scaling. The two dynamics steps each scale the
    # gradient by 0.5, so the loss's gradient w.r.t. the representation is
    # (1/K) * 0.5 * 0.5 = 0.125 times the oracle's, while the prediction function (applied after
    # the last scaling) gets (1/K) = 0.5 times the oracle's; the loss itself is 0.5 x the oracle.
    support, batch = 3, 4
    nets = networks.make_networks((), 6, support, (3,), 2)
    obs = np.random.default_rng(1).normal(size=(batch, 3)).astype(np.float32)
    actions = np.array([[0, 1], [1, 1], [0, 0], [1, 0]])
    value = np.array([[0.0, 0.0, 2.0], [0.0, 0.0, -1.0], [0.0, 0.0, 5.0], [0.0, 0.0, 0.5]])
    only_last = np.tile(np.float32([0.0, 0.0, 1.0]), (batch, 1))
    zeros = np.zeros((batch, 3), np.float32)
    targets = losses.Targets(actions, value.astype(np.float32), zeros,
                             np.zeros((batch, 3, 2), np.float32), only_last, zeros, zeros)

    def oracle(params):
        hidden = nets.represent(params, obs)
        for k in range(2):
            hidden, _ = nets.dynamics(params, hidden, actions[:, k])
        _, value_logits = nets.predict(params, hidden)
        target = networks.scalar_to_probs(value[:, 2], support)
        return jnp.mean(-jnp.sum(target * jax.nn.log_softmax(value_logits), axis=-1))

    @jax.jit
    def both(params):
        return jax.value_and_grad(lambda p: losses.unroll_loss(
            p, nets, obs, targets, support, 1.0)[0])(params), \
            jax.value_and_grad(oracle)(params)

    (loss, grads), (want_loss, want) = both(_random_params(nets))
    np.testing.assert_allclose(loss, 0.5 * want_loss, rtol=1e-6)
    for got, ref in zip(jax.tree.leaves(grads["represent"]), jax.tree.leaves(want["represent"]),
                        strict=True):
        np.testing.assert_allclose(got, 0.125 * ref, rtol=1e-4, atol=1e-7)
    for got, ref in zip(jax.tree.leaves(grads["predict"]), jax.tree.leaves(want["predict"]),
                        strict=True):
        np.testing.assert_allclose(got, 0.5 * ref, rtol=1e-4, atol=1e-7)
    assert max(np.abs(g).max() for g in jax.tree.leaves(want["represent"])) > 1e-4


def test_network_values_bootstrap_from_positions_n_to_n_plus_k_without_gradient():
    # K = 1, n = 3, W = 6: the targets z_0, z_1 bootstrap from v_3, v_4 only.
    support = 3
    nets = networks.make_networks((), 6, support, (3,), 2)
    obs = np.random.default_rng(1).normal(size=(2, 6, 3)).astype(np.float32)

    def values(params):
        return losses.network_values(params, nets, obs, unroll_steps=1, td_steps=3,
                                     support_size=support)

    @jax.jit
    def run(params):
        _, logits = nets.predict(params, nets.represent(params, obs[:, 3:5].reshape(4, 3)))
        want = networks.logits_to_scalar(logits, support).reshape(2, 2)
        return values(params), jax.grad(lambda q: values(q).sum())(params), want

    got, grads, want = run(_random_params(nets))
    np.testing.assert_allclose(got[:, 3:5], want, rtol=1e-5)
    np.testing.assert_array_equal(got[:, [0, 1, 2, 5]], 0.0)
    assert np.all(np.abs(want) > 1e-3)
    assert all(np.abs(g).max() == 0.0 for g in jax.tree.leaves(grads))


def test_replay_windows_are_invalid_until_every_env_has_written_them():
    data = np.zeros((2, 8))
    step = losses.Step(*(jnp.asarray(data) for _ in range(8)))
    for written, valid in ((2, False), (3, True)):
        replay = SequenceBufferState(step, position=jnp.full((2,), written, jnp.int32),
                                     size=jnp.full((2,), written, jnp.int32))
        assert bool(sample_windows(replay, jax.random.key(0), 4, 3)[1]) == valid
