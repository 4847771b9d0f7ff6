"""Ensemble paths pinned to independent oracles: which rows train, validate and fit the
normaliser (decoded from powers of two), the sampled rollout noise against a hand-worked
variance, and a continuous-action model against the linear dynamics it was fitted on."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mbrl_jax.models import EnsembleConfig, Transition, make_ensemble

CFG = EnsembleConfig(obs_dim=3, action_dim=2, discrete_actions=True, ensemble_size=2,
                     num_elites=1, hidden_sizes=(8,), batch_size=8, max_epochs=3, patience=3,
                     holdout_ratio=0.2)


def _powers_of_two_data(n=20):
    # obs[i, 0] = 2**i: the sum over any subset of rows names the subset exactly (float32 holds
    # integers below 2**24), so the normaliser's mean tells which rows it was fitted on
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(n, 3)).astype(np.float32)
    obs[:, 0] = 2.0 ** np.arange(n)
    next_obs = obs + rng.normal(size=(n, 3)).astype(np.float32)
    return Transition(obs, rng.integers(0, 2, n), rng.normal(size=n).astype(np.float32),
                      next_obs, np.zeros(n, bool))


@pytest.mark.parametrize("num_valid, n_train, n_hold", [(None, 16, 4), (18, 15, 3)])
def test_split_and_normaliser_rows(num_valid, n_train, n_hold):
    model = make_ensemble(CFG)
    data = _powers_of_two_data()
    state, info = jax.jit(model.fit)(model.init(jax.random.key(0)), data, jax.random.key(1),
                                     num_valid)
    assert (int(info.num_train), int(info.num_holdout)) == (n_train, n_hold)  # 20% held out
    total = int(round(float(state.normalizer.input_mean[0]) * n_train))
    train_rows = [i for i in range(20) if total >> i & 1]
    assert len(train_rows) == n_train  # the normaliser saw exactly the training rows
    valid = 20 if num_valid is None else num_valid
    assert max(train_rows) < valid  # never a row past num_valid
    hold_rows = sorted(set(range(valid)) - set(train_rows))
    # oracle for the holdout: each member's normalised MSE on exactly the complementary rows
    pred = model.predict(state, data.obs[hold_rows], data.action[hold_rows], elites_only=False)
    norm = state.normalizer
    target = np.concatenate([data.next_obs[hold_rows] - data.obs[hold_rows],
                             data.reward[hold_rows, None]], -1)
    member = np.concatenate([np.asarray(pred.member_next_obs) - data.obs[hold_rows],
                             np.asarray(pred.member_reward)[..., None]], -1)
    mse = (((member - target) / np.asarray(norm.target_std)) ** 2).mean(axis=(1, 2))
    np.testing.assert_allclose(state.holdout_mse, mse, rtol=2e-3)  # float32 on inputs ~2**19
    # and the target statistics are the training rows' (population std)
    train_t = np.concatenate([data.next_obs[train_rows] - data.obs[train_rows],
                              data.reward[train_rows, None]], -1)
    np.testing.assert_allclose(norm.target_mean, train_t.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(norm.target_std, train_t.std(0), rtol=1e-4)


def test_sampled_rollout_noise_has_the_predicted_scale():
    # zero-initialised output: raw log-variance 0 through the soft bounds [-10, 0.5] gives
    # logvar = -10 + softplus(0.5 - softplus(0.5) + 10) = 0.5 - softplus(0.5) + ~0 ~= -0.474,
    # so each sampled delta and reward has variance exp(-0.474) ~= 0.62 (identity normaliser)
    cfg = dataclasses.replace(CFG, zero_init_output=True, ensemble_size=1, num_elites=1)
    model = make_ensemble(cfg)
    state = model.init(jax.random.key(0))
    logvar = -10 + np.logaddexp(0, 0.5 - np.logaddexp(0, 0.5) + 10)
    obs = jnp.zeros((4000, 3))
    actions = jnp.zeros((1, 4000), jnp.int32)
    rollout = jax.jit(model.rollout, static_argnames=("propagation", "sample"))
    for propagation in ("random_member", "fixed_member"):
        traj = rollout(state, jax.random.key(1), obs, actions, propagation=propagation)
        samples = np.concatenate(
            [np.asarray(traj.next_obs[0]), np.asarray(traj.reward[0])[:, None]],
            -1)  # [4000, 4]
        # 4000 draws: the variance estimate has relative sd sqrt(2/4000) ~ 2.2%; 10% is > 4 sd
        np.testing.assert_allclose(samples.var(0), np.exp(logvar), rtol=0.1)
        np.testing.assert_allclose(samples.mean(0), 0.0, atol=0.1)
    still = rollout(state, jax.random.key(1), obs, actions, propagation="random_member",
                    sample=False)
    np.testing.assert_array_equal(still.next_obs[0], obs)  # no sampling: the member mean


def test_continuous_action_model_learns_linear_dynamics():
    cfg = EnsembleConfig(obs_dim=2, action_dim=2, discrete_actions=False, ensemble_size=2,
                         num_elites=2, hidden_sizes=(32,), probabilistic=False, batch_size=32,
                         max_epochs=60, patience=60, learning_rate=1e-2)
    rng = np.random.default_rng(0)
    n = 512
    obs = rng.normal(size=(n, 2)).astype(np.float32)
    action = rng.uniform(-1, 1, size=(n, 2)).astype(np.float32)
    next_obs = obs + 0.5 * action[:, ::-1]  # each obs dim moved by the *other* action dim
    reward = action.sum(1)
    model = make_ensemble(cfg)
    state, _ = jax.jit(model.fit)(model.init(jax.random.key(0)),
                                  Transition(obs, action, reward, next_obs, np.zeros(n, bool)),
                                  jax.random.key(1))
    test_obs = rng.normal(size=(256, 2)).astype(np.float32)
    test_action = rng.uniform(-1, 1, size=(256, 2)).astype(np.float32)
    pred = model.predict(state, test_obs, test_action)
    true_delta = 0.5 * test_action[:, ::-1]
    # the deltas have variance 0.25 / 3 ~ 0.083 per dim; a model ignoring the action (or using
    # the wrong dim) errs by about that much, a fitted one by far less
    err = np.mean((np.asarray(pred.next_obs) - test_obs - true_delta) ** 2)
    assert err < 0.1 * true_delta.var(), err
    assert np.mean((np.asarray(pred.reward) - test_action.sum(1)) ** 2) < 0.1 * (2 / 3)
