"""The train contract: determinism, vmap == loop, no retrace, chunked == single program, sweeps,
config errors, auto-reset handling and learning on the Dyna Maze."""

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import tree_equal
from flax import struct
from gymnax.environments import environment, spaces

from mbrl_jax import envs
from mbrl_jax.core import ConfigError
from mbrl_jax.driver import run_chunked
from mbrl_jax.dyna import DynaConfig, DynaHParams, make_train, make_trainer
from mbrl_jax.stats.episodes import episode_lengths

MAZE = envs.make("DynaMaze")
SMALL = DynaConfig(planning_steps=5, total_steps=300)


# Determinism, vmap == single runs, no retrace and sweeps under vmap: tests/test_contract.py,
# for every registered algorithm (dyna-q and dyna-q+ among them).


@pytest.mark.parametrize("variant", ["dyna-q", "dyna-q+"])
def test_chunked_run_equals_single_program(variant):
    config = DynaConfig(variant=variant, planning_steps=5, total_steps=250)
    keys = jax.random.split(jax.random.key(7), 4)
    state, metrics, _ = jax.jit(jax.vmap(make_train(config, *MAZE)))(keys)
    seen = []
    result = run_chunked(make_trainer(config, *MAZE), keys, chunk_steps=60,
                         on_chunk=lambda c: seen.append((c.env_steps, c.metrics["reward"].shape)))
    assert seen == [(60, (4, 60, 1)), (120, (4, 60, 1)), (180, (4, 60, 1)), (240, (4, 60, 1)),
                    (250, (4, 10, 1))]
    assert tree_equal(result.state, state)
    assert tree_equal(result.metrics, metrics)


@pytest.mark.parametrize("kwargs, field", [
    ({"planning_steps": -1}, "planning_steps"),
    ({"planning_steps": 2.5}, "planning_steps"),
    ({"epsilon": 1.5}, "epsilon"),
    ({"epsilon": -0.1}, "epsilon"),
    ({"alpha": 0.0}, "alpha"),
    ({"gamma": 1.2}, "gamma"),
    ({"kappa": -1.0}, "kappa"),
    ({"kappa": float("nan")}, "kappa"),
    ({"kappa": float("inf")}, "kappa"),
    ({"alpha": float("nan")}, "alpha"),
    ({"total_steps": 0}, "total_steps"),
    ({"variant": "dyna-z"}, "variant"),
    ({"planning_draw": "random"}, "planning_draw"),
])
def test_config_errors_are_named(kwargs, field):
    with pytest.raises(ConfigError) as info:
        make_trainer(DynaConfig(**kwargs), *MAZE)
    assert info.value.field == field
    assert field in str(info.value)


def test_swept_hparams_validate():
    bad = DynaHParams(alpha=np.array([0.1, 0.1]), gamma=np.array([0.9, 0.9]),
                      epsilon=np.array([0.1, 2.0]), kappa=np.zeros(2))
    with pytest.raises(ConfigError, match="epsilon"):
        bad.validate()


def test_non_tabular_env_is_rejected_before_tracing():
    with pytest.raises(envs.NotTabularError):
        make_trainer(DynaConfig(), *envs.make("CartPole-v1"))


# A two-state env to pin down auto-reset handling. Reset -> state 0. Any action: 0 -> 1 with reward
# 0, 1 -> 1 with reward 1. Never terminates; truncated after 2 steps, then auto-reset to 0.
@struct.dataclass
class _State(environment.EnvState):
    pos: Any


class _TwoState(environment.Environment):
    @property
    def default_params(self):
        return environment.EnvParams(max_steps_in_episode=2)

    def step_env(self, key, state, action, params):
        reward = (state.pos == 1).astype(jnp.float32)
        nxt = _State(time=state.time + 1, pos=jnp.int32(1))
        return nxt.pos, nxt, reward, jnp.bool_(False), {}

    def reset_env(self, key, params):
        state = _State(time=0, pos=jnp.int32(0))
        return state.pos, state

    def observation_space(self, params):
        return spaces.Discrete(2)

    def action_space(self, params=None):
        return spaces.Discrete(1)


def test_truncation_bootstraps_from_the_final_observation():
    env = _TwoState()
    config = DynaConfig(planning_steps=0, total_steps=4000, alpha=0.1, gamma=0.5, epsilon=0.0)
    state, metrics, _ = jax.jit(make_train(config, env, env.default_params))(jax.random.key(0))
    # Every other step is a truncation (from state 1, reward 1, true next state 1). Bootstrapping
    # through it from s' = 1 gives Q(1) = 1 / (1 - 0.5) = 2 and Q(0) = 0.5 * 2 = 1. Stopping at
    # truncation would give Q(1) = 4/3; taking the auto-reset obs (0) as s' would give 1.6.
    np.testing.assert_allclose(np.asarray(state.q[:, 0]), [1.0, 2.0], atol=1e-3)
    assert int(state.model.next_state[1, 0]) == 1
    assert np.asarray(metrics["done"]).sum() == 2000
    assert not np.asarray(metrics["terminated"]).any()


class _TerminalLoop(_TwoState):
    """0 -> 1 (reward 0); 1 -> 0 with reward 1 and termination. The true next state after the
    termination (0) is a state the agent acts from, with a positive value."""

    def step_env(self, key, state, action, params):
        at_one = state.pos == 1
        nxt = _State(time=state.time + 1, pos=jnp.where(at_one, 0, 1).astype(jnp.int32))
        return nxt.pos, nxt, at_one.astype(jnp.float32), at_one, {}

    @property
    def default_params(self):
        return environment.EnvParams(max_steps_in_episode=1000)


def test_termination_stops_bootstrapping():
    env = _TerminalLoop()
    config = DynaConfig(planning_steps=0, total_steps=4000, alpha=0.1, gamma=0.5, epsilon=0.0)
    state, metrics, _ = jax.jit(make_train(config, env, env.default_params))(jax.random.key(0))
    # Q(1) = 1 (no bootstrap at termination), Q(0) = 0.5 * Q(1) = 0.5. Bootstrapping through the
    # termination would give Q(1) = 1 + 0.5 Q(0), i.e. 4/3 and 2/3.
    np.testing.assert_allclose(np.asarray(state.q[:, 0]), [0.5, 1.0], atol=1e-3)
    assert np.asarray(metrics["terminated"]).sum() == 2000


def test_dyna_q_learns_the_dyna_maze():
    # n = 50 finds the 14-step path within 1500 steps (the book: about 3 episodes).
    config = DynaConfig(planning_steps=50, total_steps=1500)
    keys = jax.random.split(jax.random.key(0), 8)
    _, metrics, _ = jax.jit(jax.vmap(make_train(config, *MAZE)))(keys)
    lengths = episode_lengths(np.asarray(metrics["done"]))
    last = np.array([np.mean(ln[-5:]) for ln in lengths])
    assert all(len(ln) >= 20 for ln in lengths)
    # epsilon-greedy (0.1) around a 14-step optimum
    assert last.mean() < 19, last


def test_planning_speeds_up_learning():
    keys = jax.random.split(jax.random.key(1), 8)
    firsts = {}
    for n in (0, 50):
        config = DynaConfig(planning_steps=n, total_steps=1500)
        _, metrics, _ = jax.jit(jax.vmap(make_train(config, *MAZE)))(keys)
        lengths = episode_lengths(np.asarray(metrics["done"]))
        firsts[n] = np.mean([len(ln) for ln in lengths])
    assert firsts[50] > 2 * firsts[0]  # many more episodes completed in the same steps
