"""Sequence replay: per-stream order, the extra row on episode ends, windows inside history."""

import jax
import jax.numpy as jnp
import numpy as np

from mbrl_jax.core import sequence_buffer


def _fill(values_per_step, capacity, extras=None):
    """values_per_step: [S, E] ints written in order; extras: [S, E] (value, flag) or None."""
    s, e = values_per_step.shape
    buf = sequence_buffer.init(jnp.int32(0), e, capacity)
    for t in range(s):
        if extras is None:
            buf = sequence_buffer.add(buf, jnp.asarray(values_per_step[t], jnp.int32))
        else:
            buf = sequence_buffer.add(buf, jnp.asarray(values_per_step[t], jnp.int32),
                                      jnp.asarray(extras[0][t], jnp.int32),
                                      jnp.asarray(extras[1][t]))
    return buf


def test_extra_rows_follow_their_step_only_when_flagged():
    steps = np.array([[1], [2], [3]])
    extra_vals = np.array([[-1], [-2], [-3]])
    flags = np.array([[False], [True], [False]])
    buf = _fill(steps, 10, (extra_vals, flags))
    # stream 0 history: 1, 2, -2, 3 (the unflagged extras -1 and -3 are not part of it)
    assert int(buf.size[0]) == 4 and int(buf.position[0]) == 4
    assert np.asarray(buf.data)[0, :4].tolist() == [1, 2, -2, 3]


def test_windows_are_contiguous_and_inside_history_after_wraparound():
    capacity, length = 7, 3
    steps = np.arange(1, 13)[:, None] * np.array([[1, 100]])   # 12 steps, 2 streams
    buf = _fill(steps, capacity)
    # each stream keeps its last 7 steps: 6..12 (times 1 or 100)
    windows = np.asarray(sequence_buffer.sample(buf, jax.random.key(0), 4000, length))
    assert windows.shape == (4000, length)
    base = np.where(windows[:, :1] >= 100, 100, 1)
    t = windows // base
    assert np.all(np.diff(t, axis=1) == 1)                     # consecutive steps in order
    assert t.min() == 6 and t.max() == 12                      # never older than the history
    starts = np.bincount(t[:, 0], minlength=13)[6:11]          # 5 complete windows: 6..10
    assert np.all(starts > 4000 / 5 * 0.8)                     # uniform over history
    assert set(np.unique(base)) == {1, 100}                    # both streams drawn


def test_sample_before_full_never_reads_unwritten_rows():
    buf = _fill(np.arange(1, 6)[:, None], 50)
    w = np.asarray(sequence_buffer.sample(buf, jax.random.key(1), 500, 4))
    assert w.min() >= 1 and w.max() <= 5 and set(w[:, 0]) == {1, 2}
