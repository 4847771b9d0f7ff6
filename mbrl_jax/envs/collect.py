"""One env-collection step, shared by every algorithm that acts in `num_envs` parallel envs
(SAC, MBPO, Dreamer, MuZero): vmapped reset and step with gymnax's auto-reset made explicit.

    obs, env_state = collect.reset(env, env_params, key, num_envs)          # obs [N, ...] f32
    out = collect.step(env, env_params, key, env_state, action)             # action [N, ...]
    out.obs          # [N, ...] the next observation to act on (a new episode's where one ended)
    out.final_obs    # [N, ...] the true next observation (info["final_observation"])
    out.metrics()    # {"reward", "done", "terminated"}: the driver's per-env-step metrics
    action = collect.random_actions(spec, key, num_envs)  # uniform over the action space

Keys are split per env (`jax.random.split(key, num_envs)`), as every algorithm did before.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from mbrl_jax.envs.specs import EnvSpec


class EnvStep(NamedTuple):
    """The result of stepping N envs once.

    obs: [N, ...] float32, the observation to act on next (after the env's auto-reset).
    final_obs: [N, ...] float32, the true next observation (differs from `obs` where an episode
      ended); store this one as a transition's next observation.
    env_state: the envs' states.
    reward: [N] float32.
    terminated: [N] bool, a terminal state was reached (no bootstrap past it).
    truncated: [N] bool, the time limit ended the episode and it did not terminate.
    """

    obs: jax.Array
    final_obs: jax.Array
    env_state: Any
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array

    @property
    def done(self) -> jax.Array:
        """[N] bool: the episode ended (terminated or truncated)."""
        return self.terminated | self.truncated

    def metrics(self) -> dict:
        """The driver's required per-env-step metrics, plus "terminated"."""
        return {"reward": self.reward, "done": self.done, "terminated": self.terminated}


def reset(env, env_params, key: jax.Array, num_envs: int) -> tuple[jax.Array, Any]:
    """`(obs [N, ...] float32, env_state)` of `num_envs` fresh envs."""
    obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(key, num_envs),
                                                            env_params)
    return obs.astype(jnp.float32), env_state


def step(env, env_params, key: jax.Array, env_state: Any, action: jax.Array) -> EnvStep:
    """Step every env once with `action` (leading axis N, the env's own action shape after it)."""
    num_envs = jax.tree.leaves(env_state)[0].shape[0]
    obs, env_state, reward, terminated, truncated, info = jax.vmap(
        env.step, in_axes=(0, 0, 0, None))(jax.random.split(key, num_envs), env_state, action,
                                           env_params)
    terminated = jnp.asarray(terminated, bool).reshape(num_envs)
    truncated = jnp.asarray(truncated, bool).reshape(num_envs)
    return EnvStep(obs=obs.astype(jnp.float32),
                   final_obs=info["final_observation"].astype(jnp.float32),
                   env_state=env_state, reward=jnp.asarray(reward, jnp.float32).reshape(num_envs),
                   terminated=terminated, truncated=truncated & ~terminated)


def random_actions(spec: EnvSpec, key: jax.Array, num_envs: int) -> jax.Array:
    """Uniform actions: `[N]` int32 indices (Discrete) or `[N, A]` float32 within the Box bounds
    (which must be finite)."""
    if spec.discrete:
        return jax.random.randint(key, (num_envs,), 0, spec.action_dim)
    low, high = spec.box_bounds("random_actions")
    return jax.random.uniform(key, (num_envs, spec.action_dim), jnp.float32, low, high)


__all__ = ["EnvStep", "random_actions", "reset", "step"]
