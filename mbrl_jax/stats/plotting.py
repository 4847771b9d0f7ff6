"""Learning-curve plots: mean over seeds with a 95% confidence band. Host-side, matplotlib."""

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from mbrl_jax.stats.episodes import mean_and_ci


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; no display needed
    import matplotlib.pyplot as plt

    return plt


def plot_curves(ax, curves: Mapping[str, np.ndarray], x: np.ndarray | None = None,
                xlabel: str = "", ylabel: str = "", title: str = "", logy: bool = False):
    """Draw each curve [num_seeds, X] as its seed mean with a shaded 95% CI, on `ax`."""
    for label, values in curves.items():
        values = np.asarray(values, dtype=np.float64)
        mean, half = mean_and_ci(values, axis=0)
        xs = np.arange(1, values.shape[-1] + 1) if x is None else np.asarray(x)
        n = values.shape[0]
        (line,) = ax.plot(xs, mean, label=f"{label} ({n} seeds)", lw=1.6)
        ax.fill_between(xs, mean - half, mean + half, color=line.get_color(), alpha=0.2, lw=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def save_curves(path: str | Path, curves: Mapping[str, np.ndarray], **kwargs) -> Path:
    """One-panel `plot_curves` figure written to `path` (PNG); returns the path."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    plot_curves(ax, curves, **kwargs)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def figure(ncols: int = 1, width: float = 7.0, height: float = 4.5):
    """A (fig, axes) pair for multi-panel plots, using the file-only backend."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)
    return fig, axes[0]
