"""Sequence replay: one circular buffer per env stream, sampled as fixed-length windows.

Recurrent world models (Dreamer's RSSM) train on contiguous sequences. Every env stream (one of
the `num_envs` parallel envs of a seed) writes its steps in time order into its own
`[capacity]` rows; a sample is `batch_size` windows of `length` consecutive rows, each from a
uniformly drawn stream and a uniformly drawn start among the windows that lie entirely inside
the written history (uniform over history). Windows may cross episode boundaries: the items
carry their own `is_first` flags and the model resets there.

    buf = sequence_buffer.init(example_step, num_envs=4, capacity=10_000)  # leaves [4, 10_000, ...]
    buf = sequence_buffer.add(buf, steps, extra, write_extra)  # steps leaves [4, ...]
    batch = sequence_buffer.sample(buf, key, batch_size=16, length=64)  # leaves [16, 64, ...]

`add` writes one step per stream and, where `write_extra` is True, a second step right after it
(gymnax auto-resets inside `env.step`, so the step that ends an episode also yields the first
observation of the next one: two rows from one env step). All functions are pure and jit-, vmap-
and scan-able.
"""

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class SequenceBufferState:
    """data: pytree like the items, leaves `[num_envs, capacity, ...]`;
    position: `[num_envs]` int32, the row each stream writes next;
    size: `[num_envs]` int32, rows written per stream (<= capacity)."""

    data: Any
    position: jax.Array
    size: jax.Array

    @property
    def capacity(self) -> int:
        return jax.tree.leaves(self.data)[0].shape[1]


def init(example_step: Any, num_envs: int, capacity: int) -> SequenceBufferState:
    """Empty buffer for steps shaped like `example_step` (one unbatched step of one stream)."""
    if int(capacity) < 2 or int(num_envs) < 1:
        raise ValueError(f"need capacity >= 2 and num_envs >= 1, got {capacity}, {num_envs}")
    data = jax.tree.map(
        lambda x: jnp.zeros((num_envs, capacity, *jnp.shape(x)), jnp.asarray(x).dtype),
        example_step)
    zeros = jnp.zeros((num_envs,), jnp.int32)
    return SequenceBufferState(data=data, position=zeros, size=zeros)


def _add_one_stream(data, position, size, step, extra, write_extra):
    capacity = jax.tree.leaves(data)[0].shape[0]
    nxt = (position + 1) % capacity
    # The extra row is always written (static shapes); where `write_extra` is False the row keeps
    # its old content (once full it is the oldest row of the history).
    data = jax.tree.map(
        lambda d, a, b: d.at[position].set(a).at[nxt].set(jnp.where(write_extra, b, d[nxt])),
        data, step, extra)
    n = 1 + write_extra.astype(jnp.int32)
    return data, (position + n) % capacity, jnp.minimum(size + n, capacity)


def add(state: SequenceBufferState, step: Any, extra: Any | None = None,
        write_extra: jax.Array | None = None) -> SequenceBufferState:
    """Append `step` (leaves `[num_envs, ...]`) to each stream; where `write_extra[e]`, also
    append `extra[e]` after it. Without `extra`, one row per stream."""
    if extra is None:
        extra = step
        write_extra = jnp.zeros(state.position.shape, bool)
    data, position, size = jax.vmap(_add_one_stream)(
        state.data, state.position, state.size, step, extra, write_extra)
    return SequenceBufferState(data=data, position=position.astype(jnp.int32),
                               size=size.astype(jnp.int32))


def sample(state: SequenceBufferState, key: jax.Array, batch_size: int, length: int) -> Any:
    """`batch_size` windows of `length` consecutive steps: leaves `[batch_size, length, ...]`.

    Stream uniform, then start uniform over that stream's `size - length + 1` complete windows
    (oldest written row first). A stream with fewer than `length` rows yields its first rows
    followed by unwritten ones: check `size >= length` (or mask) before relying on samples.
    """
    num_envs, capacity = state.position.shape[0], state.capacity
    env_key, start_key = jax.random.split(key)
    env = jax.random.randint(env_key, (batch_size,), 0, num_envs)
    size = state.size[env]
    windows = jnp.maximum(size - length + 1, 1)
    offset = jnp.floor(jax.random.uniform(start_key, (batch_size,)) * windows).astype(jnp.int32)
    oldest = state.position[env] - size
    rows = (oldest[:, None] + offset[:, None] + jnp.arange(length)) % capacity  # [B, L]
    return jax.tree.map(lambda x: x[env[:, None], rows], state.data)


__all__ = ["SequenceBufferState", "add", "init", "sample"]
