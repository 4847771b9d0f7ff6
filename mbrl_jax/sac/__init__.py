"""Soft actor-critic (Haarnoja et al. 2018): twin critics with Polyak targets, a tanh-squashed
Gaussian actor, automatic entropy temperature; pure `init / act / update` and a `Trainer`."""

from mbrl_jax.sac.agent import SACAgent, SACState, make_agent
from mbrl_jax.sac.config import SACConfig, SACHParams
from mbrl_jax.sac.networks import SACNetworks, make_networks
from mbrl_jax.sac.train import (
    SACCarry,
    check_env,
    make_agent_for_env,
    make_train,
    make_trainer,
)

__all__ = [
    "SACAgent",
    "SACCarry",
    "SACConfig",
    "SACHParams",
    "SACNetworks",
    "SACState",
    "check_env",
    "make_agent",
    "make_agent_for_env",
    "make_networks",
    "make_train",
    "make_trainer",
]
