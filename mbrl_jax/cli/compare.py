"""`mbrl-jax plot RUN_DIR...` (learning curves in one figure) and `mbrl-jax compare RUN_DIR...`
(a table of final return, speed and wall-clock); the statistics are mbrl_jax.stats.compare's."""

import argparse
import json
from pathlib import Path

from mbrl_jax.cli.common import CLIError
from mbrl_jax.stats.compare import compare_rows, format_rows, plot_runs


def add_parsers(sub) -> None:
    plot = sub.add_parser("plot", help="learning curves of several runs in one figure")
    plot.add_argument("runs", type=Path, nargs="+", metavar="RUN_DIR")
    plot.add_argument("--output", type=Path, default=Path("comparison.png"),
                      help="figure path")
    plot.add_argument("--title", default=None)
    table = sub.add_parser("compare", help="a table of final return, speed and wall-clock")
    table.add_argument("runs", type=Path, nargs="+", metavar="RUN_DIR")
    table.add_argument("--threshold", type=float, default=None,
                       help="report the env steps until the seed-mean return reaches this")
    table.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _checked(runs: list[Path]) -> list[Path]:
    for run in runs:
        if not (run / "config.json").exists():
            raise CLIError(f"{run} is not a run folder (no config.json)")
    return runs


def plot_command(args: argparse.Namespace) -> Path:
    path = plot_runs(_checked(args.runs), args.output, args.title)
    print(f"figure: {path}")
    return path


def compare_command(args: argparse.Namespace) -> None:
    rows = compare_rows(_checked(args.runs), args.threshold)
    print(json.dumps(rows, indent=2) if args.json else format_rows(rows, args.threshold))


__all__ = ["add_parsers", "compare_command", "plot_command"]
