"""Host-side (numpy) episode statistics from per-step metrics `reward` and `done`.

All functions take arrays stacked over time, [T] for one seed, [num_seeds, T] for many, or a
run's env leaves [num_seeds, T, num_envs] (each env of each seed one stream, seed-major).
An episode that has not ended by the last step is not counted.
"""

import numpy as np


def _per_seed(x):
    """[T] -> [1, T]; [S, T] unchanged; [S, T, N] (a run's env leaves) -> [S * N, T], each env of
    each seed one stream of episodes (as `stats.report.per_stream`)."""
    x = np.asarray(x)
    if x.ndim == 1:
        return x[None]
    if x.ndim == 3:
        return np.moveaxis(x, 2, 1).reshape(-1, x.shape[1])
    if x.ndim != 2:
        raise ValueError(f"episode statistics take [T], [seeds, T] or [seeds, T, envs], "
                         f"got shape {x.shape}")
    return x


def episode_returns(reward, done) -> list[np.ndarray]:
    """Per seed, the undiscounted return of each completed episode, in order."""
    out = []
    for r, d in zip(_per_seed(reward), _per_seed(done), strict=True):
        ends = np.flatnonzero(d)
        cumulative = np.concatenate([[0.0], np.cumsum(r, dtype=np.float64)])
        out.append(np.diff(np.concatenate([[0.0], cumulative[ends + 1]])))
    return out


def episode_lengths(done) -> list[np.ndarray]:
    """Per seed, the number of steps of each completed episode, in order."""
    return [np.diff(np.concatenate([[-1], np.flatnonzero(d)])) for d in _per_seed(done)]


def pad_episodes(per_seed: list[np.ndarray], num_episodes: int | None = None) -> np.ndarray:
    """Stack ragged per-seed episode values into [num_seeds, num_episodes], NaN-padded."""
    if num_episodes is None:
        num_episodes = max((len(v) for v in per_seed), default=0)
    out = np.full((len(per_seed), num_episodes), np.nan)
    for i, values in enumerate(per_seed):
        n = min(num_episodes, len(values))
        out[i, :n] = values[:n]
    return out


def moving_average(x, window: int) -> np.ndarray:
    """Trailing moving average along the last axis (shorter windows at the start); NaN-aware."""
    x = np.asarray(x, dtype=np.float64)
    if window <= 1:
        return x
    valid = ~np.isnan(x)
    pad = [(0, 0)] * (x.ndim - 1) + [(1, 0)]
    csum = np.pad(np.cumsum(np.where(valid, x, 0.0), axis=-1), pad)
    ccount = np.pad(np.cumsum(valid, axis=-1), pad)
    t = np.arange(1, x.shape[-1] + 1)
    lo = np.maximum(t - window, 0)
    total = csum[..., t] - csum[..., lo]
    count = ccount[..., t] - ccount[..., lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def mean_and_ci(x, axis: int = 0, z: float = 1.96):
    """Mean over seeds and the half-width of a normal-approximation 95% confidence interval.

    NaNs (seeds without that episode) are ignored.
    """
    x = np.asarray(x, dtype=np.float64)
    n = np.sum(~np.isnan(x), axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nanmean(x, axis=axis)
        std = np.nanstd(x, axis=axis, ddof=1) if x.shape[axis] > 1 else np.zeros_like(mean)
        half = z * std / np.sqrt(np.maximum(n, 1))
    return mean, np.nan_to_num(half)
