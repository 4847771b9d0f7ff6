"""The MuZero agent as pure functions: `init / act / update`, for self-play and for embedding.

    agent = make_agent(config, obs_shape=(10, 5), num_actions=3)
    state = agent.init(key)                                        # MuZeroState
    action, policy, value = agent.act(state.params, obs, key, hparams, temperature, explore)
    state, metrics = agent.update(state, windows, key, hparams)    # windows: Step [B, W, ...]

`act` plans with a tree search on the learned model: ours (`muzero.mcts`, chosen by
`config.search`) or any function with mctx's signature, `search(params, rng_key, root,
recurrent_fn, num_simulations, **kwargs) -> PolicyOutput`: `make_agent(..., search=
mctx.muzero_policy)` (or `mctx.gumbel_muzero_policy` with `search="gumbel"`) is a drop-in. A
given search gets the keywords the two share (pUCT: dirichlet_fraction, dirichlet_alpha,
temperature; Gumbel: max_num_considered_actions, gumbel_scale) and keeps its own Q transform.
"""

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import struct

from mbrl_jax.muzero import mcts
from mbrl_jax.muzero.config import MuZeroConfig, MuZeroHParams
from mbrl_jax.muzero.losses import Step, make_targets, network_values, unroll_loss
from mbrl_jax.muzero.networks import logits_to_scalar, make_networks

SearchFn = Callable[..., Any]
"""`search(params, rng_key, root, recurrent_fn, num_simulations, **kwargs) -> PolicyOutput`."""


@struct.dataclass
class MuZeroState:
    """params: {"represent", "dynamics", "predict"}; opt_state; env_steps: int32 per env."""

    params: object
    opt_state: object
    env_steps: jax.Array


class MuZeroAgent(NamedTuple):
    """init: key -> MuZeroState. act: `(params, obs [B, ...], key, hparams, temperature,
    explore) -> (action [B], policy target [B, A], root value [B])`. update: `(state, windows,
    key, hparams, valid=True) -> (state, metrics)`, one gradient step on windows
    `Step [B, K + n + 1, ...]` (the key is unused: the step is deterministic; `valid` False
    leaves the params unchanged). networks: the h/g/f networks; optimizer."""

    init: Callable[[jax.Array], MuZeroState]
    act: Callable[..., tuple]
    update: Callable[..., tuple]
    networks: Any
    optimizer: optax.GradientTransformation


def make_act(config: MuZeroConfig, nets, num_actions: int, search: SearchFn | None = None):
    """`act(params, obs [B, ...], key, hparams, temperature, explore) -> (action [B],
    policy target [B, A], root value [B])`; `explore=False` searches without root noise
    (pUCT) or Gumbel noise and picks the most visited / winning action. `search`: see the
    module docstring (None: ours, by `config.search`)."""
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
            discount = jnp.full_like(reward, hparams.gamma)
            return mcts.RecurrentFnOutput(reward, discount, logits,
                                          logits_to_scalar(value_logits, support)), hidden

        if config.search == "gumbel":
            out = (search or mcts.gumbel_muzero_policy)(
                params, key, root, recurrent_fn, config.num_simulations,
                max_num_considered_actions=min(config.max_num_considered_actions, num_actions),
                gumbel_scale=1.0 if explore else 0.0)
        else:
            ours = {} if search else {"q_normalisation": config.q_normalisation}
            out = (search or mcts.muzero_policy)(
                params, key, root, recurrent_fn, config.num_simulations, **ours,
                dirichlet_alpha=config.dirichlet_alpha,
                dirichlet_fraction=config.dirichlet_fraction if explore else 0.0,
                temperature=temperature if explore else 0.0)
        return out.action, out.action_weights, out.search_tree.node_values[:, 0]

    return act


def make_agent(config: MuZeroConfig, obs_shape: tuple, num_actions: int,
               search: SearchFn | None = None) -> MuZeroAgent:
    """Build the agent's functions (the config is validated by the caller, e.g. make_trainer)."""
    nets = make_networks(config.hidden_sizes, config.latent_size, config.support_size,
                         obs_shape, num_actions, conv=config.conv)
    act = make_act(config, nets, num_actions, search)
    optimizer = optax.chain(optax.clip_by_global_norm(config.max_grad_norm),
                            optax.adam(config.learning_rate))

    def init(key):
        params = nets.init(key)
        return MuZeroState(params, optimizer.init(params), jnp.int32(0))

    def loss_fn(params, windows: Step, hparams):
        if config.value_bootstrap == "network":
            windows = windows._replace(search_value=network_values(
                params, nets, windows.obs, config.unroll_steps, config.td_steps,
                config.support_size))
        targets = jax.vmap(functools.partial(
            make_targets, discount=hparams.gamma, unroll_steps=config.unroll_steps,
            td_steps=config.td_steps))(windows)
        return unroll_loss(params, nets, windows.obs[:, 0], targets, config.support_size,
                           hparams.value_loss_weight)

    def update(state: MuZeroState, windows: Step, key, hparams, valid=True):
        del key
        (loss, parts), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            state.params, windows, hparams)
        grads = jax.tree.map(lambda g: jnp.where(valid, g, 0.0), grads)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        state = state.replace(params=optax.apply_updates(state.params, updates),
                              opt_state=opt_state)
        return state, {"loss": loss, **parts}

    return MuZeroAgent(init=init, act=act, update=update, networks=nets, optimizer=optimizer)


__all__ = ["MuZeroAgent", "MuZeroState", "SearchFn", "make_act", "make_agent"]
