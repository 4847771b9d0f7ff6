"""Dyna-Q / Dyna-Q+ training runs on gymnax envs, compiled as one function of a key.

    train = make_train(DynaConfig(planning_steps=50), *envs.make("DynaMaze"))
    state, metrics, _ = jax.jit(jax.vmap(train))(jax.random.split(key, 30))
    state.q            # [30, S, A]
    metrics["reward"]  # [30, total_steps, 1]: [seeds, env steps, num_envs], one env per seed
"""

import jax
import jax.numpy as jnp
from flax import struct

from mbrl_jax.core.evaluation import evaluate_policy
from mbrl_jax.driver.loop import Trainer, make_train_fn
from mbrl_jax.dyna import agent
from mbrl_jax.dyna.config import DynaConfig, DynaHParams
from mbrl_jax.envs.tabular import tabular_spec


@struct.dataclass
class DynaCarry:
    """Everything a run carries between env steps."""

    agent: agent.DynaState
    env_state: object
    obs: jax.Array
    key: jax.Array


def make_trainer(config: DynaConfig, env, env_params) -> Trainer:
    """Build (but do not trace) a Dyna run. Validates config and env first.

    Raises:
      ConfigError: an invalid config value (the message names it).
      NotTabularError: the env's observations cannot index a table.
    """
    config.validate()
    spec = tabular_spec(env, env_params)

    def init(key, hparams: DynaHParams) -> DynaCarry:
        del hparams
        key, reset_key = jax.random.split(key)
        obs, env_state = env.reset(reset_key, env_params)
        state = agent.init_state(spec.num_states, spec.num_actions, config.q_init)
        return DynaCarry(agent=state, env_state=env_state, obs=obs, key=key)

    def step(carry: DynaCarry, hparams: DynaHParams):
        key, act_key, env_key, plan_key = jax.random.split(carry.key, 4)
        s_tm1 = spec.obs_to_row(carry.obs)
        a_tm1 = agent.act(carry.agent.q[s_tm1], hparams.epsilon, act_key)
        obs, env_state, r_t, terminated, truncated, info = env.step(
            env_key, carry.env_state, a_tm1, env_params)
        # gymnax auto-resets: the true next state is the final observation. Bootstrapping stops at
        # termination only; a time-limit truncation still bootstraps from s_t.
        s_t = spec.obs_to_row(info["final_observation"])
        state = agent.update(carry.agent, s_tm1, a_tm1, r_t.astype(jnp.float32), s_t, terminated,
                             plan_key, hparams, config)
        metrics = {  # [F, num_envs] = [1, 1] per iteration, the driver's convention
            "reward": r_t.astype(jnp.float32).reshape(1, 1),
            "done": (terminated | truncated).reshape(1, 1),
            "terminated": terminated.reshape(1, 1),
        }
        return DynaCarry(agent=state, env_state=env_state, obs=obs, key=key), metrics

    def evaluate(carry: DynaCarry, hparams: DynaHParams, key):
        """Greedy episodes (ties broken at random): an `EvalResult` of [eval_episodes]."""
        del hparams
        q = carry.agent.q

        def greedy(obs, act_key):
            return agent.act(q[spec.obs_to_row(obs)], jnp.float32(0.0), act_key)

        result = evaluate_policy(env, env_params, greedy, key, config.eval_episodes,
                                 config.eval_max_steps)
        return result

    return Trainer(init=init, step=step, result=lambda carry: carry.agent,
                   num_iterations=config.total_steps, default_hparams=config.hparams(),
                   evaluate=evaluate)


def make_train(config: DynaConfig, env, env_params):
    """`train(key, hparams=None) -> (DynaState, metrics)`: the whole run as one `lax.scan`.

    metrics: "reward" [T, 1] float32, "done" [T, 1] bool (episode ended by termination or time
    limit), "terminated" [T, 1] bool, with T = config.total_steps and one env (the last axis is
    num_envs, as for every algorithm; `metrics["done"][:, 0]` is the env's stream). Pass a
    `DynaHParams` to override alpha, gamma, epsilon, kappa (vmap over it to sweep them). Concrete
    hparams are checked (ConfigError); under your own `jit`/`vmap` they are traced and unchecked:
    call `hparams.validate()` first.
    """
    return make_train_fn(make_trainer(config, env, env_params))
