"""The tabular adapter accepts grid worlds typed as float Boxes with whole-number bounds and keeps
refusing continuous observations."""

import jax
import numpy as np
import pytest

from mbrl_jax import envs
from mbrl_jax.dyna import DynaConfig, make_trainer


def test_four_rooms_float_box_indexes_a_table():
    env, params = envs.make("FourRooms-misc")  # obs: float32 [agent y, x, goal y, x] in [1, 11]
    spec = envs.tabular_spec(env, params)
    assert (spec.num_states, spec.num_actions) == (11**4, 4)
    # hand-worked row: (obs - low) in base 11, most significant first
    obs = np.array([1.0, 2.0, 3.0, 11.0], np.float32)
    assert int(spec.obs_to_row(obs)) == ((0 * 11 + 1) * 11 + 2) * 11 + 10
    rows = jax.vmap(spec.obs_to_row)(np.array([[1, 1, 1, 1], [11, 11, 11, 11]], np.float32))
    np.testing.assert_array_equal(rows, [0, 11**4 - 1])
    make_trainer(DynaConfig(total_steps=10), env, params)  # accepted by Dyna's own check


@pytest.mark.parametrize("env_id", ["CartPole-v1", "GaussianBandit-misc", "UmbrellaChain-bsuite",
                                    "MemoryChain-bsuite"])
def test_continuous_observations_are_refused(env_id):
    # CartPole: fractional bounds; GaussianBandit, UmbrellaChain: whole-number bounds but
    # observations holding a reward or a time fraction; MemoryChain observes -1 below its low 0
    with pytest.raises(envs.NotTabularError):
        envs.tabular_spec(*envs.make(env_id))


def test_bool_env_kwargs_are_strict():
    with pytest.raises(TypeError, match="true or false"):
        envs.make("FrozenLake-misc", is_slippery="maybe")
    with pytest.raises(TypeError, match="int"):
        envs.make("BlockingMaze", change_step="soon")
    env, _ = envs.make("FrozenLake-misc", is_slippery=False, map_name="8x8")
    assert env.is_slippery is False
