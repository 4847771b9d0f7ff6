"""DreamerV3 training runs on gymnax envs, compiled as one function of a key.

    trainer = make_trainer(DreamerConfig(total_steps=50_000), *envs.make("CartPole-v1"))
    state, metrics, _ = jax.jit(jax.vmap(make_train_fn(trainer)))(jax.random.split(key, 5))
    metrics["reward"]   # [5, total_steps, num_envs]

One iteration = `env_steps_per_iteration` (F) steps of `num_envs` vmapped envs, acting with the
recurrent policy (uniformly random actions for the first `warmup_steps`), each written to the
sequence replay, then `updates_per_iteration` gradient updates on replayed windows (a no-op
while fewer than `warmup_steps` steps were taken: the update is computed and discarded, which
keeps one static program). gymnax auto-resets inside `step`: the step that ends an episode
writes the true final observation (`info["final_observation"]`) with its reward and
`is_terminal = terminated` (a time-limit truncation is not terminal), and then the next
episode's first observation with `is_first`.
"""

import jax
import jax.numpy as jnp
from flax import struct

from mbrl_jax import envs
from mbrl_jax.core import sequence_buffer
from mbrl_jax.core.errors import ConfigError
from mbrl_jax.core.evaluation import evaluate_policy
from mbrl_jax.dreamer.agent import ActCarry, DreamerState, make_agent
from mbrl_jax.dreamer.config import DreamerConfig, DreamerHParams
from mbrl_jax.dreamer.losses import Sequences
from mbrl_jax.driver.loop import Trainer, make_train_fn, scoped


@struct.dataclass
class DreamerCarry:
    """agent; replay; env_state and obs `[E, ...]`; policy carry `[E, ...]`; is_first `[E]`;
    env steps taken per stream (int32); key."""

    agent: DreamerState
    replay: sequence_buffer.SequenceBufferState
    env_state: object
    obs: jax.Array
    policy: ActCarry
    is_first: jax.Array
    steps: jax.Array
    key: jax.Array


def check_env(env, env_params) -> envs.EnvSpec:
    """What Dreamer needs of an env (the check `make_trainer` runs, and `mbrl-jax envs` lists):
    Discrete or Box actions (a Box with finite bounds) and vector or `[H, W, C]` observations.
    Returns the env's `EnvSpec`; raises `ConfigError("env", ...)` otherwise."""
    spec = envs.spec(env, env_params)
    if not spec.discrete:
        if spec.action_kind != "box":
            raise ConfigError("env", f"action space {spec.action_kind} is not supported; use a "
                                     "Discrete or Box action space")
        spec.box_bounds("Dreamer")
    if len(spec.obs_shape) not in (1, 3):
        raise ConfigError("env", f"observations must be vectors or [H, W, C] grids, got shape "
                                 f"{spec.obs_shape}")
    return spec


def make_trainer(config: DreamerConfig, env, env_params) -> Trainer:
    """Build (not trace) a DreamerV3 run. Raises `ConfigError` naming a bad field."""
    config.validate()
    c = config
    spec = check_env(env, env_params)
    discrete, action_dim, low, high = spec.discrete, spec.action_dim, spec.low, spec.high
    obs_shape = spec.obs_shape
    agent = make_agent(c, obs_shape, action_dim, discrete)
    e = c.num_envs
    obs_dtype = jnp.float32

    def to_env(action):
        """Model action -> env action: the index, or the raw sample clipped to [-1, 1] and
        mapped onto the env's bounds (the replay keeps the unclipped sample, as DreamerV3)."""
        if discrete:
            return action
        return low + (jnp.clip(action, -1.0, 1.0) + 1.0) * 0.5 * (high - low)

    def row(obs, prev_action, reward, is_first, is_terminal):
        return Sequences(obs.astype(obs_dtype), prev_action, reward.astype(jnp.float32),
                         is_first, is_terminal)

    def init(key, hparams):
        del hparams
        key, agent_key, reset_key = jax.random.split(key, 3)
        obs, env_state = envs.collect.reset(env, env_params, reset_key, e)
        zeros_a = jnp.zeros((e, action_dim), jnp.float32)
        first = row(obs, zeros_a, jnp.zeros((e,)), jnp.ones((e,), bool), jnp.zeros((e,), bool))
        example = jax.tree.map(lambda x: x[0], first)
        replay = sequence_buffer.add(
            sequence_buffer.init(example, e, c.buffer_size), first)
        return DreamerCarry(agent=agent.init(agent_key), replay=replay, env_state=env_state,
                            obs=obs, policy=agent.initial_carry((e,)),
                            is_first=jnp.ones((e,), bool), steps=jnp.int32(0), key=key)

    def env_step(carry: DreamerCarry, _):
        key, act_key, rand_key, env_key = jax.random.split(carry.key, 4)
        policy, action = jax.vmap(agent.act, in_axes=(None, 0, 0, 0, 0))(
            carry.agent, carry.policy, carry.obs, carry.is_first, jax.random.split(act_key, e))
        if discrete:
            random = jax.random.randint(rand_key, (e,), 0, action_dim)
            model_random = jax.nn.one_hot(random, action_dim)
        else:
            random = jax.random.uniform(rand_key, (e, action_dim), minval=-1.0, maxval=1.0)
            model_random = random
        warm = carry.steps < c.warmup_steps
        action = jnp.where(warm, random, action)
        policy = ActCarry(policy.rssm, jnp.where(warm, model_random, policy.prev_action))
        out = envs.collect.step(env, env_params, env_key, carry.env_state, to_env(action))
        zeros_a = jnp.zeros((e, action_dim), jnp.float32)
        arrive = row(out.final_obs, policy.prev_action, out.reward, jnp.zeros((e,), bool),
                     out.terminated)
        restart = row(out.obs, zeros_a, jnp.zeros((e,)), jnp.ones((e,), bool),
                      jnp.zeros((e,), bool))
        replay = sequence_buffer.add(carry.replay, arrive, restart, out.done)
        carry = carry.replace(replay=replay, env_state=out.env_state, obs=out.obs,
                              policy=policy, is_first=out.done, steps=carry.steps + 1, key=key)
        return carry, out.metrics()

    def update_step(carry: DreamerCarry, hparams):
        key, sample_key, update_key = jax.random.split(carry.key, 3)
        batch = sequence_buffer.sample(carry.replay, sample_key, c.batch_size, c.sequence_length)
        batch = batch._replace(is_first=batch.is_first.at[:, 0].set(True))
        new_agent, metrics = agent.update(carry.agent, batch, update_key, hparams)
        ready = carry.steps >= c.warmup_steps
        new_agent = jax.tree.map(lambda n, o: jnp.where(ready, n, o), new_agent, carry.agent)
        return carry.replace(agent=new_agent, key=key), metrics

    def step(carry: DreamerCarry, hparams: DreamerHParams):
        carry, env_metrics = jax.lax.scan(env_step, carry, None, length=c.env_steps_per_iteration)
        carry, update_metrics = jax.lax.scan(lambda cr, _: update_step(cr, hparams), carry, None,
                                             length=c.updates_per_iteration)
        ready = carry.steps >= c.warmup_steps
        losses = {k: jnp.broadcast_to(jnp.where(ready, v.mean(), 0.0),
                                      (c.env_steps_per_iteration,))
                  for k, v in update_metrics.items()}
        return carry, {**env_metrics, **scoped("dreamer", losses)}

    def evaluate(carry: DreamerCarry, hparams, key):
        """Greedy episodes on `eval_episodes` fresh envs for `eval_max_steps` steps (the
        recurrent form of `core.evaluation.evaluate_policy`):
        an `EvalResult` of [eval_episodes]."""
        del hparams

        def policy(policy_carry, obs, is_first, k):
            policy_carry, action = agent.act(carry.agent, policy_carry, obs, is_first, k, True)
            return policy_carry, to_env(action)

        result = evaluate_policy(env, env_params, policy, key, c.eval_episodes,
                                 c.eval_max_steps, initial_carry=agent.initial_carry(()))
        return result

    return Trainer(init=init, step=step, result=lambda carry: carry.agent,
                   num_iterations=c.num_iterations, default_hparams=c.hparams(),
                   env_steps_per_iteration=c.env_steps_per_iteration, evaluate=evaluate)


def make_train(config: DreamerConfig, env, env_params):
    """`train(key, hparams=None) -> (DreamerState, metrics)`: the whole run as one `lax.scan`
    (`hparams`: `DreamerHParams`, default the config's; vmap over them to sweep). metrics:
    "reward", "done", "terminated" `[total_steps, num_envs]`; `dreamer/<loss>` `[total_steps]` (the
    mean of the iteration's updates, 0 before updates begin: the warm-up)."""
    return make_train_fn(make_trainer(config, env, env_params))


__all__ = ["DreamerCarry", "check_env", "make_train", "make_trainer"]
