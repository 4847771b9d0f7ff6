"""Probabilistic ensembles with trajectory sampling (Chua et al. 2018): MPC with CEM or MPPI over
a bootstrapped dynamics ensemble refitted inside the compiled loop; `make_trainer` / `make_train`,
and the agent's pure functions (`make_agent`)."""

from mbrl_jax.pets.agent import REWARD_FNS, PETSAgent, PETSState, make_agent
from mbrl_jax.pets.config import (
    PLANNERS,
    PROPAGATIONS,
    REWARDS,
    TERMINATIONS,
    PETSConfig,
    PETSHParams,
    default_model,
)
from mbrl_jax.pets.train import PETSCarry, check_env, known_functions, make_train, make_trainer

__all__ = [
    "PLANNERS",
    "PROPAGATIONS",
    "REWARDS",
    "REWARD_FNS",
    "TERMINATIONS",
    "PETSAgent",
    "PETSCarry",
    "PETSConfig",
    "PETSHParams",
    "PETSState",
    "check_env",
    "default_model",
    "known_functions",
    "make_agent",
    "make_train",
    "make_trainer",
]
