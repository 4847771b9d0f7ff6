"""MuZero training: self-play with the search in vmapped gymnax envs, a trajectory replay, and
unrolled updates, compiled as one function of a key.

    trainer = make_trainer(MuZeroConfig(), *envs.make("Catch-bsuite"))
    train = make_train(config, env, env_params)
    state, metrics = jax.jit(jax.vmap(train))(jax.random.split(key, 5))
    metrics["reward"]   # [5, T, num_envs] per env step, T = total_steps; also "done", "loss"
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from mbrl_jax import envs
from mbrl_jax.core.evaluation import evaluate_policy
from mbrl_jax.driver.loop import Trainer, make_train_fn
from mbrl_jax.muzero import mcts
from mbrl_jax.muzero.config import MuZeroConfig, MuZeroHParams, check_support
from mbrl_jax.muzero.losses import Step, make_targets, network_values, unroll_loss
from mbrl_jax.muzero.networks import logits_to_scalar, make_networks


@struct.dataclass
class MuZeroState:
    """params: {"represent", "dynamics", "predict"}; opt_state; env_steps: int32 per env."""

    params: object
    opt_state: object
    env_steps: jax.Array


@struct.dataclass
class Replay:
    """Per-env ring buffer over time: data leaves [E, C, ...] (C = replay_length); the next write
    goes to column `position`; `size` columns are written."""

    data: Step
    position: jax.Array
    size: jax.Array


@struct.dataclass
class MuZeroCarry:
    agent: MuZeroState
    replay: Replay
    env_state: object
    obs: jax.Array
    key: jax.Array


def check_env(env, env_params) -> int:
    """Number of actions; ConfigError("env", ...) for a non-discrete action space."""
    return envs.spec(env, env_params).num_discrete("MuZero")


def make_act(config: MuZeroConfig, nets, num_actions: int):
    """`act(params, obs [B, ...], key, hparams, temperature, explore) -> (action [B],
    policy target [B, A], root value [B])`; `explore=False` searches without root noise
    (pUCT) or Gumbel noise and picks the most visited / winning action."""
    support = config.support_size

    def act(params, obs, key, hparams: MuZeroHParams, temperature, explore: bool):
        hidden = nets.represent(params, obs)
        logits, value_logits = nets.predict(params, hidden)
        root = mcts.RootFnOutput(logits, logits_to_scalar(value_logits, support), hidden)

        def recurrent_fn(params, key, action, hidden):
            del key
            hidden, reward_logits = nets.dynamics(params, hidden, action)
            logits, value_logits = nets.predict(params, hidden)
            reward = logits_to_scalar(reward_logits, support)
            discount = jnp.full_like(reward, hparams.discount)
            return mcts.RecurrentFnOutput(reward, discount, logits,
                                          logits_to_scalar(value_logits, support)), hidden

        if config.search == "gumbel":
            out = mcts.gumbel_muzero_policy(
                params, key, root, recurrent_fn, config.num_simulations,
                max_num_considered_actions=min(config.max_num_considered_actions, num_actions),
                gumbel_scale=1.0 if explore else 0.0)
        else:
            out = mcts.muzero_policy(
                params, key, root, recurrent_fn, config.num_simulations,
                q_normalisation=config.q_normalisation,
                dirichlet_alpha=config.dirichlet_alpha,
                dirichlet_fraction=config.dirichlet_fraction if explore else 0.0,
                temperature=temperature if explore else 0.0)
        return out.action, out.action_weights, out.search_tree.node_values[:, 0]

    return act


def _temperature(config: MuZeroConfig, env_steps):
    frac = env_steps / config.total_steps
    t = config.temperatures
    return jnp.where(frac < 0.5, t[0], jnp.where(frac < 0.75, t[1], t[2])).astype(jnp.float32)


def sample_windows(replay: Replay, key, batch_size: int, length: int):
    """Windows of `length` consecutive steps: leaves [B, length, ...], starting uniformly among
    the written positions whose window is fully written. Returns (windows, valid: bool)."""
    data = replay.data
    num_envs, capacity = data.reward.shape
    env_key, time_key = jax.random.split(key)
    count = replay.size - (length - 1)
    env = jax.random.randint(env_key, (batch_size,), 0, num_envs)
    start = jax.random.randint(time_key, (batch_size,), 0, jnp.maximum(count, 1))
    start = replay.position - replay.size + start
    cols = (start[:, None] + jnp.arange(length)) % capacity           # [B, length]
    windows = jax.tree.map(lambda x: x[env[:, None], cols], data)
    return windows, count > 0


def make_trainer(config: MuZeroConfig, env, env_params) -> Trainer:
    """Build (but do not trace) a MuZero run. Validates config and env first.

    Raises:
      ConfigError: an invalid config value, or an env without discrete actions ("env").
    """
    config.validate()
    num_actions = check_env(env, env_params)
    horizon = getattr(env_params, "max_steps_in_episode", None)
    check_support(config, config.discount, horizon)

    def check_hparams(hparams: MuZeroHParams) -> None:
        """Beyond `MuZeroHParams.validate` (the driver runs it first): warn when the largest
        discount of a sweep lets returns outgrow the value support."""
        check_support(config, np.asarray(hparams.discount, np.float64).max(), horizon)

    obs_shape = env.observation_space(env_params).shape
    nets = make_networks(config.hidden_sizes, config.latent_size, config.support_size,
                         obs_shape, num_actions, conv=config.conv)
    act = make_act(config, nets, num_actions)
    optimizer = optax.chain(optax.clip_by_global_norm(config.max_grad_norm),
                            optax.adam(config.learning_rate))
    window = config.unroll_steps + config.td_steps + 1
    e, f = config.num_envs, config.rollout_length
    env_reset = jax.vmap(env.reset, in_axes=(0, None))
    env_step = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    def init(key, hparams):
        del hparams
        key, net_key, reset_key = jax.random.split(key, 3)
        params = nets.init(net_key)
        obs, env_state = env_reset(jax.random.split(reset_key, e), env_params)
        example = Step(obs=obs[0].astype(jnp.float32), action=jnp.int32(0),
                       reward=jnp.float32(0), terminated=jnp.bool_(False),
                       truncated=jnp.bool_(False), search_value=jnp.float32(0),
                       policy=jnp.zeros((num_actions,), jnp.float32),
                       final_value=jnp.float32(0))
        data = jax.tree.map(
            lambda x: jnp.zeros((e, config.replay_length, *x.shape), x.dtype), example)
        replay = Replay(data, jnp.int32(0), jnp.int32(0))
        agent = MuZeroState(params, optimizer.init(params), jnp.int32(0))
        return MuZeroCarry(agent, replay, env_state, obs.astype(jnp.float32), key)

    def self_play_step(carry: MuZeroCarry, hparams):
        key, act_key, env_key = jax.random.split(carry.key, 3)
        params = carry.agent.params
        temperature = _temperature(config, carry.agent.env_steps)
        action, policy, value = act(params, carry.obs, act_key, hparams, temperature, True)
        obs, env_state, reward, terminated, truncated, info = env_step(
            jax.random.split(env_key, e), carry.env_state, action, env_params)
        final_obs = info["final_observation"].astype(jnp.float32)
        _, final_logits = nets.predict(params, nets.represent(params, final_obs))
        record = Step(carry.obs, action, reward.astype(jnp.float32), terminated,
                      truncated & ~terminated, value, policy,
                      logits_to_scalar(final_logits, config.support_size))
        agent = carry.agent.replace(env_steps=carry.agent.env_steps + 1)
        carry = carry.replace(agent=agent, env_state=env_state, obs=obs.astype(jnp.float32),
                              key=key)
        metrics = {"reward": reward.astype(jnp.float32), "done": terminated | truncated}
        return carry, (record, metrics)

    def loss_fn(params, windows: Step, hparams):
        if config.value_bootstrap == "network":
            windows = windows._replace(search_value=network_values(
                params, nets, windows.obs, config.unroll_steps, config.td_steps,
                config.support_size))
        targets = jax.vmap(functools.partial(
            make_targets, discount=hparams.discount, unroll_steps=config.unroll_steps,
            td_steps=config.td_steps))(windows)
        return unroll_loss(params, nets, windows.obs[:, 0], targets, config.support_size,
                           hparams.value_loss_weight)

    def update(agent: MuZeroState, replay: Replay, key, hparams):
        windows, valid = sample_windows(replay, key, config.batch_size, window)
        (loss, parts), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            agent.params, windows, hparams)
        grads = jax.tree.map(lambda g: jnp.where(valid, g, 0.0), grads)
        updates, opt_state = optimizer.update(grads, agent.opt_state, agent.params)
        agent = agent.replace(params=optax.apply_updates(agent.params, updates),
                              opt_state=opt_state)
        return agent, {"loss": loss, **parts}

    def step(carry: MuZeroCarry, hparams):
        carry, (records, metrics) = jax.lax.scan(
            lambda c, _: self_play_step(c, hparams), carry, None, length=f)
        replay = carry.replay
        cols = (replay.position + jnp.arange(f)) % config.replay_length
        data = jax.tree.map(lambda buf, x: buf.at[:, cols].set(jnp.swapaxes(x, 0, 1)),
                            replay.data, records)
        replay = Replay(data, (replay.position + f) % config.replay_length,
                        jnp.minimum(replay.size + f, config.replay_length))
        key, update_key = jax.random.split(carry.key)

        def one_update(agent, k):
            return update(agent, replay, k, hparams)

        agent, losses = jax.lax.scan(
            one_update, carry.agent, jax.random.split(update_key, config.updates_per_iteration))
        losses = jax.tree.map(lambda x: jnp.broadcast_to(jnp.mean(x), (f,)), losses)
        carry = carry.replace(agent=agent, replay=replay, key=key)
        return carry, {**metrics, **losses}

    def evaluate(carry: MuZeroCarry, hparams, key):
        def policy(obs, key):
            action, _, _ = act(carry.agent.params, obs[None].astype(jnp.float32), key, hparams,
                               jnp.float32(0.0), False)
            return action[0]

        result = evaluate_policy(env, env_params, policy, key, config.eval_episodes,
                                 config.eval_max_steps)
        return {"return": result.return_, "length": result.length}

    return Trainer(init=init, step=step, result=lambda carry: carry.agent,
                   num_iterations=config.num_iterations, default_hparams=config.hparams(),
                   env_steps_per_iteration=f, evaluate=evaluate, check_hparams=check_hparams)


def make_train(config: MuZeroConfig, env, env_params):
    """`train(key, hparams=None) -> (MuZeroState, metrics)`: the whole run as one `lax.scan`.

    metrics: "reward", "done" [T, num_envs] per env step (T = iterations * rollout_length);
    "loss", "value_loss", "reward_loss", "policy_loss" [T] (each iteration's mean, repeated).
    """
    return make_train_fn(make_trainer(config, env, env_params))
