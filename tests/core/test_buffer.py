"""Replay buffer: wrap-around against a plain Python deque, sampling only written rows."""

import collections

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mbrl_jax.core import buffer


def _item(i):
    return {"obs": jnp.full((3,), i, jnp.float32), "action": jnp.int32(i), "done": jnp.bool_(i % 2)}


def _valid_obs_ids(buf):
    return np.asarray(buffer.valid_data(buf)["action"]).tolist()


def test_wraps_around_like_a_deque():
    capacity = 5
    buf = buffer.init(_item(0), capacity)
    oracle = collections.deque(maxlen=capacity)
    add = jax.jit(buffer.add)
    i = 0
    for n in [1, 3, 2, 4, 1, 7]:  # mix of sizes, including one batch larger than capacity
        batch = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *[_item(i + j) for j in range(n)])
        buf = add(buf, batch)
        oracle.extend(range(i, i + n))
        i += n
        assert int(buf.size) == len(oracle)
        assert _valid_obs_ids(buf) == list(oracle)
        assert int(buf.position) == i % capacity
    # rows hold whole items consistently across leaves
    data = buffer.valid_data(buf)
    np.testing.assert_array_equal(data["obs"][:, 0], np.asarray(data["action"], np.float32))
    np.testing.assert_array_equal(data["done"], np.asarray(data["action"]) % 2 == 1)


def test_single_item_add_equals_batch_of_one():
    buf = buffer.init(_item(0), 4)
    a = buffer.add(buf, _item(7))
    b = buffer.add(buf, jax.tree_util.tree_map(lambda x: x[None], _item(7)))
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        np.testing.assert_array_equal(x, y)
    assert int(a.size) == 1 and int(a.data["action"][0]) == 7


def test_samples_only_written_rows():
    buf = buffer.init(_item(0), 100)
    batch = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *[_item(i + 1) for i in range(6)])
    buf = buffer.add(buf, batch)  # rows 0..5 hold ids 1..6; rows 6..99 are zeros
    sample = jax.jit(buffer.sample, static_argnums=2)(buf, jax.random.key(0), 4000)
    ids = np.asarray(sample["action"])
    assert ids.min() >= 1 and ids.max() <= 6
    counts = np.bincount(ids, minlength=7)[1:]
    assert set(np.nonzero(counts)[0] + 1) == {1, 2, 3, 4, 5, 6}  # all written rows reachable
    assert counts.min() > 4000 / 6 * 0.7  # roughly uniform


def test_same_key_same_sample_and_vmap():
    buf = buffer.init(_item(0), 8)
    batch = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *[_item(i) for i in range(8)])
    buf = buffer.add(buf, batch)
    keys = jax.random.split(jax.random.key(1), 3)
    a = buffer.sample(buf, keys[0], 16)
    b = buffer.sample(buf, keys[0], 16)
    np.testing.assert_array_equal(a["action"], b["action"])
    vm = jax.vmap(buffer.sample, in_axes=(None, 0, None))(buf, keys, 16)
    for k in range(3):
        np.testing.assert_array_equal(vm["action"][k], buffer.sample(buf, keys[k], 16)["action"])
    # vmap over independent buffers (e.g. one per seed)
    bufs = jax.vmap(lambda _: buffer.init(_item(0), 4))(jnp.arange(2))
    items = jax.tree_util.tree_map(lambda x: jnp.stack([x, x + 1]), _item(3))
    bufs = jax.vmap(buffer.add)(bufs, items)
    np.testing.assert_array_equal(bufs.data["action"][:, 0], [3, 4])
    np.testing.assert_array_equal(bufs.size, [1, 1])


def test_shape_mismatch_is_a_named_error():
    buf = buffer.init(_item(0), 4)
    with pytest.raises(buffer.BufferShapeError):
        buffer.add(buf, {"obs": jnp.zeros((2, 2, 3)), "action": jnp.int32(0), "done": jnp.bool_(0)})
