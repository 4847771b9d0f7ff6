"""DreamerV3's pure building blocks (Hafner et al. 2023, sections 2-3 and appendix), unbatched
where that is natural; vmap them for batches.

- `symlog(x) = sign(x) log(1 + |x|)`, `symexp` its inverse.
- Two-hot: a scalar spread over its two neighbouring bins; bins are symexp-spaced
  (`symexp(linspace(-R, R, K))`, K odd so one bin is exactly 0), read out as the expected bin.
- Lambda-returns with per-step discounts (gamma times the predicted continue) and a bootstrap.
- Categorical KL with free bits, split into dynamics and representation terms.
- Return normaliser: EMA of the 5th-95th percentile range; returns are divided by max(1, range).
"""

import jax
import jax.numpy as jnp
import optax
from flax import struct


def symlog(x: jax.Array) -> jax.Array:
    return jnp.sign(x) * jnp.log1p(jnp.abs(x))


def symexp(x: jax.Array) -> jax.Array:
    return jnp.sign(x) * jnp.expm1(jnp.abs(x))


def make_bins(num_bins: int, bin_range: float) -> jax.Array:
    """`[K]` symexp-spaced bins, exactly symmetric around an exact 0 (K odd)."""
    half = symexp(jnp.linspace(0.0, bin_range, (num_bins + 1) // 2, dtype=jnp.float32))
    return jnp.concatenate([-half[:0:-1], half])


def twohot_encode(x: jax.Array, bins: jax.Array) -> jax.Array:
    """`x [...] -> [..., K]`: weights on the two bins around x (clipped into the bin range) that
    sum to 1 and whose weighted bin value is x."""
    x = jnp.clip(x, bins[0], bins[-1])
    # bins[above - 1] <= x < bins[above] (x at the top bin: the last pair)
    above = jnp.clip(jnp.searchsorted(bins, x, side="right"), 1, bins.shape[0] - 1)
    below = above - 1
    lo, hi = bins[below], bins[above]
    w_hi = (x - lo) / (hi - lo)
    return (jax.nn.one_hot(below, bins.shape[0]) * (1 - w_hi)[..., None]
            + jax.nn.one_hot(above, bins.shape[0]) * w_hi[..., None])


def twohot_mean(logits: jax.Array, bins: jax.Array) -> jax.Array:
    """Expected bin value of `softmax(logits) [..., K] -> [...]`. The negative and positive
    halves are summed separately from the middle outwards, so uniform probabilities (zero logits)
    give exactly 0."""
    probs = jax.nn.softmax(logits, axis=-1)
    mid = bins.shape[0] // 2
    neg = jnp.sum(probs[..., :mid][..., ::-1] * bins[:mid][::-1], axis=-1)
    pos = jnp.sum(probs[..., mid + 1:] * bins[mid + 1:], axis=-1)
    return neg + pos


def twohot_loss(logits: jax.Array, target: jax.Array, bins: jax.Array) -> jax.Array:
    """Cross-entropy of `logits [..., K]` against the two-hot encoding of `target [...]`."""
    return optax.softmax_cross_entropy(logits, twohot_encode(target, bins))


def lambda_returns(r_t: jax.Array, discount_t: jax.Array, v_t: jax.Array,
                   lambda_: float) -> jax.Array:
    """`G_t = r_t + discount_t ((1 - lambda) v_t + lambda G_{t+1})`, `G` after the last step is
    `v_t[-1]` (the bootstrap). All inputs `[T]`, entries t belonging to the step that arrives at
    state t+1 (rlax's convention); returns `[T]`."""

    def backward(g_next, xs):
        r, d, v = xs
        g = r + d * ((1 - lambda_) * v + lambda_ * g_next)
        return g, g

    _, returns = jax.lax.scan(backward, v_t[-1], (r_t, discount_t, v_t), reverse=True)
    return returns


def categorical_kl(logits_p: jax.Array, logits_q: jax.Array) -> jax.Array:
    """KL(p || q) of independent categoricals `[..., G, C]`, summed over the G groups -> `[...]`."""
    logp, logq = jax.nn.log_softmax(logits_p), jax.nn.log_softmax(logits_q)
    return jnp.sum(jnp.exp(logp) * (logp - logq), axis=(-2, -1))


def kl_losses(post_logits: jax.Array, prior_logits: jax.Array, free_bits: float):
    """DreamerV3's KL balancing: `(dyn, rep)`, each `[...]`, each clipped below at `free_bits`.

    dyn = max(free_bits, KL(sg(posterior) || prior)) trains the prior (dynamics);
    rep = max(free_bits, KL(posterior || sg(prior))) trains the posterior (representation).
    """
    sg = jax.lax.stop_gradient
    dyn = categorical_kl(sg(post_logits), prior_logits)
    rep = categorical_kl(post_logits, sg(prior_logits))
    return jnp.maximum(dyn, free_bits), jnp.maximum(rep, free_bits)


@struct.dataclass
class ReturnNormState:
    """EMAs of the 5th and 95th percentiles of lambda-returns (scalars, float32)."""

    low: jax.Array
    high: jax.Array

    @classmethod
    def create(cls) -> "ReturnNormState":
        return cls(low=jnp.float32(0.0), high=jnp.float32(0.0))


def update_return_norm(state: ReturnNormState, returns: jax.Array, rate: float):
    """Move the percentile EMAs towards the batch's `returns [...]`; returns `(state, scale)`
    with `scale = max(1, high - low)`: large return ranges are scaled down, small ones are never
    scaled up."""
    low = jnp.percentile(returns, 5.0)
    high = jnp.percentile(returns, 95.0)
    state = ReturnNormState(low=(1 - rate) * state.low + rate * low,
                            high=(1 - rate) * state.high + rate * high)
    return state, jnp.maximum(1.0, state.high - state.low)


def reinforce_advantage(returns: jax.Array, values: jax.Array, weight: jax.Array,
                        scale: jax.Array, center: bool) -> jax.Array:
    """`(G_t - v(s_t)) / scale`, all `[H, N]`; with `center` (static), minus its `weight`-weighted
    mean over the batch. A critic that lags its rising targets adds the same positive offset to
    every advantage; centring removes it, so it no longer multiplies every score function."""
    adv = (returns - values) / scale
    if center:
        adv = adv - jnp.sum(weight * adv) / jnp.maximum(jnp.sum(weight), 1e-8)
    return adv


__all__ = [
    "ReturnNormState",
    "categorical_kl",
    "kl_losses",
    "lambda_returns",
    "make_bins",
    "reinforce_advantage",
    "symexp",
    "symlog",
    "twohot_encode",
    "twohot_loss",
    "twohot_mean",
    "update_return_norm",
]
