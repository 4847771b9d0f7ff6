"""Model-predictive control: optimise a plan every step, act on its first action, carry the rest
(shifted by one step) as the next step's warm start (Chua et al. 2018; Williams et al. 2017).

    state = init_plan(config, low, high)                 # PlanState, reset at each episode
    objective = lambda seqs, k: evaluate_action_sequences(rollout_fn, obs, seqs, k, 20)
    action, state, info = plan_action(config, objective, state, key, low, high)

Shapes: H = `config.horizon`, A action dims; `low`/`high` are `[A]`.
"""

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from mbrl_jax.core import validation as v
from mbrl_jax.core.errors import ConfigError
from mbrl_jax.planning.config import CEMConfig, MPPIConfig, OptimiserConfig
from mbrl_jax.planning.optimisers import Objective, OptimiserResult, cem, mppi


@struct.dataclass
class PlanState:
    """What an MPC agent carries between steps (arrays only).

    plan: [H, A] float32, the warm start of the next optimisation (the last solution shifted).
    last_action: [A] float32, the action returned last (where MPPI's smoothing starts).
    """

    plan: jax.Array
    last_action: jax.Array


def box_middle(low: Any, high: Any) -> jax.Array:
    """`(low + high) / 2` `[A]` as float32 (the neutral action plans start from and pad with);
    the MPC step takes one box for every step, `low`/`high` `[A]`."""
    v.check_rank("low", low, 1, "[A] (one box for every step)")
    v.check_rank("high", high, 1, "[A] (one box for every step)")
    return (jnp.asarray(low, jnp.float32) + jnp.asarray(high, jnp.float32)) / 2.0


def shift_plan(plan: jax.Array, fill: Any, steps: int = 1) -> jax.Array:
    """Warm start: drop the first `steps` (static) rows of `plan` `[H, A]` (already executed)
    and append `steps` rows of `fill` `[A]` (e.g. `box_middle(low, high)` or zeros).

    Example: plan [[1], [2], [3]], fill [0] -> [[2], [3], [0]]."""
    v.check_int("steps", steps, minimum=0, maximum=plan.shape[0])
    pad = jnp.broadcast_to(jnp.asarray(fill, plan.dtype), (steps,) + plan.shape[1:])
    return jnp.concatenate([plan[steps:], pad], axis=0)


def init_plan(config: OptimiserConfig, low: Any, high: Any) -> PlanState:
    """The plan of an episode's first step: every action at the box's middle."""
    config.validate()
    middle = box_middle(low, high)
    return PlanState(plan=jnp.broadcast_to(middle, (config.horizon,) + middle.shape),
                     last_action=middle)


def optimise(config: OptimiserConfig, objective: Objective, init_mean: Any, key: jax.Array,
             low: Any, high: Any, prev_action: Any = None) -> OptimiserResult:
    """`cem` or `mppi`, by the type of `config` (`prev_action` is used by MPPI only)."""
    if isinstance(config, CEMConfig):
        return cem(config, objective, init_mean, key, low, high)
    if isinstance(config, MPPIConfig):
        return mppi(config, objective, init_mean, key, low, high, prev_action)
    raise ConfigError("config", f"expected a CEMConfig or MPPIConfig, got {type(config).__name__}")


def plan_action(config: OptimiserConfig, objective: Objective, state: PlanState, key: jax.Array,
                low: Any, high: Any) -> tuple[jax.Array, PlanState, OptimiserResult]:
    """One MPC step: optimise from the warm start `state.plan`, act on the solution's first
    action, and keep the rest of it, shifted one step and padded with the box's middle, as the
    next warm start.

    Returns `(action [A], next PlanState, OptimiserResult)`; pure and jit/vmap/scan-able (close
    over `config` and `objective`).
    """
    result = optimise(config, objective, state.plan, key, low, high, state.last_action)
    action = result.solution[0]
    next_state = PlanState(plan=shift_plan(result.solution, box_middle(low, high)),
                           last_action=action)
    return action, next_state, result
