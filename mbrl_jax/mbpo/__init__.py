"""Model-based policy optimisation (Janner et al. 2019): SAC on short branched rollouts of a
dynamics ensemble refitted inside the compiled loop; `make_trainer` / `make_train`."""

from mbrl_jax.mbpo.config import MBPOConfig
from mbrl_jax.mbpo.rollouts import (
    TERMINATION_FNS,
    RolloutStats,
    branched_rollouts,
    horizon,
    mixed_batch,
    num_real,
    rollout_mask,
)
from mbrl_jax.mbpo.train import MBPOCarry, MBPOState, make_train, make_trainer

__all__ = [
    "TERMINATION_FNS",
    "MBPOCarry",
    "MBPOConfig",
    "MBPOState",
    "RolloutStats",
    "branched_rollouts",
    "horizon",
    "make_train",
    "make_trainer",
    "mixed_batch",
    "num_real",
    "rollout_mask",
]
