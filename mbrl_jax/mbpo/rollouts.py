"""MBPO's pieces between the model and SAC: branched rollouts into the model buffer, the horizon
schedule, the real/model batch mix, and known termination functions.

Shapes: M start states, H = static maximum horizon, O obs, A action dims, B SAC batch.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from mbrl_jax.core import aged_buffer, buffer
from mbrl_jax.core.types import Transition
from mbrl_jax.models import EnsembleModel, EnsembleState


def _never(obs, action, next_obs):
    del obs, action, next_obs
    return jnp.zeros((), bool)


def _mountain_car(obs, action, next_obs):  # gymnax: position >= 0.45 and velocity >= 0
    del obs, action
    return (next_obs[0] >= 0.45) & (next_obs[1] >= 0.0)


TERMINATION_FNS: dict[str, Callable[[jax.Array, jax.Array, jax.Array], jax.Array]] = {
    "Pendulum-v1": _never,
    "MountainCarContinuous-v0": _mountain_car,
    "brax/halfcheetah": _never,  # brax's HalfCheetah has no termination, only the time limit
}
"""Known `termination_fn(obs [O], action [A], next_obs [O]) -> bool []` per env id."""


def horizon(schedule: tuple[int, int, int, int], env_steps: jax.Array) -> jax.Array:
    """MBPO's linear schedule: `h_a` before step `a`, `h_b` from step `b`, linear between
    (rounded down). Returns int32 []."""
    a, b, h_a, h_b = schedule
    frac = jnp.clip((env_steps - a) / max(b - a, 1), 0.0, 1.0)
    return jnp.floor(h_a + frac * (h_b - h_a)).astype(jnp.int32)


class RolloutStats(NamedTuple):
    """kept: [] fraction of the M x H transitions stored; horizon: [] int32 horizon used;
    cut_disagreement: [] fraction of rollouts cut by disagreement; terminated: [] fraction of
    stored transitions that terminate."""

    kept: jax.Array
    horizon: jax.Array
    cut_disagreement: jax.Array
    terminated: jax.Array


def rollout_mask(traj_mask: jax.Array, disagreement: jax.Array, horizon_now: jax.Array,
                 threshold: float | None) -> tuple[jax.Array, jax.Array]:
    """Which transitions of a rollout `[H, M]` to store, and which rollouts were cut.

    A transition is kept while no earlier step terminated (`traj_mask`), before the current
    horizon, and while the disagreement of this and every earlier step is at most `threshold`
    (the step that exceeds it is not stored: its prediction is not trusted).
    Returns (keep [H, M] bool, cut [M] bool).
    """
    steps = jnp.arange(traj_mask.shape[0])[:, None]  # [H, 1]
    keep = traj_mask & (steps < horizon_now)
    if threshold is None:
        return keep, jnp.zeros(traj_mask.shape[1:], bool)
    trusted = jnp.cumprod(disagreement <= threshold, axis=0).astype(bool)  # [H, M]
    return keep & trusted, jnp.any(keep & ~trusted, axis=0)


def branched_rollouts(model: EnsembleModel, model_state: EnsembleState, policy, key: jax.Array,
                      start_obs: jax.Array, max_horizon: int, horizon_now: jax.Array,
                      threshold: float | None) -> tuple[Transition, jax.Array, RolloutStats]:
    """Roll the policy out in the model from M real states at once (each step a random elite,
    sampled), `lax.scan` over the static `max_horizon`.

    policy: `(key, obs [M, O]) -> action [M, A]`. Returns the flattened transitions (leaves
    `[H * M, ...]`, done = terminated), the keep mask `[H * M]` and `RolloutStats`.
    """
    traj = model.rollout_policy(model_state, key, start_obs, policy, max_horizon,
                                propagation="random_member", elites_only=True, sample=True,
                                disagreement=threshold is not None)
    keep, cut = rollout_mask(traj.mask, traj.disagreement, horizon_now, threshold)
    flat = lambda x: x.reshape((-1,) + x.shape[2:])  # noqa: E731
    items = Transition(obs=flat(traj.obs), action=flat(traj.action), reward=flat(traj.reward),
                       next_obs=flat(traj.next_obs), done=flat(traj.terminated))
    kept = keep.sum()
    stats = RolloutStats(kept=kept / keep.size, horizon=horizon_now,
                         cut_disagreement=cut.mean(),
                         terminated=(keep & traj.terminated).sum() / jnp.maximum(kept, 1))
    return items, flat(keep), stats


def num_real(batch_size: int, real_ratio: float) -> int:
    """Real rows in a SAC batch: `round(real_ratio * batch_size)` (static)."""
    return int(round(real_ratio * batch_size))


def mixed_batch(env_buf: buffer.BufferState, model_buf: aged_buffer.AgedBufferState,
                key: jax.Array, batch_size: int, real_ratio: float) -> Transition:
    """A SAC batch `[B, ...]`: the first `num_real(B, real_ratio)` rows uniform from the env
    buffer, the rest uniform from the model buffer (from the env buffer while that is empty)."""
    n_real = num_real(batch_size, real_ratio)
    real_key, model_key, fill_key = jax.random.split(key, 3)
    real = buffer.sample(env_buf, real_key, n_real)
    n_model = batch_size - n_real
    if n_model == 0:
        return real
    imagined = aged_buffer.sample(model_buf, model_key, n_model)
    fallback = buffer.sample(env_buf, fill_key, n_model)
    empty = model_buf.size == 0
    imagined = jax.tree.map(lambda f, m: jnp.where(empty, f, m), fallback, imagined)
    return jax.tree.map(lambda r, m: jnp.concatenate([r, m.astype(r.dtype)]), real, imagined)
