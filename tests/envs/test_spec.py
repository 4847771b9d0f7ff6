"""`envs.spec`: an env's interface read once from its gymnax spaces, with the refusals every
algorithm shares."""

import numpy as np
import pytest

from mbrl_jax import envs
from mbrl_jax.core.errors import ConfigError


def test_box_env():
    spec = envs.spec(*envs.make("Pendulum-v1"))
    assert (spec.action_kind, spec.action_dim, spec.obs_shape) == ("box", 1, (3,))
    assert not spec.discrete and spec.max_steps == 200
    low, high = spec.box_bounds("SAC")
    np.testing.assert_array_equal(low, [-2.0])
    np.testing.assert_array_equal(high, [2.0])
    assert low.dtype == np.float32
    with pytest.raises(ConfigError, match="env: MuZero needs a discrete action space; "
                                          "Pendulum-v1 has Box"):
        spec.num_discrete("MuZero")


def test_discrete_env():
    spec = envs.spec(*envs.make("CartPole-v1"))
    assert spec.discrete and spec.num_discrete("MuZero") == 2 and spec.low is None
    assert spec.max_steps == 500 and spec.obs_shape == (4,)
    with pytest.raises(ConfigError, match="env: SAC needs a continuous .Box. action space; "
                                          "CartPole-v1 has Discrete"):
        spec.box_bounds("SAC")
    assert envs.spec(*envs.make("Breakout-MinAtar")).obs_shape == (10, 10, 4)


def test_infinite_bounds_are_refused():
    spec = envs.spec(*envs.make("Pendulum-v1"))._replace(high=np.array([np.inf], np.float32))
    with pytest.raises(ConfigError, match="needs finite action bounds"):
        spec.box_bounds("SAC")
