"""`mbrl-jax sweep ALGO --seeds 8 --set alpha=0.1,0.5 --set planning_steps=5,50`.

A `--set NAME=V1,V2,...` whose NAME is a field of the trainer's `default_hparams` pytree is
*sweepable*: all its values (and every combination with other sweepable values) run vmapped in one
compiled program, seeds x grid points along one batch axis. Any other NAME is a config field
(e.g. `planning_steps`, which fixes loop lengths or shapes; nested ones as `sac.batch_size`): the
program is built and compiled once per value. Every grid point reuses the same seed keys, so
points differ only by their values. Each point gets a run folder (`config.json`,
`metrics.jsonl`, `eval.jsonl`, `metrics.npz`, `run.json`) that `mbrl-jax plot` / `compare` read,
and the sweep writes `summary.md` and `summary.json`: points ranked by final return (mean over
seeds of the last evaluation's greedy return, or of the last 10 training episodes without
evaluation).
"""

import argparse
import ast
import dataclasses
import itertools
import json
import time
from pathlib import Path

import numpy as np

from mbrl_jax.cli.common import CLIError, add_run_options, eval_every_steps
from mbrl_jax.driver.sweep import (
    final_return,
    format_summary,
    grid_hparams,
    hparam_fields,
    point_name,
)
from mbrl_jax.stats import report
from mbrl_jax.stats.provenance import write_json


def _parse_set(text: str) -> tuple[str, list]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected NAME=V1,V2,..., got {text!r}")
    name, raw = text.split("=", 1)
    values = []
    for item in raw.split(","):
        try:
            values.append(ast.literal_eval(item))
        except (ValueError, SyntaxError):
            values.append(item)
    return name.strip().replace("-", "_"), values


def add_parser(sub, specs) -> None:
    sweep = sub.add_parser(
        "sweep", help="a grid of hyperparameters x seeds; sweepable values vmapped in one program",
        description=__doc__.split("\n\n")[1])
    algos = sweep.add_subparsers(dest="algorithm", required=True, metavar="ALGORITHM",
                                 title="algorithms")
    for spec in specs.values():
        algo = algos.add_parser(spec.name, help=spec.help,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        add_run_options(algo, spec)
        spec.add_arguments(algo)
        algo.add_argument("--set", type=_parse_set, action="append", default=[],
                          dest="grid", metavar="NAME=V1,V2",
                          help="values to sweep (repeatable); NAME is a hyperparameter field or "
                               "an algorithm option")


def run_command(args) -> Path:
    import jax
    import jax.numpy as jnp

    from mbrl_jax import envs
    from mbrl_jax.cli.registry import registry
    from mbrl_jax.driver import sharding
    from mbrl_jax.driver.loop import Chunk, run_chunked
    from mbrl_jax.driver.run import RunSettings, chunk_return_per_seed, eval_records, plan_memory

    if args.distributed:
        jax.distributed.initialize()
    if args.resume is not None:
        raise CLIError("sweep: --resume is not supported; rerun the sweep")
    if not args.grid:
        raise CLIError("sweep: give at least one --set NAME=V1,V2")
    spec = registry()[args.algorithm]
    env_kwargs = dict(args.env_kw)
    env, env_params = envs.make(args.env, **env_kwargs)
    trainer, _ = spec.build(args, env, env_params)
    hp_fields = hparam_fields(trainer.default_hparams)
    swept = {n: v for n, v in args.grid if n in hp_fields}
    static = {n: v for n, v in args.grid if n not in hp_fields}
    for name in static:
        if not hasattr(args, name):
            raise CLIError(f"--set {name}: not a hyperparameter ({', '.join(sorted(hp_fields))}) "
                           f"nor an option of {args.algorithm}")
    out = args.out or Path("runs") / f"sweep-{args.algorithm}-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    devices = sharding.resolve_devices(args.devices)
    seed_keys = jax.random.split(jax.random.key(args.seed), args.seeds)
    summary = []
    for static_combo in itertools.product(*static.values()):
        static_point = dict(zip(static, static_combo, strict=True))
        point_args = argparse.Namespace(**{**vars(args), **static_point})
        trainer, config = spec.build(point_args, env, env_params)  # validates each value
        hparams, hp_points = grid_hparams(trainer.default_hparams, swept, args.seeds)
        num = len(hp_points)
        keys = jnp.tile(seed_keys, num)  # the same seeds for every grid point
        eval_every = eval_every_steps(point_args, trainer, None)
        folders = [out / point_name({**static_point, **p}) for p in hp_points]
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "metrics.jsonl").unlink(missing_ok=True)
            (folder / "eval.jsonl").unlink(missing_ok=True)
        start = time.perf_counter()

        def on_chunk(chunk: Chunk, folders=folders, start=start):
            for i, folder in enumerate(folders):
                part = slice(i * args.seeds, (i + 1) * args.seeds)
                mine = {k: v[part] for k, v in chunk.metrics.items()}
                streams = report.per_stream(mine)
                record = report.chunk_record(chunk.env_steps, streams,
                                             time.perf_counter() - start)
                record["return_per_seed"] = chunk_return_per_seed(streams["reward"],
                                                                  streams["done"])
                with (folder / "metrics.jsonl").open("a") as f:
                    f.write(json.dumps(record) + "\n")
                if chunk.eval_steps.size:
                    evals = chunk._replace(
                        eval_metrics={k: v[part] for k, v in chunk.eval_metrics.items()})
                    with (folder / "eval.jsonl").open("a") as f:
                        f.writelines(json.dumps(r) + "\n" for r in eval_records(evals))

        chunk_steps, keep, est = plan_memory(trainer, num * args.seeds, RunSettings(
            out=out, meta={}, chunk_steps=args.chunk_steps, eval_every=eval_every,
            devices=devices))
        print(est.describe(len(devices or [None])), flush=True)
        if not keep and not eval_every:
            raise CLIError("sweep: per-step metrics of this grid do not fit in host memory; "
                           "rank by evaluation instead (--eval-every STEPS)")
        result = run_chunked(trainer, keys, hparams, chunk_steps, on_chunk,
                             eval_every=eval_every, devices=devices, keep_metrics=keep,
                             check_finite_values=not args.no_check_finite)
        for i, (folder, point) in enumerate(zip(folders, hp_points, strict=True)):
            part = slice(i * args.seeds, (i + 1) * args.seeds)
            metrics = {k: v[part] for k, v in result.metrics.items()}
            evals = {k: v[part] for k, v in result.eval_metrics.items()}
            values = {**static_point, **point}
            write_json(folder / "config.json", {
                "name": point_name(values), "algorithm": args.algorithm, "env": args.env,
                "env_kwargs": env_kwargs, "seeds": args.seeds, "seed": args.seed,
                "sweep_point": values, "config": dataclasses.asdict(config),
                "eval_every": eval_every}, argv=["mbrl-jax", *args.argv])
            per_s = num * args.seeds * trainer.num_env_steps / max(result.run_seconds, 1e-9)
            (folder / "run.json").write_text(json.dumps({
                "status": "complete", "env_steps": trainer.num_env_steps,
                "num_seeds": args.seeds, "run_seconds": round(result.run_seconds, 3),
                "wall_seconds": round(result.run_seconds + result.compile_seconds, 3),
                "compile_seconds": round(result.compile_seconds, 3),
                "env_steps_per_s": round(per_s, 1),
                "note": "timings of the one program that ran every hyperparameter point"},
                indent=2) + "\n")
            if metrics:
                np.savez_compressed(folder / "metrics.npz", **metrics)
            if evals:
                np.savez_compressed(folder / "eval.npz", steps=result.eval_steps, **evals)
            final = final_return(report.per_stream(metrics), evals)
            summary.append({"point": values, "folder": str(folder),
                            "final_return": float(np.nanmean(final)),
                            "final_return_std": float(np.nanstd(final)),
                            "compile_s": round(result.compile_seconds, 2),
                            "run_s": round(result.run_seconds, 2)})
    summary.sort(key=lambda r: -r["final_return"] if np.isfinite(r["final_return"]) else np.inf)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    table = format_summary(summary, args.seeds)
    (out / "summary.md").write_text(table + "\n")
    print(table)
    print(f"outputs: {out}/ (one folder per point, summary.md, summary.json)")
    return out


__all__ = ["add_parser", "run_command"]
