"""The `mbrl-jax` command (also `python -m mbrl_jax`). Parses options, runs, writes outputs;
no algorithm logic lives here.

    mbrl-jax train dyna-q --env FrozenLake-misc --env-kw is_slippery=false --seeds 32 --steps 20000
    mbrl-jax envs
"""

import argparse
import ast
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

from mbrl_jax import envs
from mbrl_jax.algorithms import registry
from mbrl_jax.core.errors import ConfigError


class CLIError(Exception):
    """A user error: printed as one line, exit status 2."""


def _positive_int(text: str) -> int:
    """A positive whole number; `20000`, `20_000` and `2e4` are the same."""
    try:
        value = int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            number = float("nan")
        if not number.is_integer():
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        value = int(number)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def _env_kw(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    lowered = {"true": "True", "false": "False", "none": "None"}.get(raw.lower(), raw)
    try:
        value = ast.literal_eval(lowered)
    except (ValueError, SyntaxError):
        value = raw  # a plain string such as map_name=8x8
    return key, value


def _prepare_out(out: Path) -> Path:
    """Create the output folder, or raise CLIError saying why it cannot be used."""
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {out} is an existing file; give a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise CLIError(f"--out {out} cannot be written: {err.strerror or err}") from None
    return out


def _env_table() -> str:
    """Every env id with the algorithms that accept it, from each algorithm's own env check."""
    specs = registry()
    rows = []
    for env_id in envs.registered_envs():
        try:
            env, env_params = envs.make(env_id)
        except Exception as err:  # noqa: BLE001 - e.g. a dataset download that is not possible
            rows.append((env_id, f"(cannot be built here: {type(err).__name__})"))
            continue
        accepted = []
        for spec in specs.values():
            try:
                if spec.check_env is not None:
                    spec.check_env(env, env_params)
                accepted.append(spec.name)
            except (ConfigError, ValueError, TypeError):
                pass
        rows.append((env_id, ", ".join(accepted) or "-"))
    width = max(len(r[0]) for r in rows)
    return "\n".join([f"{'env id':<{width}}  algorithms that accept it"]
                     + [f"{env_id:<{width}}  {algos}" for env_id, algos in rows])


def _add_run_options(parser: argparse.ArgumentParser, spec) -> None:
    """Options every algorithm shares."""
    parser.add_argument("--env", default=spec.default_env,
                        help="environment id (see `mbrl-jax envs`)")
    parser.add_argument("--env-kw", type=_env_kw, action="append", default=[],
                        metavar="KEY=VALUE",
                        help="environment constructor argument, repeatable "
                             "(e.g. is_slippery=false, change_step=1000)")
    parser.add_argument("--seeds", type=_positive_int, default=32,
                        help="independent seeds, vmapped in one program")
    parser.add_argument("--steps", type=_positive_int, default=spec.default_steps,
                        help="real environment steps per seed")
    parser.add_argument("--seed", type=int, default=0, help="master PRNG seed")
    parser.add_argument("--chunk-steps", type=_positive_int, default=None,
                        help="env steps per compiled chunk between progress updates "
                             "(default: steps/50, at least 100)")
    parser.add_argument("--smooth", type=_positive_int, default=10,
                        help="moving-average window (episodes) for the learning curve")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: runs/<algorithm>-<env>-<time>)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mbrl-jax", description="Model-based RL in JAX: train agents on gymnax envs.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{train,envs}")

    sub.add_parser("envs", help="list the environment ids that --env accepts, and which "
                                "algorithms can train on each")

    train = sub.add_parser(
        "train", help="train an agent for many seeds at once and write curves and metrics",
        description="Train one algorithm for --seeds seeds in one vmapped, compiled program, run "
                    "in chunks with a progress bar. Writes config.json, metrics.jsonl and "
                    "learning_curve.png to --out and prints a summary table. "
                    "`mbrl-jax train ALGORITHM --help` lists an algorithm's options.")
    specs = registry()
    algos = train.add_subparsers(dest="algorithm", required=True, metavar="ALGORITHM",
                                 title="algorithms")
    for spec in specs.values():
        algo = algos.add_parser(spec.name, help=spec.help, description=spec.help,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        _add_run_options(algo, spec)
        spec.add_arguments(algo)
    return parser


def _train(args) -> Path:
    import jax
    import numpy as np

    from mbrl_jax.core import report
    from mbrl_jax.core.loop import run_chunked

    spec = registry()[args.algorithm]
    env_kwargs = dict(args.env_kw)
    try:
        env, env_params = envs.make(args.env, **env_kwargs)
    except (TypeError, ValueError) as err:
        raise CLIError(f"--env-kw {env_kwargs} not accepted by {args.env}: {err}") from None
    trainer, config = spec.build(args, env, env_params)  # validates before anything is traced

    out = _prepare_out(
        args.out or Path("runs") / f"{args.algorithm}-{args.env}-{time.strftime('%Y%m%d-%H%M%S')}")
    (out / "config.json").write_text(json.dumps({
        "algorithm": args.algorithm, "env": args.env, "env_kwargs": env_kwargs,
        "seeds": args.seeds, "seed": args.seed, "config": dataclasses.asdict(config),
        "jax": jax.__version__, "backend": jax.default_backend(),
    }, indent=2) + "\n")

    total = trainer.num_env_steps
    chunk = args.chunk_steps or max(100, total // 50)
    keys = jax.random.split(jax.random.key(args.seed), args.seeds)
    records, start = [], time.perf_counter()
    bar = report.Progress(total, f"{args.algorithm} x{args.seeds} seeds", args.no_progress)

    def on_chunk(done, metrics):
        metrics = report.per_stream(metrics)
        records.append(report.chunk_record(done, metrics, time.perf_counter() - start))
        bar.update(done, reward_per_step=f"{records[-1]['reward_per_step']:.3g}")

    result = run_chunked(trainer, keys, chunk_steps=chunk, on_chunk=on_chunk)
    bar.close()
    report.write_jsonl(out / "metrics.jsonl", records)
    np.savez_compressed(out / "metrics.npz", **result.metrics)
    streams = report.per_stream(result.metrics)
    reward, done = streams["reward"], streams["done"]
    png = report.save_learning_curve(
        out / "learning_curve.png", spec.label(args), reward, done,
        args.smooth, title=f"{args.algorithm} on {args.env}")
    steps_per_s = reward.shape[0] * total / max(result.run_seconds, 1e-9)
    print(report.format_table(report.summary_rows(reward, done), reward.shape[0]))
    if note := report.episode_note(done):
        print(note)
    print(f"compile {result.compile_seconds:.2f} s, run {result.run_seconds:.2f} s "
          f"({steps_per_s:,.0f} env steps/s over all seeds)")
    print(f"outputs: {out}/ (config.json, metrics.jsonl, metrics.npz)")
    print(f"learning curve: {png}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "envs":
            print(_env_table(), flush=True)
        else:
            _train(args)
    except (ConfigError, envs.NotTabularError, envs.UnknownEnvError, CLIError) as err:
        parser.exit(2, f"mbrl-jax: error: {err}\n")
    except BrokenPipeError:  # e.g. `mbrl-jax envs | head`: the reader left, nothing to report
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # stop Python's flush at exit from failing again
    return 0


if __name__ == "__main__":
    sys.exit(main())
