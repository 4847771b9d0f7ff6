"""Comparing finished runs on the host (what `mbrl-jax plot` and `mbrl-jax compare` print).

A run folder's return curve is its evaluation stream (`eval.jsonl`: per-seed mean greedy return at
each evaluation) when it has one, else its training stream (`metrics.jsonl`: per seed, the mean
return of the episodes that ended in each chunk). Across seeds the curve is the interquartile mean
(IQM, the mean of the middle 50%; Agarwal et al., 2021, "Deep RL at the edge of the statistical
precipice") with a 95% percentile-bootstrap band over seeds, from `scipy.stats` (one task, so the
stratified bootstrap is a bootstrap over seeds).
"""

import json
from pathlib import Path
from typing import NamedTuple

import numpy as np


class Curve(NamedTuple):
    name: str
    source: str              # "eval" or "train"
    steps: np.ndarray        # [N] env steps per seed
    returns: np.ndarray      # [S, N] per seed, NaN where a seed has no value
    info: dict               # run.json (timings, status), {} if absent


def load_curve(run_dir: Path) -> Curve:
    """The return curve of one run folder (see the module docstring)."""
    run_dir = Path(run_dir)
    config_path = run_dir / "config.json"
    if not config_path.exists():
        raise FileNotFoundError(f"{run_dir} is not a run folder (no config.json)")
    config = json.loads(config_path.read_text())
    info = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").exists() \
        else {}
    name = config.get("name") or run_dir.name
    evals = _records(run_dir / "eval.jsonl")
    if evals and "return" in evals[0]:
        return Curve(name, "eval", np.array([r["step"] for r in evals]),
                     np.array([r["return"] for r in evals], float).T, info)
    train = _records(run_dir / "metrics.jsonl")
    if not train or "return_per_seed" not in train[0]:
        raise FileNotFoundError(f"{run_dir} has no per-seed returns (eval.jsonl, metrics.jsonl)")
    values = [[np.nan if v is None else v for v in r["return_per_seed"]] for r in train]
    return Curve(name, "train", np.array([r["step"] for r in train]),
                 np.array(values, float).T, info)


def _records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def iqm(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """Interquartile mean along `axis` (scipy's 25%-trimmed mean), NaNs dropped per column."""
    from scipy import stats

    x = np.moveaxis(np.asarray(x, float), axis, 0)
    if not np.isnan(x).any():
        return stats.trim_mean(x, 0.25, axis=0)
    return np.array([stats.trim_mean(c[~np.isnan(c)], 0.25) if (~np.isnan(c)).any() else np.nan
                     for c in x.reshape(x.shape[0], -1).T]).reshape(x.shape[1:])


def iqm_band(returns: np.ndarray, reps: int = 2000, seed: int = 0):
    """(iqm [N], low [N], high [N]): IQM over seeds and its 95% bootstrap interval per step."""
    from scipy import stats

    centre = iqm(returns)
    low, high = centre.copy(), centre.copy()
    full = ~np.isnan(returns).any(axis=0)
    if returns.shape[0] > 1 and full.any():
        ci = stats.bootstrap((returns[:, full],), lambda x, axis: stats.trim_mean(x, 0.25, axis),
                             axis=0, vectorized=True, n_resamples=reps, method="percentile",
                             confidence_level=0.95, rng=np.random.default_rng(seed))
        low[full], high[full] = ci.confidence_interval.low, ci.confidence_interval.high
    return centre, low, high


def plot_runs(run_dirs: list[Path], path: Path, title: str | None = None) -> Path:
    """One figure: x env steps, y return (IQM over seeds, 95% band), one line per run."""
    import matplotlib.pyplot as plt

    from mbrl_jax.stats.plotting import figure

    fig, (ax,) = figure(ncols=1, width=6.0)
    sources = set()
    for run_dir in run_dirs:
        curve = load_curve(run_dir)
        centre, low, high = iqm_band(curve.returns)
        (line,) = ax.plot(curve.steps, centre, label=f"{curve.name} ({curve.returns.shape[0]} "
                                                       f"seeds)")
        ax.fill_between(curve.steps, low, high, color=line.get_color(), alpha=0.2, lw=0)
        sources.add(curve.source)
    kind = "evaluation return" if sources == {"eval"} else "return"
    ax.set_xlabel("env steps")
    ax.set_ylabel(f"{kind} (IQM over seeds, 95% CI)")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def compare_rows(run_dirs: list[Path], threshold: float | None = None) -> list[dict]:
    """Per run: final return (IQM and mean over seeds, last point), steps until the seed-mean
    return first reaches `threshold`, wall-clock and env steps per second (all seeds)."""
    rows = []
    for run_dir in run_dirs:
        curve = load_curve(run_dir)
        final = curve.returns[:, -1]
        mean = np.nanmean(curve.returns, axis=0)
        reached = np.flatnonzero(mean >= threshold) if threshold is not None else []
        rows.append({
            "run": curve.name, "source": curve.source, "seeds": curve.returns.shape[0],
            "env_steps": int(curve.steps[-1]), "final_iqm": float(iqm(final[:, None])[0]),
            "final_mean": float(np.nanmean(final)),
            "steps_to_threshold": int(curve.steps[reached[0]]) if len(reached) else None,
            "wall_clock_s": curve.info.get("wall_seconds"),
            "env_steps_per_s": curve.info.get("env_steps_per_s"),
            "status": curve.info.get("status"),
        })
    return rows


def format_rows(rows: list[dict], threshold: float | None) -> str:
    def show(v, spec=".4g"):
        return "-" if v is None else format(v, spec)
    head = (f"{'run':<32} {'seeds':>5} {'steps':>9} {'final IQM':>10} {'final mean':>10} "
            f"{'steps to ' + show(threshold):>14} {'wall s':>8} {'steps/s':>10}")
    lines = [head]
    for r in rows:
        lines.append(f"{r['run'][:32]:<32} {r['seeds']:>5} {r['env_steps']:>9} "
                     f"{show(r['final_iqm']):>10} {show(r['final_mean']):>10} "
                     f"{show(r['steps_to_threshold'], 'd'):>14} {show(r['wall_clock_s']):>8} "
                     f"{show(r['env_steps_per_s'], ',.0f'):>10}")
    return "\n".join(lines)


__all__ = ["Curve", "compare_rows", "iqm", "iqm_band", "load_curve", "plot_runs"]
