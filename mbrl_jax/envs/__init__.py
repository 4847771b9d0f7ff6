"""Environments: `make(env_id, **kwargs) -> (env, env_params)` over gymnax ids and our own envs.

Every env is a gymnax `Environment`: `reset(key, params) -> (obs, state)` and
`step(key, state, action, params) -> (obs, state, reward, terminated, truncated, info)`, with
auto-reset inside `step` (the true next observation is `info["final_observation"]`).
"""

import inspect
from collections.abc import Callable
from typing import Any

import gymnax

from mbrl_jax.core.errors import MbrlJaxError
from mbrl_jax.envs import brax_envs, collect
from mbrl_jax.envs.brax_envs import BraxNotInstalledError
from mbrl_jax.envs.mazes import (
    BlockingMaze,
    DynaMaze,
    GridMaze,
    MazeLayout,
    ShortcutMaze,
    shortest_path_length,
)
from mbrl_jax.envs.specs import EnvSpec, spec
from mbrl_jax.envs.tabular import NotTabularError, TabularSpec, tabular_spec


class UnknownEnvError(MbrlJaxError, KeyError):
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

    Raises:
      UnknownEnvError: an id neither ours nor gymnax's.
      TypeError: a keyword the constructor does not take, or a value whose type differs from the
        default's (e.g. `is_slippery="maybe"`: a bool argument takes only True or False).
    """
    if kwargs:
        _check_kwargs(env_id, kwargs)
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


def _check_kwargs(env_id: str, kwargs: dict[str, Any]) -> None:
    """Each value must have the type of the constructor's default (ints accepted for floats);
    gymnax constructors would otherwise take any truthy string as True."""
    if env_id in _OUR_ENVS:
        cls = _OUR_ENVS[env_id]
    elif env_id in gymnax.registered_envs:
        cls = type(gymnax.make(env_id)[0])
    else:
        return  # make raises UnknownEnvError
    params = inspect.signature(cls).parameters
    for key, value in kwargs.items():
        if key not in params:
            if any(p.kind is p.VAR_KEYWORD for p in params.values()):
                continue
            raise TypeError(f"{env_id} takes no argument {key!r}; it takes "
                            f"{', '.join(params) or 'none'}")
        default = params[key].default
        if default is inspect.Parameter.empty or default is None:
            continue
        want = type(default)
        ok = (isinstance(value, bool) if want is bool
              else isinstance(value, int | float) and not isinstance(value, bool)
              if want is float else isinstance(value, want) and not (
                  want is int and isinstance(value, bool)))
        if not ok:
            expected = "true or false" if want is bool else f"a value of type {want.__name__}"
            raise TypeError(f"{env_id} argument {key} expects {expected} "
                            f"(default {default!r}), got {value!r}")


__all__ = [
    "BlockingMaze",
    "BraxNotInstalledError",
    "DynaMaze",
    "EnvSpec",
    "GridMaze",
    "MazeLayout",
    "NotTabularError",
    "ShortcutMaze",
    "TabularSpec",
    "collect",
    "UnknownEnvError",
    "make",
    "registered_envs",
    "shortest_path_length",
    "spec",
    "tabular_spec",
]
