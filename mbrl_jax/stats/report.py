"""Run outputs shared by the driver, the CLI and scripts: per-chunk JSON lines, learning curves
and a summary table."""

import json
from pathlib import Path

import numpy as np

from mbrl_jax.stats import episodes
from mbrl_jax.stats.plotting import figure, plot_curves


def per_stream(metrics: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Fold a parallel-env axis into the seed axis: [S, T, N] leaves -> [S * N, T] (each env of
    each seed is one stream of episodes); [S, T] leaves are returned unchanged."""
    return {k: (np.moveaxis(v, 2, 1).reshape(-1, v.shape[1]) if v.ndim == 3 else v)
            for k, v in metrics.items()}


def chunk_record(step: int, metrics: dict[str, np.ndarray], elapsed_s: float) -> dict:
    """One metrics.jsonl line for a chunk; metrics are [num_seeds, chunk_steps]."""
    reward, done = metrics["reward"], metrics["done"]
    per_seed_rate = reward.mean(axis=1)
    mean, half = episodes.mean_and_ci(per_seed_rate)
    returns = episodes.episode_returns(reward, done)
    ended = np.array([len(r) for r in returns])
    finished = np.concatenate(returns) if ended.sum() else None
    return {
        "step": int(step),
        "reward_per_step": float(mean),
        "reward_per_step_ci95": float(half),
        "episodes_per_seed": float(ended.mean()),
        # episodes split across chunks are cut at the chunk start: indicative, the curves are exact
        "mean_return_of_episodes_ended": None if finished is None else float(finished.mean()),
        "elapsed_s": round(float(elapsed_s), 3),
    }


def write_jsonl(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def learning_curves(reward: np.ndarray, done: np.ndarray, smooth: int):
    """Per-episode returns and lengths [num_seeds, E] (E = fewest episodes any seed finished),
    smoothed with a trailing moving average of `smooth` episodes."""
    returns = episodes.episode_returns(reward, done)
    lengths = episodes.episode_lengths(done)
    num = min(len(r) for r in returns)
    ret = episodes.moving_average(episodes.pad_episodes(returns, num), smooth)
    length = episodes.moving_average(episodes.pad_episodes(lengths, num), smooth)
    return ret, length


def choose_panels(reward: np.ndarray, done: np.ndarray) -> tuple[str, ...]:
    """The learning-curve panels that carry information for this run ([num_seeds, T] metrics).

    ("cumulative",) when some stream finished no episode (per-episode curves, which end at the
    fewest episodes any stream finished, would be empty);
    ("length", "cumulative") when every finished episode has the same return, as in a maze whose
    goal pays 1 (Sutton & Barto plot steps per episode, Fig. 8.2, and cumulative reward, Fig. 8.4);
    ("return", "length") otherwise.
    """
    per_seed = episodes.episode_returns(reward, done)
    if min(len(r) for r in per_seed) == 0:  # per-episode curves end at the fewest: none
        return ("cumulative",)
    returns = np.concatenate(per_seed)
    if np.all(returns == returns[0]):
        return ("length", "cumulative")
    return ("return", "length")


_MAX_POINTS = 2000  # cumulative-reward curves are drawn at most this many points


def save_learning_curve(path: Path, label: str, reward: np.ndarray, done: np.ndarray,
                        smooth: int, title: str) -> Path:
    """Panels chosen by `choose_panels`, each the mean over seeds with a 95% CI. Per-episode
    curves end at the fewest episodes any seed finished; the x label says so when seeds differ."""
    counts = [len(r) for r in episodes.episode_returns(reward, done)]
    # a seed without a finished episode has no per-episode curve: cumulative reward only
    panels = choose_panels(reward, done) if min(counts) else ("cumulative",)
    fig, axes = figure(ncols=len(panels), width=6.0)
    sm = f" (moving average of {smooth})" if smooth > 1 else ""
    xlabel = "episode"
    if min(counts) < max(counts):
        xlabel += (f" (curves end at {min(counts)}, the fewest any of {len(counts)} seeds "
                   f"finished; the most: {max(counts)})")
    ret, length = learning_curves(reward, done, smooth) if min(counts) else (None, None)
    for ax, panel in zip(axes, panels, strict=True):
        if panel == "return":
            plot_curves(ax, {label: ret}, xlabel=xlabel, ylabel=f"return per episode{sm}")
        elif panel == "length":
            plot_curves(ax, {label: length}, xlabel=xlabel, ylabel=f"steps per episode{sm}")
        else:
            stride = max(1, reward.shape[1] // _MAX_POINTS)
            cumulative = np.cumsum(reward, axis=1, dtype=np.float64)[:, stride - 1::stride]
            steps = np.arange(stride, reward.shape[1] + 1, stride)
            empty = sum(c == 0 for c in counts)
            note = f" ({empty} of {len(counts)} seeds ended no episode)" if empty else ""
            plot_curves(ax, {label: cumulative}, x=steps, xlabel=f"env step{note}",
                        ylabel="cumulative reward")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def episode_note(done: np.ndarray) -> str | None:
    """A line to print when no stream finished an episode ([num_seeds, T] done), else None."""
    if np.any(done):
        return None
    return (f"no episode ended in {done.shape[1]} steps in any of {done.shape[0]} streams: "
            "per-episode statistics are left out (see the cumulative reward)")


def summary_rows(reward: np.ndarray, done: np.ndarray, last_fraction: float = 0.1):
    """(name, mean, ci95) rows over seeds for the printed summary table."""
    num_steps = reward.shape[1]
    tail = max(1, int(num_steps * last_fraction))
    returns = episodes.episode_returns(reward, done)
    lengths = episodes.episode_lengths(done)
    rows = [
        ("episodes completed", np.array([len(r) for r in returns], dtype=float)),
        ("mean return, all episodes", np.array([np.mean(r) if len(r) else np.nan
                                                for r in returns])),
        (f"reward per step, last {tail} steps", reward[:, -tail:].mean(axis=1)),
    ]
    last_k = 10
    rows.append((f"return, last {last_k} episodes",
                 np.array([np.mean(r[-last_k:]) if len(r) else np.nan for r in returns])))
    rows.append((f"steps per episode, last {last_k} episodes",
                 np.array([np.mean(ln[-last_k:]) if len(ln) else np.nan for ln in lengths])))
    # a statistic no seed has (no episode ended anywhere) is left out, not printed as NaN
    return [(name, *episodes.mean_and_ci(values)) for name, values in rows
            if not np.all(np.isnan(values))]


def format_table(rows, num_seeds: int) -> str:
    width = max(len(r[0]) for r in rows)
    lines = [f"{'metric':<{width}}  {'mean':>10}  {'95% CI +/-':>10}   ({num_seeds} seeds)"]
    lines += [f"{name:<{width}}  {mean:>10.4g}  {half:>10.3g}" for name, mean, half in rows]
    return "\n".join(lines)
