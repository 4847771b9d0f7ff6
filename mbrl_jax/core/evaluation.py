"""Evaluation episodes inside the compiled program: a policy run on fresh envs, vmapped.

    returns = evaluate_policy(env, env_params, policy, key, num_episodes=8, max_steps=500)

`policy(obs [O...], key) -> action` acts on one observation (it is vmapped over episodes); for
evaluation it is usually greedy or deterministic. A recurrent policy (Dreamer's RSSM, an RNN)
passes `initial_carry=` its state for one episode and is called as
`policy(carry, obs, is_first, key) -> (carry, action)`, `is_first` True on each episode's first
observation (also after the env's auto-reset), where the policy starts its state afresh.

Every episode runs for `max_steps` env steps (static, no dynamic shapes); reward is summed until
its first `terminated | truncated`. Episodes that have not ended by then are cut at `max_steps`
(set it to the env's time limit to avoid that).
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp


class EvalResult(NamedTuple):
    """What an evaluation returns (also a `Trainer.evaluate`'s type).

    return_: [num_episodes] undiscounted returns; length: [num_episodes] int32 steps taken;
    ended: [num_episodes] bool, True where the episode ended within `max_steps`; extra: further
    per-evaluation values of the algorithm's own (scoped keys), `{}` by default.
    """

    return_: jax.Array
    length: jax.Array
    ended: jax.Array
    extra: dict = {}  # noqa: RUF012 (never mutated; a NamedTuple default)

    def metrics(self) -> dict:
        """The driver's per-evaluation record: "return", "length", "ended" and `extra`."""
        return {"return": self.return_, "length": self.length, "ended": self.ended,
                **self.extra}


def evaluate_policy(env, env_params, policy: Callable[..., Any], key: jax.Array,
                    num_episodes: int, max_steps: int, initial_carry: Any = None) -> EvalResult:
    """Run `num_episodes` episodes of `policy` on fresh `env` instances, all at once.

    `initial_carry`: None for a feed-forward `policy(obs, key) -> action`; else the state of a
    recurrent `policy(carry, obs, is_first, key) -> (carry, action)` for one episode (leaves
    without the episode axis; every episode starts from it). Pure and jit/vmap-able. Cost:
    `num_episodes * max_steps` env and policy steps.
    """
    reset_key, run_key = jax.random.split(key)
    obs, state = jax.vmap(env.reset, in_axes=(0, None))(
        jax.random.split(reset_key, num_episodes), env_params)
    if initial_carry is None:
        def act(policy_carry, obs, is_first, keys):
            del is_first
            return policy_carry, jax.vmap(policy)(obs, keys)
    else:
        def act(policy_carry, obs, is_first, keys):
            return jax.vmap(policy)(policy_carry, obs, is_first, keys)
        initial_carry = jax.tree.map(
            lambda x: jnp.broadcast_to(x, (num_episodes, *jnp.shape(x))), initial_carry)

    def one_step(carry, step_key):
        obs, state, policy_carry, is_first, total, length, ended = carry
        act_keys, env_keys = jnp.split(jax.random.split(step_key, 2 * num_episodes), 2)
        policy_carry, action = act(policy_carry, obs, is_first, act_keys)
        obs, state, reward, terminated, truncated, _ = jax.vmap(
            env.step, in_axes=(0, 0, 0, None))(env_keys, state, action, env_params)
        live = ~ended
        total = total + jnp.where(live, reward.astype(jnp.float32), 0.0)
        length = length + live.astype(jnp.int32)
        is_first = terminated | truncated  # the env auto-reset: the next obs starts an episode
        ended = ended | is_first
        return (obs, state, policy_carry, is_first, total, length, ended), None

    init = (obs, state, initial_carry, jnp.ones((num_episodes,), bool),
            jnp.zeros((num_episodes,), jnp.float32), jnp.zeros((num_episodes,), jnp.int32),
            jnp.zeros((num_episodes,), bool))
    (*_, total, length, ended), _ = jax.lax.scan(
        one_step, init, jax.random.split(run_key, max_steps))
    return EvalResult(total, length, ended)


__all__ = ["EvalResult", "evaluate_policy"]
