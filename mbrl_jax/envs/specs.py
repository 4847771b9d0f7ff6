"""What an algorithm needs to know about an env, read once from its gymnax spaces.

    spec = envs.spec(env, env_params)
    spec.discrete, spec.action_dim, spec.obs_shape      # e.g. True, 2, (4,)
    low, high = spec.box_bounds("SAC")                  # ConfigError("env", ...) if not a Box
    n = spec.num_discrete("MuZero")                     # ConfigError("env", ...) if not Discrete
"""

from typing import Any, NamedTuple

import numpy as np
from gymnax.environments import spaces

from mbrl_jax.core.errors import ConfigError


class EnvSpec(NamedTuple):
    """An env's interface, from its spaces and params (all host values, static under `jit`).

    name: the env's name (for messages).
    obs_shape: observation shape, e.g. `(4,)` or `(10, 10, 4)`; `()` for a Discrete index.
    action_kind: "discrete", "box" or the unsupported space's class name.
    action_dim: number of actions (Discrete; the one-hot width) or the flat Box size A.
    low, high: `[A]` float32 Box bounds (None for Discrete; may be infinite).
    max_steps: `env_params.max_steps_in_episode`, the time limit (None when the env has none).
    """

    name: str
    obs_shape: tuple[int, ...]
    action_kind: str
    action_dim: int
    low: np.ndarray | None
    high: np.ndarray | None
    max_steps: int | None

    @property
    def discrete(self) -> bool:
        return self.action_kind == "discrete"

    def num_discrete(self, algorithm: str) -> int:
        """The number of actions; ConfigError("env") unless the action space is Discrete."""
        if not self.discrete:
            raise ConfigError("env", f"{algorithm} needs a discrete action space; {self.name} "
                                     f"has {self._space_name}")
        return self.action_dim

    def box_bounds(self, algorithm: str) -> tuple[np.ndarray, np.ndarray]:
        """`(low [A], high [A])`; ConfigError("env") unless the actions are a Box with finite
        bounds."""
        if self.action_kind != "box":
            raise ConfigError("env", f"{algorithm} needs a continuous (Box) action space; "
                                     f"{self.name} has {self._space_name}. Use e.g. Pendulum-v1 "
                                     "or MountainCarContinuous-v0")
        if not (np.all(np.isfinite(self.low)) and np.all(np.isfinite(self.high))):
            raise ConfigError("env", f"{algorithm} needs finite action bounds; {self.name} has "
                                     f"{self.low}..{self.high}")
        return self.low, self.high

    @property
    def _space_name(self) -> str:
        return {"discrete": "Discrete", "box": "Box"}.get(self.action_kind, self.action_kind)


def spec(env: Any, env_params: Any) -> EnvSpec:
    """The `EnvSpec` of a gymnax (or gymnax-like) env."""
    space = env.action_space(env_params)
    low = high = None
    if isinstance(space, spaces.Discrete):
        kind, dim = "discrete", int(space.n)
    elif isinstance(space, spaces.Box):
        shape = tuple(space.shape) or (1,)
        kind, dim = "box", int(np.prod(shape))
        low = np.broadcast_to(np.asarray(space.low, np.float32), shape).reshape(-1)
        high = np.broadcast_to(np.asarray(space.high, np.float32), shape).reshape(-1)
    else:
        kind, dim = type(space).__name__, 0
    max_steps = getattr(env_params, "max_steps_in_episode", None)
    return EnvSpec(name=getattr(env, "name", type(env).__name__),
                   obs_shape=tuple(env.observation_space(env_params).shape), action_kind=kind,
                   action_dim=dim, low=low, high=high,
                   max_steps=None if max_steps is None else int(max_steps))


__all__ = ["EnvSpec", "spec"]
