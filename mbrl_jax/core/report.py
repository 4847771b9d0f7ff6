"""Run outputs shared by the CLI and scripts: per-chunk JSON lines, curves, a summary table."""

import json
from pathlib import Path

import numpy as np

from mbrl_jax.core import episodes
from mbrl_jax.core.plotting import figure, plot_curves


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


def save_learning_curve(path: Path, label: str, reward: np.ndarray, done: np.ndarray,
                        smooth: int, title: str) -> Path:
    """Two panels: return per episode and steps per episode, mean over seeds with 95% CI."""
    ret, length = learning_curves(reward, done, smooth)
    fig, (ax_ret, ax_len) = figure(ncols=2, width=6.0)
    sm = f" (moving average of {smooth})" if smooth > 1 else ""
    plot_curves(ax_ret, {label: ret}, xlabel="episode", ylabel=f"return per episode{sm}")
    plot_curves(ax_len, {label: length}, xlabel="episode", ylabel=f"steps per episode{sm}")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


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
    return [(name, *episodes.mean_and_ci(values)) for name, values in rows]


def format_table(rows, num_seeds: int) -> str:
    width = max(len(r[0]) for r in rows)
    lines = [f"{'metric':<{width}}  {'mean':>10}  {'95% CI +/-':>10}   ({num_seeds} seeds)"]
    lines += [f"{name:<{width}}  {mean:>10.4g}  {half:>10.3g}" for name, mean, half in rows]
    return "\n".join(lines)
