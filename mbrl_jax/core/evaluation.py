"""Evaluation episodes inside the compiled program: a policy run on fresh envs, vmapped.

    returns = evaluate_policy(env, env_params, policy, key, num_episodes=8, max_steps=500)

`policy(obs [O...], key) -> action` acts on one observation (it is vmapped over episodes); for
evaluation it is usually greedy or deterministic. Every episode runs for `max_steps` env steps
(static, no dynamic shapes); reward is summed until its first `terminated | truncated`. Episodes
that have not ended by then are cut at `max_steps` (set it to the env's time limit to avoid that).
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp


class EvalResult(NamedTuple):
    """return_: [num_episodes] undiscounted returns; length: [num_episodes] int32 steps taken;
    ended: [num_episodes] bool, True where the episode ended within `max_steps`."""

    return_: jax.Array
    length: jax.Array
    ended: jax.Array


def evaluate_policy(env, env_params, policy: Callable[[jax.Array, jax.Array], Any],
                    key: jax.Array, num_episodes: int, max_steps: int) -> EvalResult:
    """Run `num_episodes` episodes of `policy` on fresh `env` instances, all at once.

    Pure and jit/vmap-able. Cost: `num_episodes * max_steps` env and policy steps.
    """
    reset_key, run_key = jax.random.split(key)
    obs, state = jax.vmap(env.reset, in_axes=(0, None))(
        jax.random.split(reset_key, num_episodes), env_params)

    def one_step(carry, step_key):
        obs, state, total, length, ended = carry
        act_keys, env_keys = jnp.split(jax.random.split(step_key, 2 * num_episodes), 2)
        action = jax.vmap(policy)(obs, act_keys)
        obs, state, reward, terminated, truncated, _ = jax.vmap(
            env.step, in_axes=(0, 0, 0, None))(env_keys, state, action, env_params)
        live = ~ended
        total = total + jnp.where(live, reward.astype(jnp.float32), 0.0)
        length = length + live.astype(jnp.int32)
        ended = ended | terminated | truncated
        return (obs, state, total, length, ended), None

    init = (obs, state, jnp.zeros((num_episodes,), jnp.float32),
            jnp.zeros((num_episodes,), jnp.int32), jnp.zeros((num_episodes,), bool))
    (_, _, total, length, ended), _ = jax.lax.scan(
        one_step, init, jax.random.split(run_key, max_steps))
    return EvalResult(total, length, ended)


__all__ = ["EvalResult", "evaluate_policy"]
