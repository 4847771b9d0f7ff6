"""MuZero training: self-play with the search in vmapped gymnax envs, a trajectory replay, and
unrolled updates, compiled as one function of a key.

    trainer = make_trainer(MuZeroConfig(), *envs.make("Catch-bsuite"))
    train = make_train(config, env, env_params)
    state, metrics, _ = jax.jit(jax.vmap(train))(jax.random.split(key, 5))
    metrics["reward"]   # [5, T, num_envs] per env step, T = total_steps; also "done", "muzero/loss"
"""


import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from mbrl_jax import envs
from mbrl_jax.core import sequence_buffer
from mbrl_jax.core.evaluation import evaluate_policy
from mbrl_jax.driver.loop import Trainer, make_train_fn, scoped
from mbrl_jax.muzero.agent import MuZeroState, SearchFn, make_agent
from mbrl_jax.muzero.config import MuZeroConfig, MuZeroHParams, check_support
from mbrl_jax.muzero.losses import Step
from mbrl_jax.muzero.networks import logits_to_scalar


@struct.dataclass
class MuZeroCarry:
    agent: MuZeroState
    replay: sequence_buffer.SequenceBufferState  # Step rows [E, buffer_size, ...]
    env_state: object
    obs: jax.Array
    key: jax.Array


def check_env(env, env_params) -> int:
    """Number of actions; ConfigError("env", ...) for a non-discrete action space."""
    return envs.spec(env, env_params).num_discrete("MuZero")


def _temperature(config: MuZeroConfig, env_steps):
    frac = env_steps / config.total_steps
    t = config.temperatures
    return jnp.where(frac < 0.5, t[0], jnp.where(frac < 0.75, t[1], t[2])).astype(jnp.float32)


def sample_windows(replay: sequence_buffer.SequenceBufferState, key, batch_size: int,
                   length: int):
    """Windows of `length` consecutive steps (`core.sequence_buffer.sample`): leaves
    [B, length, ...], each inside the written history of one env. Returns (windows, valid):
    valid is False until every env has written `length` steps (the envs write in lockstep)."""
    windows = sequence_buffer.sample(replay, key, batch_size, length)
    return windows, jnp.all(replay.size >= length)


def make_trainer(config: MuZeroConfig, env, env_params, search: SearchFn | None = None
                 ) -> Trainer:
    """Build (but do not trace) a MuZero run. Validates config and env first. `search`: the
    tree search (None: ours; `mctx.muzero_policy` is a drop-in, see `muzero.agent`).

    Raises:
      ConfigError: an invalid config value, or an env without discrete actions ("env").
    """
    config.validate()
    num_actions = check_env(env, env_params)
    horizon = getattr(env_params, "max_steps_in_episode", None)
    check_support(config, config.gamma, horizon)

    def check_hparams(hparams: MuZeroHParams) -> None:
        """Beyond `MuZeroHParams.validate` (the driver runs it first): warn when the largest
        discount of a sweep lets returns outgrow the value support."""
        check_support(config, np.asarray(hparams.gamma, np.float64).max(), horizon)

    obs_shape = env.observation_space(env_params).shape
    agent = make_agent(config, obs_shape, num_actions, search)
    nets, act = agent.networks, agent.act
    window = config.unroll_steps + config.td_steps + 1
    e, f = config.num_envs, config.env_steps_per_iteration

    def init(key, hparams):
        del hparams
        key, net_key, reset_key = jax.random.split(key, 3)
        obs, env_state = envs.collect.reset(env, env_params, reset_key, e)
        example = Step(obs=obs[0].astype(jnp.float32), action=jnp.int32(0),
                       reward=jnp.float32(0), terminated=jnp.bool_(False),
                       truncated=jnp.bool_(False), search_value=jnp.float32(0),
                       policy=jnp.zeros((num_actions,), jnp.float32),
                       final_value=jnp.float32(0))
        replay = sequence_buffer.init(example, e, config.buffer_size)
        return MuZeroCarry(agent.init(net_key), replay, env_state, obs.astype(jnp.float32), key)

    def self_play_step(carry: MuZeroCarry, hparams):
        key, act_key, env_key = jax.random.split(carry.key, 3)
        params = carry.agent.params
        temperature = _temperature(config, carry.agent.env_steps)
        action, policy, value = act(params, carry.obs, act_key, hparams, temperature, True)
        out = envs.collect.step(env, env_params, env_key, carry.env_state, action)
        final_obs = out.final_obs
        _, final_logits = nets.predict(params, nets.represent(params, final_obs))
        record = Step(carry.obs, action, out.reward, out.terminated, out.truncated, value,
                      policy, logits_to_scalar(final_logits, config.support_size))
        agent = carry.agent.replace(env_steps=carry.agent.env_steps + 1)
        carry = carry.replace(agent=agent, replay=sequence_buffer.add(carry.replay, record),
                              env_state=out.env_state, obs=out.obs, key=key)
        return carry, {"reward": out.reward, "done": out.done}

    def update(state: MuZeroState, replay, key, hparams):
        windows, valid = sample_windows(replay, key, config.batch_size, window)
        return agent.update(state, windows, key, hparams, valid)

    def step(carry: MuZeroCarry, hparams):
        carry, metrics = jax.lax.scan(
            lambda c, _: self_play_step(c, hparams), carry, None, length=f)
        replay = carry.replay
        key, update_key = jax.random.split(carry.key)

        def one_update(state, k):
            return update(state, replay, k, hparams)

        state, losses = jax.lax.scan(
            one_update, carry.agent, jax.random.split(update_key, config.updates_per_iteration))
        losses = jax.tree.map(lambda x: jnp.broadcast_to(jnp.mean(x), (f,)), losses)
        carry = carry.replace(agent=state, replay=replay, key=key)
        return carry, {**metrics, **scoped("muzero", losses)}

    def evaluate(carry: MuZeroCarry, hparams, key):
        def policy(obs, key):
            action, _, _ = act(carry.agent.params, obs[None].astype(jnp.float32), key, hparams,
                               jnp.float32(0.0), False)
            return action[0]

        result = evaluate_policy(env, env_params, policy, key, config.eval_episodes,
                                 config.eval_max_steps)
        return result

    return Trainer(init=init, step=step, result=lambda carry: carry.agent,
                   num_iterations=config.num_iterations, default_hparams=config.hparams(),
                   env_steps_per_iteration=f, evaluate=evaluate, check_hparams=check_hparams)


def make_train(config: MuZeroConfig, env, env_params):
    """`train(key, hparams=None) -> (MuZeroState, metrics)`: the whole run as one `lax.scan`.

    metrics: "reward", "done" [T, num_envs] per env step (T = iterations * env_steps_per_iteration);
    "muzero/loss", "muzero/value_loss", "muzero/reward_loss", "muzero/policy_loss" [T] (each
    iteration's mean, repeated).
    """
    return make_train_fn(make_trainer(config, env, env_params))
