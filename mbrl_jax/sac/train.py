"""SAC training runs on gymnax continuous-action envs, compiled as one function of a key.

    train = make_train(SACConfig(total_steps=10_000), *envs.make("Pendulum-v1"))
    state, metrics, _ = jax.jit(jax.vmap(train))(jax.random.split(key, 8))   # 8 seeds
    metrics["reward"]   # [8, 10_000, num_envs] per env step; also "done", "terminated"

Each env step: every one of `num_envs` envs acts (uniformly random during `warmup_steps`, then
from the actor), the `num_envs` transitions go into the seed's replay buffer with the true next
observation (`info["final_observation"]`, never the auto-reset one) and `done` = terminated only
(a time-limit truncation bootstraps), then `updates_per_step` gradient steps run on uniform
batches (none during warm-up).
"""

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from mbrl_jax import envs
from mbrl_jax.core import buffer
from mbrl_jax.core.evaluation import evaluate_policy
from mbrl_jax.core.types import Transition
from mbrl_jax.driver.loop import Trainer, make_train_fn, scoped
from mbrl_jax.sac.agent import SACAgent, SACState, make_agent
from mbrl_jax.sac.config import SACConfig, SACHParams

UPDATE_METRICS = ("critic_loss", "actor_loss", "alpha_loss", "alpha", "entropy", "q")


@struct.dataclass
class SACCarry:
    """Everything a run carries between iterations (one seed)."""

    agent: SACState
    buffer: buffer.BufferState
    env_state: Any          # [N] env states
    obs: jax.Array          # [N, O] float32
    env_steps: jax.Array    # int32, env steps taken by each env so far
    key: jax.Array


def check_env(env, env_params) -> tuple[np.ndarray, np.ndarray]:
    """What SAC needs (the check `make_trainer` runs, and `mbrl-jax envs` lists): a Box action
    space with finite bounds. Returns `(low [A], high [A])`; ConfigError("env") otherwise."""
    return envs.spec(env, env_params).box_bounds("SAC")


def make_evaluate(agent, env, env_params, episodes: int):
    """`Trainer.evaluate` for any carry with an `agent: SACState` field (SAC's, MBPO's): the
    deterministic policy on `episodes` fresh envs for the env's time limit; None when 0."""
    if episodes <= 0:
        return None
    max_steps = int(env_params.max_steps_in_episode)
    obs_dim = int(np.prod(env.observation_space(env_params).shape))
    action_shape = check_env(env, env_params)[0].shape

    def evaluate(carry, hparams, key: jax.Array):
        del hparams

        def policy(obs, k):
            return agent.act(carry.agent, obs.reshape(obs_dim).astype(jnp.float32), k,
                             deterministic=True).reshape(action_shape)

        result = evaluate_policy(env, env_params, policy, key, episodes, max_steps)
        return result

    return evaluate


def make_trainer(config: SACConfig, env, env_params) -> Trainer:
    """Build (but do not trace) a SAC run. Validates config and env first (ConfigError)."""
    config.validate()
    low, high = check_env(env, env_params)
    spec = envs.spec(env, env_params)
    obs_dim = int(np.prod(spec.obs_shape))
    agent = make_agent(config, obs_dim, low, high)
    n, a_dim = config.num_envs, low.shape[0]

    def init(key, hparams: SACHParams) -> SACCarry:
        del hparams
        key, agent_key, reset_key = jax.random.split(key, 3)
        obs, env_state = envs.collect.reset(env, env_params, reset_key, n)
        example = Transition.example(obs_dim, a_dim)
        return SACCarry(agent=agent.init(agent_key),
                        buffer=buffer.init(example, config.buffer_size), env_state=env_state,
                        obs=obs.reshape(n, obs_dim).astype(jnp.float32),
                        env_steps=jnp.zeros((), jnp.int32), key=key)

    def learn(agent_state, buf, key, hparams):
        def one_update(state, update_key):
            sample_key, update_key = jax.random.split(update_key)
            batch = buffer.sample(buf, sample_key, config.batch_size)
            return agent.update(state, batch, update_key, hparams)

        state, metrics = jax.lax.scan(one_update, agent_state,
                                      jax.random.split(key, config.updates_per_step))
        return state, jax.tree.map(jnp.mean, metrics)

    def skip(agent_state, buf, key, hparams):
        del buf, key, hparams
        return agent_state, {k: jnp.float32(0) for k in UPDATE_METRICS}

    def one_env_step(carry: SACCarry, hparams: SACHParams):
        key, act_key, random_key, env_key, learn_key = jax.random.split(carry.key, 5)
        warm = carry.env_steps < config.warmup_steps
        policy_action = agent.act(carry.agent, carry.obs, act_key)                 # [N, A]
        random_action = envs.collect.random_actions(spec, random_key, n)
        action = jnp.where(warm, random_action, policy_action)
        out = envs.collect.step(env, env_params, env_key, carry.env_state, action)
        buf = buffer.add(carry.buffer, Transition(
            obs=carry.obs, action=action, reward=out.reward,
            next_obs=out.final_obs.reshape(n, obs_dim), done=out.terminated))
        # Under vmap this cond is a select (both branches run); it only differs during warm-up.
        agent_state, update_metrics = jax.lax.cond(warm, skip, learn, carry.agent, buf,
                                                   learn_key, hparams)
        carry = SACCarry(agent=agent_state, buffer=buf, env_state=out.env_state,
                         obs=out.obs.reshape(n, obs_dim), env_steps=carry.env_steps + 1, key=key)
        return carry, {**out.metrics(), **scoped("sac", update_metrics)}

    def step(carry: SACCarry, hparams: SACHParams):
        return jax.lax.scan(lambda c, _: one_env_step(c, hparams), carry, None,
                            length=config.env_steps_per_iteration)

    evaluate = make_evaluate(agent, env, env_params, config.eval_episodes)

    return Trainer(init=init, step=step, result=lambda carry: carry.agent,
                   num_iterations=config.num_iterations, default_hparams=config.hparams(),
                   env_steps_per_iteration=config.env_steps_per_iteration, evaluate=evaluate)


def make_train(config: SACConfig, env, env_params):
    """`train(key, hparams=None) -> (SACState, metrics)`: the whole run as one `lax.scan`.

    metrics (T = config.total_steps, N = config.num_envs): "reward", "done" (termination or time
    limit), "terminated": [T, N]; per env step means over its gradient steps (0 during warm-up):
    "sac/critic_loss", "sac/actor_loss", "sac/alpha_loss", "sac/alpha", "sac/entropy", "sac/q":
    [T]. Pass `SACHParams`
    to override learning rates, gamma, tau (vmap over it to sweep them).
    """
    return make_train_fn(make_trainer(config, env, env_params))


def make_agent_for_env(config: SACConfig, env, env_params) -> SACAgent:
    """`make_agent` with the observation size and action bounds read from a gymnax env."""
    low, high = check_env(env, env_params)
    return make_agent(config, int(np.prod(env.observation_space(env_params).shape)), low, high)
