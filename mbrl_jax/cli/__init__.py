"""The `mbrl-jax` command (also `python -m mbrl_jax`). Parses options, runs, writes outputs;
no algorithm logic lives here.

    mbrl-jax train dyna-q --env FrozenLake-misc --env-kw is_slippery=false --seeds 32 --steps 20000
    mbrl-jax train dyna-q ... --resume runs/x        # continue a checkpointed run
    mbrl-jax sweep dyna-q --seeds 8 --set alpha=0.1,0.5 --set epsilon=0.05,0.1
    mbrl-jax plot RUN_DIR...  /  mbrl-jax compare RUN_DIR...
    mbrl-jax envs
"""

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

from mbrl_jax import envs
from mbrl_jax.cli.common import (
    CLIError,
    add_run_options,
    eval_every_steps,
    prepare_out,
)
from mbrl_jax.cli.registry import registry
from mbrl_jax.core.errors import ConfigError
from mbrl_jax.stats.provenance import write_json


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
                spec.check_env(env, env_params)
            except (ConfigError, envs.NotTabularError):
                continue
            accepted.append(spec.name)
        rows.append((env_id, ", ".join(accepted) or "-"))
    width = max(len(r[0]) for r in rows)
    return "\n".join([f"{'env id':<{width}}  algorithms that accept it (default settings)"]
                     + [f"{env_id:<{width}}  {algos}" for env_id, algos in rows]
                     + ["", "mbpo defaults to --termination env (a known termination function); "
                        "any other Box-action env trains with --termination learned or none."])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mbrl-jax", description="Model-based RL in JAX: train agents on gymnax envs.")
    sub = parser.add_subparsers(dest="command", required=True,
                                metavar="{train,sweep,plot,compare,envs}")

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
        add_run_options(algo, spec)
        spec.add_arguments(algo)
    from mbrl_jax.cli import compare, sweep

    sweep.add_parser(sub, specs)
    compare.add_parsers(sub)
    return parser


def _resume_expectation(args, spec, saved: dict) -> dict:
    """What the checkpoint's meta must equal: this run's identity at the checkpoint's length."""
    at_saved = argparse.Namespace(**{**vars(args), "steps": saved.get("steps", args.steps)})
    config = spec.make_config(at_saved)
    return {"algorithm": args.algorithm, "env": args.env, "env_kwargs": dict(args.env_kw),
            "seeds": args.seeds, "seed": args.seed, "config": dataclasses.asdict(config)}


def _train(args) -> Path:
    import jax

    from mbrl_jax.cli.progress import Progress, deferred_interrupt
    from mbrl_jax.driver import sharding
    from mbrl_jax.driver.checkpoint import Checkpointer
    from mbrl_jax.driver.run import RunHooks, RunSettings, run_in_folder
    from mbrl_jax.stats import report

    if args.distributed:
        jax.distributed.initialize()
    spec = registry()[args.algorithm]
    env_kwargs = dict(args.env_kw)
    try:
        env, env_params = envs.make(args.env, **env_kwargs)
    except (TypeError, ValueError) as err:
        raise CLIError(f"--env-kw {env_kwargs} not accepted by {args.env}: {err}") from None
    trainer, config = spec.build(args, env, env_params)  # validates before anything is traced
    try:
        devices = sharding.resolve_devices(args.devices)
    except ValueError as err:
        raise CLIError(str(err)) from None

    saved = None
    if args.resume is not None:
        if args.out is not None and args.out != args.resume:
            raise CLIError("--resume writes into RUN_DIR; leave out --out")
        out = prepare_out(args.resume)
        try:
            saved = Checkpointer(out / "checkpoints").read_meta()
        except FileNotFoundError:
            raise CLIError(f"--resume: no checkpoint in {out / 'checkpoints'}") from None
    else:
        out = prepare_out(args.out or Path("runs") / (f"{args.algorithm}-{args.env}-"
                                                       f"{time.strftime('%Y%m%d-%H%M%S')}"))
    eval_every = eval_every_steps(args, trainer, saved)
    meta = {"algorithm": args.algorithm, "env": args.env, "env_kwargs": env_kwargs,
            "seeds": args.seeds, "seed": args.seed, "steps": trainer.num_env_steps,
            "eval_every": eval_every, "config": dataclasses.asdict(config)}
    expect = None
    if saved is not None:
        expect = {**_resume_expectation(args, spec, saved),
                  "eval_every": eval_every}
    write_json(out / "config.json", {**meta, "label": spec.label(config)},
               argv=["mbrl-jax", *args.argv])

    total = trainer.num_env_steps
    checkpoint_every = None if args.no_checkpoints else (
        args.checkpoint_every if args.checkpoint_every is not None else total // 10)
    keys = jax.random.split(jax.random.key(args.seed), args.seeds)
    settings = RunSettings(
        out=out, meta={**meta, "desc": f"{args.algorithm} x{args.seeds} seeds"}, expect=expect,
        chunk_steps=args.chunk_steps, eval_every=eval_every, devices=devices,
        checkpoint_every=checkpoint_every, keep_checkpoints=args.keep_checkpoints,
        resume=saved is not None, check_finite=not args.no_check_finite, stop_at=args.stop_at)
    bar = Progress(total, f"{args.algorithm} x{args.seeds} seeds", disable=args.no_progress)
    try:
        with deferred_interrupt() as interrupted:
            outcome = run_in_folder(trainer, keys, settings, RunHooks(
                log=lambda line: print(line, flush=True), interrupted=interrupted,
                on_progress=lambda steps, record: bar.update(
                    steps, reward_per_step=f"{record['reward_per_step']:.3g}")))
    finally:
        bar.close()
    if outcome.metrics is not None:
        streams = report.per_stream(outcome.metrics)
        reward, done = streams["reward"], streams["done"]
        png = report.save_learning_curve(
            out / "learning_curve.png", spec.label(config), reward, done,
            args.smooth, title=f"{args.algorithm} on {args.env}")
        print(report.format_table(report.summary_rows(reward, done), reward.shape[0]))
        if note := report.episode_note(done):
            print(note)
        print(f"learning curve: {png}")
    if outcome.eval_steps.size and "return" in outcome.eval_metrics:
        final = outcome.eval_metrics["return"][:, -1].reshape(args.seeds, -1).mean(axis=1)
        print(f"evaluation return at env step {outcome.eval_steps[-1]}: "
              f"{final.mean():.4g} (mean of {args.seeds} seeds; min {final.min():.4g}, "
              f"max {final.max():.4g})")
    print(f"compile {outcome.compile_seconds:.2f} s, run {outcome.run_seconds:.2f} s "
          f"({outcome.env_steps_per_s:,.0f} env steps/s over all seeds)")
    if outcome.status in ("interrupted", "stopped"):
        print(f"{outcome.status} at env step {outcome.env_steps}; continue with --resume {out}")
    print(f"outputs: {out}/ (config.json, run.json, metrics.jsonl, eval.jsonl, metrics.npz, "
          f"checkpoints/)")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # recorded in config.json
    from mbrl_jax.cli import compare, sweep
    from mbrl_jax.driver.checkpoint import CheckpointMismatchError
    from mbrl_jax.driver.run import RunError, RunSetupError

    commands = {"train": _train, "sweep": sweep.run_command, "plot": compare.plot_command,
                "compare": compare.compare_command,
                "envs": lambda args: print(_env_table(), flush=True)}
    status = None
    try:
        status = commands[args.command](args)
    except (ConfigError, envs.NotTabularError, envs.UnknownEnvError, CLIError,
            CheckpointMismatchError, FileNotFoundError, RunSetupError) as err:
        parser.exit(2, f"mbrl-jax: error: {err}\n")
    except RunError as err:
        parser.exit(1, f"mbrl-jax: error: {err}\n")
    except BrokenPipeError:  # e.g. `mbrl-jax envs | head`: the reader left, nothing to report
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # stop Python's flush at exit from failing again
    return 130 if args.command == "train" and _interrupted(status) else 0


def _interrupted(out) -> bool:
    try:
        return json.loads((Path(out) / "run.json").read_text())["status"] == "interrupted"
    except (OSError, TypeError, KeyError, ValueError):
        return False


if __name__ == "__main__":
    sys.exit(main())
