"""Model-predictive control over learned or known models: CEM (Chua et al. 2018, PETS) and MPPI
(Williams et al. 2017) over action sequences, particle evaluation with TS-1 / TS-inf.

    from mbrl_jax import planning
    config = planning.CEMConfig(horizon=15)
    rollout_fn = planning.ensemble_rollout_fn(model, model_state, "fixed_member")   # TS-inf
    objective = lambda seqs, k: planning.evaluate_action_sequences(rollout_fn, obs, seqs, k, 20)
    plan = planning.cem(config, objective, init_mean, key, low, high).solution
"""

from mbrl_jax.planning.config import CEMConfig, MPPIConfig, OptimiserConfig
from mbrl_jax.planning.evaluation import (
    TERMINATIONS,
    RewardFn,
    RolloutFn,
    StepFn,
    ensemble_rollout_fn,
    evaluate_action_sequences,
    step_rollout_fn,
    trajectory_returns,
)
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


__all__ = [
    "TERMINATIONS",
    "CEMConfig",
    "MPPIConfig",
    "Objective",
    "OptimiserConfig",
    "OptimiserResult",
    "RewardFn",
    "RolloutFn",
    "StepFn",
    "cem",
    "ensemble_rollout_fn",
    "evaluate_action_sequences",
    "mppi",
    "optimise",
    "smooth_actions",
    "step_rollout_fn",
    "trajectory_returns",
]
