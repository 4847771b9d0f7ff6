"""The PETS agent (Chua et al. 2018): a dynamics ensemble and a warm-started MPC planner over it,
as pure functions.

    agent = make_agent(config, envs.spec(env, env_params), reward_fn, termination_fn)
    state = agent.init(key)                                   # PETSState (the ensemble)
    plan = agent.initial_plan()                               # PlanState, at each episode start
    action, plan, info = agent.act(state, plan, obs, key, hparams)   # obs [O] -> action [A]
    state, fit_info = agent.update(state, buffer_state, key)  # refit on the buffer's rows

`act` plans for one observation (vmap it over parallel envs); the plan it returns, the solution
shifted by one step, is the warm start of the next call, so callers carry it between steps and
reset it to `initial_plan()` when an episode ends.

Shapes: O obs dims, A action dims, H horizon, P candidates, N particles per candidate.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from mbrl_jax import planning
from mbrl_jax.core import buffer
from mbrl_jax.envs.specs import EnvSpec
from mbrl_jax.models import EnsembleModel, EnsembleState, FitInfo, make_ensemble
from mbrl_jax.pets.config import PETSConfig, PETSHParams


def _pendulum_reward(obs, action, next_obs):
    """gymnax Pendulum-v1: -(theta^2 + 0.1 theta_dot^2 + 0.001 u^2) on the state before the step,
    theta = atan2(sin, cos) in [-pi, pi], u clipped to the max torque 2."""
    del next_obs
    u = jnp.clip(action[0], -2.0, 2.0)
    return -(jnp.arctan2(obs[1], obs[0]) ** 2 + 0.1 * obs[2] ** 2 + 0.001 * u**2)


def _mountain_car_reward(obs, action, next_obs):
    """gymnax MountainCarContinuous-v0: -0.1 a^2, plus 100 on reaching position >= 0.45 with
    velocity >= 0 (on the state after the step)."""
    del obs
    goal = (next_obs[0] >= 0.45) & (next_obs[1] >= 0.0)
    return -0.1 * action[0] ** 2 + 100.0 * goal.astype(jnp.float32)


REWARD_FNS: dict[str, planning.RewardFn] = {
    "Pendulum-v1": _pendulum_reward,
    "MountainCarContinuous-v0": _mountain_car_reward,
}
"""Known `reward_fn(obs [O], action [A], next_obs [O]) -> reward []` per env id (PETS plans with
the task's reward function and learns only the dynamics)."""


@struct.dataclass
class PETSState:
    """What PETS learns: the dynamics ensemble."""

    model: EnsembleState


class PETSAgent(NamedTuple):
    """init(key) -> PETSState; initial_plan() -> PlanState;
    act(state, plan, obs [O], key, hparams=None, explore=False) -> (action [A], plan, info);
    update(state, buffer_state, key) -> (state, FitInfo). See the module docstring."""

    init: Callable[[jax.Array], PETSState]
    initial_plan: Callable[[], planning.PlanState]
    act: Callable[..., tuple[jax.Array, planning.PlanState, dict]]
    update: Callable[[PETSState, buffer.BufferState, jax.Array], tuple[PETSState, FitInfo]]
    model: EnsembleModel


def make_agent(config: PETSConfig, env_spec: EnvSpec,
               reward_fn: planning.RewardFn | None = None,
               termination_fn: Callable | None = None) -> PETSAgent:
    """PETS's functions for an env with these spaces (continuous actions, finite bounds).

    reward_fn: the known reward used when `config.reward == "env"` (required then); ignored for
      "learned" (the ensemble's reward head). termination_fn: the known termination used when
      `config.termination == "env"` (required then).
    Raises ConfigError for an invalid config or a non-Box / unbounded action space ("env").
    """
    config.validate()
    low, high = env_spec.box_bounds("PETS")
    low, high = jnp.asarray(low, jnp.float32), jnp.asarray(high, jnp.float32)
    obs_dim, a_dim = int(np.prod(env_spec.obs_shape)), low.shape[0]
    model = make_ensemble(config.model_config(obs_dim, a_dim))
    optimiser = config.optimiser
    if config.reward == "env" and reward_fn is None:
        raise ValueError("reward='env' needs reward_fn")
    reward = reward_fn if config.reward == "env" else None
    termination = {"env": termination_fn, "learned": "model", "none": "none"}[config.termination]
    if termination is None:
        raise ValueError("termination='env' needs termination_fn")

    def init(key: jax.Array) -> PETSState:
        return PETSState(model=model.init(key))

    def initial_plan() -> planning.PlanState:
        return planning.init_plan(optimiser, low, high)

    def act(state: PETSState, plan: planning.PlanState, obs: jax.Array, key: jax.Array,
            hparams: PETSHParams | None = None, explore=False):
        """Plan from the warm start `plan` and act on the solution's first action; with
        `explore` (a bool, may be traced) act uniformly at random in the box instead (the
        warm-up), returning the plan unchanged. info: "best_return" (best candidate's expected
        return), "mean_return" (last iteration's population mean), "std" (mean final sampling
        std), each []."""
        gamma = config.gamma if hparams is None else hparams.gamma
        plan_key, random_key = jax.random.split(key)
        rollout_fn = planning.ensemble_rollout_fn(model, state.model, config.propagation)
        obs = obs.reshape(obs_dim).astype(jnp.float32)

        def objective(seqs, k):  # [P, H, A] -> [P]
            return planning.evaluate_action_sequences(
                rollout_fn, obs, seqs, k, config.num_particles, discount=gamma,
                reward_fn=reward, termination=termination)

        action, next_plan, result = planning.plan_action(optimiser, objective, plan, plan_key,
                                                         low, high)
        random_action = jax.random.uniform(random_key, (a_dim,), jnp.float32, low, high)
        action = jnp.where(explore, random_action, action)
        next_plan = jax.tree.map(lambda old, new: jnp.where(explore, old, new), plan, next_plan)
        info = {"best_return": result.best_return, "mean_return": result.mean_returns[-1],
                "std": result.std.mean()}
        return action, next_plan, info

    def update(state: PETSState, buffer_state: buffer.BufferState, key: jax.Array):
        """Refit the ensemble on the buffer's valid rows (warm-started, early stopping)."""
        model_state, info = model.fit(state.model, buffer_state.data, key,
                                      num_valid=buffer_state.size)
        return state.replace(model=model_state), info

    return PETSAgent(init=init, initial_plan=initial_plan, act=act, update=update, model=model)
