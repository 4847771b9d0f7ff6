"""MuZero's three functions (Schrittwieser et al. 2020) and its categorical value/reward heads.

    nets = make_networks(config, obs_shape, num_actions)
    params = nets.init(key)
    hidden = nets.represent(params, obs)                      # [B, D] in [0, 1]
    hidden, reward_logits = nets.dynamics(params, hidden, action)   # [B, D], [B, 2S+1]
    policy_logits, value_logits = nets.predict(params, hidden)     # [B, A], [B, 2S+1]

Hidden states are min-max scaled to [0, 1] per state. Value and reward are categorical over the
integer support -S..S of the transformed scalar h(x) = sign(x)(sqrt(|x| + 1) - 1) + eps x
(Pohlen et al. 2018); `scalar_to_probs` / `logits_to_scalar` map between the two.
"""

from collections.abc import Callable
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from mbrl_jax.core.networks import MLP

EPS = 1e-3


def value_transform(x: jax.Array, eps: float = EPS) -> jax.Array:
    """h(x) = sign(x) (sqrt(|x| + 1) - 1) + eps x, elementwise."""
    return jnp.sign(x) * (jnp.sqrt(jnp.abs(x) + 1) - 1) + eps * x


def inverse_value_transform(y: jax.Array, eps: float = EPS) -> jax.Array:
    """h^-1(y) = sign(y) (((sqrt(1 + 4 eps (|y| + 1 + eps)) - 1) / (2 eps))^2 - 1).

    Computed as sign(y) (r^2 - 1) with s = |y| + 1 + eps and r = 2 s / (1 + sqrt(1 + 4 eps s)),
    the same number: the written form subtracts two float32 numbers near 1 and divides the
    difference by 2 eps, which loses about 3 digits (relative error up to 2e-3 against float64);
    this form stays within about 1e-5."""
    shifted = jnp.abs(y) + 1 + eps
    root = 2 * shifted / (1 + jnp.sqrt(1 + 4 * eps * shifted))
    return jnp.sign(y) * (root**2 - 1)


def scalar_to_probs(x: jax.Array, support_size: int) -> jax.Array:
    """[...] scalars -> [..., 2S+1] two-hot probabilities of h(x) on the support -S..S (clipped),
    so that `sum(p * support) == h(x)`."""
    y = jnp.clip(value_transform(x), -support_size, support_size)
    low = jnp.floor(y)
    frac = y - low
    idx = (low + support_size).astype(jnp.int32)
    bins = 2 * support_size + 1
    return (jax.nn.one_hot(idx, bins) * (1 - frac)[..., None]
            + jax.nn.one_hot(jnp.minimum(idx + 1, bins - 1), bins) * frac[..., None])


def probs_to_scalar(probs: jax.Array, support_size: int) -> jax.Array:
    """[..., 2S+1] probabilities on the transformed support -> [...] scalars h^-1(E[y])."""
    support = jnp.arange(-support_size, support_size + 1, dtype=probs.dtype)
    return inverse_value_transform(jnp.sum(probs * support, axis=-1))


def logits_to_scalar(logits: jax.Array, support_size: int) -> jax.Array:
    """[..., 2S+1] logits -> [...] scalars."""
    return probs_to_scalar(jax.nn.softmax(logits), support_size)


def scale_hidden(h: jax.Array) -> jax.Array:
    """Min-max scale each hidden state (last axis) to [0, 1]."""
    lo = jnp.min(h, axis=-1, keepdims=True)
    hi = jnp.max(h, axis=-1, keepdims=True)
    return (h - lo) / jnp.maximum(hi - lo, 1e-5)


class ConvTorso(nn.Module):
    """Small torso for MinAtar grids [..., 10, 10, C]: one 3x3 conv of 16 channels, flattened."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = nn.relu(nn.Conv(16, (3, 3))(x))
        return x.reshape((*x.shape[:-3], -1))


class _Represent(nn.Module):
    hidden_sizes: tuple
    latent_size: int
    conv: bool

    @nn.compact
    def __call__(self, obs):
        x = ConvTorso()(obs) if self.conv else obs  # the MLP gets flattened observations
        return scale_hidden(MLP(self.hidden_sizes, self.latent_size)(x))


class _Dynamics(nn.Module):
    hidden_sizes: tuple
    latent_size: int
    num_actions: int
    bins: int

    @nn.compact
    def __call__(self, hidden, action):
        x = jnp.concatenate([hidden, jax.nn.one_hot(action, self.num_actions)], axis=-1)
        nxt = scale_hidden(MLP(self.hidden_sizes, self.latent_size, name="next")(x))
        reward_logits = MLP(self.hidden_sizes, self.bins, zero_init_output=True,
                            name="reward")(x)
        return nxt, reward_logits


class _Predict(nn.Module):
    hidden_sizes: tuple
    num_actions: int
    bins: int

    @nn.compact
    def __call__(self, hidden):
        policy = MLP(self.hidden_sizes, self.num_actions, zero_init_output=True,
                     name="policy")(hidden)
        value = MLP(self.hidden_sizes, self.bins, zero_init_output=True, name="value")(hidden)
        return policy, value


class MuZeroNetworks(NamedTuple):
    """init: key -> params {"represent", "dynamics", "predict"};
    represent: (params, obs [B, *obs_shape]) -> hidden [B, D];
    dynamics: (params, hidden [B, D], action [B]) -> (hidden [B, D], reward logits [B, 2S+1]);
    predict: (params, hidden [B, D]) -> (policy logits [B, A], value logits [B, 2S+1])."""

    init: Callable
    represent: Callable
    dynamics: Callable
    predict: Callable


def make_networks(hidden_sizes: tuple, latent_size: int, support_size: int,
                  obs_shape: tuple, num_actions: int, conv: bool = False) -> MuZeroNetworks:
    """Build h, g and f. `conv` puts a small conv torso under h (for MinAtar grids)."""
    bins = 2 * support_size + 1
    rep = _Represent(tuple(hidden_sizes), latent_size, conv)
    dyn = _Dynamics(tuple(hidden_sizes), latent_size, num_actions, bins)
    pred = _Predict(tuple(hidden_sizes), num_actions, bins)
    obs_rank = len(obs_shape)

    def represent(params, obs):
        if not conv:
            obs = obs.reshape((*obs.shape[:obs.ndim - obs_rank], -1))
        return rep.apply(params["represent"], obs)

    def init(key):
        k1, k2, k3 = jax.random.split(key, 3)
        obs = jnp.zeros((1, *obs_shape), jnp.float32)
        if not conv:
            obs = obs.reshape((1, -1))
        hidden = jnp.zeros((1, latent_size), jnp.float32)
        return {"represent": rep.init(k1, obs),
                "dynamics": dyn.init(k2, hidden, jnp.zeros((1,), jnp.int32)),
                "predict": pred.init(k3, hidden)}

    return MuZeroNetworks(
        init=init, represent=represent,
        dynamics=lambda params, hidden, action: dyn.apply(params["dynamics"], hidden, action),
        predict=lambda params, hidden: pred.apply(params["predict"], hidden))
