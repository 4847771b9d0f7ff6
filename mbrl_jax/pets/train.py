"""PETS runs on gymnax continuous-action envs, compiled as one function of a key.

    train = make_train(PETSConfig(), *envs.make("Pendulum-v1"))
    state, metrics, _ = jax.jit(jax.vmap(train))(jax.random.split(key, 5))   # 5 seeds
    metrics["reward"]   # [5, 3_000, 1] per env step; also "done", "terminated", pets/, model/

One iteration (one driver step) is F = `env_steps_per_iteration` env steps, then the refit, which
therefore runs exactly once per F steps, also under `vmap` (no per-step `cond`):
  1. F env steps. Each acts uniformly at random during the warm-up, else plans (`agent.act`,
     warm-started from the previous step's plan, reset where an episode ended), and stores the
     transition with the true next observation and done = terminated in the buffer.
  2. The ensemble is refitted on the buffer (`agent.update`: warm-started, holdout early
     stopping).
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from mbrl_jax import envs, planning
from mbrl_jax.core import buffer
from mbrl_jax.core.errors import ConfigError
from mbrl_jax.core.evaluation import evaluate_policy
from mbrl_jax.core.types import Transition
from mbrl_jax.driver.loop import Trainer, make_train_fn
from mbrl_jax.mbpo.rollouts import TERMINATION_FNS
from mbrl_jax.pets.agent import REWARD_FNS, PETSState, make_agent
from mbrl_jax.pets.config import PETSConfig, PETSHParams

PLAN_METRICS = ("best_return", "mean_return", "std")


@struct.dataclass
class PETSCarry:
    """Everything a run carries between iterations (one seed); N = num_envs."""

    agent: PETSState
    buffer: buffer.BufferState
    env_state: Any
    obs: jax.Array          # [N, O] float32
    plan: planning.PlanState  # leaves [N, ...], each env's warm start
    env_steps: jax.Array    # int32
    refits: jax.Array       # int32
    key: jax.Array


def check_env(env, env_params) -> envs.EnvSpec:
    """Continuous actions with finite bounds (the check `make_trainer` runs, and `mbrl-jax envs`
    lists). Returns the env's `EnvSpec`; raises `ConfigError("env", ...)` otherwise."""
    spec = envs.spec(env, env_params)
    spec.box_bounds("PETS")
    return spec


def known_functions(config: PETSConfig, env, reward_fn: Callable | None = None,
                    termination_fn: Callable | None = None):
    """`(reward_fn, termination_fn)` the config asks for: given ones win, else the env's known
    ones (`REWARD_FNS`, `mbpo.TERMINATION_FNS`) where reward / termination is "env", else None.
    Raises ConfigError naming the field when the env has no known function."""
    name = getattr(env, "name", type(env).__name__)
    if config.reward == "env" and reward_fn is None:
        if name not in REWARD_FNS:
            raise ConfigError("reward", f"no known reward function for {name}; pass reward_fn= "
                                        "to make_trainer or use reward='learned' (the "
                                        f"ensemble's head). Known: {sorted(REWARD_FNS)}")
        reward_fn = REWARD_FNS[name]
    if config.termination == "env" and termination_fn is None:
        if name not in TERMINATION_FNS:
            raise ConfigError("termination", f"no known termination function for {name}; use "
                                             "termination='learned' or 'none'. Known: "
                                             f"{sorted(TERMINATION_FNS)}")
        termination_fn = TERMINATION_FNS[name]
    return reward_fn, termination_fn


def make_trainer(config: PETSConfig, env, env_params, reward_fn: Callable | None = None,
                 termination_fn: Callable | None = None) -> Trainer:
    """Build (but do not trace) a PETS run. Validates config and env first.

    reward_fn / termination_fn: `(obs [O], action [A], next_obs [O]) -> [] ` overriding the
    env's known functions (used where config.reward / config.termination is "env").

    Raises:
      ConfigError: an invalid config value, a discrete-action env ("env"), or an env without a
        known reward ("reward") or termination ("termination") function where one is needed.
    """
    config.validate()
    spec = check_env(env, env_params)
    reward_fn, termination_fn = known_functions(config, env, reward_fn, termination_fn)
    agent = make_agent(config, spec, reward_fn, termination_fn)
    obs_dim = int(np.prod(spec.obs_shape))
    action_shape = tuple(env.action_space(env_params).shape) or (1,)
    a_dim, n, f = spec.action_dim, config.num_envs, config.env_steps_per_iteration
    act_envs = jax.vmap(agent.act, in_axes=(None, 0, 0, 0, None, None))

    def init(key, hparams: PETSHParams) -> PETSCarry:
        del hparams
        key, agent_key, reset_key = jax.random.split(key, 3)
        obs, env_state = envs.collect.reset(env, env_params, reset_key, n)
        example = Transition.example(obs_dim, a_dim)
        plan = jax.tree.map(lambda x: jnp.broadcast_to(x, (n, *x.shape)), agent.initial_plan())
        return PETSCarry(agent=agent.init(agent_key), buffer=buffer.init(example, config.capacity),
                         env_state=env_state, obs=obs.reshape(n, obs_dim), plan=plan,
                         env_steps=jnp.zeros((), jnp.int32), refits=jnp.zeros((), jnp.int32),
                         key=key)

    def env_step(carry: PETSCarry, hparams: PETSHParams):
        key, act_key, env_key = jax.random.split(carry.key, 3)
        explore = carry.env_steps < config.warmup_steps
        action, plan, info = act_envs(carry.agent, carry.plan, carry.obs,
                                      jax.random.split(act_key, n), hparams, explore)  # [N, A]
        out = envs.collect.step(env, env_params, env_key, carry.env_state,
                                action.reshape((n, *action_shape)))
        buf = buffer.add(carry.buffer, Transition(
            carry.obs, action, out.reward, out.final_obs.reshape(n, obs_dim), out.terminated))
        fresh = agent.initial_plan()  # where an episode ended, the next one plans afresh
        plan = jax.tree.map(
            lambda p, p0: jnp.where(out.done.reshape((n,) + (1,) * p0.ndim), p0, p), plan, fresh)
        carry = carry.replace(buffer=buf, env_state=out.env_state,
                              obs=out.obs.reshape(n, obs_dim), plan=plan,
                              env_steps=carry.env_steps + 1, key=key)
        metrics = {**out.metrics(), **{f"pets/{k}": info[k] for k in PLAN_METRICS},
                   "pets/random_action": jnp.broadcast_to(explore, (n,))}
        return carry, metrics

    def refit(carry: PETSCarry):
        key, fit_key = jax.random.split(carry.key)
        agent_state, info = agent.update(carry.agent, carry.buffer, fit_key)
        epochs = info.num_epochs
        metrics = {
            "model/holdout_mse": info.best_holdout_mse[agent_state.model.elite_idx].mean(),
            "model/train_loss": info.train_loss[jnp.maximum(epochs - 1, 0)].mean(),
            "model/epochs": epochs,
            "model/refits": carry.refits + 1,
            "model/buffer_size": carry.buffer.size,
        }
        return carry.replace(agent=agent_state, refits=carry.refits + 1, key=key), metrics

    def step(carry: PETSCarry, hparams: PETSHParams):
        carry, metrics = jax.lax.scan(lambda c, _: env_step(c, hparams), carry, None, length=f)
        carry, periodic = refit(carry)
        metrics.update({k: jnp.broadcast_to(v, (f,)) for k, v in periodic.items()})
        return carry, metrics

    evaluate = None
    if config.eval_episodes > 0:
        max_steps = spec.max_steps or 1000

        def evaluate(carry: PETSCarry, hparams: PETSHParams, key: jax.Array):
            """The planner (no warm-up) on `eval_episodes` fresh envs for the env's time limit:
            an `EvalResult` of [episodes]."""
            fresh = agent.initial_plan()

            def policy(plan, obs, is_first, k):
                plan = jax.tree.map(lambda p, p0: jnp.where(is_first, p0, p), plan, fresh)
                action, plan, _ = agent.act(carry.agent, plan, obs, k, hparams)
                return plan, action.reshape(action_shape)

            result = evaluate_policy(env, env_params, policy, key, config.eval_episodes,
                                     max_steps, initial_carry=fresh)
            return result

    return Trainer(init=init, step=step, result=lambda carry: carry.agent,
                   num_iterations=config.num_iterations, default_hparams=config.hparams(),
                   env_steps_per_iteration=f, evaluate=evaluate)


def make_train(config: PETSConfig, env, env_params, reward_fn: Callable | None = None,
               termination_fn: Callable | None = None):
    """`train(key, hparams=None) -> (PETSState, metrics)`: the whole run as one `lax.scan`.

    metrics per env step (T = config.total_steps, N = config.num_envs): "reward", "done"
    (termination or time limit), "terminated", "pets/random_action" (warm-up) and the planner's
    "pets/best_return", "pets/mean_return", "pets/std" `[T, N]`; per refit, repeated over its F
    steps, `[T]`: "model/holdout_mse" (elites' mean, normalised units), "model/train_loss",
    "model/epochs", "model/refits" (refits so far), "model/buffer_size" (rows fitted on). Pass
    `PETSHParams` to override the planning discount (vmap over it to sweep).
    """
    return make_train_fn(make_trainer(config, env, env_params, reward_fn, termination_fn))
