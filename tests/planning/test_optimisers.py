"""CEM and MPPI against known optima and hand-worked single iterations; config validation;
determinism, jit and vmap."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import tree_equal

from mbrl_jax.core.errors import ConfigError, InputError
from mbrl_jax.planning import CEMConfig, MPPIConfig, cem, mppi, optimise, smooth_actions

H, A = 4, 2
LOW, HIGH = np.array([-1.0, -2.0], np.float32), np.array([1.0, 2.0], np.float32)


def quadratic(target):
    """Returns -|u - target|^2 summed over the sequence: the optimum is `target` [H, A]."""
    target = jnp.asarray(target, jnp.float32)
    return lambda seqs, key: -jnp.sum(jnp.square(seqs - target), axis=(1, 2))


INSIDE = np.array([[0.3, -1.2], [-0.5, 0.4], [0.8, 1.5], [0.0, -0.7]], np.float32)
CEM = CEMConfig(horizon=H, population_size=500, num_elites=50, num_iterations=12)  # PETS P, K
MPPI = MPPIConfig(horizon=H, population_size=300, num_iterations=25, temperature=0.05,
                  noise_std=0.1, beta=1.0)


OUTSIDE = INSIDE.copy()
OUTSIDE[0] = [1.7, -3.0]  # both past their bound
OUTSIDE[2, 1] = 2.5


def _errors(config, target, key):
    """|solution - clip(target)| over 8 seeds `[8, H, A]`, and the results."""
    def run(key):
        return optimise(config, quadratic(target), jnp.zeros((H, A)), key, LOW, HIGH)

    result = jax.jit(jax.vmap(run))(jax.random.split(key, 8))
    return np.abs(np.asarray(result.solution) - np.clip(target, LOW, HIGH)), result


# Thresholds: over 64 seeds the worst entry and the mean error were, inside: CEM 0.096 / 0.0012
# (an occasional premature collapse of the variance), clipped CEM 0.002 / 0.0005, MPPI 0.034 /
# 0.009; outside: CEM (20 iterations) 0.27 / 0.009, clipped 0.026 / 0.002, MPPI 0.056 / 0.010.
@pytest.mark.parametrize("config, worst, mean", [
    (CEM, 0.15, 0.005),
    (dataclasses.replace(CEM, clipped_normal=True), 0.01, 0.002),
    (MPPI, 0.05, 0.015),
], ids=["cem", "cem_clipped", "mppi"])
def test_finds_an_interior_optimum(config, worst, mean):
    error, result = _errors(config, INSIDE, jax.random.key(0))
    assert error.max() < worst and error.mean() < mean
    assert np.all(result.best_return <= 0.0) and np.all(result.best_return > -0.1)
    assert result.mean_returns.shape == (8, config.num_iterations)
    assert np.all(result.mean_returns[:, -1] > result.mean_returns[:, 0])  # it improved


@pytest.mark.parametrize("config, worst, mean", [
    # PETS's truncated, capped sampling approaches a bound only geometrically (the cap shrinks
    # the variance near it), and the bound entries dominate the selection: slower and noisier
    (dataclasses.replace(CEM, num_iterations=20), 0.35, 0.02),
    (dataclasses.replace(CEM, clipped_normal=True), 0.04, 0.005),
    (MPPI, 0.08, 0.015),
], ids=["cem", "cem_clipped", "mppi"])
def test_optimum_outside_the_box_is_clipped_to_the_bound(config, worst, mean):
    # target beyond the box in some entries: the constrained optimum is the target clipped
    error, result = _errors(config, OUTSIDE, jax.random.key(1))
    assert error.max() < worst and error.mean() < mean
    for x in (result.solution, result.best_sequence):
        assert np.all(x >= LOW) and np.all(x <= HIGH)


def _linear(seqs, key):
    del key
    return seqs[:, 0, 0]  # higher first action of dim 0 is better


def test_cem_one_iteration_refit_by_hand():
    # one elite, one iteration: mean <- alpha * init + (1 - alpha) * (the best sample)
    init = np.full((H, A), 0.2, np.float32)
    config = CEMConfig(horizon=H, population_size=50, num_elites=1, num_iterations=1, alpha=0.3)
    result = cem(config, _linear, init, jax.random.key(2), LOW, HIGH)
    np.testing.assert_allclose(result.solution, 0.3 * init + 0.7 * result.best_sequence,
                               rtol=1e-6, atol=1e-6)
    # the same number; XLA may compute the sample twice (once per fusion), so allow one rounding
    np.testing.assert_allclose(result.best_return, result.best_sequence[0, 0], rtol=1e-6)
    # return_mean_elites=False acts on the best sequence itself
    best = cem(dataclasses.replace(config, return_mean_elites=False), _linear, init,
               jax.random.key(2), LOW, HIGH)
    assert tree_equal(best.solution, result.best_sequence)


def test_cem_sampling_scale_and_bound_cap():
    # all samples are elites and alpha = 0, so the refitted std is the samples' std. In the box
    # middle the std is a quarter of the width, (2 / 4 = 0.5 and 4 / 4 = 1.0), and the normal is
    # truncated at 2 std: its std is sqrt(1 - 4 phi(2) / (Phi(2) - Phi(-2))) = 0.8796 of that.
    # At 0.9 in [-1, 1] the variance is capped so mean + 2 std reaches the bound: std 0.05.
    # clipped_normal: no cap, the normal clipped at the bounds (2 std away in the middle) has
    # std sqrt(Phi(2) - Phi(-2) - 4 phi(2) + 8 (1 - Phi(2))) = 0.9594 of it; at 0.9 the std
    # 0.5 normal clipped at 1 (0.2 std above) and -1 (3.8 below): 0.5 * 0.6508 (by quadrature).
    init = np.zeros((H, A), np.float32)
    init[1, 0] = 0.9
    config = CEMConfig(horizon=H, population_size=20_000, num_elites=20_000, num_iterations=1,
                       alpha=0.0)
    for clipped, factor, at_09 in [(False, 0.8796, 0.05 * 0.8796), (True, 0.9594, 0.5 * 0.6508)]:
        result = cem(dataclasses.replace(config, clipped_normal=clipped),
                     lambda s, k: jnp.zeros(s.shape[0]), init, jax.random.key(3), LOW, HIGH)
        want = np.broadcast_to(np.array([0.5, 1.0]) * factor, (H, A)).copy()
        want[1, 0] = at_09
        np.testing.assert_allclose(result.std, want, rtol=0.02)
        if not clipped:
            np.testing.assert_allclose(result.solution, init, atol=0.02)


def test_mppi_one_iteration_matches_the_gaussian_product():
    # With R(u) = -(u - t)^2 and u ~ N(m, s^2), the weights exp(R / lambda) make the expected
    # weighted mean the mean of the product N(m, s^2) * N(t, lambda / 2):
    # (m / s^2 + 2 t / lambda) / (1 / s^2 + 2 / lambda). Here m = 0, t = 0.6, lambda = 0.5 and
    # s = 0.5 (noise_std 0.05 of the half-width 10, a box wide enough to clip nothing):
    # (0 + 2.4) / (4 + 4) = 0.3.
    config = MPPIConfig(horizon=1, population_size=50_000, num_iterations=1, temperature=0.5,
                        noise_std=0.05, beta=1.0)
    low, high = np.array([-10.0], np.float32), np.array([10.0], np.float32)
    result = mppi(config, quadratic([[0.6]]), np.zeros((1, 1)), jax.random.key(4), low, high)
    np.testing.assert_allclose(result.solution, [[0.3]], atol=0.01)
    np.testing.assert_allclose(result.std, [[0.5]])


def test_mppi_low_temperature_takes_the_best_sample():
    config = MPPIConfig(horizon=H, population_size=64, num_iterations=1, temperature=1e-6)
    result = mppi(config, quadratic(INSIDE), np.zeros((H, A)), jax.random.key(5), LOW, HIGH)
    np.testing.assert_allclose(result.solution, result.best_sequence, atol=1e-6)
    hot = mppi(dataclasses.replace(config, temperature=1e6), quadratic(INSIDE),
               np.zeros((H, A)), jax.random.key(5), LOW, HIGH)
    assert np.abs(np.asarray(hot.solution - hot.best_sequence)).max() > 0.1  # averaged instead


def test_smooth_actions_by_hand():
    # u_t = 0.5 x_t + 0.5 u_{t-1}, u_{-1} = 2: x = [0, 4, 4] -> u = [1, 2.5, 3.25]
    x = np.array([[[0.0], [4.0], [4.0]]], np.float32)  # [P=1, H=3, A=1]
    np.testing.assert_allclose(smooth_actions(x, np.array([2.0]), 0.5),
                               [[[1.0], [2.5], [3.25]]])
    assert tree_equal(smooth_actions(x, np.array([2.0]), 1.0), jnp.asarray(x))


def test_mppi_smoothing_starts_from_the_previous_action():
    # beta small: every sample, so the mean, stays near the previous action in its first step
    config = MPPIConfig(horizon=H, population_size=32, num_iterations=1, beta=0.05,
                        noise_std=0.1)
    prev = np.array([0.9, -1.8], np.float32)
    result = mppi(config, _linear, np.zeros((H, A)), jax.random.key(6), LOW, HIGH, prev)
    np.testing.assert_allclose(result.solution[0], 0.95 * prev, atol=0.05)


@pytest.mark.parametrize("config", [CEM, MPPI], ids=["cem", "mppi"])
def test_non_finite_returns_count_as_worst(config):
    def objective(seqs, key):  # NaN for every sequence whose first action is positive
        r = quadratic(INSIDE)(seqs, key)
        return jnp.where(seqs[:, 0, 0] > 0, jnp.nan, r)

    result = optimise(config, objective, np.zeros((H, A)), jax.random.key(7), LOW, HIGH)
    assert np.isfinite(result.best_return) and result.best_sequence[0, 0] <= 0
    assert np.all(np.isfinite(result.solution))


@pytest.mark.parametrize("config", [CEM, MPPI], ids=["cem", "mppi"])
def test_deterministic_jit_and_vmap(config):
    def run(key):
        return optimise(config, quadratic(INSIDE), jnp.zeros((H, A)), key, LOW, HIGH)

    keys = jax.random.split(jax.random.key(8), 3)
    single = [run(k) for k in keys]
    assert tree_equal(run(keys[0]), single[0])  # same key, same result
    assert not tree_equal(single[0].solution, single[1].solution)  # the key matters
    jitted = jax.jit(run)
    for k, want in zip(keys, single, strict=True):
        np.testing.assert_allclose(jitted(k).solution, want.solution, rtol=1e-5, atol=1e-6)
    batched = jax.jit(jax.vmap(run))(keys)
    for i, want in enumerate(single):
        got = jax.tree.map(lambda x, i=i: x[i], batched)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("config, field", [
    (CEMConfig(horizon=0), "horizon"),
    (CEMConfig(population_size=10, num_elites=11), "num_elites"),
    (CEMConfig(num_iterations=0), "num_iterations"),
    (CEMConfig(alpha=1.0), "alpha"),
    (CEMConfig(return_mean_elites="yes"), "return_mean_elites"),
    (MPPIConfig(population_size=0), "population_size"),
    (MPPIConfig(temperature=0.0), "temperature"),
    (MPPIConfig(noise_std=-1.0), "noise_std"),
    (MPPIConfig(beta=0.0), "beta"),
    (MPPIConfig(beta=1.5), "beta"),
])
def test_config_errors_name_the_field(config, field):
    with pytest.raises(ConfigError) as err:
        optimise(config, quadratic(INSIDE), np.zeros((config.horizon or 1, A)),
                 jax.random.key(0), LOW, HIGH)
    assert err.value.field == field


def test_input_errors():
    with pytest.raises(InputError, match="init_mean"):
        cem(CEM, quadratic(INSIDE), np.zeros((H + 1, A)), jax.random.key(0), LOW, HIGH)
    with pytest.raises(InputError, match="high"):
        cem(CEM, quadratic(INSIDE), np.zeros((H, A)), jax.random.key(0), LOW, HIGH[:1])
    with pytest.raises(InputError, match="low"):
        cem(CEM, quadratic(INSIDE), np.zeros((H, A)), jax.random.key(0), HIGH, LOW)
    with pytest.raises(InputError, match="objective"):
        cem(CEM, lambda s, k: jnp.zeros(3), np.zeros((H, A)), jax.random.key(0), LOW, HIGH)
