"""MBPO runs: determinism, vmap equality, no retrace, model-buffer ageing, learning (slow)."""

import dataclasses

import jax
import numpy as np
import pytest
from conftest import tree_equal

from mbrl_jax import envs
from mbrl_jax.mbpo import MBPOConfig, make_train
from mbrl_jax.models import EnsembleConfig
from mbrl_jax.sac import SACConfig

TINY = MBPOConfig(
    total_steps=30, env_steps_per_iteration=10, warmup_steps=10, rollout_starts=6,
    rollout_schedule=(0, 20, 1, 2), model_retain_periods=2, updates_per_step=1,
    eval_episodes=0,
    model=EnsembleConfig.mbpo(1, 1, hidden_sizes=(8,), ensemble_size=3, num_elites=2,
                              layer_weight_decay=(1e-4, 1e-4), max_epochs=2, batch_size=8),
    sac=SACConfig(hidden_sizes=(8,), batch_size=8))


@pytest.fixture(scope="module")
def runs():
    env, params = envs.make("Pendulum-v1")
    train = jax.jit(make_train(TINY, env, params))
    keys = jax.random.split(jax.random.key(0), 2)
    first = train(keys[0])
    again = train(keys[0])
    other = train(keys[1])
    batched = jax.jit(jax.vmap(make_train(TINY, env, params)))(keys)
    return train, first, again, other, batched


def test_same_key_same_run_vmap_equal_and_no_retrace(runs):
    train, first, again, other, batched = runs
    assert tree_equal(first, again)
    assert not np.array_equal(first[1]["reward"], other[1]["reward"])
    # The batched program rounds matmuls differently (1e-8 after one iteration) and 30 steps of
    # training amplify that to about 1e-3; a mixed-up seed would differ by O(1).
    for i, single in enumerate((first, other)):
        jax.tree.map(lambda b, s, i=i: np.testing.assert_allclose(b[i], s, rtol=1e-2, atol=1e-3),
                     batched, single)
    assert train._cache_size() == 1  # three calls, one trace


def test_model_buffer_holds_the_last_retained_periods(runs):
    """Pendulum never terminates and no disagreement cut: a period stores M * h rows, h from the
    schedule (0, 20, 1, 2) at the refit's env step 10, 20, 30 -> h = 1, 2, 2 (floor of
    1 + (t / 20)), so with 2 periods kept: 6, 6 + 12, 12 + 12 rows."""
    _, (_, metrics), *_ = runs
    size = np.asarray(metrics["model_buffer_size"])[::10]
    np.testing.assert_array_equal(np.asarray(metrics["rollout_horizon"])[::10], [1, 2, 2])
    np.testing.assert_array_equal(size, [6, 18, 24])
    assert metrics["reward"].shape == (30,) and not np.asarray(metrics["done"]).any()


@pytest.mark.slow
def test_mbpo_improves_pendulum_return():
    """3 seeds, 3000 env steps (the exercise's CPU settings): the mean return of the last 2
    training episodes beats the first 2 (random play, about -1200) by a wide margin."""
    env, params = envs.make("Pendulum-v1")
    config = dataclasses.replace(
        TINY, total_steps=3000, env_steps_per_iteration=250, warmup_steps=250,
        rollout_starts=1000, rollout_schedule=(0, 1, 1, 1), model_retain_periods=4,
        updates_per_step=10, model=EnsembleConfig.mbpo(1, 1, hidden_sizes=(64, 64, 64),
                                                       layer_weight_decay=(2.5e-5, 5e-5, 7.5e-5,
                                                                           1e-4),
                                                       max_epochs=30),
        sac=SACConfig(hidden_sizes=(64, 64), batch_size=128, actor_lr=1e-3, critic_lr=1e-3,
                      alpha_lr=1e-3))
    train = jax.jit(jax.vmap(make_train(config, env, params)))
    _, metrics = train(jax.random.split(jax.random.key(3), 3))
    episodes = np.asarray(metrics["reward"]).reshape(3, 15, 200).sum(-1)  # [3, 15]
    first, last = episodes[:, :2].mean(), episodes[:, -2:].mean()
    assert last > first + 600, (first, last)
