"""Rollouts that run one member per particle, MBPO's model recipe, and warm-started refits."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mbrl_jax.models import EnsembleConfig, ModelConfigError, Transition, make_ensemble
from mbrl_jax.models.config import MBPO_LAYER_WEIGHT_DECAY
from mbrl_jax.models.networks import compute_normalizer, renormalize
from mbrl_jax.models.train import TrainBatch, layer_penalty

CFG = EnsembleConfig(obs_dim=3, action_dim=2, ensemble_size=4, num_elites=3,
                     hidden_sizes=(16, 16), batch_size=32, max_epochs=5)


def _obs_actions(b, h, seed=0):
    k1, k2 = jax.random.split(jax.random.key(seed))
    return jax.random.normal(k1, (b, 3)), jax.random.uniform(k2, (h, b, 2), minval=-1, maxval=1)


@pytest.mark.parametrize("propagation", ["random_member", "fixed_member"])
def test_routed_rollout_equals_full_ensemble_then_pick(propagation):
    """Oracle: the old design (every elite on every particle, keep the particle's member) with the
    same member draws; routing must give the same trajectories while computing one member."""
    model = make_ensemble(CFG)
    state = model.init(jax.random.key(1)).replace(elite_idx=jnp.array([3, 0, 2], jnp.int32))
    obs, actions = _obs_actions(10, 4)  # 10 particles, 3 elites: padded to 12 slots
    key = jax.random.key(2)
    run = jax.jit(model.rollout, static_argnames=("propagation", "elites_only", "sample",
                                                  "disagreement"))
    routed = run(state, key, obs, actions, propagation=propagation, elites_only=True,
                 sample=True, disagreement=False)
    full = run(state, key, obs, actions, propagation=propagation, elites_only=True, sample=True,
               disagreement=True)
    np.testing.assert_array_equal(routed.member, full.member)
    np.testing.assert_allclose(routed.next_obs, full.next_obs, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(routed.reward, full.reward, rtol=1e-5, atol=1e-5)
    assert np.isnan(routed.disagreement).all() and np.isfinite(full.disagreement).all()
    assert set(np.unique(routed.member)) <= {0, 2, 3}
    # without sampling each step is the member's own mean prediction (numpy-free oracle: predict)
    det = run(state, key, obs, actions, propagation=propagation, elites_only=True, sample=False,
              disagreement=False)
    o = obs
    for t in range(4):
        pred = model.predict(state, o, actions[t], elites_only=False)  # indexed by member id
        o = pred.member_next_obs[det.member[t], jnp.arange(10)]
        np.testing.assert_allclose(det.next_obs[t], o, rtol=1e-5, atol=1e-5)
    fixed = (np.asarray(det.member) == np.asarray(det.member)[:1]).all()
    assert fixed == (propagation == "fixed_member")


def test_routed_members_are_uniform_per_particle():
    """Each particle's member is uniform over the elites (as independent draws would be): over
    2000 steps of TS-1 with 5 particles and 3 elites, every (particle, member) frequency is
    1/3 within 4 binomial standard deviations (sqrt(2000 * 1/3 * 2/3) = 21 counts)."""
    model = make_ensemble(CFG)
    state = model.init(jax.random.key(3)).replace(elite_idx=jnp.array([1, 2, 3], jnp.int32))
    obs, _ = _obs_actions(5, 1)
    traj = jax.jit(model.rollout, static_argnames=("propagation", "elites_only"))(
        state, jax.random.key(4), obs, jnp.zeros((2000, 5, 2)), propagation="random_member",
        elites_only=True)
    member = np.asarray(traj.member)
    counts = np.stack([(member == m).sum(0) for m in (1, 2, 3)])  # [3, 5]
    assert np.abs(counts - 2000 / 3).max() < 4 * 21


def test_mbpo_recipe_shares_bounds_and_penalises_layers():
    cfg = EnsembleConfig.mbpo(3, 2, hidden_sizes=(8, 8, 8, 8), ensemble_size=3, num_elites=2)
    assert cfg.layer_weight_decay == MBPO_LAYER_WEIGHT_DECAY and cfg.patience == 6
    model = make_ensemble(cfg)
    state = model.init(jax.random.key(5))
    assert state.params["max_logvar"].shape == (4,)  # one pair [D] for all members
    layers = state.params["net"]["params"]
    names = ["hidden_0", "hidden_1", "hidden_2", "hidden_3", "output"]
    expected = sum(c * 0.5 * (np.asarray(layers[n]["kernel"]) ** 2).sum(axis=(1, 2))
                   for c, n in zip(MBPO_LAYER_WEIGHT_DECAY, names, strict=True))
    np.testing.assert_allclose(layer_penalty(cfg, state.params), expected, rtol=1e-5)

    # loss: mean(err^2 exp(-logvar) + logvar) + penalty + 0.01 * (sum max - sum min) / E
    rng = np.random.default_rng(0)
    batch = TrainBatch(jnp.asarray(rng.normal(size=(3, 6, 5)), jnp.float32),
                       jnp.asarray(rng.normal(size=(3, 6, 4)), jnp.float32), jnp.zeros((3, 6)))
    loss, _ = model.losses(state, batch)
    from mbrl_jax.models.networks import ensemble_apply, make_member_network
    out = ensemble_apply(cfg, make_member_network(cfg), state.params, batch.inputs, False)
    err = (np.asarray(out.mean) - np.asarray(batch.targets)) ** 2
    nll = (err * np.exp(-np.asarray(out.logvar)) + np.asarray(out.logvar)).mean(axis=(1, 2))
    bound = 0.01 * (0.5 * 4 - (-10.0) * 4) / 3
    np.testing.assert_allclose(loss, nll + expected + bound, rtol=1e-5)
    with pytest.raises(ModelConfigError, match="layer_weight_decay"):
        make_ensemble(dataclasses.replace(cfg, layer_weight_decay=(1e-4,)))
    with pytest.raises(ModelConfigError, match="nll_scaling"):
        make_ensemble(dataclasses.replace(cfg, nll_scaling="half"))


@pytest.mark.parametrize("shared", [False, True])
def test_renormalize_keeps_the_function_in_original_units(shared):
    cfg = dataclasses.replace(CFG, shared_logvar_bounds=shared)
    model = make_ensemble(cfg)
    rng = np.random.default_rng(1)
    state = model.init(jax.random.key(6))
    old = compute_normalizer(jnp.asarray(rng.normal(2, 3, (50, 5)), jnp.float32),
                             jnp.asarray(rng.normal(-1, 0.5, (50, 4)), jnp.float32))
    new = compute_normalizer(jnp.asarray(rng.normal(-1, 0.2, (50, 5)), jnp.float32),
                             jnp.asarray(rng.normal(4, 7, (50, 4)), jnp.float32))
    state = state.replace(normalizer=old)
    moved = state.replace(params=renormalize(cfg, state.params, old, new), normalizer=new)
    obs, actions = _obs_actions(7, 1)
    a, b = model.predict(state, obs, actions[0]), model.predict(moved, obs, actions[0])
    np.testing.assert_allclose(b.member_next_obs, a.member_next_obs, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(b.member_reward, a.member_reward, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(b.aleatoric_var, a.aleatoric_var, rtol=1e-3)


def test_refit_on_unchanged_data_starts_where_the_last_fit_ended():
    """A warm-started refit rescales params to the new normaliser: with one more row of data the
    first refit epoch starts near the previous holdout error, not from a distorted model."""
    cfg = dataclasses.replace(CFG, max_epochs=30, holdout_ratio=0.0, probabilistic=False)
    model = make_ensemble(cfg)
    rng = np.random.default_rng(2)
    obs = rng.normal(3, 2, (300, 3)).astype(np.float32)
    act = rng.uniform(-1, 1, (300, 2)).astype(np.float32)
    nxt = obs + 0.1 * obs[:, ::-1] + act[:, :1]
    data = Transition(obs, act, obs.sum(1), nxt, np.zeros(300, bool))
    fit = jax.jit(model.fit)
    state, info = fit(model.init(jax.random.key(7)), data, jax.random.key(8), 200)
    start = model.predict(state, obs[:200], act[:200]).next_obs
    state2, _ = fit(state, data, jax.random.key(9), 300)  # new rows shift the normaliser
    moved = state.replace(params=renormalize(cfg, state.params, state.normalizer,
                                             state2.normalizer), normalizer=state2.normalizer)
    np.testing.assert_allclose(model.predict(moved, obs[:200], act[:200]).next_obs, start,
                               rtol=1e-4, atol=1e-4)
    assert np.isfinite(np.asarray(state2.holdout_mse)).all()
