"""A small random recurrent model shared by the search tests and the benchmark's oracle checks."""

import jax
import jax.numpy as jnp

from mbrl_jax.muzero.mcts import RecurrentFnOutput, RootFnOutput


def make_model(key, num_actions: int, hidden: int = 8):
    """Params of a toy model: a tanh transition per action, linear reward/value/policy heads."""
    k = jax.random.split(key, 5)
    return {
        "transition": jax.random.normal(k[0], (num_actions, hidden, hidden)) / jnp.sqrt(hidden),
        "reward": jax.random.normal(k[1], (hidden,)),
        "value": jax.random.normal(k[2], (hidden,)),
        "policy": jax.random.normal(k[3], (hidden, num_actions)),
    }


def recurrent_fn(params, key, action, embedding):
    del key
    w = params["transition"][action]                               # [B, H, H]
    nxt = jnp.tanh(jnp.einsum("bh,bhk->bk", embedding, w))        # [B, H]
    out = RecurrentFnOutput(
        reward=nxt @ params["reward"], discount=jnp.full(action.shape, 0.9, nxt.dtype),
        prior_logits=nxt @ params["policy"], value=nxt @ params["value"])
    return out, nxt


def make_root(params, key, batch: int, hidden: int = 8):
    emb = jax.random.normal(key, (batch, hidden))
    return RootFnOutput(prior_logits=emb @ params["policy"], value=emb @ params["value"],
                        embedding=emb)
