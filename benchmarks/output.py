"""Where benchmarks write, and the provenance of what they write (`mbrl_jax.stats.provenance`):
benchmarks/runs/ (ignored by git) unless asked, the committed benchmarks/results/ with
--write-results, or --out FOLDER."""

import os
from pathlib import Path

from mbrl_jax.stats.provenance import add_results_options, describe, results_folder, write_json

RESULTS = Path(__file__).resolve().parent / "results"  # committed results
SCRATCH = Path(__file__).resolve().parent / "runs"  # regenerated results (git-ignored)

__all__ = ["RESULTS", "SCRATCH", "add_results_option", "describe", "load_average",
           "results_dir", "write_json"]


def add_results_option(parser) -> None:
    """--write-results (into RESULTS; default SCRATCH) and --out FOLDER."""
    add_results_options(parser, RESULTS, SCRATCH)


def results_dir(args) -> Path:
    """--out if given, the committed results only with --write-results, else SCRATCH; created."""
    return results_folder(RESULTS, SCRATCH, write_results=args.write_results, out=args.out)


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages now (the provenance block has those at writing)."""
    return [round(x, 2) for x in os.getloadavg()]
