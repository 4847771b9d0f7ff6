"""Brax environments behind the gymnax interface (optional: `pip install "mbrl-jax[brax]"`).

    env, params = envs.make("brax/halfcheetah")              # any brax env name after "brax/"
    obs, state = env.reset(key, params)                      # obs [O]
    obs, state, reward, terminated, truncated, info = env.step(key, state, action, params)

Behaves like every gymnax env: `step` auto-resets, `info["final_observation"]` is the true next
observation, `terminated` is brax's `done` (e.g. an unhealthy hopper; HalfCheetah never
terminates) and `truncated` is the time limit `params.max_steps_in_episode` (1000 by default, as
brax's training wrapper uses). Actions are in brax's control range [-1, 1]^A. Constructor
arguments go to `brax.envs.get_environment`, e.g. `backend="spring"` (brax's default for most
envs is "generalized").
"""

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import environment, spaces

from mbrl_jax.core.errors import MbrlJaxError

PREFIX = "brax/"


class BraxNotInstalledError(MbrlJaxError, ImportError):
    """Raised by `make("brax/...")` when brax is not installed."""


@struct.dataclass
class BraxEnvState(environment.EnvState):
    """gymnax state around brax's: `time` (steps in the episode) and brax's `State`."""

    brax_state: Any


class BraxEnv(environment.Environment):
    """A brax env as a gymnax `Environment` (auto-reset and truncation from gymnax's `step`)."""

    def __init__(self, name: str, episode_length: int = 1000, **kwargs: Any):
        super().__init__()
        try:
            from brax import envs as brax_envs
        except ImportError as err:
            raise BraxNotInstalledError(
                f"brax/{name} needs brax: pip install 'mbrl-jax[brax]' ({err})") from None
        self._env = brax_envs.get_environment(name, **kwargs)
        self._name = name
        self._episode_length = int(episode_length)

    @property
    def name(self) -> str:
        return PREFIX + self._name

    @property
    def default_params(self) -> environment.EnvParams:
        return environment.EnvParams(max_steps_in_episode=self._episode_length)

    def step_env(self, key, state: BraxEnvState, action, params):
        del key, params  # brax steps are deterministic
        nxt = self._env.step(state.brax_state, jnp.asarray(action, jnp.float32))
        new = BraxEnvState(time=state.time + 1, brax_state=nxt)
        return nxt.obs, new, nxt.reward, nxt.done > 0.5, {}

    def reset_env(self, key, params):
        del params
        # brax splits and draws from raw uint32 keys
        raw = jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key
        brax_state = self._env.reset(raw)
        return brax_state.obs, BraxEnvState(time=jnp.int32(0), brax_state=brax_state)

    def observation_space(self, params) -> spaces.Box:
        return spaces.Box(-jnp.inf, jnp.inf, (self._env.observation_size,), jnp.float32)

    def action_space(self, params=None) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, (self._env.action_size,), jnp.float32)


def make_brax(env_id: str, **kwargs: Any):
    """`(BraxEnv, params)` for an id "brax/<name>"; kwargs: `episode_length` and brax's own."""
    env = BraxEnv(env_id[len(PREFIX):], **kwargs)
    return env, env.default_params
