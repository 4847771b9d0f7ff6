"""Dynamics ensemble: structure, prediction and rollouts against independent oracles."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mbrl_jax.core import ConfigError
from mbrl_jax.models import (
    EnsembleConfig,
    ModelConfigError,
    Transition,
    compute_normalizer,
    denormalize_targets,
    make_ensemble,
    normalize_inputs,
    normalize_targets,
)
from mbrl_jax.models.networks import ensemble_apply, make_member_network, member_apply

CFG = EnsembleConfig(
    obs_dim=3,
    action_dim=2,
    discrete_actions=True,
    ensemble_size=4,
    num_elites=2,
    hidden_sizes=(16, 16),
    batch_size=32,
    max_epochs=5,
)


def _data(n=64, seed=0):
    k1, k2 = jax.random.split(jax.random.key(seed))
    obs = jax.random.normal(k1, (n, 3))
    action = jax.random.randint(k2, (n,), 0, 2)
    return obs, action



@pytest.mark.parametrize("probabilistic", [True, False])
def test_zero_init_heads_predict_next_equals_state(probabilistic):
    cfg = dataclasses.replace(CFG, zero_init_output=True, probabilistic=probabilistic)
    model = make_ensemble(cfg)
    state = model.init(jax.random.key(0))
    obs, action = _data()
    pred = model.predict(state, obs, action, key=jax.random.key(1), elites_only=False)
    np.testing.assert_array_equal(pred.next_obs, obs)
    np.testing.assert_array_equal(pred.member_next_obs, jnp.broadcast_to(obs, (4, 64, 3)))
    np.testing.assert_array_equal(pred.reward, jnp.zeros(64))
    np.testing.assert_array_equal(pred.disagreement, jnp.zeros(64))
    traj = model.rollout(state, jax.random.key(2), obs[:5], jnp.zeros((4, 5), int), "mean")
    np.testing.assert_array_equal(traj.next_obs[-1], obs[:5])
    if probabilistic:  # zero raw log-variance through the soft bounds [-10, 0.5]
        expected = -10 + jax.nn.softplus(0.5 - jax.nn.softplus(0.5) + 10)
        np.testing.assert_allclose(pred.aleatoric_var, np.exp(expected), rtol=1e-5)


def test_vmapped_ensemble_equals_each_member_alone():
    model = make_ensemble(CFG)
    state = model.init(jax.random.key(3))
    net = make_member_network(CFG)
    x = jax.random.normal(jax.random.key(4), (10, CFG.input_dim))
    out = ensemble_apply(CFG, net, state.params, x)
    per_x = jax.random.normal(jax.random.key(5), (4, 10, CFG.input_dim))
    out_per = ensemble_apply(CFG, net, state.params, per_x, shared_inputs=False)
    for i in range(4):
        p_i = jax.tree_util.tree_map(lambda p, i=i: p[i], state.params)
        alone = member_apply(CFG, net, p_i, x)
        np.testing.assert_allclose(out.mean[i], alone.mean, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(out.logvar[i], alone.logvar, rtol=1e-5, atol=1e-6)
        alone_per = member_apply(CFG, net, p_i, per_x[i])
        np.testing.assert_allclose(out_per.mean[i], alone_per.mean, rtol=1e-5, atol=1e-6)
    # members start from different parameters (their own keys)
    assert not np.allclose(out.mean[0], out.mean[1])


def test_disagreement_zero_when_members_identical():
    model = make_ensemble(CFG)
    state = model.init(jax.random.key(6))
    same = jax.tree_util.tree_map(lambda p: jnp.broadcast_to(p[:1], p.shape), state.params)
    state = state.replace(params=same)
    obs, action = _data()
    pred = model.predict(state, obs, action)
    np.testing.assert_allclose(pred.disagreement, 0.0, atol=1e-6)
    np.testing.assert_allclose(pred.epistemic_var, 0.0, atol=1e-10)
    np.testing.assert_allclose(pred.member_next_obs[3], pred.next_obs, atol=1e-6)
    # and positive for the independently initialised ensemble
    fresh = model.predict(model.init(jax.random.key(6)), obs, action)
    assert float(fresh.disagreement.min()) > 1e-4
    # disagreement = std across members of their mean next obs, in target-std units, averaged
    # over obs dims (numpy)
    member = np.asarray(fresh.member_next_obs, np.float64)
    np.testing.assert_allclose(fresh.disagreement, member.std(0).mean(-1), rtol=1e-4)
    scale = jnp.array([2.0, 0.5, 1.0, 1.0])  # target std of (delta obs..., reward)
    scaled = model.init(jax.random.key(6))
    scaled = scaled.replace(normalizer=scaled.normalizer.replace(target_std=scale))
    pred = model.predict(scaled, obs, action)
    member = np.asarray(pred.member_next_obs, np.float64)
    expected = (member.std(0) / np.array([2.0, 0.5, 1.0])).mean(-1)
    np.testing.assert_allclose(pred.disagreement, expected, rtol=1e-4)


def test_normalisation_round_trips_and_matches_numpy():
    rng = np.random.default_rng(0)
    inputs = rng.normal(3.0, 2.0, (50, 5)).astype(np.float32)
    inputs[:, 4] = 7.0  # constant feature: std set to 1 so the round trip stays exact
    targets = rng.normal(-1.0, 0.5, (50, 4)).astype(np.float32)
    mask = np.arange(50) < 40
    norm = compute_normalizer(jnp.asarray(inputs), jnp.asarray(targets), jnp.asarray(mask))
    np.testing.assert_allclose(norm.input_mean, inputs[:40].mean(0), rtol=1e-5)
    np.testing.assert_allclose(norm.input_std[:4], inputs[:40, :4].std(0), rtol=1e-4)
    assert float(norm.input_std[4]) == 1.0
    np.testing.assert_allclose(norm.target_std, targets[:40].std(0), rtol=1e-4)
    z = normalize_targets(norm, jnp.asarray(targets))
    np.testing.assert_allclose(denormalize_targets(norm, z), targets, rtol=1e-5, atol=1e-5)
    zx = np.asarray(normalize_inputs(norm, jnp.asarray(inputs)))[:40, :4]
    np.testing.assert_allclose(zx.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(zx.std(0), 1.0, rtol=1e-4)


def test_rollout_mean_equals_iterated_predict_and_members_behave():
    cfg = dataclasses.replace(CFG, probabilistic=False)
    model = make_ensemble(cfg)
    state = model.init(jax.random.key(7))
    obs, _ = _data(8)
    actions = jax.random.randint(jax.random.key(8), (6, 8), 0, 2)
    traj = model.rollout(state, jax.random.key(9), obs, actions, "mean")
    o = obs
    for t in range(6):
        np.testing.assert_allclose(traj.obs[t], o, rtol=1e-5, atol=1e-5)
        pred = model.predict(state, o, actions[t])
        np.testing.assert_allclose(traj.reward[t], pred.reward, rtol=1e-5, atol=1e-5)
        o = pred.next_obs
    np.testing.assert_allclose(traj.next_obs[-1], o, rtol=1e-4, atol=1e-5)

    # TS-inf: one member per particle for the whole horizon, equal to iterating that member
    ts_inf = model.rollout(state, jax.random.key(10), obs, actions, "fixed_member")
    member = np.asarray(ts_inf.member)
    assert (member == member[:1]).all()
    o = obs
    for t in range(6):
        pred = model.predict(state, o, actions[t], elites_only=False)
        o = pred.member_next_obs[member[t], np.arange(8)]
    np.testing.assert_allclose(ts_inf.next_obs[-1], o, rtol=1e-4, atol=1e-5)

    # TS-1: a fresh member per particle per step; elites_only draws only elites
    state = state.replace(elite_idx=jnp.array([1, 3], jnp.int32))
    ts1 = model.rollout(
        state,
        jax.random.key(11),
        jnp.tile(obs, (8, 1)),
        jnp.tile(actions, (1, 8)),
        "random_member",
        elites_only=True,
    )
    assert set(np.unique(ts1.member)) == {1, 3}
    assert (np.asarray(ts1.member) != np.asarray(ts1.member)[:1]).any()


def test_termination_fn_masks_later_steps_and_predict_uses_elites():
    def terminate(obs, action, next_obs):
        return next_obs[0] > 0.5

    cfg = dataclasses.replace(CFG, zero_init_output=True, probabilistic=False)
    model = make_ensemble(cfg, termination_fn=terminate)
    state = model.init(jax.random.key(12))
    # zero-init: obs never changes, so a particle starting above 0.5 terminates at step 0
    obs = jnp.array([[1.0, 0, 0], [0.0, 0, 0]])
    traj = model.rollout(state, jax.random.key(13), obs, jnp.zeros((3, 2), int), "mean")
    np.testing.assert_array_equal(traj.terminated, [[True, False]] * 3)
    np.testing.assert_array_equal(traj.mask, [[True, True], [False, True], [False, True]])

    model = make_ensemble(CFG)
    state = model.init(jax.random.key(14)).replace(elite_idx=jnp.array([2, 0], jnp.int32))
    o, a = _data(5)
    full = model.predict(state, o, a, elites_only=False)
    elite = model.predict(state, o, a, elites_only=True)
    np.testing.assert_allclose(elite.member_next_obs, full.member_next_obs[jnp.array([2, 0])])
    np.testing.assert_allclose(elite.next_obs, full.member_next_obs[jnp.array([2, 0])].mean(0))


def test_samples_follow_member_variance():
    model = make_ensemble(CFG)
    state = model.init(jax.random.key(15))
    obs = jnp.zeros((4000, 3))
    action = jnp.zeros((4000,), int)
    pred = model.predict(state, obs, action, key=jax.random.key(16))
    # every row has the same input, so sample spread estimates the predicted aleatoric variance
    emp_var = np.asarray(pred.sample_next_obs).var(1)  # [E, O]
    np.testing.assert_allclose(emp_var.mean(0), pred.aleatoric_var[0, :3], rtol=0.1)


def test_config_errors_are_named():
    with pytest.raises(ConfigError) as info:  # the library-wide named error, with the field
        make_ensemble(dataclasses.replace(CFG, obs_dim=0))
    assert info.value.field == "obs_dim" and isinstance(info.value, ModelConfigError)
    with pytest.raises(ModelConfigError, match="num_elites"):
        make_ensemble(dataclasses.replace(CFG, num_elites=9))
    with pytest.raises(ModelConfigError, match="activation"):
        make_ensemble(dataclasses.replace(CFG, activation="nope"))
    with pytest.raises(ModelConfigError, match="holdout_ratio"):
        dataclasses.replace(CFG, holdout_ratio=1.5).validate()
    model = make_ensemble(CFG)
    state = model.init(jax.random.key(0))
    obs, action = _data(2)
    with pytest.raises(ModelConfigError, match="propagation"):
        model.rollout(state, jax.random.key(0), obs, action[None], "ts2")
    assert Transition._fields == ("obs", "action", "reward", "next_obs", "done")


def test_rollout_policy_matches_open_loop_and_is_deterministic_per_key():
    model = make_ensemble(CFG)
    state = model.init(jax.random.key(17))
    obs, _ = _data(6)

    def policy(key, o):  # [B, O] -> [B] ints, depends on the observation
        return (o[:, 0] > 0).astype(jnp.int32)

    key = jax.random.key(18)
    closed = jax.jit(model.rollout_policy, static_argnums=(3, 4))(state, key, obs, policy, 5)
    opened = model.rollout(state, key, obs, closed.action, "random_member", elites_only=True)
    np.testing.assert_allclose(closed.next_obs, opened.next_obs, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(closed.member, opened.member)
    np.testing.assert_array_equal(closed.action[0], policy(None, obs))
    again = model.rollout_policy(state, key, obs, policy, 5)
    np.testing.assert_array_equal(again.next_obs, closed.next_obs)
    other = model.rollout_policy(state, jax.random.key(19), obs, policy, 5)
    assert not np.array_equal(other.next_obs, closed.next_obs)
