"""Masked adds and a buffer whose items age out by period, against hand-worked contents."""

import jax
import jax.numpy as jnp
import numpy as np

from mbrl_jax.core import aged_buffer, buffer


def test_add_masked_writes_only_kept_items_in_order():
    buf = buffer.init(jnp.float32(0), capacity=4)
    buf = buffer.add_masked(buf, jnp.arange(1.0, 6.0), jnp.array([1, 0, 1, 0, 1], bool))
    # kept 1, 3, 5 at rows 0, 1, 2
    np.testing.assert_array_equal(buf.data, [1, 3, 5, 0])
    assert int(buf.size) == 3 and int(buf.position) == 3
    buf = buffer.add_masked(buf, jnp.arange(6.0, 9.0), jnp.array([1, 1, 1], bool))
    # 6 -> row 3, 7 -> row 0, 8 -> row 1 (wraps like sequential adds)
    np.testing.assert_array_equal(buf.data, [7, 8, 5, 6])
    assert int(buf.size) == 4 and int(buf.position) == 2
    # more kept items than capacity: the last `capacity` win, as sequential adds would leave
    many = buffer.add_masked(buffer.init(jnp.float32(0), 2), jnp.arange(1.0, 6.0),
                             jnp.array([1, 1, 0, 1, 1], bool))
    np.testing.assert_array_equal(many.data, [4, 5])  # 1->0, 2->1, then 4->0, 5->1


def test_aged_buffer_keeps_last_k_periods_whatever_their_counts():
    buf = aged_buffer.init(jnp.float32(0), num_periods=2, period_capacity=3)
    buf = aged_buffer.add_period(buf, jnp.array([1.0, 2, 3]), jnp.array([1, 1, 1], bool))
    buf = aged_buffer.add_period(buf, jnp.array([4.0, 5, 6]), jnp.array([0, 1, 0], bool))
    assert int(buf.size) == 4  # {1, 2, 3} and {5}
    buf = aged_buffer.add_period(buf, jnp.array([7.0, 8, 9]), jnp.array([0, 0, 1], bool))
    assert int(buf.size) == 2  # period 1 aged out: {5} and {9}
    draws = np.asarray(aged_buffer.sample(buf, jax.random.key(0), 4000))
    assert set(np.unique(draws)) == {5.0, 9.0}
    assert abs((draws == 5.0).mean() - 0.5) < 0.05  # uniform over items held
    buf = aged_buffer.add_period(buf, jnp.array([10.0, 11, 12]), jnp.array([1, 1, 0], bool))
    draws = np.asarray(aged_buffer.sample(buf, jax.random.key(1), 6000))
    # items {9, 10, 11}, each with probability 1/3 (2 sd of a frequency at n=6000: 0.012)
    assert set(np.unique(draws)) == {9.0, 10.0, 11.0}
    np.testing.assert_allclose([(draws == v).mean() for v in (9, 10, 11)], 1 / 3, atol=0.025)
