"""One ensemble member as pure functions, the normaliser, and the data layout they share.

Shapes: O = obs_dim, A = action_dim, I = O + A network inputs, D = O + 1 targets (delta obs then
reward), E = ensemble size. Per-member functions work on any leading batch shape `[...]`; the
ensemble applies them to stacked params (leaves `[E, ...]`) with `jax.vmap`.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from mbrl_jax.core.networks import Network, make_mlp
from mbrl_jax.models.config import EnsembleConfig

_MIN_STD = 1e-6


@struct.dataclass
class Normalizer:
    """Standardisation statistics (original units).

    input_mean, input_std: [I]; target_mean, target_std: [D]. Stds are at least 1e-6, and exactly 1
    for constant features, so normalise/denormalise round-trip.
    """

    input_mean: jax.Array
    input_std: jax.Array
    target_mean: jax.Array
    target_std: jax.Array


class MemberOutput(NamedTuple):
    """Raw outputs in normalised target units. mean, logvar: [..., D] (logvar zeros when
    deterministic); termination_logit: [...] (zeros without a termination head)."""

    mean: jax.Array
    logvar: jax.Array
    termination_logit: jax.Array


def encode_inputs(config: EnsembleConfig, obs: jax.Array, action: jax.Array) -> jax.Array:
    """Network inputs `[..., I]` from obs `[..., O]` and action (`[...]` int or `[..., A]`)."""
    if config.discrete_actions:
        action = jax.nn.one_hot(action, config.action_dim, dtype=obs.dtype)
    return jnp.concatenate([obs, jnp.asarray(action, obs.dtype)], axis=-1)


def encode_targets(obs: jax.Array, reward: jax.Array, next_obs: jax.Array) -> jax.Array:
    """Targets `[..., D]`: `next_obs - obs` then the reward."""
    return jnp.concatenate([next_obs - obs, reward[..., None]], axis=-1)


def identity_normalizer(config: EnsembleConfig) -> Normalizer:
    """Zero means and unit stds (normalise = identity)."""
    i, d = config.input_dim, config.target_dim
    return Normalizer(jnp.zeros(i), jnp.ones(i), jnp.zeros(d), jnp.ones(d))


def _masked_moments(x: jax.Array, mask: jax.Array) -> tuple[jax.Array, jax.Array]:
    w = mask.astype(x.dtype)[:, None]
    n = jnp.maximum(w.sum(), 1.0)
    x = jnp.where(mask[:, None], x, 0.0)  # rows left out may hold anything, NaN included
    mean = (x * w).sum(0) / n
    var = (jnp.square(x - mean) * w).sum(0) / n
    std = jnp.sqrt(var)
    return mean, jnp.where(std < _MIN_STD, 1.0, std)


def compute_normalizer(
    inputs: jax.Array, targets: jax.Array, mask: jax.Array | None = None
) -> Normalizer:
    """Statistics of inputs `[N, I]` and targets `[N, D]` over rows where `mask` `[N]` is True."""
    if mask is None:
        mask = jnp.ones(inputs.shape[0], bool)
    in_mean, in_std = _masked_moments(inputs, mask)
    t_mean, t_std = _masked_moments(targets, mask)
    return Normalizer(in_mean, in_std, t_mean, t_std)


def normalize_inputs(norm: Normalizer, inputs: jax.Array) -> jax.Array:
    return (inputs - norm.input_mean) / norm.input_std


def normalize_targets(norm: Normalizer, targets: jax.Array) -> jax.Array:
    return (targets - norm.target_mean) / norm.target_std


def denormalize_targets(norm: Normalizer, targets: jax.Array) -> jax.Array:
    return targets * norm.target_std + norm.target_mean


def make_member_network(config: EnsembleConfig) -> Network:
    """The MLP of one member: `[..., I] -> [..., output_dim]` (means, log-variances, logit)."""
    return make_mlp(
        config.hidden_sizes,
        config.output_dim,
        activation=config.activation,
        zero_init_output=config.zero_init_output,
    )


def init_member(config: EnsembleConfig, net: Network, key: jax.Array) -> dict[str, Any]:
    """Params of one member: `{"net": ..., "max_logvar": [D], "min_logvar": [D]}`."""
    d = config.target_dim
    return {
        "net": net.init(key, jnp.zeros((1, config.input_dim))),
        "max_logvar": jnp.full((d,), config.init_max_logvar, jnp.float32),
        "min_logvar": jnp.full((d,), config.init_min_logvar, jnp.float32),
    }


def soft_bound_logvar(raw: jax.Array, max_logvar: jax.Array, min_logvar: jax.Array) -> jax.Array:
    """PETS soft clamp: `max - softplus(max - raw)`, then `min + softplus(. - min)`."""
    logvar = max_logvar - jax.nn.softplus(max_logvar - raw)
    return min_logvar + jax.nn.softplus(logvar - min_logvar)


def member_apply(
    config: EnsembleConfig, net: Network, params: dict[str, Any], x_norm: jax.Array
) -> MemberOutput:
    """One member on normalised inputs `[..., I]` -> `MemberOutput` (normalised target units)."""
    out = net.apply(params["net"], x_norm)
    d = config.target_dim
    mean = out[..., :d]
    if config.probabilistic:
        logvar = soft_bound_logvar(out[..., d : 2 * d], params["max_logvar"], params["min_logvar"])
    else:
        logvar = jnp.zeros_like(mean)
    if config.learn_termination:
        term = out[..., -1]
    else:
        term = jnp.zeros(mean.shape[:-1], mean.dtype)
    return MemberOutput(mean, logvar, term)


def ensemble_apply(
    config: EnsembleConfig,
    net: Network,
    params: dict[str, Any],
    x_norm: jax.Array,
    shared_inputs: bool = True,
) -> MemberOutput:
    """All members at once through `jax.vmap` over the stacked params (leaves `[E, ...]`).

    x_norm: `[..., I]` given to every member when `shared_inputs`, else `[E, ..., I]` (one batch per
    member, as in training on bootstraps). Returns `MemberOutput` with a leading `[E]` axis.
    """
    in_axes = (param_axes(config), None if shared_inputs else 0)
    return jax.vmap(lambda p, x: member_apply(config, net, p, x), in_axes=in_axes)(params, x_norm)


def param_axes(config: EnsembleConfig) -> dict[str, Any]:
    """vmap axes of the ensemble params: members on axis 0, shared log-variance bounds unbatched."""
    bounds = None if config.shared_logvar_bounds else 0
    return {"net": 0, "max_logvar": bounds, "min_logvar": bounds}


def take_members(config: EnsembleConfig, params: dict[str, Any], idx: jax.Array) -> dict[str, Any]:
    """The params of members `idx` `[M]` (leaves `[M, ...]`; shared bounds stay shared)."""
    axes = param_axes(config)
    return {name: jax.tree.map(lambda x: x[idx], value) if axes[name] == 0 else value
            for name, value in params.items()}


def renormalize(
    config: EnsembleConfig, params: dict[str, Any], old: Normalizer, new: Normalizer
) -> dict[str, Any]:
    """Params that compute, under normaliser `new`, exactly the function `params` computed under
    `old` (in original units): the first layer absorbs the input shift and scale, the output layer
    the target shift and scale, and the log-variance head and its bounds shift by
    `2 log(old_std / new_std)` (the soft bounds commute with a common shift).

    A refit recomputes the normaliser from the grown dataset; warm-started params rescaled this
    way start the refit from the model they had learned instead of a distorted one.
    """
    layers = dict(params["net"]["params"])
    first, last = "hidden_0", "output"
    w0, b0 = layers[first]["kernel"], layers[first]["bias"]  # [E, I, H], [E, H]
    shift_in = (new.input_mean - old.input_mean) / old.input_std  # [I]
    b0 = b0 + jnp.einsum("i,eih->eh", shift_in, w0)
    w0 = w0 * (new.input_std / old.input_std)[None, :, None]
    layers[first] = {"kernel": w0, "bias": b0}

    d = config.target_dim
    ratio = old.target_std / new.target_std  # [D]
    w, b = layers[last]["kernel"], layers[last]["bias"]  # [E, H, out], [E, out]
    w = w.at[..., :d].multiply(ratio)
    b = b.at[..., :d].set(b[..., :d] * ratio + (old.target_mean - new.target_mean) / new.target_std)
    out = dict(params)
    if config.probabilistic:
        shift = 2.0 * jnp.log(ratio)  # [D], log-variance in normalised units moves by this
        b = b.at[..., d : 2 * d].add(shift)
        out["max_logvar"] = params["max_logvar"] + shift
        out["min_logvar"] = params["min_logvar"] + shift
    layers[last] = {"kernel": w, "bias": b}
    out["net"] = {**params["net"], "params": layers}
    return out
