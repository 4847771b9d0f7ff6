"""Helpers shared by the reproduction scripts: run seeds in one program, save JSON results."""

import json
import time
from pathlib import Path

import jax
import numpy as np

from mbrl_jax.dyna import make_train

RESULTS = Path(__file__).resolve().parent / "results"  # committed results
SCRATCH = Path(__file__).resolve().parent / "runs"  # regenerated results (git-ignored)


def add_results_option(parser) -> None:
    parser.add_argument("--write-results", action="store_true",
                        help=f"write into the committed {RESULTS} (default: {SCRATCH}, ignored)")


def results_dir(args) -> Path:
    """Where a script writes: the committed results only when asked (--write-results)."""
    out = RESULTS if args.write_results else SCRATCH
    out.mkdir(parents=True, exist_ok=True)
    return out


def run_seeds(config, env, env_params, num_seeds: int, seed: int = 0):
    """All seeds of one config as one jit(vmap(train)) program; metrics as numpy [seeds, T]."""
    keys = jax.random.split(jax.random.key(seed), num_seeds)
    start = time.perf_counter()
    state, metrics = jax.jit(jax.vmap(make_train(config, env, env_params)))(keys)
    metrics = {k: np.asarray(v) for k, v in metrics.items()}
    return state, metrics, time.perf_counter() - start


def save_json(name: str, payload: dict, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    payload = {**payload, "jax": jax.__version__, "backend": jax.default_backend(),
               "date": time.strftime("%Y-%m-%d")}
    path = folder / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=float) + "\n")
    return path


def first_sustained_below(curve: np.ndarray, threshold: float) -> int | None:
    """1-based index of the first point from which `curve` stays <= threshold (None if never)."""
    above = np.flatnonzero(~(curve <= threshold))
    if len(above) == 0:
        return 1
    return int(above[-1]) + 2 if above[-1] + 1 < len(curve) else None
