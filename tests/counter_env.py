"""A counter env for buffer checks: obs = [t, kind], reward = the action (in [-3, 3]). Each
episode draws its kind at reset and lasts 3 steps: kind 1 terminates at t = 3 (hitting the time
limit 3 as well: termination wins), kind 0 is truncated by the time limit. Pins down what a
replay stores at episode ends (the true next observation, terminated only)."""

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import environment, spaces


@struct.dataclass
class CounterState(environment.EnvState):
    t: Any
    kind: Any


class Counter(environment.Environment):
    @property
    def default_params(self):
        return environment.EnvParams(max_steps_in_episode=3)

    def step_env(self, key, state, action, params):
        nxt = CounterState(time=state.time + 1, t=state.t + 1, kind=state.kind)
        terminated = (nxt.t >= 3) & (state.kind == 1)
        return self._obs(nxt), nxt, action[0], terminated, {}

    def reset_env(self, key, params):
        state = CounterState(time=0, t=jnp.int32(0),
                             kind=jax.random.bernoulli(key).astype(jnp.int32))
        return self._obs(state), state

    @staticmethod
    def _obs(state):
        return jnp.stack([state.t, state.kind]).astype(jnp.float32)

    def observation_space(self, params):
        return spaces.Box(0.0, 100.0, (2,), jnp.float32)

    def action_space(self, params=None):
        return spaces.Box(-3.0, 3.0, (1,), jnp.float32)
