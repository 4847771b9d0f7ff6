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


def test_a_runs_env_axis_makes_one_stream_per_env_seed_major():
    # [seeds = 1, T = 4, envs = 2]: env 0 ends at steps 1 and 3, env 1 at step 2. Read with the
    # env axis folded the wrong way (time-major), the ends would interleave across envs.
    reward = np.array([[[1, 10], [2, 20], [3, 30], [4, 40]]], float)
    done = np.array([[[0, 0], [1, 0], [0, 1], [1, 0]]], bool)
    returns = episodes.episode_returns(reward, done)
    assert len(returns) == 2
    np.testing.assert_array_equal(returns[0], [3.0, 7.0])
    np.testing.assert_array_equal(returns[1], [60.0])
    np.testing.assert_array_equal(episodes.episode_lengths(done)[1], [3])
    with np.testing.assert_raises(ValueError):
        episodes.episode_lengths(done[..., None])


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
