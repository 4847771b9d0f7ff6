"""The MuZero trainer: config errors, the CLI, and (slow) learning Catch. Determinism, vmap ==
single runs and no retrace are checked for every algorithm in tests/test_contract.py."""

import jax
import numpy as np
import pytest

from mbrl_jax import envs
from mbrl_jax.core import ConfigError
from mbrl_jax.driver.loop import run_chunked
from mbrl_jax.muzero import MuZeroConfig, make_trainer

CATCH = envs.make("Catch-bsuite")
TINY = MuZeroConfig(total_steps=16, num_envs=2, env_steps_per_iteration=8, updates_per_iteration=1,
                    batch_size=8, num_simulations=3, unroll_steps=2, td_steps=3,
                    buffer_size=32, support_size=3, hidden_sizes=(8,), latent_size=8,
                    eval_episodes=2, eval_max_steps=12)


@pytest.mark.parametrize("env_id,overrides,field", [
    ("Pendulum-v1", {}, "env"),
    ("Catch-bsuite", {"num_simulations": 0}, "num_simulations"),
    ("Catch-bsuite", {"unroll_steps": 30}, "unroll_steps"),
    ("Catch-bsuite", {"search": "alphazero"}, "search"),
    ("Catch-bsuite", {"value_bootstrap": "target"}, "value_bootstrap"),
])
def test_bad_configs_name_the_field(env_id, overrides, field):
    import dataclasses
    config = dataclasses.replace(TINY, **overrides)
    with pytest.raises(ConfigError) as err:
        make_trainer(config, *envs.make(env_id))
    assert err.value.field == field


@pytest.mark.slow
@pytest.mark.parametrize("search,sims", [("muzero", 16), ("gumbel", 4)])
def test_catch_reaches_high_return(search, sims):
    config = MuZeroConfig(total_steps=2496, num_envs=8, updates_per_iteration=8,
                          num_simulations=sims, search=search, buffer_size=1000,
                          eval_max_steps=50)
    trainer = make_trainer(config, *CATCH)
    result = run_chunked(trainer, jax.random.split(jax.random.key(0), 3), chunk_steps=2496)
    reward, done = result.metrics["reward"], result.metrics["done"]
    last = slice(-400, None)  # the last 400 steps per env: about 44 episodes per env
    per_episode = reward[:, last].sum(axis=(1, 2)) / done[:, last].sum(axis=(1, 2))
    assert np.all(per_episode > 0.8), per_episode
