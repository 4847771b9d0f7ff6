"""The planner's objective: the expected return of candidate action sequences under a model, by
particles (trajectory sampling, Chua et al. 2018, PETS).

    rollout_fn = ensemble_rollout_fn(model, model_state, propagation="fixed_member")   # TS-inf
    returns = evaluate_action_sequences(rollout_fn, obs, action_sequences, key,
                                        num_particles=20, reward_fn=reward_fn)       # [P]

Any model the evaluator can use is a `RolloutFn`: `(key, init_obs [B, O], actions [H, B, A]) ->
Rollout` (time-major, as `EnsembleModel.rollout`). `ensemble_rollout_fn` binds the ensemble with
its propagation: "random_member" is TS-1 (each particle's member redrawn every step),
"fixed_member" TS-inf (each particle keeps one member for the whole horizon), "mean" the
deterministic ensemble mean. `step_rollout_fn` turns a known one-step simulator into one.

Shapes: P candidates, N particles per candidate, B = P * N rows (candidate i's particles are rows
i * N .. i * N + N - 1), H horizon, O obs dims, A action dims.
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from mbrl_jax.core import validation as v
from mbrl_jax.core.errors import InputError
from mbrl_jax.models import EnsembleModel, EnsembleState, Rollout, TerminationFn
from mbrl_jax.models.config import check_propagation

RolloutFn = Callable[[jax.Array, jax.Array, jax.Array], Rollout]
"""`rollout_fn(key, init_obs [B, O], actions [H, B, A]) -> Rollout` (leaves `[H, B, ...]`).
The evaluator reads its obs, action, reward, next_obs and terminated."""

RewardFn = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]
"""`reward_fn(obs [O], action [A], next_obs [O]) -> reward []` for one transition."""

StepFn = Callable[[jax.Array, jax.Array, jax.Array], tuple[jax.Array, jax.Array, jax.Array]]
"""`step_fn(key, obs [O], action [A]) -> (next_obs [O], reward [], terminated [] bool)` for one
transition of a known simulator."""

TERMINATIONS = ("model", "none")
"""Named termination choices of `evaluate_action_sequences` (besides a `TerminationFn`)."""


def ensemble_rollout_fn(model: EnsembleModel, model_state: EnsembleState,
                        propagation: str = "fixed_member", elites_only: bool = True,
                        sample: bool = True) -> RolloutFn:
    """The ensemble as a `RolloutFn`, through `model.rollout` (which computes each particle with
    its own member only). propagation: "random_member" (TS-1), "fixed_member" (TS-inf, PETS's
    default in mbrl-lib) or "mean"; members drawn among the elites when `elites_only`; `sample`
    draws each step from the member's Gaussian (PETS's particles), else follows its mean.

    The rollout's reward is the learned reward head's; its `terminated` comes from the
    `termination_fn` given to `make_ensemble` (e.g. `mbrl_jax.mbpo.TERMINATION_FNS[env_id]`),
    else the learned termination head, else never."""
    check_propagation(propagation)

    def rollout_fn(key: jax.Array, init_obs: jax.Array, actions: jax.Array) -> Rollout:
        return model.rollout(model_state, key, init_obs, actions, propagation=propagation,
                             elites_only=elites_only, sample=sample)

    return rollout_fn


def step_rollout_fn(step_fn: StepFn) -> RolloutFn:
    """A known one-step simulator `step_fn` (see `StepFn`) as a `RolloutFn`: every row steps
    through it (vmapped) with its own key, `lax.scan` over the horizon. `Rollout.member` is -1
    and `Rollout.disagreement` NaN (there is no ensemble)."""

    def rollout_fn(key: jax.Array, init_obs: jax.Array, actions: jax.Array) -> Rollout:
        b = init_obs.shape[0]

        def step(carry, inputs):
            obs, alive = carry
            action, step_key = inputs
            next_obs, reward, terminated = jax.vmap(step_fn)(
                jax.random.split(step_key, b), obs, action)
            terminated = terminated.astype(bool)
            out = Rollout(obs=obs, action=action, reward=reward, next_obs=next_obs,
                          terminated=terminated, mask=alive,
                          member=jnp.full((b,), -1, jnp.int32),
                          disagreement=jnp.full((b,), jnp.nan, reward.dtype))
            return (next_obs, alive & ~terminated), out

        keys = jax.random.split(key, actions.shape[0])
        _, traj = jax.lax.scan(step, (init_obs, jnp.ones((b,), bool)), (actions, keys))
        return traj

    return rollout_fn


def trajectory_returns(traj: Rollout, discount: float = 1.0, reward_fn: RewardFn | None = None,
                       termination: str | TerminationFn = "model") -> jax.Array:
    """Discounted return of each row of a rollout: `sum_t discount^t * r_t` over the steps up to
    and including the first that terminates (later steps add nothing). Returns `[B]`.

    reward_fn: replaces the rollout's reward by `reward_fn(obs_t, action_t, next_obs_t)` (a known
      reward, as mbrl-lib's `reward_fn`); None keeps the rollout's (the learned head's).
    termination: "model" uses the rollout's `terminated`; "none" never stops; a `TerminationFn`
      `(obs, action, next_obs) -> bool` is applied to every step instead.
    """
    per_step = lambda f: jax.vmap(jax.vmap(f))(traj.obs, traj.action, traj.next_obs)  # noqa: E731
    reward = traj.reward if reward_fn is None else per_step(reward_fn)  # [H, B]
    if callable(termination):
        terminated = per_step(termination).astype(bool)
    elif termination == "model":
        terminated = traj.terminated
    elif termination == "none":
        terminated = jnp.zeros(reward.shape, bool)
    else:
        raise InputError("termination", f"must be one of {TERMINATIONS} or a termination "
                                        f"function (obs, action, next_obs) -> bool, got "
                                        f"{termination!r}")
    ended_before = jnp.cumsum(terminated, axis=0) - terminated  # terminations before step t
    alive = ended_before == 0  # [H, B], True up to and including the first termination
    discounts = jnp.float32(discount) ** jnp.arange(reward.shape[0], dtype=jnp.float32)
    # where, not a product: steps past a termination may hold anything a model predicts (NaN)
    return jnp.sum(jnp.where(alive, reward, 0.0) * discounts[:, None], axis=0)


def evaluate_action_sequences(rollout_fn: RolloutFn, obs: Any, action_sequences: Any,
                              key: jax.Array, num_particles: int = 20, discount: float = 1.0,
                              reward_fn: RewardFn | None = None,
                              termination: str | TerminationFn = "model") -> jax.Array:
    """Expected return of each candidate, the mean over `num_particles` particles. Returns `[P]`.

    obs: `[O]` the current observation, the start of every particle.
    action_sequences: `[P, H, A]` candidates (an optimiser's population); every particle of a
      candidate follows its actions open-loop.
    rollout_fn: the model (see `RolloutFn`, `ensemble_rollout_fn`); with TS-1/TS-inf each
      particle draws its own member(s); with a sampled ensemble its own noise.
    discount, reward_fn, termination: see `trajectory_returns`.

    Jit/vmap-able; `num_particles` is static. Partially applied, it is an optimiser's objective:
    `lambda seqs, k: evaluate_action_sequences(rollout_fn, obs, seqs, k, 20)`.
    """
    obs, action_sequences = v.as_arrays((obs, action_sequences))
    v.check_int("num_particles", num_particles, minimum=1)
    v.check_range("discount", discount, 0.0, 1.0)
    v.check_rank("obs", obs, 1, "[O]")
    v.check_rank("action_sequences", action_sequences, 3, "[P, H, A]")
    p, n = action_sequences.shape[0], num_particles
    init_obs = jnp.broadcast_to(obs, (p * n,) + obs.shape)  # [B, O]
    actions = jnp.repeat(action_sequences, n, axis=0)  # [B, H, A], row i * N + j: candidate i
    traj = rollout_fn(key, init_obs, jnp.swapaxes(actions, 0, 1))  # leaves [H, B, ...]
    returns = trajectory_returns(traj, discount, reward_fn, termination)  # [B]
    return returns.reshape(p, n).mean(axis=1)
