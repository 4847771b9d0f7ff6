"""Sampling-based optimisers of action sequences in a box: CEM (Chua et al. 2018) and MPPI
(Williams et al. 2017), pure functions of a key, one `lax.scan` over the iterations.

    result = cem(CEMConfig(horizon=15), objective, init_mean, key, low, high)
    result.solution  # [H, A], the plan to act on

The objective is `objective(action_sequences [P, H, A], key) -> returns [P]` (higher is better);
it is called once per iteration, inside the scan, so it is traced once. Non-finite returns (a
model that diverged) count as the worst possible (-inf).

Shapes: P population, H horizon, A action dims, K elites; bounds `low`/`high` are `[A]` (the same
box every step) or `[H, A]`.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mbrl_jax.core import validation as v
from mbrl_jax.core.errors import InputError
from mbrl_jax.planning.config import CEMConfig, MPPIConfig

Objective = Callable[[jax.Array, jax.Array], jax.Array]
"""`objective(action_sequences [P, H, A], key) -> returns [P]`, higher is better."""

_TRUNCATION = 2.0  # CEM samples a standard normal truncated to [-2, 2] (PETS, mbrl-lib)


class OptimiserResult(NamedTuple):
    """What an optimiser returns.

    solution: [H, A] the plan to act on (CEM: the final mean, or the best sequence with
      `return_mean_elites=False`; MPPI: the final weighted mean), inside the box.
    best_sequence: [H, A] the highest-scoring sequence sampled in any iteration.
    best_return: [] its objective value (-inf if no sample had a finite return).
    mean_returns: [I] the population's mean finite return at each iteration (NaN when none).
    std: [H, A] the sampling distribution's std at the end (CEM: the square root of the refitted
      variance, before the cap at the bounds; MPPI: the fixed noise std), a convergence gauge.
    """

    solution: jax.Array
    best_sequence: jax.Array
    best_return: jax.Array
    mean_returns: jax.Array
    std: jax.Array


def _box(init_mean: Any, low: Any, high: Any, horizon: int):
    """Check shapes (always) and `low < high` (when concrete); return float32 `[H, A]` arrays."""
    init_mean, low, high = v.as_arrays((init_mean, low, high))
    v.check_rank("init_mean", init_mean, 2, f"[horizon={horizon}, A]")
    v.check_shape("init_mean", init_mean, (horizon, None), f"[horizon={horizon}, A]")
    shape = init_mean.shape
    for name, bound in (("low", low), ("high", high)):
        if bound.shape not in (shape[1:], shape):
            raise InputError(name, f"expected shape [A={shape[1]}] or [H={shape[0]}, "
                                   f"A={shape[1]}] (as init_mean), got {tuple(bound.shape)}")
    if v.is_concrete((low, high)) and not np.all(np.asarray(low) < np.asarray(high)):
        raise InputError("low", f"must be below high everywhere, got low={low}, high={high}")
    f32 = lambda x: jnp.broadcast_to(x, shape).astype(jnp.float32)  # noqa: E731
    return f32(init_mean), f32(low), f32(high)


def _finite_or_worst(returns: jax.Array, population: int) -> jax.Array:
    """Returns `[P]` as float32 with NaN/inf replaced by -inf (the worst)."""
    v.check_shape("objective(action_sequences, key)", returns, (population,),
                  f"[P={population}] returns")
    returns = returns.astype(jnp.float32)
    return jnp.where(jnp.isfinite(returns), returns, -jnp.inf)


def _mean_finite(returns: jax.Array) -> jax.Array:
    ok = jnp.isfinite(returns)
    return jnp.where(ok, returns, 0.0).sum() / ok.sum()  # NaN when none is finite


def _track_best(best, population, returns):
    """Keep the best (sequence, return) seen: `best` `([H, A], [])`."""
    i = jnp.argmax(returns)
    better = returns[i] > best[1]
    return (jnp.where(better, population[i], best[0]), jnp.where(better, returns[i], best[1]))


def cem(config: CEMConfig, objective: Objective, init_mean: Any, key: jax.Array, low: Any,
        high: Any) -> OptimiserResult:
    """Cross-entropy method from `init_mean` `[H, A]` (the warm start) in the box [low, high].

    See `CEMConfig` for the update. Deterministic given `key`; jit/vmap-able (pass `config` and
    `objective` by closure). Returns an `OptimiserResult` whose solution lies in the box.
    """
    config.validate()
    mean, low, high = _box(init_mean, low, high, config.horizon)
    mean = jnp.clip(mean, low, high)
    p, k, alpha = config.population_size, config.num_elites, config.alpha
    var = jnp.square(high - low) / 16.0  # std = a quarter of the box width

    def iteration(carry, it_key):
        mean, var, best = carry
        sample_key, objective_key = jax.random.split(it_key)
        if config.clipped_normal:
            noise = jax.random.normal(sample_key, (p,) + mean.shape, jnp.float32)  # [P, H, A]
            population = jnp.clip(mean + noise * jnp.sqrt(var), low, high)
        else:  # truncated at 2 std, the variance capped so mean +- 2 std stays in the box (PETS)
            room = jnp.minimum(mean - low, high - mean)
            capped_var = jnp.minimum(jnp.square(room / _TRUNCATION), var)
            noise = jax.random.truncated_normal(sample_key, -_TRUNCATION, _TRUNCATION,
                                                (p,) + mean.shape, jnp.float32)  # [P, H, A]
            population = jnp.clip(mean + noise * jnp.sqrt(capped_var), low, high)  # rounding
        returns = _finite_or_worst(objective(population, objective_key), p)  # [P]
        _, elite_idx = jax.lax.top_k(returns, k)
        elites = population[elite_idx]  # [K, H, A]
        mean = alpha * mean + (1.0 - alpha) * elites.mean(0)
        var = alpha * var + (1.0 - alpha) * elites.var(0)
        best = _track_best(best, population, returns)
        return (mean, var, best), _mean_finite(returns)

    best0 = (mean, jnp.float32(-jnp.inf))
    keys = jax.random.split(key, config.num_iterations)
    (mean, var, best), mean_returns = jax.lax.scan(iteration, (mean, var, best0), keys)
    solution = mean if config.return_mean_elites else best[0]
    return OptimiserResult(jnp.clip(solution, low, high), best[0], best[1], mean_returns,
                           jnp.sqrt(var))


def smooth_actions(noisy: jax.Array, prev_action: jax.Array, beta: float) -> jax.Array:
    """MPPI's smoothing in time: `u_t = beta * noisy_t + (1 - beta) * u_{t-1}`, `u_{-1}` =
    `prev_action`. noisy: `[..., H, A]` (e.g. `[P, H, A]`), prev_action: `[A]`; returns the
    shape of `noisy`. beta = 1 returns `noisy`."""
    steps = jnp.moveaxis(noisy, -2, 0)  # [H, ..., A]

    def step(u_prev, x_t):
        u_t = beta * x_t + (1.0 - beta) * u_prev
        return u_t, u_t

    start = jnp.broadcast_to(prev_action, steps.shape[1:]).astype(steps.dtype)
    _, smoothed = jax.lax.scan(step, start, steps)
    return jnp.moveaxis(smoothed, 0, -2)


def mppi(config: MPPIConfig, objective: Objective, init_mean: Any, key: jax.Array, low: Any,
         high: Any, prev_action: Any = None) -> OptimiserResult:
    """MPPI from `init_mean` `[H, A]` (the warm start) in the box [low, high].

    prev_action: `[A]` the action executed before this plan (where the smoothing starts); None
    takes `init_mean[0]`. See `MPPIConfig` for the update. Deterministic given `key`;
    jit/vmap-able. Returns an `OptimiserResult` whose solution lies in the box.
    """
    config.validate()
    mean, low, high = _box(init_mean, low, high, config.horizon)
    mean = jnp.clip(mean, low, high)
    if prev_action is None:
        prev_action = mean[0]
    prev_action = jnp.asarray(prev_action, jnp.float32)
    v.check_shape("prev_action", prev_action, mean.shape[1:], f"[A={mean.shape[1]}]")
    p = config.population_size
    std = config.noise_std * (high - low) / 2.0  # [H, A]

    def iteration(carry, it_key):
        mean, best = carry
        noise_key, objective_key = jax.random.split(it_key)
        noise = std * jax.random.normal(noise_key, (p,) + mean.shape, jnp.float32)  # [P, H, A]
        population = smooth_actions(mean + noise, prev_action, config.beta)
        population = jnp.clip(population, low, high)
        returns = _finite_or_worst(objective(population, objective_key), p)  # [P]
        any_finite = jnp.isfinite(returns).any()
        weights = jax.nn.softmax(jnp.where(any_finite, returns, 0.0) / config.temperature)
        mean = jnp.einsum("p,pha->ha", weights, population)
        best = _track_best(best, population, returns)
        return (mean, best), _mean_finite(returns)

    best0 = (mean, jnp.float32(-jnp.inf))
    keys = jax.random.split(key, config.num_iterations)
    (mean, best), mean_returns = jax.lax.scan(iteration, (mean, best0), keys)
    return OptimiserResult(jnp.clip(mean, low, high), best[0], best[1], mean_returns, std)
