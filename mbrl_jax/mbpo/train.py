"""MBPO runs on gymnax continuous-action envs, compiled as one function of a key.

    train = make_train(MBPOConfig(total_steps=2_500), *envs.make("Pendulum-v1"))
    state, metrics, _ = jax.jit(jax.vmap(train))(jax.random.split(key, 5))   # 5 seeds
    metrics["reward"]   # [5, 2_500] per env step; also "done", "terminated", model metrics

One iteration (one driver step) is F = `env_steps_per_iteration` env steps, then the periodic
work, which therefore runs exactly once per F steps, also under `vmap`:
  1. F env steps. Each acts (uniformly at random during warm-up, else SAC's stochastic policy),
     stores the transition with the true next observation and done = terminated in the env
     buffer, then takes G SAC updates on batches mixing real and model data (`mixed_batch`).
  2. The ensemble is refitted on the env buffer (`fit` with `num_valid`: warm-started,
     holdout early stopping, elites).
  3. M branched rollouts from real start states, all at once, replace the oldest period of the
     model buffer (rows cut by termination, horizon or disagreement are not stored).
SAC's updates interleave with the env steps as in the paper (G per env step), so the policy that
acts has seen every update up to the previous step.
"""

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from mbrl_jax import envs
from mbrl_jax.core import aged_buffer, buffer
from mbrl_jax.core.errors import ConfigError
from mbrl_jax.core.types import Transition
from mbrl_jax.driver.loop import Trainer, make_train_fn, scoped
from mbrl_jax.mbpo.config import MBPOConfig
from mbrl_jax.mbpo.rollouts import (
    TERMINATION_FNS,
    branched_rollouts,
    horizon,
    mixed_batch,
)
from mbrl_jax.models import EnsembleState, make_ensemble
from mbrl_jax.sac import SACHParams, SACState, make_agent
from mbrl_jax.sac.train import make_evaluate

UPDATE_METRICS = ("critic_loss", "actor_loss", "alpha_loss", "alpha", "entropy", "q")


@struct.dataclass
class MBPOState:
    """What a run learns: the SAC agent and the dynamics ensemble."""

    agent: SACState
    model: EnsembleState


@struct.dataclass
class MBPOCarry:
    """Everything a run carries between iterations (one seed)."""

    agent: SACState
    model: EnsembleState
    env_buffer: buffer.BufferState
    model_buffer: aged_buffer.AgedBufferState
    env_state: Any
    obs: jax.Array        # [N, O] float32
    env_steps: jax.Array  # int32
    key: jax.Array


def termination_fn_for(config: MBPOConfig, env):
    """The env's known termination function when `termination == "env"`, else None."""
    if config.termination != "env":
        return None
    name = getattr(env, "name", type(env).__name__)
    if name not in TERMINATION_FNS:
        raise ConfigError("termination", f"no known termination function for {name}; use "
                                         "termination='learned' (the ensemble's head) or "
                                         f"'none'. Known: {sorted(TERMINATION_FNS)}")
    return TERMINATION_FNS[name]


def make_trainer(config: MBPOConfig, env, env_params) -> Trainer:
    """Build (but do not trace) an MBPO run. Validates config and env first.

    Raises:
      ConfigError: an invalid config value, a discrete-action env ("env") or an env without a
        known termination function under termination="env" ("termination").
    """
    config.validate()
    spec = envs.spec(env, env_params)
    low, high = spec.box_bounds("MBPO")
    obs_dim = int(np.prod(spec.obs_shape))
    n = config.num_envs
    a_dim = low.shape[0]
    model = make_ensemble(config.model_config(obs_dim, a_dim), termination_fn_for(config, env))
    agent = make_agent(config.sac, obs_dim, low, high)
    f, g, m, h = (config.env_steps_per_iteration, config.updates_per_step,
                  config.rollout_starts, config.max_horizon)

    def init(key, hparams: SACHParams) -> MBPOCarry:
        del hparams
        key, agent_key, model_key, reset_key = jax.random.split(key, 4)
        obs, env_state = envs.collect.reset(env, env_params, reset_key, n)
        example = Transition.example(obs_dim, a_dim)
        return MBPOCarry(
            agent=agent.init(agent_key), model=model.init(model_key),
            env_buffer=buffer.init(example, config.env_capacity),
            model_buffer=aged_buffer.init(example, config.model_retain_periods, m * h),
            env_state=env_state, obs=obs.reshape(n, obs_dim),
            env_steps=jnp.zeros((), jnp.int32), key=key)

    def learn(agent_state, env_buf, model_buf, key, hparams):
        def one_update(state, update_key):
            batch_key, update_key = jax.random.split(update_key)
            batch = mixed_batch(env_buf, model_buf, batch_key, config.sac.batch_size,
                                config.real_ratio)
            return agent.update(state, batch, update_key, hparams)

        state, metrics = jax.lax.scan(one_update, agent_state, jax.random.split(key, g))
        return state, jax.tree.map(jnp.mean, metrics)

    def skip(agent_state, env_buf, model_buf, key, hparams):
        del env_buf, model_buf, key, hparams
        return agent_state, {k: jnp.float32(0) for k in UPDATE_METRICS}

    def env_step(carry: MBPOCarry, hparams: SACHParams):
        key, act_key, random_key, env_key, learn_key = jax.random.split(carry.key, 5)
        warm = carry.env_steps < config.warmup_steps
        policy_action = agent.act(carry.agent, carry.obs, act_key)  # [N, A]
        random_action = envs.collect.random_actions(spec, random_key, n)
        action = jnp.where(warm, random_action, policy_action)
        out = envs.collect.step(env, env_params, env_key, carry.env_state, action)
        env_buf = buffer.add(carry.env_buffer, Transition(
            carry.obs, action, out.reward, out.final_obs.reshape(n, obs_dim), out.terminated))
        # Under vmap this cond is a select (both branches run); it only differs during warm-up.
        agent_state, update_metrics = jax.lax.cond(warm, skip, learn, carry.agent, env_buf,
                                                   carry.model_buffer, learn_key, hparams)
        carry = carry.replace(agent=agent_state, env_buffer=env_buf, env_state=out.env_state,
                              obs=out.obs.reshape(n, obs_dim), env_steps=carry.env_steps + 1,
                              key=key)
        return carry, {**out.metrics(), **scoped("sac", update_metrics)}

    def refit_and_imagine(carry: MBPOCarry):
        key, fit_key, start_key, roll_key = jax.random.split(carry.key, 4)
        model_state, info = model.fit(carry.model, carry.env_buffer.data, fit_key,
                                      num_valid=carry.env_buffer.size)
        start_obs = buffer.sample(carry.env_buffer, start_key, m).obs  # [M, O]
        h_now = horizon(config.rollout_schedule, carry.env_steps)

        def policy(k, obs):
            return agent.act(carry.agent, obs, k)

        items, keep, stats = branched_rollouts(model, model_state, policy, roll_key, start_obs,
                                               h, h_now, config.disagreement_threshold)
        model_buf = aged_buffer.add_period(carry.model_buffer, items, keep)
        metrics = {
            "model/holdout_mse": info.best_holdout_mse[model_state.elite_idx].mean(),
            "model/epochs": info.num_epochs,
            "rollout/kept": stats.kept,
            "rollout/horizon": stats.horizon,
            "rollout/cut_disagreement": stats.cut_disagreement,
            "model/buffer_size": model_buf.size,
        }
        carry = carry.replace(model=model_state, model_buffer=model_buf, key=key)
        return carry, metrics

    def step(carry: MBPOCarry, hparams: SACHParams):
        carry, metrics = jax.lax.scan(lambda c, _: env_step(c, hparams), carry, None, length=f)
        carry, periodic = refit_and_imagine(carry)
        metrics.update({k: jnp.broadcast_to(v, (f,)) for k, v in periodic.items()})
        return carry, metrics

    evaluate = make_evaluate(agent, env, env_params, config.eval_episodes)

    return Trainer(init=init, step=step,
                   result=lambda carry: MBPOState(agent=carry.agent, model=carry.model),
                   num_iterations=config.num_iterations, default_hparams=config.sac.hparams(),
                   env_steps_per_iteration=f, evaluate=evaluate)


def make_train(config: MBPOConfig, env, env_params):
    """`train(key, hparams=None) -> (MBPOState, metrics)`: the whole run as one `lax.scan`.

    metrics per env step (T = config.total_steps, N = config.num_envs): "reward", "done"
    (termination or time limit), "terminated" [T, N]; SAC's means over its G updates
    ("sac/critic_loss", "sac/actor_loss", "sac/alpha_loss", "sac/alpha", "sac/entropy", "sac/q";
    0 during warm-up), [T];
    and per iteration, repeated over its F steps, [T]: "model/holdout_mse" (elites' mean,
    normalised units), "model/epochs", "rollout/kept" (fraction of M x H stored),
    "rollout/horizon", "rollout/cut_disagreement", "model/buffer_size". Pass `SACHParams` to
    override learning rates, gamma, tau.
    """
    return make_train_fn(make_trainer(config, env, env_params))
