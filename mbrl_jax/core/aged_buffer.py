"""A replay buffer whose items age out by period: it keeps the items of the last K periods.

MBPO keeps model-generated transitions for a set number of model-retrain periods: each period's
rollouts replace those of the period K ago, whatever their count (rollouts cut by termination or
disagreement store fewer rows). Storage is K blocks of R rows; a period writes its kept items,
compacted, into the oldest block, and sampling is uniform over the items of all K blocks.

    buf = aged_buffer.init(example_transition, num_periods=5, period_capacity=M * H)
    buf = aged_buffer.add_period(buf, items, keep)      # items leaves [N <= R, ...], keep [N]
    batch = aged_buffer.sample(buf, key, batch_size=256)

Every function is jit-, vmap- and scan-able (static shapes); sampling an empty buffer returns
row 0 (zeros), as `core.buffer.sample` does.
"""

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from mbrl_jax.core.buffer import BufferShapeError


@struct.dataclass
class AgedBufferState:
    """data: pytree like the items, leaves `[K * R, ...]` (block k is rows `k*R .. k*R + R-1`);
    counts: [K] int32 items held per block; period: int32 periods written so far."""

    data: Any
    counts: jax.Array
    period: jax.Array

    @property
    def num_periods(self) -> int:
        return self.counts.shape[0]

    @property
    def period_capacity(self) -> int:
        return jax.tree_util.tree_leaves(self.data)[0].shape[0] // self.num_periods

    @property
    def size(self) -> jax.Array:
        """Items held (int32 scalar)."""
        return self.counts.sum()


def init(example_item: Any, num_periods: int, period_capacity: int) -> AgedBufferState:
    """Empty buffer keeping `num_periods` periods of at most `period_capacity` items each."""
    if int(num_periods) < 1 or int(period_capacity) < 1:
        raise BufferShapeError(
            f"num_periods and period_capacity must be >= 1, got {num_periods}, {period_capacity}")
    rows = num_periods * period_capacity
    data = jax.tree_util.tree_map(
        lambda x: jnp.zeros((rows, *jnp.shape(x)), jnp.asarray(x).dtype), example_item)
    return AgedBufferState(data, jnp.zeros((num_periods,), jnp.int32), jnp.int32(0))


def add_period(state: AgedBufferState, items: Any, keep: jax.Array) -> AgedBufferState:
    """Start a new period: the items where `keep` `[N]` (leaves `[N, ...]`, N <= R) replace the
    oldest period's items."""
    r = state.period_capacity
    n = keep.shape[0]
    if n > r:
        raise BufferShapeError(f"a period holds at most {r} items, got a batch of {n}")
    block = state.period % state.num_periods
    keep = jnp.asarray(keep, bool)
    rank = jnp.cumsum(keep) - 1  # [N]
    idx = jnp.where(keep, block * r + rank, state.counts.shape[0] * r)  # out of range = dropped
    data = jax.tree_util.tree_map(
        lambda buf, x: buf.at[idx].set(jnp.asarray(x, buf.dtype), mode="drop"), state.data, items)
    counts = state.counts.at[block].set(keep.sum().astype(jnp.int32))
    return AgedBufferState(data, counts, (state.period + 1).astype(jnp.int32))


def sample_indices(state: AgedBufferState, key: jax.Array, batch_size: int) -> jax.Array:
    """Row indices `[batch_size]`, uniform over the items held (with replacement)."""
    u = jax.random.randint(key, (batch_size,), 0, jnp.maximum(state.size, 1))
    ends = jnp.cumsum(state.counts)  # [K]
    block = jnp.minimum(jnp.searchsorted(ends, u, side="right"), state.num_periods - 1)
    offset = u - (ends - state.counts)[block]
    return block * state.period_capacity + offset


def sample(state: AgedBufferState, key: jax.Array, batch_size: int) -> Any:
    """Uniform batch of held items: leaves `[batch_size, ...]`."""
    idx = sample_indices(state, key, batch_size)
    return jax.tree_util.tree_map(lambda x: x[idx], state.data)


__all__ = ["AgedBufferState", "add_period", "init", "sample", "sample_indices"]
