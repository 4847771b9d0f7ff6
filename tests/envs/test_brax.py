"""Brax through the gymnax interface: auto-reset, true final observation and time-limit
truncation, under jit(vmap) through SAC's Trainer. Skipped when brax (the `brax` extra) is not
installed; marked slow because compiling brax's physics takes minutes on a small CPU."""

import jax
import numpy as np
import pytest

pytest.importorskip("brax", reason="brax is an optional extra: pip install 'mbrl-jax[brax]'")

from mbrl_jax import envs  # noqa: E402
from mbrl_jax.driver.loop import scan_steps  # noqa: E402
from mbrl_jax.sac import SACConfig, make_trainer  # noqa: E402


@pytest.mark.slow
def test_brax_halfcheetah_runs_through_sac_under_jit_vmap():
    env, params = envs.make("brax/halfcheetah", episode_length=3, backend="spring")
    assert env.observation_space(params).shape == (17,)
    assert env.action_space(params).shape == (6,)
    config = SACConfig(hidden_sizes=(8,), batch_size=8, buffer_size=64, warmup_steps=4,
                       total_steps=8, num_envs=2, eval_episodes=0)
    trainer = make_trainer(config, env, params)
    hp = config.hparams()

    def run(key):
        carry = trainer.init(key, hp)
        return scan_steps(trainer, carry, hp, 8)

    carry, metrics = jax.jit(jax.vmap(run))(jax.random.split(jax.random.key(0), 2))
    done = np.asarray(metrics["done"])                           # [seeds, T, envs]
    np.testing.assert_array_equal(done[0, :, 0], [0, 0, 1, 0, 0, 1, 0, 0])  # time limit 3
    assert not np.asarray(metrics["terminated"]).any()           # HalfCheetah never terminates
    data = jax.tree.map(np.asarray, carry.buffer.data)           # rows: step-major, env-minor
    obs, next_obs = data.obs[0, :16].reshape(8, 2, 17), data.next_obs[0, :16].reshape(8, 2, 17)
    # within an episode the next observation is the following step's observation ...
    np.testing.assert_array_equal(next_obs[[0, 1, 3, 4]], obs[[1, 2, 4, 5]])
    # ... at the time limit it is the true final observation, not the reset one
    assert not np.allclose(next_obs[[2, 5]], obs[[3, 6]])
    assert not data.done[0, :16].any()                            # truncation bootstraps
    assert int(carry.agent.num_updates[0]) == 4
    assert np.isfinite(np.asarray(metrics["sac/critic_loss"])).all()


@pytest.mark.slow
def test_brax_halfcheetah_runs_through_mbpo_under_jit_vmap():
    from mbrl_jax.mbpo import MBPOConfig
    from mbrl_jax.mbpo import make_trainer as make_mbpo_trainer
    from mbrl_jax.models import EnsembleConfig

    env, params = envs.make("brax/halfcheetah", episode_length=5, backend="spring")
    model = EnsembleConfig.mbpo(17, 6, ensemble_size=3, num_elites=2, hidden_sizes=(8,),
                                layer_weight_decay=(1e-4, 1e-4), batch_size=4, max_epochs=2)
    config = MBPOConfig(total_steps=12, env_steps_per_iteration=4, warmup_steps=4,
                        rollout_starts=6, updates_per_step=1, model=model, eval_episodes=0,
                        sac=SACConfig(hidden_sizes=(8,), batch_size=8))
    trainer = make_mbpo_trainer(config, env, params)
    hp = trainer.default_hparams

    def run(key):
        return scan_steps(trainer, trainer.init(key, hp), hp, trainer.num_iterations)

    carry, metrics = jax.jit(jax.vmap(run))(jax.random.split(jax.random.key(0), 2))
    done = np.asarray(metrics["done"]).reshape(2, -1)            # [seeds, T]
    np.testing.assert_array_equal(done[0], [0, 0, 0, 0, 1] * 2 + [0, 0])  # time limit 5
    assert not np.asarray(metrics["terminated"]).any()            # HalfCheetah never terminates
    # after each of the 3 refits, 6 one-step rollouts from real states were stored, and none
    # is marked terminal: MBPO uses HalfCheetah's known termination function (never)
    model_buffer = carry.model_buffer
    np.testing.assert_array_equal(np.asarray(model_buffer.counts).sum(-1), [18, 18])
    assert not np.asarray(model_buffer.data.done).any()
    for leaf in jax.tree.leaves(metrics):
        assert np.isfinite(np.asarray(leaf, np.float64)).all()
