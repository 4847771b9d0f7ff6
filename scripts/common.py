"""Helpers shared by the reproduction scripts: where results go, run seeds in one program, save
JSON results with their provenance (`mbrl_jax.stats.provenance`)."""

import time
from pathlib import Path

import numpy as np

from mbrl_jax.stats.provenance import add_results_options, results_folder, write_json

RESULTS = Path(__file__).resolve().parent / "results"  # committed results
SCRATCH = Path(__file__).resolve().parent / "runs"  # regenerated results (git-ignored)


def add_results_option(parser, out: bool = True) -> None:
    """--write-results (into RESULTS; default SCRATCH) and, unless `out` is False, --out FOLDER."""
    add_results_options(parser, RESULTS, SCRATCH, out=out)


def results_dir(args) -> Path:
    """Where a script writes (created): --out if given, the committed results only when asked
    (--write-results), else the git-ignored scratch folder."""
    return results_folder(RESULTS, SCRATCH, write_results=args.write_results,
                          out=getattr(args, "out", None))


def run_seeds(config, env, env_params, num_seeds: int, seed: int = 0):
    """All seeds of one config as one jit(vmap(train)) program; metrics as numpy [seeds, T]
    (the run's [seeds, T, 1] env leaves with their one-env axis folded by `per_stream`)."""
    import jax  # here, so that scripts that only write results do not start JAX

    from mbrl_jax.dyna import make_train

    keys = jax.random.split(jax.random.key(seed), num_seeds)
    start = time.perf_counter()
    state, metrics, _ = jax.jit(jax.vmap(make_train(config, env, env_params)))(keys)
    from mbrl_jax.stats.report import per_stream

    metrics = per_stream({k: np.asarray(v) for k, v in metrics.items()})
    return state, metrics, time.perf_counter() - start


def save_json(name: str, payload: dict, folder: Path) -> Path:
    """folder/name.json: the payload under its provenance block."""
    path = folder / f"{name}.json"
    write_json(path, payload)
    return path


def first_sustained_below(curve: np.ndarray, threshold: float) -> int | None:
    """1-based index of the first point from which `curve` stays <= threshold (None if never)."""
    above = np.flatnonzero(~(curve <= threshold))
    if len(above) == 0:
        return 1
    return int(above[-1]) + 2 if above[-1] + 1 < len(curve) else None


def add_set_option(parser, config_name: str) -> None:
    """`--set FIELD=VALUE` (repeatable): overrides of a config's fields; see `set_overrides`."""
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help=f"override a {config_name} field (repeatable)")


def set_overrides(items: list[str]) -> dict:
    """`["horizon=20", "cem=None"]` -> `{"horizon": 20, "cem": None}` (Python literals)."""
    import ast

    out = {}
    for item in items:
        field, _, value = item.partition("=")
        out[field] = ast.literal_eval(value)
    return out
