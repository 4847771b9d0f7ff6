"""MBPO runs: model-buffer ageing, the buffers row by row
on a counter env, learning (slow)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from counter_env import Counter

from mbrl_jax import envs
from mbrl_jax.core import aged_buffer
from mbrl_jax.driver.loop import scan_steps
from mbrl_jax.mbpo import MBPOConfig, make_train, make_trainer
from mbrl_jax.models import EnsembleConfig
from mbrl_jax.sac import SACConfig, make_agent

TINY = MBPOConfig(
    total_steps=30, env_steps_per_iteration=10, warmup_steps=10, rollout_starts=6,
    rollout_schedule=(0, 20, 1, 2), model_retain_periods=2, updates_per_step=1,
    eval_episodes=0,
    model=EnsembleConfig.mbpo(1, 1, hidden_sizes=(8,), ensemble_size=3, num_elites=2,
                              layer_weight_decay=(1e-4, 1e-4), max_epochs=2, batch_size=8),
    sac=SACConfig(hidden_sizes=(8,), batch_size=8))


@pytest.fixture(scope="module")
def metrics():
    env, params = envs.make("Pendulum-v1")
    return jax.jit(make_train(TINY, env, params))(jax.random.key(0))[1]


def test_model_buffer_holds_the_last_retained_periods(metrics):
    """Pendulum never terminates and no disagreement cut: a period stores M * h rows, h from the
    schedule (0, 20, 1, 2) at the refit's env step 10, 20, 30 -> h = 1, 2, 2 (floor of
    1 + (t / 20)), so with 2 periods kept: 6, 6 + 12, 12 + 12 rows."""
    size = np.asarray(metrics["model/buffer_size"])[::10]
    np.testing.assert_array_equal(np.asarray(metrics["rollout/horizon"])[::10], [1, 2, 2])
    np.testing.assert_array_equal(size, [6, 18, 24])
    assert metrics["reward"].shape == (30, 1) and not np.asarray(metrics["done"]).any()


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
    _, metrics, _ = train(jax.random.split(jax.random.key(3), 3))
    episodes = np.asarray(metrics["reward"]).reshape(3, 15, 200).sum(-1)  # [3, 15]
    first, last = episodes[:, :2].mean(), episodes[:, -2:].mean()
    assert last > first + 600, (first, last)


def test_buffers_hold_real_transitions_and_rollouts_branch_from_real_states():
    """12 env steps of an MBPO run on a counter env, checked row by row: the env buffer stores
    (o_t, a_t, r_t, the true o_{t+1}, terminated only), warm-up actions span the env's bounds,
    SAC updates start right after the warm-up, and the model buffer's rollouts (horizon 1)
    start from real states with actions sampled from the policy, not its mean."""
    env = Counter()
    config = dataclasses.replace(TINY, total_steps=12, env_steps_per_iteration=6,
                                 warmup_steps=6, rollout_starts=4, rollout_schedule=(0, 1, 1, 1),
                                 termination="learned", real_ratio=0.5)
    trainer = make_trainer(config, env, env.default_params)
    hp = trainer.default_hparams
    start = trainer.init(jax.random.key(0), hp)
    carry, metrics = jax.jit(lambda c: scan_steps(trainer, c, hp, 2))(start)
    real = jax.tree.map(lambda x: np.asarray(x)[:12], carry.env_buffer.data)
    t, kind = real.obs[:, 0], real.obs[:, 1]
    np.testing.assert_array_equal(t, np.tile([0, 1, 2], 4))
    np.testing.assert_array_equal(real.next_obs[:, 0], t + 1)  # never the reset observation
    np.testing.assert_array_equal(real.next_obs[:, 1], kind)
    assert 0 < kind[t == 2].sum() < 4                          # both kinds of episode end
    np.testing.assert_array_equal(real.done, (t == 2) & (kind == 1))
    np.testing.assert_allclose(real.reward, real.action[:, 0])
    assert 1.5 < np.abs(real.action[:6]).max() <= 3.0           # warm-up: uniform in [-3, 3]
    assert int(carry.agent.num_updates) == 6 * config.updates_per_step  # steps 6..11

    held = int(carry.model_buffer.size)
    assert held == 2 * config.rollout_starts                   # two refits, horizon 1
    rows = aged_buffer.sample_indices(carry.model_buffer, jax.random.key(1), 64)
    model = jax.tree.map(lambda x: np.asarray(x)[np.asarray(rows)], carry.model_buffer.data)
    real_states = {tuple(o) for o in real.obs}
    assert all(tuple(o) in real_states for o in model.obs)      # branched from real states
    assert len({tuple(o) for o in model.obs}) >= 3              # drawn from the env buffer
    low, high = np.float32([-3.0]), np.float32([3.0])
    agent = make_agent(config.sac, 2, low, high)
    for state in (start.agent, carry.agent):                   # the policy at either refit
        mean_action = np.asarray(agent.act(state, jnp.asarray(model.obs), jax.random.key(0),
                                           deterministic=True))
        assert not np.isclose(model.action, mean_action, atol=1e-4).any()


def test_parallel_envs_each_add_their_own_transitions_per_env_step():
    """num_envs = 3: each env step writes the 3 envs' transitions in env order, so row t*3 + i
    holds env i at step t, and its next_obs is the obs row (t+1)*3 + i (Pendulum does not end
    within the 10 steps)."""
    config = MBPOConfig.tiny(num_envs=3)
    trainer = make_trainer(config, *envs.make("Pendulum-v1"))
    carry = trainer.init(jax.random.key(0), trainer.default_hparams)
    carry, metrics = jax.jit(trainer.step)(carry, trainer.default_hparams)
    f, n = config.env_steps_per_iteration, 3
    assert int(carry.env_buffer.size) == f * n and metrics["reward"].shape == (f, n)
    data = jax.tree.map(np.asarray, carry.env_buffer.data)
    np.testing.assert_array_equal(data.next_obs[:(f - 1) * n], data.obs[n:f * n])
    assert len({tuple(np.round(o, 5)) for o in data.obs[:n]}) == n  # three different envs
