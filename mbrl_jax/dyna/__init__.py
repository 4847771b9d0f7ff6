"""Tabular Dyna-Q and Dyna-Q+ (Sutton & Barto, 2nd ed., chapter 8)."""

from mbrl_jax.dyna.agent import (
    DynaState,
    TableModel,
    act,
    draw_pairs,
    init_state,
    plan,
    planning_batch,
    q_learning_update,
    update,
    update_model,
)
from mbrl_jax.dyna.config import DynaConfig, DynaHParams
from mbrl_jax.dyna.train import DynaCarry, make_train, make_trainer

__all__ = [
    "DynaCarry",
    "DynaConfig",
    "DynaHParams",
    "DynaState",
    "TableModel",
    "act",
    "draw_pairs",
    "init_state",
    "make_train",
    "make_trainer",
    "plan",
    "planning_batch",
    "q_learning_update",
    "update",
    "update_model",
]
