"""MBPO's rollout masks, horizon schedule and real/model batch mix against hand-worked values."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mbrl_jax import envs
from mbrl_jax.core import aged_buffer, buffer
from mbrl_jax.core.errors import ConfigError
from mbrl_jax.core.types import Transition
from mbrl_jax.mbpo import MBPOConfig, branched_rollouts, horizon, make_trainer, mixed_batch
from mbrl_jax.mbpo.rollouts import rollout_mask
from mbrl_jax.models import EnsembleConfig, make_ensemble


def test_mask_cuts_after_termination_and_at_disagreement():
    alive = jnp.array([[1, 1, 1], [1, 0, 1], [1, 0, 1], [1, 0, 1]], bool)  # particle 1 ended at 0
    spread = jnp.array([[0.1, 0.1, 0.1], [0.6, 0.1, 0.2], [0.1, 0.1, 0.7], [0.1, 0.1, 0.1]])
    keep, cut = rollout_mask(alive, spread, jnp.int32(4), 0.5)
    # particle 0: step 1 exceeds 0.5 -> steps 1.. dropped, even though step 2 is back below
    # particle 1: terminated at step 0 (that step kept, later steps not)
    # particle 2: exceeds at step 2 -> steps 0, 1 kept
    np.testing.assert_array_equal(keep, [[1, 1, 1], [0, 0, 1], [0, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(cut, [True, False, True])
    keep, cut = rollout_mask(alive, spread, jnp.int32(2), None)  # horizon 2 of 4, no cut
    np.testing.assert_array_equal(keep, [[1, 1, 1], [1, 0, 1], [0, 0, 0], [0, 0, 0]])
    assert not cut.any()


def test_branched_rollouts_stop_storing_after_termination():
    """Zero-initialised model: obs never change, so a start with obs[0] > 0.5 terminates at its
    first step (stored, done=True) and nothing after it is stored; the other runs 3 steps."""
    cfg = EnsembleConfig(obs_dim=2, action_dim=1, ensemble_size=3, num_elites=2,
                         hidden_sizes=(8,), zero_init_output=True, probabilistic=False)
    model = make_ensemble(cfg, termination_fn=lambda o, a, n: n[0] > 0.5)
    state = model.init(jax.random.key(0))
    start = jnp.array([[1.0, 0.0], [0.0, 0.0]])
    items, keep, stats = branched_rollouts(
        model, state, lambda k, o: jnp.zeros((o.shape[0], 1)), jax.random.key(1), start,
        max_horizon=4, horizon_now=jnp.int32(3), threshold=None)
    # flattened [H * M]: step-major, particle-minor
    np.testing.assert_array_equal(keep, [1, 1, 0, 1, 0, 1, 0, 0])
    np.testing.assert_array_equal(items.done[:2], [True, False])
    assert float(stats.kept) == 4 / 8 and float(stats.terminated) == 1 / 4


def test_branched_rollouts_step_with_the_elites_and_store_their_predictions():
    """A hand-set deterministic ensemble: the elites (members 0 and 2) predict obs + 1 and
    reward 0.5, the non-elite member 1 obs + 100. Every stored transition is (o, a, 0.5, o + 1):
    the rollouts use elites only and store the prediction, not the input, as next obs."""
    cfg = EnsembleConfig(obs_dim=2, action_dim=1, ensemble_size=3, num_elites=2,
                         hidden_sizes=(8,), zero_init_output=True, probabilistic=False)
    model = make_ensemble(cfg, termination_fn=lambda o, a, n: jnp.zeros((), bool))
    state = model.init(jax.random.key(0))
    bias = jnp.array([[1.0, 1.0, 0.5], [100.0, 100.0, 50.0], [1.0, 1.0, 0.5]])
    params = {**state.params, "net": {"params": {**state.params["net"]["params"], "output": {
        **state.params["net"]["params"]["output"], "bias": bias}}}}
    state = state.replace(params=params, elite_idx=jnp.array([0, 2]))
    start = jnp.asarray(np.random.default_rng(0).normal(size=(16, 2)), jnp.float32)
    items, keep, _ = branched_rollouts(
        model, state, lambda k, o: jnp.zeros((o.shape[0], 1)), jax.random.key(1), start,
        max_horizon=3, horizon_now=jnp.int32(3), threshold=None)
    assert bool(keep.all())
    np.testing.assert_allclose(items.obs[:16], start)               # branched from the starts
    np.testing.assert_allclose(items.next_obs, items.obs + 1.0, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(items.obs[16:], items.next_obs[:-16], rtol=1e-6)  # chained
    np.testing.assert_allclose(items.reward, 0.5, rtol=1e-5)


def test_horizon_follows_the_linear_schedule():
    # (a, b, h_a, h_b) = (100, 300, 1, 5): 1 until 100, then 1 + 4 * (t - 100) / 200, floored
    steps = jnp.array([0, 100, 149, 150, 250, 300, 1000])
    np.testing.assert_array_equal(horizon((100, 300, 1, 5), steps), [1, 1, 1, 2, 4, 5, 5])


@pytest.mark.parametrize("ratio, batch, n_real", [(0.25, 40, 10), (0.05, 256, 13), (1.0, 8, 8),
                                                  (0.0, 8, 0)])
def test_mixed_batch_has_the_configured_real_ratio(ratio, batch, n_real):
    example = Transition(jnp.zeros(2), jnp.zeros(1), jnp.float32(0), jnp.zeros(2), jnp.bool_(0))
    env_buf = buffer.add(buffer.init(example, 50), Transition(
        jnp.ones((30, 2)), jnp.ones((30, 1)), jnp.ones(30), jnp.ones((30, 2)), jnp.zeros(30, bool)))
    model_buf = aged_buffer.init(example, 2, 20)
    mixed = mixed_batch(env_buf, model_buf, jax.random.key(0), batch, ratio)
    np.testing.assert_array_equal(mixed.reward, np.ones(batch))  # empty model buffer: all real
    model_buf = aged_buffer.add_period(model_buf, Transition(
        jnp.ones((20, 2)), jnp.ones((20, 1)), -jnp.ones(20), jnp.ones((20, 2)),
        jnp.zeros(20, bool)), jnp.arange(20) < 15)
    mixed = mixed_batch(env_buf, model_buf, jax.random.key(1), batch, ratio)
    assert mixed.reward.shape == (batch,)
    assert int((mixed.reward == 1).sum()) == n_real  # real rows: round(ratio * batch)
    assert int((mixed.reward == -1).sum()) == batch - n_real


def test_bad_configs_name_their_field():
    env, params = envs.make("Pendulum-v1")
    for field, config in [
        ("rollout_schedule", MBPOConfig(rollout_schedule=(0, 1, 0, 0))),  # horizon 0
        ("rollout_schedule", MBPOConfig(rollout_schedule=(0, 1, 1, 0))),
        ("real_ratio", MBPOConfig(real_ratio=1.5)),
        ("real_ratio", MBPOConfig(real_ratio=-0.1)),
        ("total_steps", MBPOConfig(total_steps=300)),  # not a multiple of F = 250
        ("termination", MBPOConfig(termination="oracle")),
        ("disagreement_threshold", MBPOConfig(disagreement_threshold=0.0)),
    ]:
        with pytest.raises(ConfigError) as info:
            make_trainer(config, env, params)
        assert info.value.field == field
    cartpole, cartpole_params = envs.make("CartPole-v1")
    with pytest.raises(ConfigError) as info:  # discrete actions
        make_trainer(MBPOConfig(), cartpole, cartpole_params)
    assert info.value.field == "env"
    reacher, reacher_params = envs.make("Reacher-misc")
    with pytest.raises(ConfigError) as info:  # no known termination function
        make_trainer(MBPOConfig(), reacher, reacher_params)
    assert info.value.field == "termination"
    make_trainer(dataclasses.replace(MBPOConfig(), termination="none"), reacher, reacher_params)
