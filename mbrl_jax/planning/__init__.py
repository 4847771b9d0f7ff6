"""Model-predictive control: CEM (Chua et al. 2018, PETS) and MPPI (Williams et al. 2017) over
action sequences in a box."""

from mbrl_jax.planning.config import CEMConfig, MPPIConfig, OptimiserConfig
from mbrl_jax.planning.optimisers import (
    Objective,
    OptimiserResult,
    cem,
    mppi,
    smooth_actions,
)


def optimise(config, objective, init_mean, key, low, high, prev_action=None):
    """`cem` or `mppi`, by the type of `config` (`prev_action` is used by MPPI only)."""
    if isinstance(config, CEMConfig):
        return cem(config, objective, init_mean, key, low, high)
    return mppi(config, objective, init_mean, key, low, high, prev_action)


__all__ = ["CEMConfig", "MPPIConfig", "Objective", "OptimiserConfig", "OptimiserResult", "cem",
           "mppi", "optimise", "smooth_actions"]
