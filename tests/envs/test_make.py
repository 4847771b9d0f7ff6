import jax
import numpy as np
import pytest

from mbrl_jax import envs


def test_unknown_id_lists_known_ids():
    with pytest.raises(envs.UnknownEnvError) as info:
        envs.make("NoSuchEnv-v0")
    message = str(info.value)
    assert "NoSuchEnv-v0" in message
    for known in ("DynaMaze", "BlockingMaze", "ShortcutMaze", "FrozenLake-misc", "CartPole-v1"):
        assert known in message


def test_every_registered_id_makes_and_resets():
    for env_id in envs.registered_envs():
        if env_id == "MNISTBandit-bsuite":  # downloads MNIST at construction
            continue
        env, params = envs.make(env_id)
        obs, _ = env.reset(jax.random.key(0), params)
        space = env.observation_space(params)
        assert np.shape(obs) == tuple(getattr(space, "shape", ())), env_id


def test_kwargs_reach_gymnax_constructor():
    env, _ = envs.make("FrozenLake-misc", is_slippery=False)
    assert env.is_slippery is False
    env, _ = envs.make("BlockingMaze", change_step=7)
    assert env.change_step == 7


@pytest.mark.parametrize("env_id, kwargs, rows, actions", [
    ("FrozenLake-misc", {"is_slippery": True}, 16, 4),
    ("FrozenLake-misc", {"is_slippery": False}, 16, 4),
    ("FrozenLake-misc", {"map_name": "8x8"}, 64, 4),
    ("DynaMaze", {}, 54, 4),
    ("BlockingMaze", {}, 54, 4),
    ("ShortcutMaze", {}, 54, 4),
])
def test_tabular_spec(env_id, kwargs, rows, actions):
    env, params = envs.make(env_id, **kwargs)
    spec = envs.tabular_spec(env, params)
    assert (spec.num_states, spec.num_actions) == (rows, actions)
    obs, _ = env.reset(jax.random.key(0), params)
    row = int(spec.obs_to_row(obs))
    assert 0 <= row < rows


def test_continuous_observations_are_not_tabular():
    with pytest.raises(envs.NotTabularError, match="cannot index a table"):
        envs.tabular_spec(*envs.make("CartPole-v1"))
    with pytest.raises(envs.NotTabularError, match="action space"):
        envs.tabular_spec(*envs.make("Pendulum-v1"))
