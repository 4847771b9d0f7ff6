"""Model-predictive control over learned or known models: CEM (Chua et al. 2018, PETS) and MPPI
(Williams et al. 2017) over action sequences, particle evaluation with TS-1 / TS-inf, and the
warm-started MPC step.

    from mbrl_jax import planning
    config = planning.CEMConfig(horizon=15)
    rollout_fn = planning.ensemble_rollout_fn(model, model_state, "fixed_member")   # TS-inf
    state = planning.init_plan(config, low, high)
    objective = lambda seqs, k: planning.evaluate_action_sequences(rollout_fn, obs, seqs, k, 20)
    action, state, info = planning.plan_action(config, objective, state, key, low, high)
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
from mbrl_jax.planning.planner import (
    PlanState,
    box_middle,
    init_plan,
    optimise,
    plan_action,
    shift_plan,
)

__all__ = [
    "TERMINATIONS",
    "CEMConfig",
    "MPPIConfig",
    "Objective",
    "OptimiserConfig",
    "OptimiserResult",
    "PlanState",
    "RewardFn",
    "RolloutFn",
    "StepFn",
    "box_middle",
    "cem",
    "ensemble_rollout_fn",
    "evaluate_action_sequences",
    "init_plan",
    "mppi",
    "optimise",
    "plan_action",
    "shift_plan",
    "smooth_actions",
    "step_rollout_fn",
    "trajectory_returns",
]
