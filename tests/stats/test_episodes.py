"""Episode statistics against hand-worked numbers."""

import numpy as np

from mbrl_jax.stats import episodes


def test_returns_and_lengths_per_seed():
    reward = np.array([[0, 1, 0, 0, 2, 5], [1, 1, 1, 1, 1, 1]], float)
    done = np.array([[0, 1, 0, 0, 1, 0], [0, 0, 1, 0, 0, 0]], bool)
    returns = episodes.episode_returns(reward, done)
    lengths = episodes.episode_lengths(done)
    # seed 0: episodes end at steps 1 and 4 (returns 1 and 2); the trailing 5 is unfinished
    np.testing.assert_array_equal(returns[0], [1.0, 2.0])
    np.testing.assert_array_equal(lengths[0], [2, 3])
    np.testing.assert_array_equal(returns[1], [3.0])
    np.testing.assert_array_equal(lengths[1], [3])
    padded = episodes.pad_episodes(returns)
    np.testing.assert_array_equal(padded[0], [1.0, 2.0])
    assert padded[1, 0] == 3.0 and np.isnan(padded[1, 1])


def test_moving_average_is_trailing_and_nan_aware():
    x = np.array([1.0, 2.0, 3.0, np.nan, 5.0])
    # windows of 2: [1], [1,2], [2,3], [3,nan], [nan,5]
    np.testing.assert_allclose(episodes.moving_average(x, 2), [1.0, 1.5, 2.5, 3.0, 5.0])
    np.testing.assert_allclose(episodes.moving_average(x[None], 1)[0, :3], [1.0, 2.0, 3.0])


def test_mean_and_ci_matches_formula():
    x = np.array([[1.0, 2.0], [3.0, np.nan], [5.0, 4.0]])
    mean, half = episodes.mean_and_ci(x)
    np.testing.assert_allclose(mean, [3.0, 3.0])
    # column 0: std (ddof 1) = 2, n = 3; column 1: std = sqrt(2), n = 2
    np.testing.assert_allclose(half, [1.96 * 2 / np.sqrt(3), 1.96 * np.sqrt(2) / np.sqrt(2)])
