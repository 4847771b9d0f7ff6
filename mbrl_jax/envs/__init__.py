"""Environments: `make(env_id, **kwargs) -> (env, env_params)` over gymnax ids and our own envs.

Every env is a gymnax `Environment`: `reset(key, params) -> (obs, state)` and
`step(key, state, action, params) -> (obs, state, reward, terminated, truncated, info)`, with
auto-reset inside `step` (the true next observation is `info["final_observation"]`).
"""

from collections.abc import Callable
from typing import Any

import gymnax

from mbrl_jax.envs import brax_envs
from mbrl_jax.envs.brax_envs import BraxNotInstalledError
from mbrl_jax.envs.mazes import (
    BlockingMaze,
    DynaMaze,
    GridMaze,
    MazeLayout,
    ShortcutMaze,
    shortest_path_length,
)
from mbrl_jax.envs.tabular import NotTabularError, TabularSpec, tabular_spec


class UnknownEnvError(KeyError):
    """Raised by `make` for an id that is neither a gymnax id nor one of ours."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly instead.
        return str(self.args[0])


_OUR_ENVS: dict[str, Callable[..., Any]] = {
    "DynaMaze": DynaMaze,
    "BlockingMaze": BlockingMaze,
    "ShortcutMaze": ShortcutMaze,
}


def registered_envs() -> list[str]:
    """All ids that `make` accepts: ours first, then gymnax's."""
    return list(_OUR_ENVS) + list(gymnax.registered_envs)


def make(env_id: str, **kwargs: Any):
    """Build an environment and its default parameters.

    Args:
      env_id: one of `registered_envs()`, e.g. "DynaMaze" or "FrozenLake-misc", or a brax env
        as "brax/<name>" (e.g. "brax/halfcheetah"; needs the `brax` extra, see `envs.brax_envs`).
      **kwargs: constructor arguments (static), e.g. `is_slippery=False` for FrozenLake-misc or
        `change_step=1000` for BlockingMaze.

    Returns:
      `(env, env_params)`: a gymnax `Environment` and its default `EnvParams`.
    """
    if env_id in _OUR_ENVS:
        env = _OUR_ENVS[env_id](**kwargs)
        return env, env.default_params
    if env_id in gymnax.registered_envs:
        return gymnax.make(env_id, **kwargs)
    if env_id.startswith(brax_envs.PREFIX):  # optional extra, imported only when asked for
        return brax_envs.make_brax(env_id, **kwargs)
    raise UnknownEnvError(
        f"unknown env id {env_id!r}; known ids: {', '.join(registered_envs())}, "
        "and brax/<name> for brax envs"
    )


__all__ = [
    "BlockingMaze",
    "BraxNotInstalledError",
    "DynaMaze",
    "GridMaze",
    "MazeLayout",
    "NotTabularError",
    "ShortcutMaze",
    "TabularSpec",
    "UnknownEnvError",
    "make",
    "registered_envs",
    "shortest_path_length",
    "tabular_spec",
]
