"""Hyperparameter grids for the driver: every combination of values of an algorithm's HParams
fields as one batch axis (`grid_hparams`), and how a sweep ranks its points (`final_return`).
The `mbrl-jax sweep` command (mbrl_jax/cli/sweep.py) runs them.
"""

import dataclasses
import itertools

import numpy as np


def hparam_fields(hparams) -> set[str]:
    return {f.name for f in dataclasses.fields(hparams)} if dataclasses.is_dataclass(hparams) \
        else set()


def grid_hparams(default_hparams, grid: dict[str, list], num_seeds: int):
    """A sweep of a hyperparameter pytree for `run_chunked`: every combination of `grid` values.

    Returns `(hparams, points)`: `hparams` has each leaf `[len(points) * num_seeds]` (point-major:
    rows `i * num_seeds ... (i + 1) * num_seeds - 1` are point i), `points` the list of dicts of
    values. Pair it with `jnp.tile(keys, len(points))` so every point sees the same seeds:

        hp, points = grid_hparams(trainer.default_hparams, {"alpha": [0.1, 0.5]}, 8)
        result = run_chunked(trainer, jnp.tile(keys, len(points)), hp)
    """
    import jax
    import jax.numpy as jnp

    unknown = set(grid) - hparam_fields(default_hparams)
    if unknown:
        raise ValueError(f"not fields of {type(default_hparams).__name__}: {sorted(unknown)}")
    points = [dict(zip(grid, combo, strict=True)) for combo in itertools.product(*grid.values())]
    size = len(points) * num_seeds
    hparams = dataclasses.replace(default_hparams, **{
        name: jnp.repeat(jnp.asarray([p[name] for p in points],
                                     jnp.asarray(getattr(default_hparams, name)).dtype),
                         num_seeds) for name in grid})
    return jax.tree.map(lambda x: jnp.broadcast_to(x, (size,)), hparams), points


def point_name(point: dict) -> str:
    return "-".join(f"{k}={v}" for k, v in point.items()) or "default"


def final_return(streams: dict, evals: dict) -> np.ndarray:
    """Per seed: the last evaluation's mean return, else the mean of the last 10 episodes."""
    from mbrl_jax.stats import episodes

    if "return" in evals:
        last = evals["return"][:, -1]
        return last.reshape(last.shape[0], -1).mean(axis=1)
    returns = episodes.episode_returns(streams["reward"], streams["done"])
    return np.array([np.mean(r[-10:]) if len(r) else np.nan for r in returns])


def format_summary(summary: list[dict], seeds: int) -> str:
    names = list(summary[0]["point"]) if summary else []
    head = "| rank | " + " | ".join(names) + f" | final return (mean of {seeds} seeds) | std |"
    lines = [head, "|" + "---|" * (len(names) + 3)]
    for rank, row in enumerate(summary, 1):
        values = " | ".join(str(row["point"][n]) for n in names)
        lines.append(f"| {rank} | {values} | {row['final_return']:.4g} | "
                     f"{row['final_return_std']:.3g} |")
    return "\n".join(lines)


__all__ = ["final_return", "format_summary", "grid_hparams", "point_name"]
