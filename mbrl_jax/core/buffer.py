"""Fixed-capacity circular replay buffer as a pytree, with pure `init`, `add` and `sample`.

Items are any pytree of arrays (a `Transition` NamedTuple, a dict, a single array). The buffer
stores each leaf with a leading `[capacity]` axis; capacity and item shapes are static, so every
function here is jit-, vmap- and scan-able:

    buf = buffer.init(example_transition, capacity=100_000)   # leaves [100_000, ...]
    buf = buffer.add(buf, transitions)                         # leaves [N, ...] or one item
    buf = buffer.add_masked(buf, transitions, keep)            # only rows where keep [N]
    batch = buffer.sample(buf, key, batch_size=256)            # leaves [256, ...]

Once full, the oldest rows are overwritten first. `sample` draws uniformly, with replacement, from
the rows written so far (never from unwritten zero rows); sampling an empty buffer returns row 0
(zeros) — check `buf.size > 0` on the host, or mask, if that can happen.
"""

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from mbrl_jax.core.errors import MbrlJaxError


@struct.dataclass
class BufferState:
    """Replay buffer contents.

    data: pytree like the items, each leaf `[capacity, *item_shape]`.
    position: int32 scalar, the row the next item is written to.
    size: int32 scalar, number of valid rows (<= capacity).
    """

    data: Any
    position: jax.Array
    size: jax.Array

    @property
    def capacity(self) -> int:
        """Static number of rows."""
        return jax.tree_util.tree_leaves(self.data)[0].shape[0]


class BufferShapeError(MbrlJaxError, ValueError):
    """Raised when items added to a buffer do not match its item shapes."""


def init(example_item: Any, capacity: int) -> BufferState:
    """Empty buffer for items shaped like `example_item` (a pytree of arrays, one item, unbatched).

    Leaves keep their dtype; storage is `[capacity, *leaf.shape]` of zeros.
    """
    if int(capacity) < 1:
        raise BufferShapeError(f"capacity must be >= 1, got {capacity}")
    data = jax.tree_util.tree_map(
        lambda x: jnp.zeros((capacity, *jnp.shape(x)), jnp.asarray(x).dtype), example_item
    )
    return BufferState(data=data, position=jnp.int32(0), size=jnp.int32(0))


def _is_batch(state: BufferState, items: Any) -> bool:
    stored = jax.tree_util.tree_leaves(state.data)
    given = jax.tree_util.tree_leaves(items)
    if len(stored) != len(given):
        raise BufferShapeError(f"item has {len(given)} leaves, buffer stores {len(stored)}")
    ndims = {jnp.ndim(g) - (s.ndim - 1) for s, g in zip(stored, given, strict=True)}
    if ndims == {1}:
        return True
    if ndims == {0}:
        return False
    raise BufferShapeError(
        "items must all be single items or all be batches with one leading axis; got leaves of"
        f" shapes {[jnp.shape(g) for g in given]} for stored shapes {[s.shape for s in stored]}"
    )


def add(state: BufferState, items: Any) -> BufferState:
    """Write one item (leaves `item_shape`) or a batch (leaves `[N, *item_shape]`).

    A batch is written in order at `position, position+1, ...` (mod capacity). If `N > capacity`
    only the last `capacity` items are kept, as sequential adds would.
    """
    if not _is_batch(state, items):
        items = jax.tree_util.tree_map(lambda x: jnp.asarray(x)[None], items)
    capacity = state.capacity
    n = jax.tree_util.tree_leaves(items)[0].shape[0]
    position = state.position
    if n > capacity:  # static: keep the last `capacity` items, skipping the overwritten ones
        items = jax.tree_util.tree_map(lambda x: x[n - capacity :], items)
        position = (position + (n - capacity)) % capacity
        n_written = capacity
    else:
        n_written = n
    idx = (position + jnp.arange(n_written)) % capacity  # [n_written], distinct rows
    data = jax.tree_util.tree_map(
        lambda buf, x: buf.at[idx].set(jnp.asarray(x, buf.dtype)), state.data, items
    )
    return BufferState(
        data=data,
        position=((state.position + n) % capacity).astype(jnp.int32),
        size=jnp.minimum(state.size + n, capacity).astype(jnp.int32),
    )


def add_masked(state: BufferState, items: Any, mask: jax.Array) -> BufferState:
    """Write only the items of a batch (leaves `[N, ...]`) where `mask` `[N]` is True, in order,
    as `add` would write that compacted batch (a static shape whatever the mask): unmasked items
    take no row and do not count towards `size`."""
    capacity = state.capacity
    mask = jnp.asarray(mask, bool)
    count = mask.sum().astype(jnp.int32)
    rank = jnp.cumsum(mask) - 1  # [N] order among the kept items
    keep = mask & (rank >= count - capacity)  # more than capacity kept: the last ones win
    idx = jnp.where(keep, (state.position + rank) % capacity, capacity)  # capacity = dropped
    data = jax.tree_util.tree_map(
        lambda buf, x: buf.at[idx].set(jnp.asarray(x, buf.dtype), mode="drop"), state.data, items
    )
    return BufferState(
        data=data,
        position=((state.position + count) % capacity).astype(jnp.int32),
        size=jnp.minimum(state.size + count, capacity).astype(jnp.int32),
    )


def sample_indices(state: BufferState, key: jax.Array, batch_size: int) -> jax.Array:
    """Uniform row indices `[batch_size]` among the `size` written rows (with replacement)."""
    return jax.random.randint(key, (batch_size,), 0, jnp.maximum(state.size, 1))


def sample(state: BufferState, key: jax.Array, batch_size: int) -> Any:
    """Uniform batch of written items: pytree with leaves `[batch_size, *item_shape]`."""
    idx = sample_indices(state, key, batch_size)
    return jax.tree_util.tree_map(lambda x: x[idx], state.data)


def valid_data(state: BufferState) -> Any:
    """Host-side helper: the written rows, oldest first (not jittable: output shape is `size`)."""
    size = int(state.size)
    capacity = state.capacity
    start = int(state.position) - size
    idx = jnp.arange(start, start + size) % capacity
    return jax.tree_util.tree_map(lambda x: x[idx], state.data)


__all__ = [
    "BufferShapeError",
    "BufferState",
    "add",
    "add_masked",
    "init",
    "sample",
    "sample_indices",
    "valid_data",
]
