"""Optimiser configurations of the MPC planner: static shapes and loop lengths, validated before
tracing.

Shapes: H = `horizon`, A action dims, P = `population_size`, K = `num_elites`, I iterations.
"""

import dataclasses

import numpy as np

from mbrl_jax.core.errors import ConfigError
from mbrl_jax.core.validation import check_int, check_range


@dataclasses.dataclass(frozen=True)
class CEMConfig:
    """Cross-entropy method over action sequences `[H, A]` in a box (Chua et al. 2018, PETS).

    Each iteration samples P sequences from a Gaussian `N(mean, var)` truncated at two standard
    deviations, with the variance capped per entry by `(distance to the nearer bound / 2)^2` so
    every sample lies in the box; scores them; and moves the mean and variance towards those of
    the K best (the elites): `mean <- alpha * mean + (1 - alpha) * elite_mean`, the same for the
    variance (population variance of the elites). The first iteration starts from the given mean
    (the warm start) and the variance `((high - low) / 4)^2`.

    With `clipped_normal` (as mbrl-lib's option) the samples are drawn from the untruncated,
    uncapped Gaussian and clipped to the box instead: clipped samples sit on the bounds, so an
    optimum on a bound (bang-bang control) is reached at once rather than approached
    geometrically as the cap shrinks the variance near it.

    Attributes:
      horizon: H, steps of each action sequence.
      population_size: P, sequences sampled per iteration (PETS: 500).
      num_elites: K, best sequences that refit the Gaussian (PETS: 50, a tenth of P).
      num_iterations: I, sample-and-refit rounds per call (PETS: 5).
      alpha: weight of the previous mean and variance in each refit, in [0, 1) (PETS: 0.1).
      return_mean_elites: the solution is the final mean (True, as PETS); False returns the best
        sequence sampled in any iteration.
      clipped_normal: sample an untruncated Gaussian and clip it to the box (see above) instead
        of PETS's truncated, capped one.
    """

    horizon: int = 15
    population_size: int = 500
    num_elites: int = 50
    num_iterations: int = 5
    alpha: float = 0.1
    return_mean_elites: bool = True
    clipped_normal: bool = False

    def validate(self) -> "CEMConfig":
        """Raise `ConfigError` naming the field to change; return self when usable."""
        check_int("horizon", self.horizon, minimum=1)
        check_int("population_size", self.population_size, minimum=1)
        check_int("num_elites", self.num_elites, minimum=1)
        if self.num_elites > self.population_size:
            raise ConfigError("num_elites", f"must be <= population_size={self.population_size}"
                                            f", got {self.num_elites}")
        check_int("num_iterations", self.num_iterations, minimum=1)
        check_range("alpha", self.alpha, 0.0, 1.0, high_open=True)
        _check_bool("return_mean_elites", self.return_mean_elites)
        _check_bool("clipped_normal", self.clipped_normal)
        return self


@dataclasses.dataclass(frozen=True)
class MPPIConfig:
    """Model-predictive path integral control (Williams et al. 2017, "Information Theoretic MPC
    for Model-Based Reinforcement Learning"), with the action smoothing of mbrl-lib's MPPI.

    Each iteration perturbs the mean with Gaussian noise `eps ~ N(0, std^2)`, smooths the result
    in time, `u_t = beta * (mean_t + eps_t) + (1 - beta) * u_{t-1}` from `u_{-1}` = the action
    executed before (beta = 1: independent noise per step; smaller beta: noise correlated across
    steps and plans that start near the previous action), clips to the box, scores the P
    sequences and sets the mean to their average weighted by `exp((R - max R) / temperature)`.
    The information-theoretic control-cost term of Williams et al. is left out, as in mbrl-lib.

    Attributes:
      horizon: H, steps of each action sequence.
      population_size: P, sequences sampled per iteration (mbrl-lib: 350).
      num_iterations: I, perturb-and-reweight rounds per call (mbrl-lib: 5).
      temperature: lambda > 0; mbrl-lib's reward-weighting factor `gamma` is `1 / lambda`
        (mbrl-lib: gamma = 10, lambda = 0.1). Small: the best sequence takes all the weight.
      noise_std: standard deviation of eps in units of the box's half-width `(high - low) / 2`
        (mbrl-lib's sigma for actions in [-1, 1]: 1.0).
      beta: smoothing coefficient in (0, 1] (mbrl-lib: 0.9).
    """

    horizon: int = 15
    population_size: int = 350
    num_iterations: int = 5
    temperature: float = 0.1
    noise_std: float = 1.0
    beta: float = 0.9

    def validate(self) -> "MPPIConfig":
        """Raise `ConfigError` naming the field to change; return self when usable."""
        check_int("horizon", self.horizon, minimum=1)
        check_int("population_size", self.population_size, minimum=1)
        check_int("num_iterations", self.num_iterations, minimum=1)
        check_range("temperature", self.temperature, 0.0, np.inf, low_open=True, high_open=True)
        check_range("noise_std", self.noise_std, 0.0, np.inf, low_open=True, high_open=True)
        check_range("beta", self.beta, 0.0, 1.0, low_open=True)
        return self


def _check_bool(field: str, value) -> None:
    if not isinstance(value, bool | np.bool_):
        raise ConfigError(field, f"must be True or False, got {value!r}")


OptimiserConfig = CEMConfig | MPPIConfig
"""Either optimiser's config; `plan_action` dispatches on its type."""
